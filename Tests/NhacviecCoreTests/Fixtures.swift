import Foundation
import NhacviecCore
import NhacviecRender

/// A small province for engine tests: three-tier until 30/06/2025, two-tier after.
enum Fixture {
  static func contacts(_ id: String) -> [String: Contact] {
    let domain = "\(id.lowercased()).test.example"
    return [
      "head": Contact(name: "Lãnh đạo \(id)", email: "head@\(domain)"),
      "iso-focal": Contact(name: "ISO \(id)", email: "iso@\(domain)"),
      "office": Contact(email: "office@\(domain)"),
    ]
  }

  static func unit(
    _ id: String, _ name: String, _ kind: String, parent: String?, from: String? = nil, to: String? = nil,
    tags: Set<String> = []
  ) -> OrgUnit {
    OrgUnit(
      id: id, name: name, kind: kind, tags: tags, parentID: parent, contacts: contacts(id),
      validFrom: from.flatMap { LocalDate(iso: $0) }, validTo: to.flatMap { LocalDate(iso: $0) })
  }

  static let units: [OrgUnit] = [
    unit("P", "Tỉnh Thử", "province", parent: nil),
    unit("S", "Sở Khoa học và Công nghệ", "dept", parent: "P", tags: ["standing-agency"]),
    unit("O", "Văn phòng UBND tỉnh", "dept", parent: "P"),
    unit("D1", "Sở Tư pháp", "dept", parent: "P"),
    unit("D2", "Sở Y tế", "dept", parent: "P"),
    unit("X", "Huyện Sơn Tịnh", "district", parent: "P", to: "2025-06-30"),
    unit("C1", "Xã Tịnh Khê", "commune", parent: "X", to: "2025-06-30"),
    unit("C2", "Xã Tịnh Ấn", "commune", parent: "X", to: "2025-06-30"),
    unit("C3", "Thị trấn Sơn Tịnh", "township", parent: "X", to: "2025-06-30"),
    unit("C1", "Xã Tịnh Khê", "commune", parent: "P", from: "2025-07-01"),
    unit("C9", "Phường Trương Quang Trọng", "ward", parent: "P", from: "2025-07-01"),
  ]

  static let directory = try! Directory(units: units)
  static let calendar = WorkingCalendar(overrides: [override2026], years: 2020...2030)
  static let zone = Zone.vietnam
  static let email = ChannelSpec(name: "email", type: "file", addressKind: .email)

  static func annualRule(remind: [Offset] = [Offset(7, .days), Offset(1, .workingDays)]) -> Rule {
    Rule(
      id: "annual", kindName: "deadline", kind: try! DeadlineKind(parameters: nil),
      title: "Báo cáo ISO {{period.name}}", basis: "Công văn, khoản 1",
      appliesTo: [UnitSelector(kinds: ["dept", "commune", "ward"], parentKinds: ["province"])], period: .yearly,
      due: DueSpec(anchor: .date(month: 11, day: 15, yearOffset: 0), convention: .before), remind: remind,
      remindTo: [.unit(role: "iso-focal")],
      escalate: [
        EscalationStep(after: Offset(1, .workingDays), to: [.unit(role: "head")]),
        EscalationStep(after: Offset(3, .workingDays), to: [.parent(role: "head"), .named(unitID: "S", role: "head")]),
        EscalationStep(
          after: Offset(7, .workingDays), to: [.named(unitID: "O", role: "head")], repeatEvery: Offset(7, .days)),
      ],
      stopAfter: Offset(30, .days), channels: ["email"])
  }

  static func communeRule() -> Rule {
    Rule(
      id: "commune", kindName: "deadline", kind: try! DeadlineKind(parameters: nil), title: "Báo cáo cấp xã",
      basis: "khoản 2", appliesTo: [UnitSelector(kinds: ["commune", "township"], parentKinds: ["district"])],
      period: .yearly, due: DueSpec(anchor: .date(month: 11, day: 5, yearOffset: 0), convention: .before),
      remind: [Offset(7, .days)], remindTo: [.unit(role: "iso-focal")],
      escalate: [EscalationStep(after: Offset(1, .workingDays), to: [.parent(role: "head")])],
      stopAfter: Offset(20, .days), channels: ["email"])
  }

  static func rollupRule(completeWhen: String = "report") -> Rule {
    let params = ConfigNode(
      .map([
        (key: "children", keyLocation: here, value: ConfigNode(.scalar("commune"), at: here)),
        (key: "complete_when", keyLocation: here, value: ConfigNode(.scalar(completeWhen), at: here)),
      ]), at: here)
    return Rule(
      id: "district", kindName: "rollup", kind: try! RollupKind(parameters: params), title: "Báo cáo tổng hợp",
      basis: "khoản 2", appliesTo: [UnitSelector(kinds: ["district"])], period: .yearly,
      due: DueSpec(anchor: .date(month: 11, day: 15, yearOffset: 0), convention: .before), remind: [Offset(7, .days)],
      remindTo: [.unit(role: "iso-focal")], escalate: [], stopAfter: Offset(10, .days), channels: ["email"])
  }

  static func budgetRule() -> Rule {
    let params = ConfigNode(
      .map([(key: "minimum", keyLocation: here, value: ConfigNode(.scalar("5.000.000"), at: here))]), at: here)
    return Rule(
      id: "budget", kindName: "budget", kind: try! BudgetKind(parameters: params), title: "Dự toán {{period.name}}",
      basis: "khoản 3", appliesTo: [UnitSelector(kinds: ["dept"])], period: .yearly,
      due: DueSpec(anchor: .date(month: 7, day: 15, yearOffset: -1), convention: .by), remind: [Offset(7, .days)],
      remindTo: [.unit(role: "iso-focal")], escalate: [], stopAfter: Offset(10, .days), channels: ["email"])
  }

  static let here = SourceLocation(file: "test", line: 1)

  static func engine(_ rules: [Rule], facts: [Fact] = [], digestMinimum: Int = 0) -> Engine {
    Engine(
      ruleset: Ruleset(
        rules: rules, channels: ["email": email], settings: PlanSettings(digestMinimum: digestMinimum)),
      context: EvaluationContext(directory: directory, calendar: calendar, facts: FactBook(facts)))
  }

  static func at(_ text: String) -> Date { zone.parseInstant(text)! }
}

/// The old names the engine tests read decisions by.
extension NoticeDecision {
  var ruleID: String { noticeKey?.rule ?? "" }
  var unitID: String { noticeKey?.unit.id ?? addressees.first?.unit.id ?? "" }
  var step: String { noticeKey?.step.description ?? "digest" }
  var to: [String] { addressees.map(\.address) }
  var at: Date { scheduledAt }
  var template: String {
    switch content {
    case .obligation(_, let template, _): return template
    case .summary: return "summary"
    case .digest: return "digest"
    }
  }
  var items: [NoticeContent.DigestItem] {
    if case .digest(let items) = content { return items }
    return []
  }
}

extension NoticeContent.DigestItem {
  var unitID: String { key.unit.id }
}

extension MessageRenderer {
  /// The message as the daemon would send it at the decision's own instant.
  func render(_ decision: NoticeDecision, engine: Engine) -> OutgoingMessage {
    guard case .send(let evaluated) = engine.check(decision, at: decision.scheduledAt, window: false) else {
      fatalError("\(decision.key) is not owed at its instant")
    }
    return render(evaluated)
  }
}

/// A step written as keys write it (`remind-7d`), in the tests' expectations only.
extension StepID: ExpressibleByStringLiteral {
  init(stringLiteral text: String) { self = StepID(text)! }
}
