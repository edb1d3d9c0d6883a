import Foundation
import NhacviecConfig
import NhacviecControl
import NhacviecCore
@_spi(Testing) import NhacviecStore
import NhacviecTesting
import TestSupport
import Testing

@testable import NhacviecDaemon

/// Corrections made on a running daemon in the middle of a season, read as the unit they concern
/// reads them: each is judged again at once, and the newest rung owed to each audience goes out
/// as of then, whatever became of the notices before it.
@Suite("A correction reaches the people it concerns", .serialized)
struct CorrectionTests {
  static func at(_ text: String) -> Date { Zone.vietnam.parseInstant(text)! }

  /// The messages whose file name starts with `prefix`, by name.
  static func mail(_ daemon: InProcessDaemon, _ prefix: String) throws -> [String: Mail] {
    try daemon.messages().filter { $0.key.hasPrefix(prefix) }
  }

  @Test(
    "18/11: a report recorded for 51-SNV and retracted after the 08:00 pass: 51-SNV hears of its own lateness, as of then"
  )
  func retractionOnTheShippedRules() throws {
    let daemon = try InProcessDaemon.shipped(at: "2026-11-18T07:59:45+07:00")
    defer { daemon.stop() }
    try daemon.settle()
    daemon.clock.advance(to: Self.at("2026-11-18T07:59:50+07:00"))
    var report = ControlAPI.FactRequest(kind: "report", unit: "51-SNV", rule: "iso-annual-report", period: "2026")
    report.reference = "1/BC"
    let recorded = try daemon.daemon.record(ControlAPI.FactBatch(source: nil, facts: [report]), uid: 1000)
    #expect(recorded.recorded.count == 1)
    daemon.clock.advance(to: Self.at("2026-11-18T08:00:00+07:00"))
    try daemon.settle()
    // The report stopped 51-SNV's own overdue notice, and the Department's digest leaves it out.
    let own = "iso-annual-report/51-SNV@2025-07-01/2026/escalate-1wd@2026-11-15"
    let stopped = try #require(try daemon.daemon.history(key: own)?.notices.first)
    #expect(stopped.state == .suppressed)
    #expect(stopped.lastError?.contains("met (1/BC) before it was sent") == true)
    #expect(try Self.mail(daemon, "iso-annual-report_51-SNV_").isEmpty)

    // 08:05: the report was another unit's. The fact is taken back.
    daemon.clock.advance(to: Self.at("2026-11-18T08:05:00+07:00"))
    let fact = try #require(
      try daemon.daemon.recordedFacts(unit: "51-SNV", rule: "iso-annual-report", period: "2026", retracted: false)
        .first)
    _ = try daemon.daemon.retract(id: fact.id, reason: "recorded for the wrong unit", uid: 1000)
    try daemon.settle()

    // 51-SNV itself hears, as of the retraction: dated 08:05 and counted from 18/11.
    let mails = try Self.mail(daemon, "iso-annual-report_51-SNV_")
    let overdue = try #require(mails["iso-annual-report_51-SNV_2025-07-01_2026_escalate-1wd_2026-11-15_1--email.eml"])
    #expect(overdue.header("Date") == "Wed, 18 Nov 2026 08:05:00 +0700")
    #expect(overdue.header("To")?.contains("lanhdao@51-snv.quangngai.example") == true)
    #expect(overdue.header("To")?.contains("iso@51-snv.quangngai.example") == true)
    // 14/11 and 15/11 are a weekend: the last day allowed was Monday 16/11.
    #expect(overdue.text.contains("hạn trước ngày 15/11/2026; đã quá hạn 2 ngày."), "\(overdue.text)")
    #expect(overdue.header("X-Nhacviec-Key") == own + "#1")
    // The Department's focal point hears of 51-SNV on the third working day late, Thursday 19/11:
    // not yet.
    #expect(mails.count == 1, "\(mails.keys.sorted())")
    // The journal keeps what became of the first notice, and the revision that went.
    let history = try #require(try daemon.daemon.history(key: own))
    #expect(history.notices.map(\.state) == [.suppressed])
    let revised = try #require(try daemon.daemon.history(key: own + "#1"))
    #expect(revised.notices.map(\.state) == [.sent])
    let status = try daemon.daemon.status()
    #expect(status.journalConflicts == 0)
    // `explain` says what became of each step.
    let explained = try #require(try daemon.daemon.explain(unit: "51-SNV", rule: "iso-annual-report"))
    let ladder = try #require(explained.obligations.first?.ladder)
    #expect(
      ladder.first { $0.step == "escalate-1wd" }?.journal == [
        "suppressed: met (1/BC) before it was sent", "#1 sent",
      ])
    #expect(ladder.first { $0.step == "escalate-3wd" }?.journal == [])
    #expect(ladder.first { $0.step == "remind-30d" }?.journal == ["superseded"])

    // Judging again once more sends nothing twice: everyone owed has heard.
    daemon.clock.advance(to: Self.at("2026-11-18T08:10:00+07:00"))
    try daemon.daemon.store.execute(
      sql: "INSERT INTO rejudge (rule, unit, period, at, cause) VALUES (NULL, '51-SNV', '2026', ?, 'test')",
      arguments: [String(Self.at("2026-11-18T08:10:00+07:00").timeIntervalSince1970)])
    daemon.daemon.changed()
    try daemon.settle()
    #expect(try Self.mail(daemon, "iso-annual-report_51-SNV_").count == 1)
  }
}

