import Foundation
import NhacviecCore
import NhacviecRender
import Testing

@Suite("Deadlines and ladders")
struct LadderTests {
  let zone = Fixture.zone

  @Test("each convention resolves to one instant")
  func conventions() {
    let period = Period(kind: .yearly, year: 2026)
    let calendar = Fixture.calendar
    let before = DueSpec(anchor: .date(month: 11, day: 15, yearOffset: 0), convention: .before)
    let by = DueSpec(anchor: .date(month: 11, day: 15, yearOffset: 0), convention: .by)
    let at = DueSpec(anchor: .date(month: 11, day: 15, yearOffset: 0), convention: .at(TimeOfDay("17:00")!))
    #expect(zone.rfc3339(before.deadline(for: period, calendar: calendar)) == "2026-11-15T00:00:00+07:00")
    #expect(zone.rfc3339(by.deadline(for: period, calendar: calendar)) == "2026-11-16T00:00:00+07:00")
    #expect(zone.rfc3339(at.deadline(for: period, calendar: calendar)) == "2026-11-15T17:00:00+07:00")
    let budget = DueSpec(anchor: .date(month: 7, day: 15, yearOffset: -1), convention: .by)
    #expect(
      zone.rfc3339(budget.deadline(for: Period(kind: .yearly, year: 2027), calendar: calendar))
        == "2026-07-16T00:00:00+07:00")
    let monthly = DueSpec(anchor: .afterPeriod(Offset(5, .workingDays)), convention: .by)
    // September 2026 ends on Wednesday 30/9; five working days later is Wednesday 7/10.
    #expect(monthly.namedDate(for: Period("2026-09")!, calendar: calendar) == day("2026-10-07"))
  }

  @Test("the letter's ladder lands on working days inside the send window")
  func letterLadder() {
    let engine = Fixture.engine([Fixture.annualRule()])
    let deadline = zone.instant(day("2026-11-15"))
    let steps = engine.steps(for: Fixture.annualRule(), deadline: deadline)
    let printed = steps.map { "\($0.id) \(zone.rfc3339($0.at))" }
    #expect(
      printed == [
        // 8/11 is a Sunday: deferred to Monday 9/11.
        "remind-7d 2026-11-09T08:00:00+07:00",
        // The last working day before Sunday 15/11.
        "remind-1wd 2026-11-13T08:00:00+07:00",
        "escalate-1wd 2026-11-16T08:00:00+07:00",
        "escalate-3wd 2026-11-18T08:00:00+07:00",
        // Tuesday 24/11 is Ngày Văn hóa Việt Nam, a day off from 2026.
        "escalate-7wd 2026-11-25T08:00:00+07:00",
        // Repeats every 7 days until 30 days after the deadline.
        "escalate-7wd-r1 2026-12-02T08:00:00+07:00",
        "escalate-7wd-r2 2026-12-09T08:00:00+07:00",
      ])
  }

  @Test("a reminder deferred past the deadline moves back to the last window before it")
  func reminderNeverAfterDeadline() {
    let rule = Fixture.annualRule(remind: [Offset(1, .days)])
    let steps = Fixture.engine([rule]).steps(for: rule, deadline: zone.instant(day("2026-11-15")))
    #expect(zone.rfc3339(steps[0].at) == "2026-11-13T08:00:00+07:00")
  }

  @Test("escalation after N working days counts the deadline's own day when the deadline is its start")
  func escalationOnFirstLateDay() {
    let rule = Fixture.annualRule()
    let steps = Fixture.engine([rule]).steps(for: rule, deadline: zone.instant(day("2026-11-13")))
    #expect(steps.first { $0.id == "escalate-1wd" }.map { zone.rfc3339($0.at) } == "2026-11-13T08:00:00+07:00")
  }
}

@Suite("Findings")
struct FindingTests {
  func state(_ facts: [Fact], at instant: String, unit: String = "D1") -> FindingState? {
    Fixture.engine([Fixture.annualRule()], facts: facts).findings(at: Fixture.at(instant))
      .first { $0.unit.id == unit && $0.period.year == 2026 }?.state
  }

  func report(_ unit: String, _ at: String, rule: String = "annual", period: String = "2026") -> Fact {
    Fact(kind: .report, unitID: unit, ruleID: rule, period: period, at: Fixture.at(at), reference: "1/BC")
  }

