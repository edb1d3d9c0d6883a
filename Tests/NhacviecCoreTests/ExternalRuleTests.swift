import Foundation
import NhacviecCore
import Synchronization
import Testing

/// Answers as a scripted program would: each call takes the next answer (the last repeats), and
/// the requests are kept so that their content can be checked.
final class ScriptedRunner: ExternalRuleRunner {
  let answers: [Data?]
  let requests = Mutex<[Data]>([])

  init(_ answers: [Data?]) { self.answers = answers }

  func judgments(
    of kind: ExecKind, rule: Rule, period: Period, now: Date, context: EvaluationContext
  )
    -> Result<[String: Assessment], ExternalRuleError>
  {
    let request = ExternalProtocol.request(kind: kind, rule: rule, period: period, now: now, context: context)
    let index = requests.withLock {
      $0.append(request.json)
      return $0.count - 1
    }
    guard let answer = answers[min(index, answers.count - 1)] else {
      return .failure(ExternalRuleError("exited with status 1: register unreachable"))
    }
    return ExternalProtocol.judgments(answer: answer, units: request.units, zone: context.calendar.zone)
  }
}

enum ExternalFixture {
  static func node(_ entries: [(String, ConfigNode.Value)]) -> ConfigNode {
    ConfigNode(
      .map(entries.map { (key: $0.0, keyLocation: Fixture.here, value: ConfigNode($0.1, at: Fixture.here)) }),
      at: Fixture.here)
  }

  static let kind = try! ExecKind(
    parameters: node([
      ("command", .scalar("/usr/local/lib/nhacviec/register")),
      ("facts_from", .list([ConfigNode(.scalar("annual"), at: Fixture.here)])),
      (
        "options",
        .map([(key: "pattern", keyLocation: Fixture.here, value: ConfigNode(.scalar("ISO"), at: Fixture.here))])
      ),
    ]))

  static func rule() -> Rule {
    Rule(
      id: "external", kindName: "exec", kind: kind, title: "Báo cáo ISO {{period.name}}", basis: "Công văn, khoản 1",
      appliesTo: [UnitSelector(kinds: ["dept"])], period: .yearly,
      due: DueSpec(anchor: .date(month: 11, day: 15, yearOffset: 0), convention: .before),
      remind: [Offset(7, .days), Offset(1, .workingDays)], remindTo: [.unit(role: "iso-focal")],
      escalate: [EscalationStep(after: Offset(1, .workingDays), to: [.unit(role: "head")])],
      stopAfter: Offset(30, .days), channels: ["email"])
  }

  static func engine(_ runner: ScriptedRunner, facts: [Fact] = []) -> Engine {
    Engine(
      ruleset: Ruleset(rules: [rule()], channels: ["email": Fixture.email], settings: PlanSettings(digestMinimum: 0)),
      context: EvaluationContext(
        directory: Fixture.directory, calendar: Fixture.calendar, facts: FactBook(facts), external: runner))
  }

