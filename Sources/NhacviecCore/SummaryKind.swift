public import Foundation

/// `summary`: sends the consolidated report of other rules on a schedule (every Monday at 08:00
/// from 1 November until the rule's deadline, say) to the units the rule applies to: the whole
/// report to the standing agency, or, with `part: children`, each district the part about its
/// own communes. It owes nothing itself: no findings, no place in a report, never "met".
public struct SummaryKind: RuleKind {
  public enum Part: String, Sendable { case whole, children }

  public let rules: [String]
  /// Nil: every working day.
  public let weekday: Weekday?
  public let time: TimeOfDay
  public let from: (month: Int, day: Int)
  public let part: Part

  public init(parameters: ConfigNode?) throws(ConfigError) {
    guard let parameters else {
      throw ConfigError("a summary rule needs `params: { rules: [RULE], every: mon, from: MM-DD }`", at: nil)
    }
    let fields = try parameters.fields("params of a summary rule")
    let rulesNode = try fields.required("rules")
    rules = try rulesNode.strings("rules")
    guard !rules.isEmpty else { throw rulesNode.error("rules must name at least one rule to summarise") }
    let everyNode = try fields.required("every")
    let every = try everyNode.string("every")
    if every == "day" {
      weekday = nil
    } else {
      guard let day = Weekday(name: every) else {
        throw everyNode.error("every must be a weekday (mon … sun) or `day`, not `\(every)`")
      }
      weekday = day
    }
    if let node = fields.optional("at") {
      let text = try node.string("at")
      guard let parsed = TimeOfDay(text) else { throw node.error("at must be a time HH:MM, not `\(text)`") }
      time = parsed
    } else {
      time = TimeOfDay("08:00")!
    }
    let fromNode = try fields.required("from")
    let text = try fromNode.string("from")
    let parts = text.split(separator: "-").compactMap { Int($0) }
    guard parts.count == 2, LocalDate(year: 2024, month: parts[0], day: parts[1]) != nil else {
      throw fromNode.error("from must be a day MM-DD, such as 11-01, not `\(text)`")
    }
    from = (parts[0], parts[1])
    let partText = try fields.optional("part")?.string("part") ?? "whole"
    guard let parsedPart = Part(rawValue: partText) else {
      throw parameters.error("part must be `whole` or `children`, not `\(partText)`")
    }
    part = parsedPart
    try fields.finish()
  }

  public var referencedRules: [String] { rules }
  public var isObligation: Bool { false }

  public func assess(unit: OrgUnit, rule: Rule, period: Period, now: Date, context: EvaluationContext) -> Assessment {
    Assessment()
  }

  /// Each scheduled day from `from` to the deadline, at `at`, moved into the send window.
  public func schedule(rule: Rule, deadline: Date, calendar: WorkingCalendar, window: SendWindow) -> [Step]? {
    let zone = calendar.zone
    let last = zone.lastDay(before: deadline)
    var start = LocalDate(year: last.year, month: from.month, day: from.day) ?? last
    if start > last { start = LocalDate(year: last.year - 1, month: from.month, day: from.day) ?? last }
    var steps: [Step] = []
    var date = start
    while date <= last, steps.count < 400 {
      defer { date = date.adding(days: 1) }
      if let weekday, date.weekday != weekday { continue }
      if weekday == nil, !calendar.isWorkingDay(date) { continue }
      let at = window.next(atOrAfter: zone.instant(date, time), calendar: calendar)
      // Days that a long holiday pushes onto one instant send one summary.
      guard at <= deadline, steps.last.map({ $0.at < at }) ?? true else { continue }
      steps.append(
        Step(
          id: .summary(date), phase: .reminder, at: at, to: rule.remindTo, template: "summary", reason: .summary,
          audience: .unit))
    }
    return steps
  }
}