  @Test("an obligation moves from upcoming to due soon to overdue")
  func timeline() {
    #expect(state([], at: "2026-11-01T09:00") == .upcoming)
    #expect(state([], at: "2026-11-10T09:00") == .dueSoon)
    #expect(state([], at: "2026-11-16T09:00") == .overdue)
  }

  @Test("a report met on time or late, known only from its instant on")
  func met() {
    let early = report("D1", "2026-11-12T10:00")
    #expect(state([early], at: "2026-11-12T09:00") == .dueSoon)
    #expect(state([early], at: "2026-11-13T09:00") == .metOnTime)
    #expect(state([report("D1", "2026-11-17T10:00")], at: "2026-11-18T09:00") == .metLate)
  }

  @Test("an extension moves the deadline to the end of its day; an exemption closes the obligation")
  func extensionAndExemption() {
    let ext = Fact(
      kind: .extension, unitID: "D1", ruleID: "annual", period: "2026", at: Fixture.at("2026-11-10T09:00"),
      due: day("2026-11-30"), decidedBy: "Giám đốc Sở KH&CN", reason: "thay đổi nhân sự")
    #expect(state([ext], at: "2026-11-20T09:00") == .extended)
    // "Gia hạn đến ngày 30/11" allows 30/11 itself, though the rule's own date is "trước ngày".
    #expect(state([ext], at: "2026-11-30T16:00") == .extended)
    #expect(state([ext, report("D1", "2026-11-30T16:00")], at: "2026-12-01T09:00") == .metOnTime)
    #expect(state([ext], at: "2026-12-01T09:00") == .overdue)
    let exempt = Fact(kind: .exemption, unitID: "D1", ruleID: "annual", period: "2026", decidedBy: "UBND tỉnh")
    #expect(state([exempt], at: "2026-11-20T09:00") == .exempt)
  }
}

@Suite("Planning notices")
struct PlanTests {
  let zone = Fixture.zone

  func simulate(_ rules: [Rule], facts: [Fact] = [], digest: Int = 0, from: String, to: String) -> [NoticeDecision] {
    Fixture.engine(rules, facts: facts, digestMinimum: digest).simulate(from: Fixture.at(from), to: Fixture.at(to))
  }

  @Test("a report stops the unit's remaining reminders and escalations, and no one else's")
  func reportStopsReminders() {
    let facts = [
      Fact(kind: .report, unitID: "D1", ruleID: "annual", period: "2026", at: Fixture.at("2026-11-10T09:00"))
    ]
    let notices = simulate([Fixture.annualRule()], facts: facts, from: "2026-09-01", to: "2026-12-31")
    #expect(notices.filter { $0.unitID == "D1" }.map(\.step) == ["remind-7d"])
    #expect(notices.filter { $0.unitID == "D2" }.map(\.step).count == 7)
  }

  @Test("every notice of a year falls on a working day inside the window")
  func workingDaysOnly() {
    let rules = [Fixture.annualRule(), Fixture.communeRule(), Fixture.rollupRule(), Fixture.budgetRule()]
    let notices = simulate(rules, from: "2024-01-01", to: "2026-12-31")
    #expect(notices.count > 50)
    for notice in notices {
      let date = zone.localDate(of: notice.at)
      let time = zone.timeOfDay(of: notice.at)
      #expect(Fixture.calendar.isWorkingDay(date), "\(notice.key) on \(date)")
      #expect(time >= TimeOfDay("08:00")! && time < TimeOfDay("17:00")!, "\(notice.key) at \(time)")
    }
  }

  @Test("the same inputs give the same timeline")
  func deterministic() {
    let rules = [Fixture.annualRule(), Fixture.communeRule(), Fixture.rollupRule()]
    let a = simulate(rules, digest: 3, from: "2024-09-01", to: "2026-12-31").map { "\($0.at) \($0.key) \($0.to)" }
    let b = simulate(rules, digest: 3, from: "2024-09-01", to: "2026-12-31").map { "\($0.at) \($0.key) \($0.to)" }
    #expect(a == b)
  }

