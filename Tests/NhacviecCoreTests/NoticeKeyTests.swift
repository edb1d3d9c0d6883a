import Foundation
import NhacviecCore
import Testing

@Suite("Notice keys")
struct NoticeKeyTests {
  @Test("a key names the rule, the unit record, the period, the rung and the deadline, and reads back")
  func roundTrip() throws {
    let key = NoticeKey(
      rule: "iso-annual-report", unit: UnitRef(id: "21025", validFrom: LocalDate(iso: "2025-07-01")),
      period: Period("2026")!, step: "escalate-7wd-r2", deadline: LocalDate(iso: "2026-11-15")!)
    #expect(key.description == "iso-annual-report/21025@2025-07-01/2026/escalate-7wd-r2@2026-11-15")
    #expect(NoticeKey(key.description) == key)
    let at = NoticeKey(
      rule: "r", unit: UnitRef(id: "D1", validFrom: nil), period: Period("2026-Q3")!, step: "remind-1wd",
      deadline: LocalDate(iso: "2026-10-15")!, time: TimeOfDay("17:00"))
    #expect(at.description == "r/D1/2026-Q3/remind-1wd@2026-10-15T17:00")
    #expect(NoticeKey(at.description) == at)
    // A deadline moved within its day is another ladder.
    let earlier = NoticeKey(
      rule: "r", unit: at.unit, period: at.period, step: at.step, deadline: at.deadline, time: TimeOfDay("10:00"))
    #expect(earlier != at && earlier.description != at.description)
    for text in [
      "", "a/b/c", "r/D1/2026/remind-7d", "r/D1/-/remind-7d@2026-11-15", "r//2026/x@2026-11-15",
      "r/D1/2026/x@2026-11-15T25:00", "r/D1@nope/2026/x@2026-11-15",
    ] {
      #expect(NoticeKey(text) == nil, "\(text)")
    }
  }

  @Test("a decision reads back from the journal's JSON whole")
  func codable() throws {
    let key = NoticeKey(
      rule: "annual", unit: UnitRef(id: "D1", validFrom: nil), period: Period("2026")!, step: "escalate-3wd",
      deadline: LocalDate(iso: "2026-11-15")!)
    let decision = NoticeDecision(
      key: key.description, channel: "email", reason: .catchUp, scheduledAt: Date(timeIntervalSince1970: 1_794_950_000),
      addressees: [Addressee(unit: key.unit, unitName: "Sở Tư pháp", role: "head", name: nil, address: "a@b.example")],
      content: .obligation(key: key, template: "escalation", audience: .superiors(after: Offset("3wd")!)))
    let data = try JSONEncoder().encode(decision)
    #expect(try JSONDecoder().decode(NoticeDecision.self, from: data) == decision)
  }
}
