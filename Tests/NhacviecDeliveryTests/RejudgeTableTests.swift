import Foundation
import NhacviecConfig
import NhacviecCore
import NhacviecDelivery
@_spi(Testing) import NhacviecStore
import NhacviecTesting
import TestSupport
import Testing

/// Judging again, one row per kind of correction and per state the journal holds of the rung it
/// would send: every correction goes through one mechanism (`Planner.pass`), and what goes out is
/// the newest rung owed to each audience, to whoever has not heard it.
///
/// The fixture's annual rule, due before 15/11/2026: D1 owes it. Its own overdue notice
/// (`escalate-1wd`, 16/11) was planned at 10:00 on 17/11; the test then puts that row in the
/// state of the column. Its superiors' rung (`escalate-3wd`, 18/11 08:00) went at 08:30. At 09:00
/// the correction of the row is made and one pass runs.
@Suite("Judging again: every correction, every former state")
struct RejudgeTableTests {
  static func at(_ text: String) -> Date { Zone.vietnam.parseInstant(text)! }

  enum Former: String, CaseIterable, Sendable {
    case neverPlanned = "never planned"
    case planned, sent, failed, silenced, suppressed, superseded
    case deadAcknowledged = "dead and acknowledged"
  }

  enum Correction: String, CaseIterable, Sendable {
    case reportRecorded = "a report recorded"
    case reportRetracted = "a report retracted"
    case extensionRecorded = "an extension to 30/11 recorded"
    case exemptionRecorded = "an exemption recorded"
    case silenceEnded = "a silence on D1 ends"
    case silenceExpired = "a silence on D1 expired early"
    case unitAdded = "a unit (D4) added to the directory"
    case unitRemoved = "D1 removed from the directory"
    case unitMoved = "D1 moved under another parent (Q)"
    case ladderEdited = "the rule's first escalation moved from 1wd to 2wd"
    case titleEdited = "the rule's title edited"
  }

  /// What goes out about D1 at 09:00, in the order of `Former.allCases`.
  static let table: [Correction: [[String]]] = {
    let owed: [[String]] = [
      ["escalate-1wd"], [], [], [], [], ["escalate-1wd#1"], ["escalate-1wd#1"], ["escalate-1wd#1"],
    ]
    let nothing = [[String]](repeating: [], count: Former.allCases.count)
    let all = { (keys: [String]) in [[String]](repeating: keys, count: Former.allCases.count) }
    return [
      .reportRecorded: nothing,
      .reportRetracted: owed,
      .extensionRecorded: all(["remind-14d@2026-11-30"]),
      .exemptionRecorded: nothing,
      .silenceEnded: owed,
      .silenceExpired: owed,
      .unitAdded: owed,
      .unitRemoved: nothing,
      // The new parent's head has not heard the superiors' rung; the standing agency has.
      .unitMoved: owed.map { $0 + ["escalate-3wd#1 → head@q.example"] },
      .ladderEdited: all(["escalate-2wd"]),
      .titleEdited: owed,
    ]
  }()

  static let directory = ConfigurationFixture.province
  static let moved =
    ConfigurationFixture.province.replacingOccurrences(of: "D1,Sở Tư pháp,dept,P,", with: "D1,Sở Tư pháp,dept,Q,")
    + "\nQ,Ban Thử,board,P,,Trưởng ban,head@q.example,,"
  static let added =
    ConfigurationFixture.province + "\nD4,Sở Công Thương,dept,P,,Giám đốc,head@d4.example,Đầu mối ISO,iso@d4.example"
  static let removed = ConfigurationFixture.province.split(separator: "\n").filter { !$0.hasPrefix("D1,") }
    .joined(separator: "\n")

  struct Row: CustomTestStringConvertible, Sendable {
    let correction: Correction
    let former: Former
    var testDescription: String { "\(correction.rawValue), the rung \(former.rawValue)" }
  }

