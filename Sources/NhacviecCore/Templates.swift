public import Foundation

/// A message's parts as templates with `{{name}}` placeholders. A nil part uses the default.
public struct MessageTemplate: Sendable, Hashable {
  public var subject: String?
  public var text: String?
  public var html: String?

  public init(subject: String? = nil, text: String? = nil, html: String? = nil) {
    self.subject = subject
    self.text = text
    self.html = html
  }

  public static let names = ["reminder", "overdue", "escalation", "digest"]
  /// The templates a rule can override; the digest gathers many rules and is the deployment's.
  public static let ruleTemplateNames = ["reminder", "overdue", "escalation", "summary"]

  /// Names a template may use; `check` rejects any other.
  public static let variables: Set<String> = [
    "rule.id", "rule.title", "rule.basis", "unit.id", "unit.name", "parent.name", "period", "period.name",
    "due", "due.phrase", "due.weekday", "due.last_day", "days.left", "days.overdue", "days.phrase", "state", "step",
    "reason", "key", "rule.deadline_basis",
    "recipients", "detail", "detail.html", "sent.date", "count", "items", "items.html", "summary", "report.heading",
    "report.as_of", "scope.name",
  ]

  /// Names a rule's title may use: the obligation's own, since a title is rendered before the
  /// message around it.
  public static let titleVariables: Set<String> = reportTitleVariables.union(["unit.id", "unit.name", "parent.name"])

  /// Names a report title may use: the period's, none of one unit's.
  public static let reportTitleVariables: Set<String> = [
    "rule.id", "period", "period.name", "due", "due.phrase", "due.weekday",
  ]
}

/// `{{name}}` substitution: nothing more, so a template cannot run code or loop forever.
public enum TemplateText {
  /// The placeholder names a template uses.
  public static func placeholders(in template: String) -> [String] {
    var names: [String] = []
    var rest = Substring(template)
    while let open = rest.range(of: "{{") {
      guard let close = rest[open.upperBound...].range(of: "}}") else { break }
      names.append(rest[open.upperBound..<close.lowerBound].trimmingCharacters(in: .whitespaces))
      rest = rest[close.upperBound...]
    }
    return names
  }

  /// Fills the placeholders. A line whose placeholders all come out empty is left out, with its
  /// line break, so an optional part (a detail, a label and its value) leaves no blank line and
  /// no dangling label.
  public static func render(_ template: String, _ values: [String: String], html: Bool = false) -> String {
    guard template.contains("\n") else { return renderLine(template, values, html: html) }
    var lines: [String] = []
    for line in template.split(separator: "\n", omittingEmptySubsequences: false) {
      let names = placeholders(in: String(line))
      if !names.isEmpty, names.allSatisfy({ (values[$0] ?? "").isEmpty }) { continue }
      lines.append(renderLine(String(line), values, html: html))
    }
    return lines.joined(separator: "\n")
  }

  static func renderLine(_ template: String, _ values: [String: String], html: Bool) -> String {
    var output = ""
    var rest = Substring(template)
    while let open = rest.range(of: "{{") {
      guard let close = rest[open.upperBound...].range(of: "}}") else { break }
      output += rest[..<open.lowerBound]
      let name = rest[open.upperBound..<close.lowerBound].trimmingCharacters(in: .whitespaces)
      let value = values[name] ?? ""
      // Values named `*.html` are already markup built from escaped parts.
      output += html && !name.hasSuffix(".html") ? escapeHTML(value) : value
      rest = rest[close.upperBound...]
    }
    return output + rest
  }

  public static func escapeHTML(_ text: String) -> String {
    var result = ""
    result.reserveCapacity(text.utf8.count)
    for character in text {
      switch character {
      case "&": result += "&amp;"
      case "<": result += "&lt;"
      case ">": result += "&gt;"
      case "\"": result += "&quot;"
      case "'": result += "&#39;"
      default: result.append(character)
      }
    }
    return result
  }
}

extension DueSpec {
  /// The named day of a deadline instant under this convention: the inverse of `deadline(on:)`.
  public func namedDate(ofDeadline deadline: Date, zone: Zone) -> LocalDate {
    switch convention {
    case .before, .at: return zone.localDate(of: deadline)
    case .by: return zone.localDate(of: deadline).adding(days: -1)
    }
  }

  /// The last day on which the obligation can still be met on time: the day before `D` for
  /// "trước ngày D", `D` itself for "chậm nhất ngày D" and "trước HH:MM ngày D".
  public func lastDay(ofDeadline deadline: Date, zone: Zone) -> LocalDate {
    switch convention {
    case .before: return zone.localDate(of: deadline).adding(days: -1)
    case .by, .at: return namedDate(ofDeadline: deadline, zone: zone)
    }
  }

  /// The deadline as the letter words it: `trước ngày 15/11/2026`, `chậm nhất ngày 15/07/2025`.
  public func phrase(named date: LocalDate) -> String {
    switch convention {
    case .before: return "trước ngày \(date.vietnamese)"
    case .by: return "chậm nhất ngày \(date.vietnamese)"
    case .at(let time): return "trước \(time) ngày \(date.vietnamese)"
    }
  }
}

extension Rule {
  /// The values of one obligation a title may use (`MessageTemplate.titleVariables`).
  public func titleValues(for finding: Finding, zone: Zone) -> [String: String] {
    let named = due.namedDate(ofDeadline: finding.deadline, zone: zone)
    return [
      "rule.id": id, "unit.id": finding.unit.id, "unit.name": finding.unit.name,
      "parent.name": finding.parent?.name ?? "", "period": finding.period.description,
      "period.name": finding.period.vietnamese, "due": named.vietnamese, "due.phrase": due.phrase(named: named),
      "due.weekday": named.weekday.vietnamese,
    ]
  }

  /// The duty's name for one obligation: the title template with the obligation's own values.
  public func title(for finding: Finding, zone: Zone) -> String {
    TemplateText.render(title, titleValues(for: finding, zone: zone))
  }

  /// The duty's name for a period, where no one unit is meant (a report's section): the
  /// `report_title`, else the title, which then names no unit.
  public func reportTitle(period: Period, calendar: WorkingCalendar) -> String {
    let named = due.namedDate(for: period, calendar: calendar)
    return TemplateText.render(
      reportTitleTemplate ?? title,
      [
        "rule.id": id, "period": period.description, "period.name": period.vietnamese, "due": named.vietnamese,
        "due.phrase": due.phrase(named: named), "due.weekday": named.weekday.vietnamese,
      ])
  }
}