  @Test("after downtime, each audience of a missed ladder hears its newest step once; the rest is superseded")
  func catchUp() {
    let engine = Fixture.engine([Fixture.annualRule()])
    let first = engine.plan(since: nil, now: Fixture.at("2026-11-20T10:00"))
    let d1 = first.due.filter { $0.unitID == "D1" }
    // The unit hears of its own lateness; its superiors hear once, at the rung they are on.
    #expect(d1.map(\.step) == ["escalate-1wd", "escalate-3wd"])
    // Catch-up where a step stands for several (the unit's reminders and escalation).
    #expect(d1.map(\.reason) == [.catchUp, .escalation])
    #expect(
      d1.map { $0.addressees.map(\.address) } == [
        ["head@d1.test.example"], ["head@p.test.example", "head@s.test.example"],
      ])
    // The stale reminders are recorded as superseded, never sent.
    let stale = first.superseded.filter { $0.unitID == "D1" }.map(\.step)
    #expect(stale == ["remind-7d", "remind-1wd"])
    // The next pass has nothing new for D1 and wakes for the next step.
    let second = engine.plan(since: Fixture.at("2026-11-20T10:00"), now: Fixture.at("2026-11-20T11:00"))
    #expect(second.due.isEmpty)
    #expect(second.next.map { zone.rfc3339($0) } == "2026-11-25T08:00:00+07:00")
  }

  @Test("a step that falls due alone is not a catch-up, and keeps its own reason")
  func steadyState() {
    let engine = Fixture.engine([Fixture.annualRule()])
    let plan = engine.plan(since: Fixture.at("2026-11-18T07:00"), now: Fixture.at("2026-11-18T08:00"))
    let d1 = plan.due.filter { $0.unitID == "D1" }
    #expect(d1.map(\.step) == ["escalate-3wd"])
    #expect(d1.first?.reason == .escalation)
    #expect(plan.superseded.isEmpty)
  }

  @Test("a superior who would receive many notices in one pass gets one digest")
  func digest() throws {
    let notices = simulate([Fixture.annualRule()], digest: 3, from: "2026-11-18T08:00", to: "2026-11-18T09:00")
    let toProvince = notices.filter { $0.to.contains("head@p.test.example") }
    #expect(toProvince.count == 1)
    let digest = try #require(toProvince.first)
    #expect(digest.reason == .digest)
    #expect(digest.items.map(\.unitID).sorted() == ["C1", "C9", "D1", "D2", "O", "S"])
    // Named by what it carries: the same rungs make the same key, other rungs another.
    #expect(digest.key.hasPrefix("digest/head@p.test.example/annual/"))
    let decision = try #require(
      Fixture.engine([Fixture.annualRule()], digestMinimum: 3).simulate(
        from: Fixture.at("2026-11-18T08:00"), to: Fixture.at("2026-11-18T09:00")
      ).first { $0.key == digest.key })
    guard case .digest(let items) = decision.content else {
      Issue.record("not a digest")
      return
    }
    #expect(
      decision.key == NoticeDecision.digestKey(address: "head@p.test.example", rule: "annual", items: items.map(\.rung))
    )
    #expect(
      decision.key
        != NoticeDecision.digestKey(
          address: "head@p.test.example", rule: "annual", items: items.dropFirst().map(\.rung)))
    #expect(
      decision.key
        != NoticeDecision.digestKey(
          address: "head@p.test.example", rule: "annual",
          items: [RungID(items[0].key, revision: 1)] + items.dropFirst().map(\.rung)))
    // Each item's other recipient (the standing agency's head) is in a digest too.
    #expect(notices.allSatisfy { $0.reason == .digest })
  }

  @Test("a digest names each unit once: the Department late itself and told of everyone's reads itself once")
  func digestOneLinePerUnit() throws {
    // A first start on 18/11: S's head is owed S's own overdue notice (1wd) and the third
    // working day's rung about every unit, S included.
    let engine = Fixture.engine([Fixture.annualRule()], digestMinimum: 3)
    let plan = engine.plan(since: nil, now: Fixture.at("2026-11-18T09:00"))
    let digest = try #require(plan.due.first { $0.reason == .digest && $0.to == ["head@s.test.example"] })
    let units = digest.items.map(\.unitID)
    #expect(units.contains("S"))
    #expect(units.count == Set(units).count, "\(units)")
    // In the directory's order, as a report lists them.
    #expect(units == ["S", "O", "D1", "D2", "C1", "C9"].filter(units.contains))
  }

  @Test("a digest lists many units on one duty: another duty due the same day still reads as itself")
  func digestPerDuty() throws {
    let other = Rule(
      id: "other", kindName: "deadline", kind: try DeadlineKind(parameters: nil), title: "Việc khác {{period.name}}",
      basis: "Công văn, khoản 4", appliesTo: [UnitSelector(ids: ["D1"])], period: .yearly,
      due: DueSpec(anchor: .date(month: 11, day: 15, yearOffset: 0), convention: .before), remind: [],
      remindTo: [.unit(role: "iso-focal")],
      escalate: [EscalationStep(after: Offset(3, .workingDays), to: [.parent(role: "head")])],
      stopAfter: Offset(30, .days), channels: ["email"])
    let notices = simulate(
      [Fixture.annualRule(), other], digest: 3, from: "2026-11-18T08:00", to: "2026-11-18T09:00")
    let toProvince = notices.filter { $0.to.contains("head@p.test.example") }
    #expect(toProvince.count == 2)
    #expect(toProvince.contains { $0.reason == .digest && $0.items.allSatisfy { $0.key.rule == "annual" } })
    #expect(toProvince.contains { $0.reason == .escalation && $0.ruleID == "other" && $0.unitID == "D1" })
  }

  @Test("recipients and owing units follow the directory as of the date")
  func eras() {
    let rules = [Fixture.annualRule(), Fixture.communeRule()]
    let y2024 = simulate(rules, from: "2024-09-01", to: "2024-12-31")
    #expect(Set(y2024.filter { $0.ruleID == "commune" }.map(\.unitID)) == ["C1", "C2", "C3"])
    #expect(!y2024.contains { $0.ruleID == "annual" && $0.unitID.hasPrefix("C") })
    let c1Escalation2024 = y2024.first { $0.ruleID == "commune" && $0.unitID == "C1" && $0.step == "escalate-1wd" }
    #expect(c1Escalation2024?.to == ["head@x.test.example"])
    let y2026 = simulate(rules, from: "2026-09-01", to: "2026-12-31")
    #expect(!y2026.contains { $0.ruleID == "commune" })
    let c1Escalation2026 = y2026.first { $0.ruleID == "annual" && $0.unitID == "C1" && $0.step == "escalate-3wd" }
    #expect(c1Escalation2026?.to == ["head@p.test.example", "head@s.test.example"])
  }

  @Test("an extension's ladder has keys of its own: the deadline it hangs on is in each key")
  func extensionKeys() {
    let ext = Fact(
      kind: .extension, unitID: "D1", ruleID: "annual", period: "2026", at: Fixture.at("2026-11-10T09:00"),
      due: day("2026-11-30"), decidedBy: "Sở KH&CN")
    let keys = simulate([Fixture.annualRule()], facts: [ext], from: "2026-09-01", to: "2026-12-31")
      .filter { $0.unitID == "D1" }.compactMap(\.noticeKey)
    #expect(keys.first?.description == "annual/D1/2026/remind-7d@2026-11-15")
    #expect(keys.contains { $0.step == "remind-7d" && $0.deadline == day("2026-11-30") })
    #expect(keys.contains { $0.step == "escalate-1wd" && $0.deadline == day("2026-11-30") })
    #expect(!keys.contains { $0.step == "escalate-1wd" && $0.deadline == day("2026-11-15") })
  }
}

