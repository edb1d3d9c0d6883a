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
    #expect(overdue.text.contains("hạn trước ngày 15/11/2026; đã quá hạn 4 ngày."), "\(overdue.text)")
    #expect(overdue.header("X-Nhacviec-Key") == own + "#1")
    // The Department's focal point hears of 51-SNV on the third working day's rung, once.
    let department = try #require(
      mails["iso-annual-report_51-SNV_2025-07-01_2026_escalate-3wd_2026-11-15--email.eml"])
    #expect(department.header("To")?.contains("iso@51-skhcn.quangngai.example") == true)
    #expect(department.header("Date") == "Wed, 18 Nov 2026 08:05:00 +0700")
    #expect(mails.count == 2, "\(mails.keys.sorted())")
    // The journal keeps what became of the first notice, and the revision that went.
    let history = try #require(try daemon.daemon.history(key: own))
    #expect(history.notices.map(\.state) == [.suppressed])
    let revised = try #require(try daemon.daemon.history(key: own + "#1"))
    #expect(revised.notices.map(\.state) == [.sent])
    let status = try daemon.daemon.status()
    #expect(status.journalConflicts == 0)

    // Judging again once more sends nothing twice: everyone owed has heard.
    daemon.clock.advance(to: Self.at("2026-11-18T08:10:00+07:00"))
    try daemon.daemon.store.execute(
      sql: "INSERT INTO rejudge (rule, unit, period, at, cause) VALUES (NULL, '51-SNV', '2026', ?, 'test')",
      arguments: [String(Self.at("2026-11-18T08:10:00+07:00").timeIntervalSince1970)])
    daemon.daemon.changed()
    try daemon.settle()
    #expect(try Self.mail(daemon, "iso-annual-report_51-SNV_").count == 2)
  }
}