  static func answer(_ findings: String, version: Int = 1) -> Data {
    Data(#"{"version": \#(version), "findings": [\#(findings)]}"#.utf8)
  }

  static let allOpen = answer(
    #"{"unit": "S"}, {"unit": "O", "met_at": null}, {"unit": "D1"}, {"unit": "D2"}"#)
}

@Suite("external rule kinds")
struct ExternalRuleTests {
  @Test("the request carries the rule, its period and deadline, the roster and the facts that count")
  func request() throws {
    let report = Fact(
      kind: .report, unitID: "D1", ruleID: "annual", period: "2026", at: Fixture.at("2026-11-02T09:00"),
      reference: "7/BC")
    let later = Fact(
      kind: .report, unitID: "D2", ruleID: "external", period: "2026", at: Fixture.at("2026-12-01T09:00"))
    let runner = ScriptedRunner([ExternalFixture.allOpen])
    let engine = ExternalFixture.engine(runner, facts: [report, later])
    _ = engine.findings(at: Fixture.at("2026-11-10T09:00"))
    let sent = try #require(runner.requests.withLock { $0.first })
    let request = try #require(try JSONSerialization.jsonObject(with: sent) as? [String: Any])
    #expect(request["version"] as? Int == 1)
    #expect(request["now"] as? String == "2026-11-10T09:00:00+07:00")
    let rule = try #require(request["rule"] as? [String: Any])
    #expect(rule["id"] as? String == "external")
    #expect(rule["period"] as? String == "2026")
    #expect(rule["deadline"] as? String == "2026-11-15T00:00:00+07:00")
    #expect((rule["options"] as? [String: String])?["pattern"] == "ISO")
    let units = try #require(request["units"] as? [[String: Any]])
    #expect(units.compactMap { $0["id"] as? String } == ["S", "O", "D1", "D2"])
    #expect(units.first?["parent"] as? String == "P")
    #expect(units.first?["name"] as? String == "Sở Khoa học và Công nghệ")
    // Facts of the rule and of `facts_from` rules, known by `now`; not the one dated later.
    let facts = try #require(request["facts"] as? [[String: Any]])
    #expect(facts.count == 1)
    #expect(facts.first?["reference"] as? String == "7/BC")
    #expect(facts.first?["at"] as? String == "2026-11-02T09:00:00+07:00")
  }

  @Test("one program run answers for every unit of a rule's period at one instant")
  func oneRunPerPeriod() {
    let runner = ScriptedRunner([
      ExternalFixture.answer(
        #"{"unit": "S", "met_at": "2026-11-02T09:00:00+07:00", "reference": "9/BC"}, {"unit": "O"}, {"unit": "D1"}, {"unit": "D2", "note": "chưa vào sổ"}"#
      )
    ])
    // A runner that remembers, as ProgramRunner does: the engine asks once per unit.
    let memo = MemoisingRunner(runner)
    let engine = Engine(
      ruleset: Ruleset(
        rules: [ExternalFixture.rule()], channels: ["email": Fixture.email], settings: PlanSettings(digestMinimum: 0)),
      context: EvaluationContext(
        directory: Fixture.directory, calendar: Fixture.calendar, facts: FactBook(), external: memo))
    let findings = engine.findings(
      rule: ExternalFixture.rule(), period: Period(kind: .yearly, year: 2026), at: Fixture.at("2026-11-10T09:00"))
    #expect(runner.requests.withLock { $0.count } == 1)
    #expect(findings.map(\.unit.id) == ["S", "O", "D1", "D2"])
    #expect(findings[0].state == .metOnTime)
    #expect(findings[0].assessment.reference == "9/BC")
    #expect(findings[1].state == .dueSoon)
    #expect(findings[3].assessment.note == "chưa vào sổ")
  }

  @Test(
    "an answer that is nonsense is refused with the reason",
    arguments: [
      ("not json", "the answer is not a JSON object: `not json`"),
      (#"{"findings": []}"#, "the answer has no `version`"),
      (#"{"version": 2, "findings": []}"#, "the answer is version 2; this nhacviec speaks version 1"),
      (#"{"version": 1}"#, "the answer has no `findings` list"),
      (#"{"version": 1, "findings": [{"unit": "S"}, {"unit": "S"}]}"#, "unit `S` has two findings"),
      (#"{"version": 1, "findings": [{"unit": "ZZ"}]}"#, "findings[0] names unit `ZZ`, which was not asked"),
      (#"{"version": 1, "findings": [{"unit": "S"}]}"#, "the answer has no finding for unit `O` (nor for 2 more)"),
      (
        #"{"version": 1, "findings": [{"unit": "S", "met_at": "yesterday"}]}"#,
        "findings[0].met_at `yesterday` is not an RFC 3339 instant"
      ),
      (
        #"{"version": 1, "findings": [{"unit": "S", "done": true}]}"#,
        "findings[0] has an unknown key `done` (known: met_at, note, reference, unit)"
      ),
      (#"{"version": 1, "findings": [{"unit": "S", "reference": 12}]}"#, "findings[0].reference must be a string"),
    ])
  func nonsense(answer: String, reason: String) {
    let result = ExternalProtocol.judgments(answer: Data(answer.utf8), units: ["S", "O", "D1", "D2"], zone: .vietnam)
    #expect(result.failure?.message == reason)
  }

  @Test("a program that fails judges nobody: no findings, no notices, and the failure is reported")
  func failureGivesNoFindings() {
    let engine = ExternalFixture.engine(ScriptedRunner([nil]))
    let now = Fixture.at("2026-11-18T09:00")
    let evaluated = engine.evaluate(at: now)
    #expect(evaluated.findings.isEmpty)
    // This year's obligations, and next year's (listed as upcoming), are not judged.
    #expect(evaluated.failures.map(\.period) == ["2026", "2027"])
    #expect(evaluated.failures.first?.message == "exited with status 1: register unreachable")
    let plan = engine.plan(since: Fixture.at("2026-11-01T00:00"), now: now)
    #expect(plan.due.isEmpty)
    // Planning asks only about the period under way.
    #expect(
      plan.failures == [
        RuleFailure(ruleID: "external", period: "2026", message: "exited with status 1: register unreachable")
      ])
  }

  @Test("a rule that failed is planned again from where it stood: its notices come late, not never")
  func heldBackNotLost() {
    let failing = ExternalFixture.engine(ScriptedRunner([nil]))
    // The pass at 09/11 08:00 would have sent the seven-day reminder; the program failed.
    let first = failing.plan(since: Fixture.at("2026-11-06T12:00"), now: Fixture.at("2026-11-09T08:00"))
    #expect(first.due.isEmpty)
    // The program answers again at 10:00. Planned from the last pass alone, the reminder is lost…
    let working = ExternalFixture.engine(ScriptedRunner([ExternalFixture.allOpen]))
    let naive = working.plan(since: Fixture.at("2026-11-09T08:00"), now: Fixture.at("2026-11-09T10:00"))
    #expect(naive.due.isEmpty)
    // …planned from where the rule stood, it goes out now.
    let caughtUp = working.plan(
      since: Fixture.at("2026-11-09T08:00"), now: Fixture.at("2026-11-09T10:00"),
      sinceByRule: ["external": Fixture.at("2026-11-06T12:00")])
    #expect(
      caughtUp.due.map(\.key).sorted() == [
        "external/D1/2026/remind-7d@2026-11-15", "external/D2/2026/remind-7d@2026-11-15",
        "external/O/2026/remind-7d@2026-11-15",
        "external/S/2026/remind-7d@2026-11-15",
      ])
    #expect(caughtUp.failures.isEmpty)
  }

  @Test("simulation holds a failing rule back like the daemon does")
  func simulationCatchesUp() {
    // Fails on the first two passes, then answers.
    let runner = ScriptedRunner([nil, nil, ExternalFixture.allOpen])
    let engine = ExternalFixture.engine(runner)
    let result = engine.simulation(from: Fixture.at("2026-11-01T00:00"), to: Fixture.at("2026-11-20T00:00"))
    #expect(result.failures.count == 1)
    #expect(result.notices.contains { $0.key == "external/D1/2026/remind-7d@2026-11-15" })
  }

  @Test("exec params: command path, time limit and unknown keys")
  func parameters() throws {
    let relative = try ExecKind(
      parameters: ConfigNode(
        .map([
          (
            key: "command", keyLocation: Fixture.here,
            value: ConfigNode(
              .scalar("./plugins/check.py --strict"), at: SourceLocation(file: "/etc/nhacviec/rules/a.yaml", line: 3))
          )
        ]), at: Fixture.here))
    // A string is split at spaces; a relative path is taken from the rule file's folder.
    #expect(relative.command == "/etc/nhacviec/rules/plugins/check.py")
    #expect(relative.arguments == ["--strict"])
    let file = SourceLocation(file: "rules/a.yaml", line: 3)
    let words = ["./check.py", "--strict"].map { ConfigNode(.scalar($0), at: file) }
    let listed = try ExecKind(
      parameters: ConfigNode(
        .map([
          (key: "command", keyLocation: file, value: ConfigNode(.list(words), at: file)),
          (key: "timeout", keyLocation: file, value: ConfigNode(.scalar("2m"), at: file)),
        ]), at: file))
    #expect(listed.command == "rules/check.py")
    #expect(listed.arguments == ["--strict"])
    #expect(listed.timeout == 120)
    #expect(throws: ConfigError.self) {
      try ExecKind(parameters: ExternalFixture.node([("command", .scalar("check.py"))]))
    }
    #expect(throws: ConfigError.self) {
      try ExecKind(parameters: ExternalFixture.node([("command", .scalar("/bin/true")), ("timeout", .scalar("0s"))]))
    }
    #expect(throws: ConfigError.self) {
      try ExecKind(parameters: ExternalFixture.node([("command", .scalar("/bin/true")), ("programme", .scalar("x"))]))
    }
    #expect(throws: ConfigError.self) {
      try ExecKind(
        parameters: ExternalFixture.node([
          ("command", .scalar("/bin/true")), ("options", .list([ConfigNode(.scalar("x"), at: Fixture.here)])),
        ]))
    }
  }
}

/// Remembers each (rule, period, instant) answer, as the real runner does.
final class MemoisingRunner: ExternalRuleRunner {
  let inner: any ExternalRuleRunner
  let memo = Mutex<[String: Result<[String: Assessment], ExternalRuleError>]>([:])

  init(_ inner: any ExternalRuleRunner) { self.inner = inner }

  func judgments(
    of kind: ExecKind, rule: Rule, period: Period, now: Date, context: EvaluationContext
  )
    -> Result<[String: Assessment], ExternalRuleError>
  {
    let key = "\(rule.id)/\(period)/\(now.timeIntervalSince1970)"
    if let known = memo.withLock({ $0[key] }) { return known }
    let answer = inner.judgments(of: kind, rule: rule, period: period, now: now, context: context)
    memo.withLock { $0[key] = answer }
    return answer
  }
}

extension Result {
  var failure: Failure? {
    if case .failure(let error) = self { return error }
    return nil
  }
}