@Suite("Rule kinds")
struct RuleKindTests {
  @Test("a roll-up lists the children still missing and is met by the parent's own report")
  func rollup() throws {
    let facts = [
      Fact(kind: .report, unitID: "C1", ruleID: "commune", period: "2024", at: Fixture.at("2024-11-01T09:00")),
      Fact(kind: .exemption, unitID: "C2", ruleID: "commune", period: "2024", decidedBy: "UBND huyện"),
    ]
    let engine = Fixture.engine([Fixture.communeRule(), Fixture.rollupRule()], facts: facts)
    let rule = Fixture.rollupRule()
    let finding = try #require(
      engine.findings(rule: rule, period: Period("2024")!, at: Fixture.at("2024-11-10T09:00")).first)
    #expect(finding.unit.id == "X")
    // C2 is exempt: it owes nothing, so it is neither in nor missing.
    #expect(finding.assessment.childrenTotal == 2)
    #expect(finding.assessment.childrenIn == 1)
    #expect(finding.assessment.missingChildren.map(\.id) == ["C3"])
    #expect(finding.state == .dueSoon)
    let text = MessageRenderer(ruleset: engine.ruleset, calendar: engine.context.calendar)
      .render(
        engine.plan(since: nil, now: Fixture.at("2024-11-10T09:00")).due.first { $0.unitID == "X" }!, engine: engine
      ).text
    #expect(text.contains("Chưa báo cáo: Thị trấn Sơn Tịnh."))
    // No districts after 1 July 2025: the roll-up owes nothing in 2026.
    #expect(engine.findings(rule: rule, period: Period("2026")!, at: Fixture.at("2026-11-10T09:00")).isEmpty)
  }

  @Test("a roll-up that completes with its children is met by the last child's report")
  func rollupByChildren() throws {
    let rule = Fixture.rollupRule(completeWhen: "children")
    let facts = ["C1", "C2", "C3"].enumerated().map { i, id in
      Fact(kind: .report, unitID: id, ruleID: "commune", period: "2024", at: Fixture.at("2024-11-0\(i + 1)T09:00"))
    }
    let engine = Fixture.engine([Fixture.communeRule(), rule], facts: facts)
    let finding = try #require(
      engine.findings(rule: rule, period: Period("2024")!, at: Fixture.at("2024-11-10T09:00")).first)
    #expect(finding.state == .metOnTime)
    #expect(finding.assessment.missingChildren.isEmpty)
    let before = try #require(
      engine.findings(rule: rule, period: Period("2024")!, at: Fixture.at("2024-11-02T12:00")).first)
    #expect(before.state != .metOnTime)
    #expect(before.assessment.missingChildren.map(\.id) == ["C3"])
  }

  @Test("a budget line below the minimum does not meet the obligation")
  func budget() {
    let facts = [
      Fact(
        kind: .budget, unitID: "D1", ruleID: "budget", period: "2027", at: Fixture.at("2026-07-01T09:00"),
        amount: 3_000_000),
      Fact(
        kind: .budget, unitID: "D2", ruleID: "budget", period: "2027", at: Fixture.at("2026-07-01T09:00"),
        amount: 6_000_000),
    ]
    let engine = Fixture.engine([Fixture.budgetRule()], facts: facts)
    let findings = engine.findings(
      rule: Fixture.budgetRule(), period: Period("2027")!, at: Fixture.at("2026-07-20T09:00"))
    let byUnit = Dictionary(uniqueKeysWithValues: findings.map { ($0.unit.id, $0) })
    #expect(byUnit["D1"]?.state == .overdue)
    #expect(byUnit["D1"]?.assessment.note?.contains("3.000.000 đ") == true)
    #expect(byUnit["D2"]?.state == .metOnTime)
    #expect(byUnit["S"]?.state == .overdue)
  }
}