  static let rows = Correction.allCases.flatMap { c in Former.allCases.map { Row(correction: c, former: $0) } }

  @Test("what goes out about D1", arguments: rows)
  func row(_ row: Row) throws {
    let fixture = try ConfigurationFixture()
    var deployment = try fixture.load()
    var configuration = "first"
    let store = try TestStore.make()
    func pass(_ instant: String) throws -> Planner.Pass {
      try Planner.pass(now: Self.at(instant), store: store) {
        let inputs = try store.planningInputs()
        return (
          deployment.engine(facts: FactBook(inputs.facts), silences: SilenceBook(inputs.silences)), configuration
        )
      }
    }
    _ = try pass("2026-11-17T10:00:00+07:00")
    let own = "annual/D1/2026/escalate-1wd@2026-11-15"
    #expect(try store.entry(key: own, channel: "email")?.state == .planned)
    try store.execute(sql: "UPDATE journal SET state = 'sent' WHERE state = 'planned'", arguments: [])
    _ = try pass("2026-11-18T08:30:00+07:00")
    try store.execute(sql: "UPDATE journal SET state = 'sent' WHERE state = 'planned'", arguments: [])
    switch row.former {
    case .neverPlanned: try store.execute(sql: "DELETE FROM journal WHERE key = ?", arguments: [own])
    case .planned, .sent, .failed, .suppressed, .superseded:
      try store.execute(sql: "UPDATE journal SET state = ? WHERE key = ?", arguments: [row.former.rawValue, own])
    case .silenced:
      try store.execute(
        sql: "UPDATE journal SET state = 'silenced', next_attempt_at = ? WHERE key = ?",
        arguments: [String(Self.at("2026-11-18T09:00:00+07:00").timeIntervalSince1970), own])
    case .deadAcknowledged:
      try store.execute(sql: "UPDATE journal SET state = 'dead' WHERE key = ?", arguments: [own])
      #expect(
        try store.acknowledge(key: own, uid: 0, now: Self.at("2026-11-18T08:40:00+07:00"))
          == .acknowledged(1))
    }

    let by = Store.Provenance(uid: 1000, source: "test")
    let quarterTo = Self.at("2026-11-18T08:45:00+07:00")
    let nine = Self.at("2026-11-18T09:00:00+07:00")
    func fact(_ kind: Fact.Kind, due: LocalDate? = nil) -> Fact {
      Fact(kind: kind, unitID: "D1", ruleID: "annual", period: "2026", at: quarterTo, due: due, decidedBy: "UBND tỉnh")
    }
    func reconfigure(directory: String? = nil, rules: String? = nil) throws {
      if let directory { try fixture.write("units.csv", directory) }
      if let rules { try fixture.write("rules/main.yaml", rules) }
      deployment = try fixture.load()
      configuration = "second"
    }
    switch row.correction {
    case .reportRecorded: try store.record([fact(.report)], by: by, now: nine)
    case .reportRetracted:
      try store.record([fact(.report)], by: by, now: quarterTo)
      let id = try #require(try store.recordedFacts(unit: "D1").first?.id)
      try store.retract(id: id, by: 1000, reason: "wrong unit", now: nine)
    case .extensionRecorded: try store.record([fact(.extension, due: LocalDate(iso: "2026-11-30"))], by: by, now: nine)
    case .exemptionRecorded: try store.record([fact(.exemption)], by: by, now: nine)
    case .silenceEnded:
      _ = try store.addSilence(rule: nil, unit: "D1", period: nil, until: nine, reason: "test", by: 0, now: quarterTo)
    case .silenceExpired:
      let silence = try store.addSilence(
        rule: nil, unit: "D1", period: nil, until: Self.at("2026-11-20T00:00:00+07:00"), reason: "test", by: 0,
        now: quarterTo)
      try store.expireSilence(id: silence.id, by: 0, now: nine)
    case .unitAdded: try reconfigure(directory: Self.added)
    case .unitRemoved: try reconfigure(directory: Self.removed)
    case .unitMoved: try reconfigure(directory: Self.moved)
    case .ladderEdited:
      try reconfigure(
        rules: ConfigurationFixture.annualRule.replacingOccurrences(of: "after: 1wd", with: "after: 2wd"))
    case .titleEdited:
      try reconfigure(
        rules: ConfigurationFixture.annualRule.replacingOccurrences(of: "Báo cáo ISO", with: "Báo cáo HTQLCL"))
    }

