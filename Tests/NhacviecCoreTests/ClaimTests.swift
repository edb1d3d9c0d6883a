import Foundation
import NhacviecCore
import NhacviecRender
import Testing

/// A unit's own word (a claim, a request for time) and the Department's verdict on it, judged
/// by the engine alone: which state an obligation is in, and which notices it owes.
@Suite("A unit's claim and the verdict on it")
struct ClaimTests {
  static let zone = Fixture.zone
  static func at(_ text: String) -> Date { Fixture.at(text) }

  static func fact(
    _ kind: Fact.Kind, unit: String = "D1", _ when: String, reference: String? = nil, due: String? = nil,
    by: String? = nil, reason: String? = nil
  ) -> Fact {
    Fact(
      kind: kind, unitID: unit, ruleID: "annual", period: "2026", at: at(when), reference: reference,
      due: due.flatMap { LocalDate(iso: $0) }, decidedBy: by, reason: reason)
  }

  static let claim = fact(.claim, "2026-11-10T09:00:00+07:00", reference: "12/BC-STP", due: "2026-11-09")

  static func finding(_ facts: [Fact], unit: String = "D1", at now: String) -> Finding {
    let engine = Fixture.engine([Fixture.annualRule()], facts: facts)
    let rule = Fixture.annualRule()
    let ladder = engine.ladder(rule, period: Period(kind: .yearly, year: 2026))
    let owed = engine.roster(of: rule, deadline: ladder.deadline).first { $0.id == unit }!
    return engine.finding(on: ladder, unit: owed, at: at(now))
  }

  struct Case: Sendable, CustomStringConvertible {
    let description: String
    let facts: [Fact]
    let now: String
    let state: FindingState
    let claimPending: Bool
    let requestPending: Bool
  }

  static let cases: [Case] = [
    Case(
      description: "a claim puts the obligation in `claimed`, before and after the deadline", facts: [claim],
      now: "2026-11-20T09:00:00+07:00", state: .claimed, claimPending: true, requestPending: false),
    Case(
      description: "a claim known only later counts from when it was made", facts: [claim],
      now: "2026-11-09T09:00:00+07:00", state: .dueSoon, claimPending: false, requestPending: false),
    Case(
      description: "a returned claim leaves the obligation overdue",
      facts: [claim, fact(.returned, "2026-11-17T10:00:00+07:00", by: "hoa.nt", reason: "Chưa nhận được văn bản")],
      now: "2026-11-18T09:00:00+07:00", state: .overdue, claimPending: false, requestPending: false),
    Case(
      description: "a claim made again after a return is pending again",
      facts: [
        claim, fact(.returned, "2026-11-17T10:00:00+07:00", by: "hoa.nt", reason: "Chưa nhận được văn bản"),
        fact(.claim, "2026-11-18T08:30:00+07:00", reference: "12/BC-STP"),
      ], now: "2026-11-18T09:00:00+07:00", state: .claimed, claimPending: true, requestPending: false),
    Case(
      description: "met beats claimed: the report accepted closes the obligation",
      facts: [claim, fact(.report, "2026-11-10T09:00:00+07:00", reference: "12/BC-STP")],
      now: "2026-11-20T09:00:00+07:00", state: .metOnTime, claimPending: true, requestPending: false),
    Case(
      description: "a pending request does not move the deadline",
      facts: [fact(.request, "2026-11-12T09:00:00+07:00", due: "2026-11-30", reason: "Chờ số liệu của các phòng")],
      now: "2026-11-17T09:00:00+07:00", state: .overdue, claimPending: false, requestPending: true),
    Case(
      description: "an accepted request is the extension to the day asked",
      facts: [
        fact(.request, "2026-11-12T09:00:00+07:00", due: "2026-11-30", reason: "Chờ số liệu của các phòng"),
        fact(.extension, "2026-11-13T09:00:00+07:00", due: "2026-11-30", by: "hoa.nt"),
      ], now: "2026-11-17T09:00:00+07:00", state: .extended, claimPending: false, requestPending: false),
    Case(
      description: "a refused request leaves the deadline where it was",
      facts: [
        fact(.request, "2026-11-12T09:00:00+07:00", due: "2026-11-30", reason: "Chờ số liệu của các phòng"),
        fact(.returned, "2026-11-13T09:00:00+07:00", by: "hoa.nt", reason: "Không có căn cứ gia hạn"),
      ], now: "2026-11-17T09:00:00+07:00", state: .overdue, claimPending: false, requestPending: false),
  ]