@Suite("Messages")
struct MessageTests {
  @Test("a reminder is in Vietnamese, cites its basis and says it is automatic")
  func reminder() throws {
    let engine = Fixture.engine([Fixture.annualRule()])
    let notice = try #require(
      engine.plan(since: nil, now: Fixture.at("2026-11-09T08:00")).due.first { $0.unitID == "D1" })
    let message = MessageRenderer(ruleset: engine.ruleset, calendar: engine.context.calendar).render(
      notice, engine: engine)
    #expect(message.subject == "[Nhắc việc] Báo cáo ISO năm 2026 — hạn trước ngày 15/11/2026")
    #expect(message.text.contains("Sở Tư pháp cần hoàn thành"))
    #expect(message.text.contains("còn 6 ngày"))
    #expect(message.text.contains("Căn cứ: Công văn, khoản 1."))
    #expect(message.text.contains("tự động"))
    #expect(message.html.contains("<html lang=\"vi\">"))
  }

  @Test(
    "day counts as the letter words the deadline: the last working day, the last day, and late from the day after it",
    arguments: [
      // "trước ngày 15/11/2026", a Sunday: Saturday 14/11 is the last day, Friday 13/11 the last working day.
      ("before", "2026-10-30", "còn 16 ngày"),
      ("before", "2026-11-12", "còn 3 ngày"),
      ("before", "2026-11-13", "hôm nay là ngày làm việc cuối cùng trước hạn"),
      ("before", "2026-11-14", "hôm nay là hạn cuối"),
      ("before", "2026-11-15", "đã quá hạn 1 ngày"),
      ("before", "2026-11-20", "đã quá hạn 6 ngày"),
      // "chậm nhất ngày 15/12/2026", a Tuesday: the day itself is the last, and counted as one of
      // the days left, as 14/11 is for "trước ngày 15/11".
      ("by", "2026-12-13", "còn 3 ngày"),
      ("by", "2026-12-14", "còn 2 ngày"),
      ("by", "2026-12-15", "hôm nay là hạn cuối"),
      ("by", "2026-12-20", "đã quá hạn 5 ngày"),
    ])
  func dayCounts(convention: String, day: String, phrase: String) throws {
    let rule = Rule(
      id: "r", kindName: "deadline", kind: try DeadlineKind(parameters: nil), title: "Việc {{period.name}}",
      basis: "Công văn", appliesTo: [UnitSelector(ids: ["D1"])], period: .yearly,
      due: convention == "before"
        ? DueSpec(anchor: .date(month: 11, day: 15, yearOffset: 0), convention: .before)
        : DueSpec(anchor: .date(month: 12, day: 15, yearOffset: 0), convention: .by),
      remind: [], remindTo: [.unit(role: "iso-focal")], escalate: [], stopAfter: Offset(30, .days),
      channels: ["email"])
    let engine = Fixture.engine([rule])
    let finding = try #require(
      engine.findings(rule: rule, period: Period("2026")!, at: Fixture.at("\(day)T08:00")).first)
    let values = MessageRenderer(ruleset: engine.ruleset, calendar: engine.context.calendar)
      .values(for: finding, sendDate: LocalDate(iso: day)!)
    #expect(values["days.phrase"] == phrase)
  }

  @Test("data cannot break a subject line or inject markup")
  func hostileNames() throws {
    let units = [
      OrgUnit(id: "P", name: "Tỉnh", kind: "province", contacts: Fixture.contacts("P")),
      OrgUnit(
        id: "D1", name: "Sở <b>X</b>\r\nBcc: evil@example.com", kind: "dept", parentID: "P",
        contacts: Fixture.contacts("D1")),
    ]
    let engine = Engine(
      ruleset: Ruleset(rules: [Fixture.annualRule()], channels: ["email": Fixture.email]),
      context: EvaluationContext(directory: try Directory(units: units), calendar: Fixture.calendar, facts: FactBook()))
    let notice = try #require(
      engine.plan(since: nil, now: Fixture.at("2026-11-16T09:00")).due.first { $0.template == "overdue" })
    let message = MessageRenderer(ruleset: engine.ruleset, calendar: engine.context.calendar).render(
      notice, engine: engine)
    #expect(!message.subject.contains("\n") && !message.subject.contains("\r"))
    #expect(message.html.contains("Sở &lt;b&gt;X&lt;/b&gt;"))
    #expect(!message.html.contains("<b>X</b>"))
  }

  @Test("the webhook body is versioned JSON with the rendered text")
  func webhook() throws {
    let engine = Fixture.engine([Fixture.annualRule()])
    let notice = try #require(
      engine.plan(since: nil, now: Fixture.at("2026-11-09T08:00")).due.first { $0.unitID == "D1" })
    let message = MessageRenderer(ruleset: engine.ruleset, calendar: engine.context.calendar).render(
      notice, engine: engine)
    let json = message.payload
    let object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
    #expect(object["version"] as? Int == 1)
    #expect(object["key"] as? String == "annual/D1/2026/remind-7d@2026-11-15")
    #expect(object["due"] as? String == "2026-11-15T00:00:00+07:00")
    #expect(object["unit_name"] as? String == "Sở Tư pháp")
    #expect((object["text"] as? String)?.contains("15/11/2026") == true)
  }
}