extension CorrectionTests {
  /// The fixture's province with departments D1…D`count`.
  static func province(departments count: Int) -> String {
    ConfigurationFixture.province.split(separator: "\n").filter { !$0.hasPrefix("D") }.joined(separator: "\n") + "\n"
      + (1...count).map {
        "D\($0),Sở \($0),dept,P,,Giám đốc Sở \($0),head@d\($0).example,Đầu mối ISO,iso@d\($0).example"
      }
      .joined(separator: "\n")
  }

  static func configuration(digest minimum: Int) -> String {
    ConfigurationFixture.configuration.replacingOccurrences(
      of: "digest: { minimum: 0 }", with: "digest: { minimum: \(minimum) }")
  }

  @Test(
    "a unit added to the directory after its deadline hears its own overdue notice at the reload, and its superiors hear of it; an extension then moves it to a new ladder at once"
  )
  func unitAddedLate() throws {
    let fixture = try ConfigurationFixture(directory: Self.province(departments: 3))
    let daemon = try InProcessDaemon(
      configPath: fixture.configPath, folder: fixture.folder, at: "2026-11-18T09:00:00+07:00")
    defer { daemon.stop() }
    try daemon.settle()
    let before = try daemon.messages()
    #expect(before.keys.contains("annual_D1_2026_escalate-3wd_2026-11-15--email.eml"))

    // 09:30: D4 joins the directory, and the configuration is reloaded.
    daemon.clock.advance(to: Self.at("2026-11-18T09:30:00+07:00"))
    try fixture.write("units.csv", Self.province(departments: 4))
    #expect(daemon.daemon.reload().ok)
    try daemon.settle()
    let added = try daemon.messages().filter { !before.keys.contains($0.key) }
    #expect(
      added.keys.sorted() == [
        "annual_D4_2026_escalate-1wd_2026-11-15--email.eml", "annual_D4_2026_escalate-3wd_2026-11-15--email.eml",
      ])
    let own = try #require(added["annual_D4_2026_escalate-1wd_2026-11-15--email.eml"])
    #expect(own.header("To")?.contains("head@d4.example") == true)
    #expect(own.header("Date") == "Wed, 18 Nov 2026 09:30:00 +0700")
    #expect(own.text.contains("hạn trước ngày 15/11/2026; đã quá hạn 4 ngày."), "\(own.text)")
    let superiors = try #require(added["annual_D4_2026_escalate-3wd_2026-11-15--email.eml"])
    #expect(superiors.header("To")?.contains("head@p.example") == true)
    #expect(superiors.header("To")?.contains("head@s.example") == true)
    #expect(try daemon.daemon.status().journalConflicts == 0)