  @Test("the state of an obligation with the unit's word", arguments: cases)
  func state(_ c: Case) {
    let finding = Self.finding(c.facts, at: c.now)
    #expect(finding.state == c.state)
    #expect((finding.claimFact != nil) == c.claimPending)
    #expect((finding.requestFact != nil) == c.requestPending)
  }

  @Test("a claim stops the unit's reminders and the escalations about it; other units go on")
  func claimStopsNotices() {
    let engine = Fixture.engine([Fixture.annualRule()], facts: [Self.claim])
    let plan = engine.plan(since: Self.at("2026-11-10T10:00:00+07:00"), now: Self.at("2026-12-10T09:00:00+07:00"))
    #expect(!plan.due.contains { $0.unitID == "D1" }, "\(plan.due.map(\.key))")
    #expect(plan.due.contains { $0.unitID == "D2" && $0.step == "escalate-1wd" })
    // Without the claim, D1 owes the same rungs as D2.
    let without = Fixture.engine([Fixture.annualRule()])
      .plan(since: Self.at("2026-11-10T10:00:00+07:00"), now: Self.at("2026-12-10T09:00:00+07:00"))
    #expect(without.due.contains { $0.unitID == "D1" && $0.step == "escalate-1wd" })
  }

  @Test("a notice planned before the claim is not sent after it")
  func claimSuppressesAtSendTime() throws {
    let before = Fixture.engine([Fixture.annualRule()])
    let plan = before.plan(since: Self.at("2026-11-12T10:00:00+07:00"), now: Self.at("2026-11-13T08:00:00+07:00"))
    let reminder = try #require(plan.due.first { $0.unitID == "D1" && $0.step == "remind-1wd" })
    let after = Fixture.engine(
      [Fixture.annualRule()],
      facts: [Self.fact(.claim, "2026-11-13T07:00:00+07:00", reference: "12/BC-STP")])
    guard case .suppress(let reason) = after.check(reminder, at: Self.at("2026-11-13T08:00:00+07:00"), window: false)
    else {
      Issue.record("the reminder was not suppressed")
      return
    }
    #expect(reason.contains("claims to have sent its report (12/BC-STP)"))
  }

  @Test("a pending request does not stop the unit's notices")
  func requestDoesNotStop() {
    let request = Self.fact(.request, "2026-11-12T09:00:00+07:00", due: "2026-11-30", reason: "Chờ số liệu")
    let plan = Fixture.engine([Fixture.annualRule()], facts: [request])
      .plan(since: Self.at("2026-11-12T10:00:00+07:00"), now: Self.at("2026-11-16T09:00:00+07:00"))
    #expect(plan.due.contains { $0.unitID == "D1" && $0.step == "escalate-1wd" })
  }