@Suite("Ladder edge cases")
struct LadderEdgeTests {
  let zone = Fixture.zone

  @Test("the earliest reminder is the first, whatever order the rule lists them in")
  func firstByTime() {
    let rule = Fixture.annualRule(remind: [Offset(1, .workingDays), Offset(7, .days)])
    let steps = Fixture.engine([rule]).steps(for: rule, deadline: zone.instant(day("2026-11-15")))
    #expect(steps.prefix(2).map(\.id) == ["remind-7d", "remind-1wd"])
    #expect(steps.prefix(2).map(\.reason) == [.firstReminder, .nextReminder])
  }

  @Test("two reminders pushed onto one instant by a weekend go out once, as the later rung")
  func coinciding() {
    // Before Monday 16/11/2026: 1d (Sunday) and 2d (Saturday) both move back to Friday 13/11.
    let rule = Fixture.annualRule(remind: [Offset(2, .days), Offset(1, .days)])
    let steps = Fixture.engine([rule]).steps(for: rule, deadline: zone.instant(day("2026-11-16")))
    let reminders = steps.filter { $0.phase == .reminder }
    #expect(reminders.map(\.id) == ["remind-1d"])
    #expect(reminders.map { zone.rfc3339($0.at) } == ["2026-11-13T08:00:00+07:00"])
  }

