import Foundation
import NhacviecTesting
import Testing

/// The Quảng Ngãi deployment's season of the annual ISO report, as its units would read it.
/// Each test starts a daemon in this process on a copy of the configuration, moves its clock by
/// hand and reads the e-mails the file channel writes.
@Suite("Quảng Ngãi: the annual ISO report", .serialized)
struct SeasonTests {
  /// The configuration under test: the repository's Rules/ (your /etc/nhacviec in a copy of this).
  static let configuration = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("../../Rules").standardizedFileURL

  @Test(
    "on 03/11 at 10:00 each department is reminded, counted to Monday 16/11, and its superiors hear nothing yet")
  func reminder() throws {
    let daemon = try DaemonHarness.copying(Self.configuration, at: "2026-11-03T10:00:00+07:00")
    defer { daemon.stop() }
    try daemon.settle()
    let mails = try daemon.messages()
    let justice = try #require(mails.first { $0.key.hasPrefix("iso-annual-report_51-STP_") }?.value)
    #expect(justice.header("Date") == "Tue, 3 Nov 2026 10:00:00 +0700")
    #expect(justice.header("To")?.contains("iso@51-stp.quangngai.example") == true)
    #expect(justice.text.contains("trước ngày 15/11/2026"))
    // 14/11 and 15/11 are a weekend: the last day allowed is Monday 16/11, 03/11 to 16/11 both counted.
    #expect(justice.text.contains("còn 14 ngày"))
    #expect(!mails.keys.contains { $0.hasPrefix("iso-annual-report_") && $0.contains("_escalate-") })
  }

  @Test("18/11: a report recorded for the wrong unit and taken back; that unit hears of its own lateness at once")
  func retraction() throws {
    let daemon = try DaemonHarness.copying(Self.configuration, at: "2026-11-18T07:59:45+07:00")
    defer { daemon.stop() }
    try daemon.settle()
    try daemon.advance(to: "2026-11-18T07:59:50+07:00")
    try daemon.record("report", unit: "51-SNV", rule: "iso-annual-report", period: "2026", reference: "1/BC")
    try daemon.advance(to: "2026-11-18T08:00:00+07:00")
    try daemon.settle()
    #expect(try daemon.messages().keys.contains { $0.hasPrefix("iso-annual-report_51-SNV_") } == false)
    try daemon.advance(to: "2026-11-18T08:05:00+07:00")
    #expect(try daemon.retract(unit: "51-SNV", rule: "iso-annual-report", period: "2026", reason: "wrong unit") == 1)
    try daemon.settle()
    let own = try #require(
      try daemon.messages().first { $0.key.hasPrefix("iso-annual-report_51-SNV_") && $0.key.contains("escalate-1wd") }?
        .value)
    #expect(own.header("Date") == "Wed, 18 Nov 2026 08:05:00 +0700")
    #expect(own.header("To")?.contains("lanhdao@51-snv.quangngai.example") == true)
    // Two days after Monday 16/11, the last day allowed.
    #expect(own.text.contains("đã quá hạn 2 ngày"))
  }
}