  @Test("a return resumes the ladder and tells the unit why, once, in a notice of its own")
  func returnResumes() throws {
    let returned = Self.fact(
      .returned, "2026-11-18T10:00:00+07:00", by: "hoa.nt", reason: "Chưa nhận được văn bản số 12/BC-STP")
    let engine = Fixture.engine([Fixture.annualRule()], facts: [Self.claim, returned])
    let now = Self.at("2026-11-18T10:00:05+07:00")
    let plan = engine.plan(
      since: Self.at("2026-11-18T09:59:00+07:00"), now: now,
      rejudge: [RejudgeScope(rule: nil, unit: "D1", period: "2026")])
    let seconds = Int64(Self.at("2026-11-18T10:00:00+07:00").timeIntervalSince1970)
    let verdict = try #require(plan.due.first { $0.unitID == "D1" && $0.step == "returned-\(seconds)" })
    #expect(verdict.template == "returned")
    #expect(verdict.reason == .returned)
    // The unit's own people only: never its superiors.
    #expect(Set(verdict.to) == ["iso@d1.test.example", "head@d1.test.example"])
    // The ladder resumes: the newest rung for each audience goes out as well.
    #expect(plan.due.contains { $0.unitID == "D1" && $0.step == "escalate-3wd" })
    #expect(plan.due.contains { $0.unitID == "D1" && $0.step == "escalate-1wd" })
    // Its key reads back as what wrote it.
    #expect(NoticeKey(try #require(verdict.noticeKey).description) == verdict.noticeKey)

    let message = MessageRenderer(ruleset: engine.ruleset, calendar: Fixture.calendar).render(verdict, engine: engine)
    #expect(message.subject.hasPrefix("[Trả lại] Báo cáo ISO năm 2026"), "\(message.subject)")
    #expect(
      message.text.contains(
        "Thông tin đơn vị báo đã gửi báo cáo (số 12/BC-STP, ngày 09/11/2026) của Sở Tư pháp về việc \"Báo cáo ISO năm 2026\" đã được xem xét ngày 18/11/2026 và chưa được chấp nhận."
      ), "\(message.text)")
    #expect(message.text.contains("Lý do: Chưa nhận được văn bản số 12/BC-STP"))
    #expect(message.text.contains("trước ngày 15/11/2026 (Chủ nhật); đã quá hạn 4 ngày."), "\(message.text)")
    #expect(message.html.contains("Lý do: Chưa nhận được văn bản số 12/BC-STP"))

    // A later pass with no correction sends it no more.
    let later = engine.plan(since: now, now: Self.at("2026-11-19T09:00:00+07:00"))
    #expect(!later.due.contains { $0.step.hasPrefix("returned-") })
  }

  @Test("a refused request is told to the unit the same way, naming the day it asked for")
  func refusedRequest() throws {
    let request = Self.fact(.request, "2026-11-12T09:00:00+07:00", due: "2026-11-30", reason: "Chờ số liệu")
    let returned = Self.fact(
      .returned, "2026-11-13T14:00:00+07:00", by: "hoa.nt", reason: "Không có căn cứ gia hạn")
    let engine = Fixture.engine([Fixture.annualRule()], facts: [request, returned])
    let plan = engine.plan(
      since: Self.at("2026-11-13T13:59:00+07:00"), now: Self.at("2026-11-13T14:00:05+07:00"),
      rejudge: [RejudgeScope(rule: nil, unit: "D1", period: "2026")])
    let verdict = try #require(plan.due.first { $0.unitID == "D1" && $0.step.hasPrefix("returned-") })
    let message = MessageRenderer(ruleset: engine.ruleset, calendar: Fixture.calendar).render(verdict, engine: engine)
    #expect(message.text.contains("Đề nghị gia hạn đến ngày 30/11/2026 của Sở Tư pháp"), "\(message.text)")
    #expect(message.text.contains("Lý do: Không có căn cứ gia hạn"))
    #expect(message.text.contains("trước ngày 15/11/2026 (Chủ nhật); hôm nay là ngày làm việc cuối cùng trước hạn."))
  }

  @Test("the report counts a claimed unit apart from those in and those missing")
  func reportCountsClaimed() throws {
    let engine = Fixture.engine([Fixture.annualRule()], facts: [Self.claim])
    let report = engine.report(
      period: Period(kind: .yearly, year: 2026), ruleIDs: ["annual"], at: Self.at("2026-11-20T09:00:00+07:00"))
    let section = try #require(report.sections.first)
    let row = try #require(section.rows.first { $0.unit == "D1" })
    #expect(row.status == .claimed)
    #expect(row.reference == "12/BC-STP")
    #expect(section.total.count(.claimed) == 1)
    #expect(section.total.count(.missing) == section.rows.count - 1)
    let csv = ReportDocument(report, zone: Self.zone).csv()
    #expect(csv.contains("Báo đã gửi, chờ xác minh"))
  }
}