  @Test("a finding knows its parent, and messages name it")
  func parentName() throws {
    let engine = Fixture.engine([Fixture.communeRule()])
    let finding = try #require(
      engine.findings(rule: Fixture.communeRule(), period: Period("2024")!, at: Fixture.at("2024-11-01T09:00"))
        .first { $0.unit.id == "C1" })
    #expect(finding.parent?.name == "Huyện Sơn Tịnh")
    let notice = try #require(engine.plan(since: nil, now: Fixture.at("2024-11-01T09:00")).due.first)
    guard case .send(let evaluated) = engine.check(notice, at: notice.scheduledAt, window: false) else {
      Issue.record("not owed at its instant")
      return
    }
    let values = MessageRenderer(ruleset: engine.ruleset, calendar: engine.context.calendar).values(for: evaluated)
    #expect(values["parent.name"] == "Huyện Sơn Tịnh")
  }
}

/// A time limit whose last day is a day off (Civil Code 2015 art. 148(5)), as a pure function
/// of the rule, the calendar and the instant.
@Suite("A deadline on a day off")
struct DayOffDeadlineTests {
  let zone = Fixture.zone
  let civil = WorkingCalendar(overrides: [override2026], years: 2020...2030, dayOff: .nextWorkingDay)

  @Test("the end moves to the end of the next working day, for each convention; the letter's day stays")
  func ends() {
    let period = Period(kind: .yearly, year: 2026)
    func ends(_ due: DueSpec, _ calendar: WorkingCalendar) -> String {
      zone.rfc3339(due.ends(ofDeadline: due.deadline(for: period, calendar: calendar), calendar: calendar))
    }
    // "trước ngày 15/11/2026": its last day, Saturday 14/11, and Sunday are off.
    let before = DueSpec(anchor: .date(month: 11, day: 15, yearOffset: 0), convention: .before)
    #expect(ends(before, civil) == "2026-11-17T00:00:00+07:00")
    #expect(ends(before, Fixture.calendar) == "2026-11-15T00:00:00+07:00")
    #expect(before.namedDate(for: period, calendar: civil) == day("2026-11-15"))
    // "chậm nhất ngày 31/10/2026", a Saturday: through Monday 02/11.
    let by = DueSpec(anchor: .date(month: 10, day: 31, yearOffset: 0), convention: .by)
    #expect(ends(by, civil) == "2026-11-03T00:00:00+07:00")
    // At a time of day: the same time on the next working day.
    let at = DueSpec(anchor: .date(month: 11, day: 15, yearOffset: 0), convention: .at(TimeOfDay("17:00")!))
    #expect(ends(at, civil) == "2026-11-16T17:00:00+07:00")
    // A holiday counts as a day off: 2/9/2026 ends the Quốc khánh break of 29/08–02/09.
    let national = DueSpec(anchor: .date(month: 9, day: 1, yearOffset: 0), convention: .by)
    #expect(ends(national, civil) == "2026-09-04T00:00:00+07:00")
    // A working last day is left alone.
    let friday = DueSpec(anchor: .date(month: 11, day: 13, yearOffset: 0), convention: .by)
    #expect(ends(friday, civil) == "2026-11-14T00:00:00+07:00")
  }