    let result = try pass("2026-11-18T09:00:00+07:00")
    #expect(result.conflicts.isEmpty)
    let decided = result.plan.due + result.plan.silenced.map(\.decision)
    var about: [String] = []
    for decision in decided where decision.noticeKey?.unit.id == "D1" {
      let key = try #require(decision.noticeKey)
      var text = key.step.description + (key.deadline == LocalDate(iso: "2026-11-15") ? "" : "@\(key.deadline)")
      if decision.revision > 0 { text += "#\(decision.revision)" }
      if key.step == .escalate(Offset(3, .workingDays), repeat: 0) {
        text += " → " + decision.addressees.map(\.address).joined(separator: ", ")
      }
      about.append(text)
    }
    let expected = try #require(Self.table[row.correction])[Former.allCases.firstIndex(of: row.former)!]
    #expect(about.sorted() == expected.sorted())
    // A unit added is told too: its own overdue notice and its superiors' rung.
    if row.correction == .unitAdded {
      #expect(
        decided.filter { $0.noticeKey?.unit.id == "D4" }.map { $0.noticeKey!.step.description }.sorted() == [
          "escalate-1wd", "escalate-3wd",
        ])
    }
    // Nobody else hears anything, D2, D3 and O having been told already; but a rung the edited
    // ladder adds is new to every unit.
    let others = decided.filter { !["D1", "D4"].contains($0.noticeKey?.unit.id ?? "") }
    if row.correction == .ladderEdited {
      #expect(
        others.map { "\($0.noticeKey!.unit.id) \($0.noticeKey!.step)" }.sorted() == [
          "D2 escalate-2wd", "D3 escalate-2wd", "O escalate-2wd",
        ])
    } else {
      #expect(others.isEmpty)
    }
    // Judged again once more, nothing goes twice.
    try store.execute(
      sql: "INSERT INTO rejudge (rule, unit, period, at, cause) VALUES (NULL, NULL, NULL, ?, 'again')",
      arguments: [String(Self.at("2026-11-18T09:05:00+07:00").timeIntervalSince1970)])
    let again = try pass("2026-11-18T09:05:00+07:00")
    #expect(again.plan.due.isEmpty && again.plan.silenced.isEmpty)
    #expect(again.conflicts.isEmpty)
  }
}

@Suite("Judging everything again")
struct RejudgeEverythingTests {
  @Test(
    "right after a first start on the shipped rules, judging everything again sends nothing: everyone owed has heard")
  func afterFirstStart() throws {
    let deployment = try DeploymentLoader().load(
      configPath: repositoryRoot.appendingPathComponent("Rules/nhacviec.yaml").path)
    let store = try TestStore.make()
    let zone = deployment.zone
    func pass(_ instant: String, configuration: String) throws -> Planner.Pass {
      try Planner.pass(now: zone.parseInstant(instant)!, store: store) {
        let inputs = try store.planningInputs()
        return (deployment.engine(facts: FactBook(inputs.facts), silences: SilenceBook(inputs.silences)), configuration)
      }
    }
    let first = try pass("2026-11-20T10:00:00+07:00", configuration: "a")
    #expect(first.plan.due.count > 100)
    let again = try pass("2026-11-20T11:00:00+07:00", configuration: "b")
    #expect(again.configurationChanged)
    #expect(again.plan.rejudged.map(\.key) == [])
    #expect(again.plan.due.isEmpty && again.conflicts.isEmpty)
  }
}
