public import Foundation

/// The consolidated report of a period: what the standing agency sends up to the provincial
/// People's Committee, and what a district makes of its communes. Built from findings, so it is
/// a pure function of (rules, directory, facts, as-of instant) like the rest of evaluation.
public struct ConsolidatedReport: Sendable, Hashable {
  /// Where a unit stands for the report.
  public enum Status: String, Sendable, Codable, CaseIterable {
    case onTime = "on-time"
    case late
    case missing
    /// Not in, and its deadline has not passed yet.
    case pending
    /// Not in, and its deadline was moved and has not passed yet.
    case extended
    case exempt
    /// A budget line was sent, below the minimum: not "missing", and not met either.
    case belowMinimum = "below-minimum"
    /// The unit says it has sent its report; not in until the Department verifies it, and not
    /// missing either.
    case claimed

    public var vietnamese: String {
      switch self {
      case .onTime: return "Đúng hạn"
      case .late: return "Trễ hạn"
      case .missing: return "Chưa nộp"
      case .pending: return "Chưa đến hạn"
      case .extended: return "Được gia hạn"
      case .exempt: return "Được miễn"
      case .belowMinimum: return "Dưới mức tối thiểu"
      case .claimed: return "Báo đã gửi, chờ xác minh"
      }
    }

    /// In: the report has arrived.
    public var isIn: Bool { self == .onTime || self == .late }
  }

  public struct Row: Sendable, Hashable {
    public let unit: String
    public let unitName: String
    public let kind: String
    public let parent: String?
    public let parentName: String?
    public let status: Status
    /// The deadline in force: an extension's, if any.
    public let deadline: Date
    /// That deadline as the letter words it (`trước ngày 30/11/2026` for an extension), its
    /// named day, and the last day on which the duty is met on time, from which lateness counts.
    public let duePhrase: String
    public let dueDate: LocalDate
    public let lastDay: LocalDate
    public let receivedAt: Date?
    public let reference: String?
    public let daysLate: Int?
    public let extendedTo: LocalDate?
    public let amount: Int64?
    public let minimum: Int64?
    public let childrenIn: Int?
    public let childrenTotal: Int?
    public let missingChildren: [String]?
    public let note: String?
  }

  /// One parent unit's children in the section: how many are in, and which are not.
  public struct Group: Sendable, Codable, Hashable {
    public let unit: String
    public let unitName: String
    public let inCount: Int
    /// Children that owe (exempt ones do not).
    public let owing: Int
    public let notIn: [NotIn]

    public struct NotIn: Sendable, Codable, Hashable {
      public let unit: String
      public let unitName: String
      public let status: Status
    }
  }

  /// Counts by status for a set of units, with the shares criterion 7.4 of the provincial
  /// administrative reform index looks at (per cent of the units that owe, one decimal).
  public struct Tally: Sendable, Codable, Hashable {
    public let key: String
    public let label: String
    public let total: Int
    public let counts: [String: Int]
    public let onTimeShare: Double
    public let lateShare: Double
    public let missingShare: Double

    init(key: String, label: String, rows: [Row]) {
      self.key = key
      self.label = label
      total = rows.count
      var counts: [String: Int] = [:]
      for status in Status.allCases { counts[status.rawValue] = rows.filter { $0.status == status }.count }
      self.counts = counts
      let owing = rows.count - (counts[Status.exempt.rawValue] ?? 0)
      func share(_ status: Status) -> Double {
        owing == 0 ? 0 : (Double(counts[status.rawValue] ?? 0) * 1000 / Double(owing)).rounded() / 10
      }
      onTimeShare = share(.onTime)
      lateShare = share(.late)
      missingShare = share(.missing)
    }

    public func count(_ status: Status) -> Int { counts[status.rawValue] ?? 0 }
  }

  public struct Section: Sendable, Hashable {
    public let rule: String
    public let kind: String
    public let title: String
    public let basis: String
    /// `trước ngày 15/11/2026`
    public let duePhrase: String
    /// Where that date comes from when the letter sets none (`theo kế hoạch của Sở …`).
    public let deadlineBasis: String?
    /// The rule's deadline for the period, before any extension.
    public let deadline: Date
    public let rows: [Row]
    public let groups: [Group]
    public let byKind: [Tally]
    /// Per parent unit, for the chart when there are several (districts).
    public let byParent: [Tally]
    public let total: Tally
    /// Why the section is empty: the rule's program could not judge.
    public let error: String?
  }

  public let period: Period
  public let asOf: Date
  /// The scope: the whole deployment, or one parent unit's part (a district's communes).
  public let scope: String?
  public let scopeName: String?
  public let sections: [Section]

  public var periodName: String { period.vietnamese }

  /// How a kind of unit is named in a report's headings.
  public static func kindName(_ kind: String) -> String {
    switch kind {
    case "province": return "Tỉnh"
    case "dept": return "Sở, ban, ngành"
    case "board": return "Ban quản lý"
    case "district": return "Huyện"
    case "city": return "Thành phố"
    case "town": return "Thị xã"
    case "commune": return "Xã"
    case "ward": return "Phường"
    case "township": return "Thị trấn"
    case "special-zone": return "Đặc khu"
    default: return kind
    }
  }
}