  @Test("Monday 16/11/2026 is the last day, not a day late; the ladder and the counts follow")
  func judged() {
    let rule = Fixture.annualRule()
    let literal = Fixture.engine([rule])
    let moved = Engine(
      ruleset: literal.ruleset,
      context: EvaluationContext(
        directory: Fixture.directory, calendar: civil, facts: FactBook()))
    let monday = Fixture.at("2026-11-16T08:00:00+07:00")
    let unit = Fixture.directory.unit("D1", on: day("2026-11-14"))!
    let period = Period(kind: .yearly, year: 2026)
    #expect(literal.finding(on: literal.ladder(rule, period: period), unit: unit, at: monday).state == .overdue)
    let finding = moved.finding(on: moved.ladder(rule, period: period), unit: unit, at: monday)
    #expect(finding.state == .dueSoon)
    #expect(zone.rfc3339(finding.ends) == "2026-11-17T00:00:00+07:00")
    #expect(rule.due.dayCounts(ofDeadline: finding.deadline, calendar: civil, on: day("2026-11-18")).late == 2)
    #expect(
      rule.due.dayCounts(ofDeadline: finding.deadline, calendar: Fixture.calendar, on: day("2026-11-18")).late == 4)
    // The ladder hangs on the end: the first escalation on Tuesday 17/11; the keys keep 15/11.
    let ladder = moved.ladder(rule, period: period)
    let escalation = ladder.steps.first { $0.phase == .escalation }!
    #expect(zone.rfc3339(escalation.at) == "2026-11-17T08:00:00+07:00")
    #expect(ladder.key(escalation, unit: unit).description.hasSuffix("@2026-11-15"))
  }

  @Test("an extension to a Saturday allows the Saturday, so the time limit runs through Monday")
  func extensionToADayOff() {
    let rule = Fixture.annualRule()
    // "Gia hạn đến ngày 28/11/2026" (a Saturday) allows 28/11 itself; that day off gives way to
    // Monday 30/11. Read as "trước ngày 28/11" the limit would end on Friday 27/11, and without
    // the move on Saturday: either way a report on Monday would be late.
    let ext = Fact(
      kind: .extension, unitID: "D1", ruleID: "annual", period: "2026", at: Fixture.at("2026-11-10T09:00"),
      due: day("2026-11-28"), decidedBy: "Giám đốc Sở KH&CN")
    func engine(_ facts: [Fact]) -> Engine {
      Engine(
        ruleset: Fixture.engine([rule]).ruleset,
        context: EvaluationContext(directory: Fixture.directory, calendar: civil, facts: FactBook(facts)))
    }
    func finding(_ facts: [Fact], at instant: String) -> Finding {
      engine(facts).findings(at: Fixture.at(instant)).first { $0.unit.id == "D1" && $0.period.year == 2026 }!
    }
    let monday = finding([ext], at: "2026-11-30T16:00")
    #expect(monday.state == .extended)
    #expect(zone.rfc3339(monday.ends) == "2026-12-01T00:00:00+07:00")
    let report = Fact(
      kind: .report, unitID: "D1", ruleID: "annual", period: "2026", at: Fixture.at("2026-11-30T16:00"),
      reference: "1/BC")
    #expect(finding([ext, report], at: "2026-12-01T09:00").state == .metOnTime)
    #expect(finding([ext], at: "2026-12-01T09:00").state == .overdue)
    // One counting rule from the last day allowed: Friday 27/11 to Monday 30/11 is 4 days; a day late on 01/12.
    let due = rule.due(for: monday)
    #expect(due.dayCounts(ofDeadline: monday.deadline, calendar: civil, on: day("2026-11-27")).left == 4)
    #expect(due.dayCounts(ofDeadline: monday.deadline, calendar: civil, on: day("2026-12-01")).late == 1)
    #expect(due.phrase(named: due.namedDate(ofDeadline: monday.deadline, zone: zone)) == "chậm nhất ngày 28/11/2026")
  }
}
