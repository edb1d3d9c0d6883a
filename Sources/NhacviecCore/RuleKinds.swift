public import Foundation

/// `deadline`: each selected unit owes a report for the period; the first report received meets it.
public struct DeadlineKind: RuleKind {
  public init(parameters: ConfigNode?) throws(ConfigError) {
    if let parameters { try parameters.fields("params of a deadline rule").finish() }
  }

  public func assess(unit: OrgUnit, rule: Rule, period: Period, now: Date, context: EvaluationContext) -> Assessment {
    let report = context.facts.facts(.report, rule: rule.id, period: period.description, unit: unit.id, at: now).first
    return Assessment(satisfiedAt: report?.at ?? (report != nil ? .distantPast : nil), reference: report?.reference)
  }
}

/// `rollup`: a parent owes a consolidation of its children's reports under another rule.
///
/// The finding lists the children still missing. With `complete_when: report` (the default) the
/// parent's own consolidated report meets it; with `children`, the last child's report does.
public struct RollupKind: RuleKind {
  public enum Completion: String, Sendable { case report, children }
  public let childRule: String
  public let childKinds: Set<String>?
  public let completeWhen: Completion

  public init(parameters: ConfigNode?) throws(ConfigError) {
    guard let parameters else {
      throw ConfigError("a rollup rule needs `params: { children: RULE }`", at: nil)
    }
    let fields = try parameters.fields("params of a rollup rule")
    childRule = try fields.required("children").string("children")
    childKinds = try fields.optional("child_kinds").map { node throws(ConfigError) in
      Set(try node.strings("child_kinds"))
    }
    let completion = try fields.optional("complete_when")?.string("complete_when") ?? "report"
    guard let parsed = Completion(rawValue: completion) else {
      throw ConfigError("complete_when must be `report` or `children`, not `\(completion)`", at: parameters.location)
    }
    completeWhen = parsed
    try fields.finish()
  }

  public var referencedRules: [String] { [childRule] }

  public func assess(unit: OrgUnit, rule: Rule, period: Period, now: Date, context: EvaluationContext) -> Assessment {
    let rosterDate = context.calendar.zone.lastDay(before: rule.due.deadline(for: period, calendar: context.calendar))
    let children = context.directory.children(of: unit.id, on: rosterDate)
      .filter { childKinds?.contains($0.kind) ?? true }
    var missing: [OrgUnit] = []
    var owing = 0
    var lastIn: Date = .distantPast
    for child in children {
      // An exempt child owes nothing: it is neither in nor missing, as in the report's table.
      let exempt = !context.facts.facts(
        .exemption, rule: childRule, period: period.description, unit: child.id, at: now
      )
      .isEmpty
      if exempt { continue }
      owing += 1
      let reports = context.facts.facts(.report, rule: childRule, period: period.description, unit: child.id, at: now)
      if let first = reports.first {
        lastIn = max(lastIn, first.at ?? .distantPast)
      } else {
        missing.append(child)
      }
    }
    // A unit with no children to consolidate (Lý Sơn, a district without communes until 2025)
    // reports for itself: no count of children is shown or asked for.
    var assessment =
      owing == 0
      ? Assessment()
      : Assessment(childrenIn: owing - missing.count, childrenTotal: owing, missingChildren: missing)
    switch completeWhen {
    case .report:
      let own = context.facts.facts(.report, rule: rule.id, period: period.description, unit: unit.id, at: now).first
      assessment.satisfiedAt = own.map { $0.at ?? .distantPast }
      assessment.reference = own?.reference
    case .children:
      if missing.isEmpty { assessment.satisfiedAt = lastIn }
    }
    return assessment
  }
}

/// `budget`: the unit's estimate for fiscal year `period` must carry an ISO line of at least
/// `minimum` đồng. The latest line recorded counts; a line below the minimum does not meet it.
public struct BudgetKind: RuleKind {
  public let minimum: Int64
  /// Who set the minimum, when a law does not (`theo kế hoạch của Sở Khoa học và Công nghệ`):
  /// messages say so beside the amount.
  public let minimumBasis: String?
  public var factKinds: Set<Fact.Kind> { [.budget, .extension, .exemption] }

  public init(parameters: ConfigNode?) throws(ConfigError) {
    guard let parameters else { throw ConfigError("a budget rule needs `params: { minimum: AMOUNT }`", at: nil) }
    let fields = try parameters.fields("params of a budget rule")
    let node = try fields.required("minimum")
    guard let amount = Money.parse(try node.string("minimum")), amount >= 0 else {
      throw node.error("minimum must be an amount in đồng, such as 5000000 or 5.000.000")
    }
    minimum = amount
    minimumBasis = try fields.optional("minimum_basis")?.string("minimum_basis")
    try fields.finish()
  }

  public func assess(unit: OrgUnit, rule: Rule, period: Period, now: Date, context: EvaluationContext) -> Assessment {
    let lines = context.facts.facts(.budget, rule: rule.id, period: period.description, unit: unit.id, at: now)
    var assessment = Assessment(minimumAmount: minimum)
    guard let latest = lines.last else { return assessment }
    assessment.amount = latest.amount
    assessment.reference = latest.reference
    // Met from the first line of a run of sufficient lines that lasts to now.
    var metSince: Fact?
    for line in lines {
      if (line.amount ?? 0) >= minimum {
        if metSince == nil { metSince = line }
      } else {
        metSince = nil
      }
    }
    if let metSince {
      assessment.satisfiedAt = metSince.at ?? .distantPast
    } else {
      assessment.note =
        "dự toán ghi \(Money.vietnamese(latest.amount ?? 0)), thấp hơn mức tối thiểu \(Money.vietnamese(minimum))"
    }
    return assessment
  }
}

public enum Money {
  /// Accepts `5000000`, `5.000.000`, `5 000 000` or `5_000_000`, with an optional `đ`, `đồng` or
  /// `VND`. Groups after the first have exactly three digits and one separator throughout, so
  /// `5.5` (a decimal, not 55 đồng) and `5.00.0000` are refused rather than misread.
  public static func parse(_ text: String) -> Int64? {
    var body = Substring(text.trimmingCharacters(in: .whitespaces))
    for suffix in ["đồng", "đ", "VND", "vnd"] where body.hasSuffix(suffix) {
      body = body.dropLast(suffix.count)
      break
    }
    body = Substring(body.trimmingCharacters(in: .whitespaces))
    let separators: Set<Character> = [".", " ", "_"]
    let used = Set(body.filter { separators.contains($0) })
    guard used.count <= 1 else { return nil }
    let groups = used.first.map { body.split(separator: $0, omittingEmptySubsequences: false) } ?? [body]
    for (index, group) in groups.enumerated() {
      guard !group.isEmpty, group.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
      if groups.count > 1 && (index == 0 ? group.count > 3 : group.count != 3) { return nil }
    }
    return Int64(groups.joined())
  }

  /// `1.500.000 đ`
  public static func vietnamese(_ amount: Int64) -> String {
    let digits = String(amount.magnitude)
    var groups: [Substring] = []
    var end = digits.endIndex
    while end > digits.startIndex {
      let start = digits.index(end, offsetBy: -3, limitedBy: digits.startIndex) ?? digits.startIndex
      groups.insert(digits[start..<end], at: 0)
      end = start
    }
    return (amount < 0 ? "-" : "") + groups.joined(separator: ".") + " đồng"
  }
}