extension Engine {
  /// The report of `period` as of `now`, for the given rules (default: every rule of the
  /// period's kind). With `scope`, only the units whose parent (on the last day allowed) is
  /// that unit: a district's communes.
  public func report(
    period: Period, ruleIDs: [String]? = nil, scope: String? = nil, at now: Date
  ) -> ConsolidatedReport {
    let rules = ruleset.rules.filter { rule in
      ruleIDs.map { $0.contains(rule.id) } ?? (rule.period == period.kind && rule.kind.isObligation)
    }
    // The scope's name within the period (a district of 2024 is gone by 2026; its id may be
    // reused), as of `now` if the period is not over.
    let scopeName = scope.flatMap {
      context.directory.unit($0, on: min(zone.localDate(of: now), period.lastDay))?.name
    }
    var sections: [ConsolidatedReport.Section] = []
    for rule in rules {
      let judged = evaluate(rule: rule, period: period, at: now)
      let deadline = rule.due.deadline(for: period, calendar: calendar)
      let findings = judged.findings.filter { scope == nil || $0.parent?.id == scope }
      // Left out always: a rule nobody owes in the scope says nothing a reader needs.
      if findings.isEmpty, judged.failure == nil { continue }
      let rows = findings.map { row(for: $0, rule: rule) }
      let named = rule.due.namedDate(for: period, calendar: calendar)
      // What holds for every unit the section is about; a base for some units is cited to them.
      let cited = rule.cited(for: nil, parent: nil, period: period, calendar: calendar)
      // The section is about every unit: a title made for one unit would name the first.
      let title = rule.reportTitle(period: period, calendar: calendar)
      var groups: [ConsolidatedReport.Group] = []
      var byParent: [ConsolidatedReport.Tally] = []
      var parentOrder: [String] = []
      var parentRows: [String: [ConsolidatedReport.Row]] = [:]
      for row in rows {
        let parent = row.parent ?? ""
        if parentRows[parent] == nil { parentOrder.append(parent) }
        parentRows[parent, default: []].append(row)
      }
      for parent in parentOrder {
        let children = parentRows[parent] ?? []
        let name = children.first?.parentName ?? "—"
        groups.append(
          ConsolidatedReport.Group(
            unit: parent, unitName: name, inCount: children.filter { $0.status.isIn }.count,
            owing: children.filter { $0.status != .exempt }.count,
            notIn: children.filter { !$0.status.isIn && $0.status != .exempt }.map {
              .init(unit: $0.unit, unitName: $0.unitName, status: $0.status)
            }))
        byParent.append(ConsolidatedReport.Tally(key: parent, label: name, rows: children))
      }
      var kindOrder: [String] = []
      for row in rows where !kindOrder.contains(row.kind) { kindOrder.append(row.kind) }
      let byKind = kindOrder.map { kind in
        ConsolidatedReport.Tally(
          key: kind, label: ConsolidatedReport.kindName(kind), rows: rows.filter { $0.kind == kind })
      }
      let totalLabel = scopeName.map { "Toàn \($0)" } ?? "Tổng cộng"
      sections.append(
        ConsolidatedReport.Section(
          rule: rule.id, kind: rule.kindName, title: title,
          basis: rule.citedBasis(for: findings.map { ($0.unit, $0.parent) }, period: period, calendar: calendar),
          duePhrase: rule.due.phrase(named: named), deadlineBasis: cited.deadlineBasis, deadline: deadline,
          rows: rows,
          groups: groups,
          byKind: byKind, byParent: byParent, total: ConsolidatedReport.Tally(key: "", label: totalLabel, rows: rows),
          error: judged.failure?.message))
    }
    return ConsolidatedReport(period: period, asOf: now, scope: scope, scopeName: scopeName, sections: sections)
  }

  func row(for finding: Finding, rule: Rule) -> ConsolidatedReport.Row {
    let a = finding.assessment
    let due = rule.due(for: finding)
    let dueDate = due.namedDate(ofDeadline: finding.deadline, zone: zone)
    let lastDay = due.lastDay(ofDeadline: finding.deadline, calendar: calendar)
    let status: ConsolidatedReport.Status
    var daysLate: Int?
    let belowMinimum = a.amount.map { amount in a.minimumAmount.map { amount < $0 } ?? false } ?? false
    switch finding.state {
    case .metOnTime: status = .onTime
    case .metLate:
      status = .late
      // Counted as the messages count: for "trước ngày 15/11", a report of 15/11 is 1 day late.
      let met = a.satisfiedAt ?? finding.deadline
      daysLate = max(1, zone.localDate(of: met).dayNumber - lastDay.dayNumber)
    case .overdue: status = belowMinimum ? .belowMinimum : .missing
    case .exempt: status = .exempt
    case .extended: status = .extended
    case .dueSoon, .upcoming: status = belowMinimum ? .belowMinimum : .pending
    case .claimed: status = .claimed
    }
    let received = a.satisfiedAt.flatMap { $0 == .distantPast ? nil : $0 }
    return ConsolidatedReport.Row(
      unit: finding.unit.id, unitName: finding.unit.name, kind: finding.unit.kind, parent: finding.parent?.id,
      parentName: finding.parent?.name, status: status, deadline: finding.deadline,
      duePhrase: due.phrase(named: dueDate), dueDate: dueDate, lastDay: lastDay,
      receivedAt: status.isIn ? received : nil,
      reference: a.reference ?? (status == .claimed ? finding.claimFact?.reference : nil), daysLate: daysLate,
      extendedTo: finding.extensionFact?.due, amount: a.amount, minimum: a.minimumAmount, childrenIn: a.childrenIn,
      childrenTotal: a.childrenTotal, missingChildren: a.childrenTotal == nil ? nil : a.missingChildren.map(\.name),
      note: a.note ?? finding.exemptionFact?.reason)
  }
}