    // 10:00: the province grants D4 until 30/11. The extension's ladder takes over at once: its
    // newest reminder due (14 days before, on 16/11) goes out now, counted to 30/11.
    daemon.clock.advance(to: Self.at("2026-11-18T10:00:00+07:00"))
    var extension_ = ControlAPI.FactRequest(kind: "extension", unit: "D4", rule: "annual", period: "2026")
    extension_.due = "2026-11-30"
    extension_.by = "Chủ tịch UBND tỉnh"
    extension_.reference = "12/QĐ-UBND"
    _ = try daemon.daemon.record(ControlAPI.FactBatch(source: nil, facts: [extension_]), uid: 1000)
    try daemon.settle()
    let extended = try daemon.messages().filter { $0.key.hasPrefix("annual_D4_") && $0.key.contains("2026-11-30") }
    let reminder = try #require(extended["annual_D4_2026_remind-14d_2026-11-30--email.eml"], "\(extended.keys)")
    #expect(extended.count == 1)
    #expect(reminder.header("Date") == "Wed, 18 Nov 2026 10:00:00 +0700")
    #expect(reminder.text.contains("30/11/2026"), "\(reminder.text)")
    #expect(reminder.header("To")?.contains("iso@d4.example") == true)
  }

  @Test(
    "five retractions judged in one pass, digests on: the superiors get a digest of their own, not dropped for the 08:00 one"
  )
  func fiveRetractionsOneDigest() throws {
    let fixture = try ConfigurationFixture(
      directory: Self.province(departments: 8), configuration: Self.configuration(digest: 3))
    let daemon = try InProcessDaemon(
      configPath: fixture.configPath, folder: fixture.folder, at: "2026-11-17T10:00:00+07:00")
    defer { daemon.stop() }
    try daemon.settle()
    // D4…D8 report on 17/11; D1…D3 do not.
    daemon.clock.advance(to: Self.at("2026-11-17T11:00:00+07:00"))
    let reports = (4...8).map { ControlAPI.FactRequest(kind: "report", unit: "D\($0)", rule: "annual", period: "2026") }
    _ = try daemon.daemon.record(ControlAPI.FactBatch(source: nil, facts: reports), uid: 1000)
    try daemon.settle()
    daemon.clock.advance(to: Self.at("2026-11-18T08:00:00+07:00"))
    try daemon.settle()
    func digests() throws -> [String: Mail] {
      try daemon.messages().filter {
        $0.key.hasPrefix("digest_") && $0.value.header("To")?.contains("head@s.example") == true
      }
    }
    let first = try digests()
    #expect(first.count == 1)
    #expect(first.values.first?.text.contains("Sở 1") == true)

    // 09:00: the five reports were recorded against the wrong rule. All five are retracted in
    // one transaction: one pass judges them all.
    daemon.clock.advance(to: Self.at("2026-11-18T09:00:00+07:00"))
    try daemon.daemon.store.retract(
      ids: try daemon.daemon.store.recordedFacts(rule: "annual").map(\.id), by: 1000, reason: "wrong rule",
      now: daemon.clock.now())
    daemon.daemon.changed()
    try daemon.settle()
    let second = try digests().filter { !first.keys.contains($0.key) }
    let digest = try #require(second.values.first)
    #expect(second.count == 1, "\(second.keys)")
    for n in 4...8 { #expect(digest.text.contains("- Sở \(n): hạn trước ngày 15/11/2026; đã quá hạn 4 ngày"), "\(n)") }
    #expect(!digest.text.contains("Sở 1:"))
    #expect(digest.header("Date") == "Wed, 18 Nov 2026 09:00:00 +0700")
    // The province's head, the other superior, hears the same way; the units heard on 17/11 already.
    let province = try daemon.messages().filter {
      $0.key.hasPrefix("digest_") && $0.value.header("To")?.contains("head@p.example") == true
    }
    #expect(province.count == 2)
    #expect(try daemon.messages().keys.filter { $0.hasPrefix("annual_D5_") }.count == 1)
    let status = try daemon.daemon.status()
    #expect(status.journalConflicts == 0)
    #expect(status.journal["planned"] == 0 && status.journal["failed"] == 0)
  }

  @Test("an external rule that fails at 08:00 and answers at 08:05 reaches the superiors with its digest")
  func lateExternalRule() throws {
    let fixture = try ConfigurationFixture(
      directory: Self.province(departments: 4),
      rules: ConfigurationFixture.annualRule.replacingOccurrences(
        of: "kind: deadline", with: "kind: exec\n  params: { command: ./judge.py }"),
      configuration: Self.configuration(digest: 3))
    let program = fixture.folder.appendingPathComponent("rules/judge.py")
    try """
    #!/usr/bin/python3
    import json, os, sys
    request = json.load(sys.stdin)
    if os.path.exists(os.path.join(os.path.dirname(os.path.abspath(__file__)), "down")):
        print("the register is not reachable", file=sys.stderr)
        sys.exit(1)
    print(json.dumps({"version": 1, "findings": [{"unit": u["id"], "met_at": None} for u in request["units"]]}))
    """.write(to: program, atomically: true, encoding: .utf8)
    chmod(program.path, 0o755)
    let down = fixture.folder.appendingPathComponent("rules/down")
    let daemon = try InProcessDaemon(
      configPath: fixture.configPath, folder: fixture.folder, at: "2026-11-17T10:00:00+07:00")
    defer { daemon.stop() }
    try daemon.settle()
    // The register goes down before the third working day's rung.
    _ = FileManager.default.createFile(atPath: down.path, contents: Data())
    daemon.clock.advance(to: Self.at("2026-11-18T08:00:00+07:00"))
    try daemon.settle()
    #expect(try daemon.daemon.status().rulesFailing.map(\.rule) == ["annual"])
    #expect(try daemon.messages().keys.contains { $0.hasPrefix("digest_") } == false)
    // Back at 08:05: the rung it could not judge goes out, late, never lost.
    try FileManager.default.removeItem(at: down)
    daemon.clock.advance(to: Self.at("2026-11-18T08:05:00+07:00"))
    try daemon.settle()
    let digests = try daemon.messages().filter { $0.key.hasPrefix("digest_") }
    #expect(digests.count == 2, "\(digests.keys)")
    for mail in digests.values {
      #expect(mail.header("Date") == "Wed, 18 Nov 2026 08:05:00 +0700")
      for n in 1...4 { #expect(mail.text.contains("- Sở \(n): hạn trước ngày 15/11/2026; đã quá hạn 4 ngày"), "\(n)") }
    }
    #expect(try daemon.daemon.status().journalConflicts == 0)
  }
}

extension CorrectionTests {
  @Test(
    "reloads in the middle of a burst that change a template and the units' names: every message is wholly of one configuration"
  )
  func reloadInABurst() throws {
    func rules(_ mark: String) -> String {
      ConfigurationFixture.annualRule + """

          templates:
            overdue:
              subject: "[\(mark)] Quá hạn: {{rule.title}}"
              text: |
                Kính gửi: {{recipients}}

                \(mark) {{unit.name}}: {{days.phrase}}.
        """
    }
    func directory(_ suffix: String) -> String {
      Self.province(departments: 400).split(separator: "\n").map { line in
        line.replacingOccurrences(of: ",dept,", with: "\(suffix),dept,")
      }.joined(separator: "\n")
    }
    let fixture = try ConfigurationFixture(directory: directory(""), rules: rules("MARK-A"))
    let daemon = try InProcessDaemon(
      configPath: fixture.configPath, folder: fixture.folder, at: "2026-11-18T09:00:00+07:00")
    defer { daemon.stop() }
    // Eight reloads while the burst of 800 messages goes out, each swapping template and names.
    for round in 1...8 {
      usleep(40_000)
      let new = round % 2 == 1
      try fixture.write("rules/main.yaml", rules(new ? "MARK-B" : "MARK-A"))
      try fixture.write("units.csv", directory(new ? " mới" : ""))
      #expect(daemon.daemon.reload().ok)
    }
    try daemon.settle(seconds: 60)
    let overdue = try daemon.messages().filter { $0.key.contains("_escalate-1wd_") }
    #expect(overdue.count == 401)
    var marks: [String: Int] = [:]
    for (name, mail) in overdue {
      let line = try #require(mail.text.split(separator: "\n").first { $0.hasPrefix("MARK-") }, "\(name)")
      let renamed = line.contains(" mới:")
      let mark = String(line.prefix(6))
      marks[mark, default: 0] += 1
      #expect(mark == (renamed ? "MARK-B" : "MARK-A"), "\(name): \(line)")
      #expect(mail.header("Subject")?.hasPrefix("[\(mark)]") == true, "\(name)")
    }
    // The reloads fell inside the burst: both configurations sent some of it.
    #expect(marks.count == 2, "\(marks)")
    #expect(try daemon.daemon.status().journalConflicts == 0)
  }
}
