import Foundation
import NhacviecConfig
import NhacviecControl
import NhacviecCore
import NhacviecTesting
import TestSupport
import Testing

@testable import NhacviecDaemon

/// The operator's corrections: a fact taken back, notices held by a silence. Both on a daemon in
/// this process on a manual clock, the messages read from the outbox as their recipients would.
@Suite("Retractions and silences", .serialized)
struct AuditTests {
  static func at(_ text: String) -> Date { Zone.vietnam.parseInstant(text)! }

  @Test("a fact recorded for the wrong unit is retracted: kept for the audit, and its unit is reminded at once")
  func retraction() throws {
    let fixture = try ConfigurationFixture()
    let daemon = try InProcessDaemon(
      configPath: fixture.configPath, folder: fixture.folder, at: "2026-11-09T09:00:00+07:00")
    defer { daemon.stop() }
    try daemon.settle()
    // D2 reported, but the report was recorded for D1.
    daemon.clock.advance(to: Self.at("2026-11-09T10:00:00+07:00"))
    var report = ControlAPI.FactRequest(kind: "report", unit: "D1", rule: "annual", period: "2026")
    report.at = "2026-11-09T10:00:00+07:00"
    report.reference = "7/BC-SYT"
    _ = try daemon.daemon.record(ControlAPI.FactBatch(source: nil, facts: [report]), uid: 1234)
    daemon.clock.advance(to: Self.at("2026-11-13T08:00:00+07:00"))
    try daemon.settle()
    #expect(try daemon.messages().keys.filter { $0.contains("_remind-1wd_") }.count == 3)
    #expect(try daemon.messages().keys.contains { $0.hasPrefix("annual_D1_2026_remind-1wd") } == false)

    let listed = try daemon.daemon.recordedFacts(unit: "D1", rule: "annual", period: "2026", retracted: false)
    let fact = try #require(listed.first)
    #expect(listed.count == 1)
    #expect(fact.reference == "7/BC-SYT" && fact.recordedBy == 1234 && fact.source == "socket")
    #expect(fact.recordedAt == "2026-11-09T10:00:00+07:00")

    daemon.clock.advance(to: Self.at("2026-11-13T09:30:00+07:00"))
    try daemon.settle()
    let retracted = try daemon.daemon.retract(id: fact.id, reason: "  recorded for the wrong unit (D2)  ", uid: 1000)
    #expect(retracted.retracted?.reason == "recorded for the wrong unit (D2)")
    #expect(retracted.retracted?.by == 1000)
    #expect(retracted.retracted?.at == "2026-11-13T09:30:00+07:00")
    // The daemon plans again at once, without waiting for its next wake-up.
    let key = "annual/D1/2026/remind-1wd@2026-11-15"
    try daemon.settle()
    #expect(try daemon.daemon.history(key: key)?.notices.first?.state == .sent)
    // The reminder the fact had stopped goes out now, true as of now.
    let mail = try #require(try daemon.messages().first { $0.key.hasPrefix("annual_D1_2026_remind-1wd") }?.value)
    #expect(mail.header("Date") == "Fri, 13 Nov 2026 09:30:00 +0700")
    #expect(mail.text.contains("trước ngày 15/11/2026"))
    // Only the newest rung for the unit: the seven-day reminder went on 09/11 already.
    #expect(try daemon.messages().keys.filter { $0.hasPrefix("annual_D1_") }.count == 2)
    #expect(try daemon.daemon.findings(state: nil, rule: "annual", unit: "D1", period: nil).first?.state == .dueSoon)

    // The audit keeps it, marked; the listing of facts in force does not.
    #expect(try daemon.daemon.recordedFacts(unit: "D1", rule: nil, period: nil, retracted: false).isEmpty)
    let audit = try daemon.daemon.recordedFacts(unit: "D1", rule: nil, period: nil, retracted: true)
    #expect(audit.map(\.id) == [fact.id])
    #expect(audit.first?.retracted != nil)
    // Twice is a conflict; an id nobody has is a 404; a reason is required.
    #expect(throws: HTTPFailure(409, "fact \(fact.id) was already retracted at 2026-11-13T09:30:00+07:00")) {
      try daemon.daemon.retract(id: fact.id, reason: "again", uid: 1000)
    }
    #expect(throws: HTTPFailure(404, "no fact with id 999")) {
      try daemon.daemon.retract(id: 999, reason: "nope", uid: 1000)
    }
    #expect(throws: HTTPFailure(400, "a retraction needs a reason")) {
      try daemon.daemon.retract(id: fact.id, reason: " ", uid: 1000)
    }
    // The same fact recorded again (for the right reason, this time) counts again.
    report.unit = "D2"
    let again = try daemon.daemon.record(ControlAPI.FactBatch(source: nil, facts: [report]), uid: 1234)
    #expect(again.recorded.count == 1)
  }

  @Test("a silence holds notices, shows in status, findings and explain, and what it held goes out when it ends")
  func silence() throws {
    let fixture = try ConfigurationFixture()
    let daemon = try InProcessDaemon(
      configPath: fixture.configPath, folder: fixture.folder, at: "2026-11-09T09:00:00+07:00")
    defer { daemon.stop() }
    try daemon.settle()
    #expect(try daemon.daemon.status().journal["sent"] == 4)
    daemon.clock.advance(to: Self.at("2026-11-09T10:00:00+07:00"))
    let d2 = try daemon.daemon.addSilence(
      .init(rule: nil, unit: "D2", period: nil, until: "2026-11-13T10:00:00+07:00", reason: "đổi đầu mối ISO"),
      uid: 1000)
    let office = try daemon.daemon.addSilence(
      .init(rule: "annual", unit: "O", period: "2026", until: "2026-11-16T09:00:00+07:00", reason: "sáp nhập"),
      uid: 1000)
    #expect(d2.active && d2.ends == "2026-11-13T10:00:00+07:00")
    // Refused: nothing to match, an unknown unit, an end in the past, no reason.
    #expect(throws: HTTPFailure(400, "a silence needs a rule, a unit or both")) {
      try daemon.daemon.addSilence(.init(rule: nil, unit: nil, period: nil, until: "2026-12-01", reason: "x"), uid: 0)
    }
    #expect(throws: HTTPFailure(404, "no unit D9 in the directory")) {
      try daemon.daemon.addSilence(.init(rule: nil, unit: "D9", period: nil, until: "2026-12-01", reason: "x"), uid: 0)
    }
    #expect(throws: HTTPFailure(400, "until: 2026-11-01T00:00:00+07:00 is not in the future")) {
      try daemon.daemon.addSilence(.init(rule: nil, unit: "D2", period: nil, until: "2026-11-01", reason: "x"), uid: 0)
    }
    #expect(throws: HTTPFailure(400, "a silence needs a reason")) {
      try daemon.daemon.addSilence(.init(rule: nil, unit: "D2", period: nil, until: "2026-12-01", reason: ""), uid: 0)
    }

    // 13/11: the last working day's reminder is held for D2 and O, recorded as such.
    daemon.clock.advance(to: Self.at("2026-11-13T08:00:00+07:00"))
    try daemon.settle()
    var sent = try daemon.messages().keys.filter { $0.contains("_remind-1wd_") }.sorted()
    #expect(
      sent == ["annual_D1_2026_remind-1wd_2026-11-15--email.eml", "annual_D3_2026_remind-1wd_2026-11-15--email.eml"])
    var status = try daemon.daemon.status()
    #expect(status.journal["silenced"] == 2)
    #expect(status.silences.map(\.id) == [d2.id, office.id])
    #expect(status.isHealthy)
    let finding = try #require(try daemon.daemon.findings(state: nil, rule: "annual", unit: "D2", period: nil).first)
    #expect(finding.silenced?.id == d2.id)
    #expect(try daemon.daemon.findings(state: nil, rule: "annual", unit: "D1", period: nil).first?.silenced == nil)
    let explained = try #require(try daemon.daemon.explain(unit: "D2", rule: "annual"))
    #expect(
      explained.obligations.first?.details.contains { $0.hasPrefix("silenced by silence \(d2.id) (unit=D2)") } == true)
    let held = try daemon.daemon.notices(state: .silenced, key: nil, limit: 10)
    #expect(
      held.map(\.key).sorted() == ["annual/D2/2026/remind-1wd@2026-11-15", "annual/O/2026/remind-1wd@2026-11-15"])
    #expect(held.first?.lastError?.contains("until 2026-11-13T10:00:00+07:00: đổi đầu mối ISO") == true)

    // D2's silence ends while the reminder is still owed: it goes out, dated and counted as of then.
    daemon.clock.advance(to: Self.at("2026-11-13T10:00:00+07:00"))
    try daemon.settle()
    let released = try #require(
      try daemon.messages().first { $0.key.hasPrefix("annual_D2_2026_remind-1wd") }?.value)
    #expect(released.header("Date") == "Fri, 13 Nov 2026 10:00:00 +0700")
    status = try daemon.daemon.status()
    #expect(status.silences.map(\.id) == [office.id])
    #expect(status.journal["silenced"] == 1)

    // O's silence outlasts the deadline: its reminder is stale when it ends and is not sent; the
    // escalation it also held goes out, once.
    daemon.clock.advance(to: Self.at("2026-11-16T08:00:00+07:00"))
    try daemon.settle()
    #expect(try daemon.messages().keys.contains { $0.hasPrefix("annual_O_2026_escalate-1wd") } == false)
    daemon.clock.advance(to: Self.at("2026-11-16T09:00:00+07:00"))
    try daemon.settle()
    sent = try daemon.messages().keys.filter { $0.hasPrefix("annual_O_") }.sorted()
    #expect(
      sent == [
        "annual_O_2026_escalate-1wd_2026-11-15--email.eml", "annual_O_2026_remind-7d_2026-11-15--email.eml",
      ])
    let escalation = try #require(try daemon.messages()["annual_O_2026_escalate-1wd_2026-11-15--email.eml"])
    #expect(escalation.header("Date") == "Mon, 16 Nov 2026 09:00:00 +0700")
    let stale = try #require(try daemon.daemon.history(key: "annual/O/2026/remind-1wd@2026-11-15")?.notices.first)
    #expect(stale.state == .suppressed)
    #expect(stale.lastError?.contains("the deadline passed") == true)

    // Expired early: what it held is judged at once.
    let d3 = try daemon.daemon.addSilence(
      .init(rule: "annual", unit: "D3", period: nil, until: "2026-12-31", reason: "kiểm tra địa chỉ"), uid: 1000)
    daemon.clock.advance(to: Self.at("2026-11-18T08:00:00+07:00"))
    try daemon.settle()
    #expect(try daemon.messages().keys.contains { $0.hasPrefix("annual_D3_2026_escalate-3wd") } == false)
    daemon.clock.advance(to: Self.at("2026-11-18T11:00:00+07:00"))
    let expired = try daemon.daemon.expireSilence(id: d3.id, uid: 1000)
    #expect(expired.expired && !expired.active && expired.ends == "2026-11-18T11:00:00+07:00")
    try daemon.settle()
    let late = try #require(try daemon.messages()["annual_D3_2026_escalate-3wd_2026-11-15--email.eml"])
    #expect(late.header("Date") == "Wed, 18 Nov 2026 11:00:00 +0700")
    #expect(try daemon.daemon.silences(all: false).isEmpty)
    #expect(try daemon.daemon.silences(all: true).count == 3)
    #expect(throws: HTTPFailure(409, "silence \(d3.id) already ended at 2026-11-18T11:00:00+07:00")) {
      try daemon.daemon.expireSilence(id: d3.id, uid: 0)
    }
  }
}
