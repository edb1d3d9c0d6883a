import Foundation
import NhacviecConfig
import NhacviecControl
import NhacviecCore
@_spi(Testing) import NhacviecStore
import NhacviecTesting
import TestSupport
import Testing

@testable import NhacviecDaemon

/// A unit's claim and the Department's verdict on a running daemon with the shipped Rules, read
/// as the unit reads its mail.
@Suite("A unit's own word on a running daemon", .serialized)
struct ClaimDaemonTests {
  static func at(_ text: String) -> Date { Zone.vietnam.parseInstant(text)! }

  static func mail(_ daemon: InProcessDaemon, _ prefix: String) throws -> [String: Mail] {
    try daemon.messages().filter { $0.key.hasPrefix(prefix) }
  }

  @Test(
    "51-STP claims on 06/11: no more reminders to it or about it; returned on 20/11 it hears why at once and is reminded again; claimed again and accepted, its report is recorded by the officer"
  )
  func claimReturnAccept() throws {
    let daemon = try InProcessDaemon.shipped(at: "2026-11-06T09:00:00+07:00")
    defer { daemon.stop() }
    try daemon.settle()
    let stp = "iso-annual-report_51-STP_"
    let before = try Self.mail(daemon, stp)
    #expect(!before.isEmpty)
    let others = try Self.mail(daemon, "iso-annual-report_51-SNV_").count

    // The unit confirms through its link, twice (a double click): one claim.
    daemon.clock.advance(to: Self.at("2026-11-06T10:00:00+07:00"))
    let first = try daemon.daemon.recordClaim(
      rule: "iso-annual-report", unit: "51-STP", period: "2026", reference: "123/BC-STP",
      documentDate: LocalDate(iso: "2026-11-05"))
    daemon.clock.advance(to: Self.at("2026-11-06T10:00:30+07:00"))
    let second = try daemon.daemon.recordClaim(
      rule: "iso-annual-report", unit: "51-STP", period: "2026", reference: "123/BC-STP",
      documentDate: LocalDate(iso: "2026-11-05"))
    #expect(first.recorded && !second.recorded)
    #expect(first.fact.source == "link" && first.fact.recordedByName == "unit")
    let claims = try daemon.daemon.recordedFacts(
      unit: "51-STP", rule: "iso-annual-report", period: "2026", retracted: true
    )
    .filter { $0.kind == "claim" }
    #expect(claims.count == 1)
    let pending = try daemon.daemon.pendingWords()
    #expect(pending.map(\.unit) == ["51-STP"])
    #expect(pending.first?.reference == "123/BC-STP" && pending.first?.state == .claimed)
    try daemon.settle()

    // Through the deadline and both escalations: nothing more to 51-STP or about it.
    daemon.clock.advance(to: Self.at("2026-11-20T10:00:00+07:00"))
    try daemon.settle()
    #expect(try Self.mail(daemon, stp).keys.sorted() == before.keys.sorted())
    #expect(try Self.mail(daemon, "iso-annual-report_51-SNV_").count > others)
    let digests = try daemon.messages().filter { $0.key.hasPrefix("digest_") && $0.key.contains("_iso-annual-report_") }
    #expect(!digests.isEmpty)
    for (name, mail) in digests { #expect(!mail.text.contains("Sở Tư pháp"), "\(name)") }
    let year = Period(kind: .yearly, year: 2026)
    let finding = try daemon.daemon.findings(state: nil, rule: "iso-annual-report", unit: "51-STP", period: year)
    #expect(finding.map(\.state) == [.claimed])

    // 20/11 10:05: the Department finds no such document and returns the claim.
    daemon.clock.advance(to: Self.at("2026-11-20T10:05:00+07:00"))
    let returned = try daemon.daemon.returnWord(
      rule: "iso-annual-report", unit: "51-STP", period: "2026",
      reason: "Chưa nhận được văn bản số 123/BC-STP trên hệ thống quản lý văn bản", by: "hoa.nt", source: "desk")
    #expect(returned.kind == "returned" && returned.by == "hoa.nt" && returned.recordedByName == "hoa.nt")
    try daemon.settle()
    let after = try Self.mail(daemon, stp).filter { !before.keys.contains($0.key) }
    let told = try #require(after.first { $0.key.contains("_returned-") }?.value, "\(after.keys.sorted())")
    #expect(told.header("Date") == "Fri, 20 Nov 2026 10:05:00 +0700")
    #expect(told.header("To")?.contains("iso@51-stp.quangngai.example") == true)
    #expect(told.header("To")?.contains("51-skhcn") == false)
    #expect(told.text.contains("Lý do: Chưa nhận được văn bản số 123/BC-STP trên hệ thống quản lý văn bản"))
    #expect(told.text.contains("(số 123/BC-STP, ngày 05/11/2026)"), "\(told.text)")
    // Counted from Monday 16/11, the last day allowed (14/11 and 15/11 are a weekend).
    #expect(told.text.contains("trước ngày 15/11/2026 (Chủ nhật); đã quá hạn 4 ngày."), "\(told.text)")
    // The ladder resumes: its own overdue notice, as of now.
    #expect(after.keys.contains { $0.contains("_escalate-1wd_") }, "\(after.keys.sorted())")
    #expect(try daemon.daemon.pendingWords().isEmpty)

    // The unit claims again; the officer accepts: the report is recorded by name, the obligation met.
    daemon.clock.advance(to: Self.at("2026-11-20T11:00:00+07:00"))
    let again = try daemon.daemon.recordClaim(
      rule: "iso-annual-report", unit: "51-STP", period: "2026", reference: "123/BC-STP")
    #expect(again.recorded)
    daemon.clock.advance(to: Self.at("2026-11-20T11:10:00+07:00"))
    let accepted = try daemon.daemon.acceptWord(
      rule: "iso-annual-report", unit: "51-STP", period: "2026", by: "hoa.nt", source: "desk")
    #expect(accepted.kind == "report" && accepted.reference == "123/BC-STP")
    #expect(accepted.recordedByName == "hoa.nt" && accepted.source == "desk")
    #expect(accepted.at == Zone.vietnam.rfc3339(Self.at("2026-11-20T11:00:00+07:00")))
    let met = try daemon.daemon.findings(state: nil, rule: "iso-annual-report", unit: "51-STP", period: year)
    #expect(met.map(\.state) == [.metLate])
    #expect(try daemon.daemon.pendingWords().isEmpty)
    // Nothing waits to be accepted any more.
    #expect(throws: HTTPFailure.self) {
      try daemon.daemon.acceptWord(
        rule: "iso-annual-report", unit: "51-STP", period: "2026", by: "hoa.nt", source: "desk")
    }
  }
}
