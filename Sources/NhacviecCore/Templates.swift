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
  public static let ruleTemplateNames = ["reminder", "overdue", "escalation", "summary", "returned"]

  /// Names a template may use; `check` rejects any other.
  public static let variables: Set<String> = [
    "rule.id", "rule.title", "rule.basis", "unit.id", "unit.name", "parent.name", "period", "period.name",
    "due", "due.phrase", "due.weekday", "due.last_day", "days.left", "days.overdue", "days.phrase", "state", "step",
    "reason", "key", "rule.deadline_basis", "rule.applies_basis", "rule.send_to",
    "recipients", "detail", "detail.html", "sent.date", "count", "items", "items.html", "summary", "report.heading",
    "report.as_of", "scope.name", "verdict.what", "verdict.reason", "verdict.date", "reply.url", "reply.line",
    "reply.html", "reply.note", "reply.done", "unit.actor", "rule.short_title", "report.figures",
    "report.figures.html", "report.files", "digest.label", "count.phrase", "count.text", "items.heading",
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
///
/// Works in one pass over the template's UTF-8: every message is rendered at the instant it is
/// sent, so this runs once per part of every message of a burst. `{`, `}`, a line break and the
/// characters HTML escapes are ASCII, and no byte of a multi-byte UTF-8 sequence is ASCII, so
/// scanning bytes finds exactly what scanning characters would.
public enum TemplateText {
  /// The placeholder names a template uses.
  public static func placeholders(in template: String) -> [String] {
    var names: [String] = []
    Array(template.utf8).withUnsafeBufferPointer { bytes in
      scan(bytes, from: 0, to: bytes.count) { _, _, name in names.append(name) }
    }
    return names
  }

  /// Fills the placeholders. A line whose placeholders all come out empty is left out, with its
  /// line break, so an optional part (a detail, a label and its value) leaves no blank line and
  /// no dangling label. A template of one line is always kept.
  public static func render(_ template: String, _ values: [String: String], html: Bool = false) -> String {
    var output: [UInt8] = []
    Array(template.utf8).withUnsafeBufferPointer { bytes in
      output.reserveCapacity(bytes.count * 2)
      let oneLine = !bytes.contains(newline)
      var lineStart = 0
      var wroteLine = false
      while lineStart <= bytes.count {
        var lineEnd = lineStart
        while lineEnd < bytes.count, bytes[lineEnd] != newline { lineEnd += 1 }
        // The line's pieces: literal byte ranges and values, kept until we know the line stays.
        var pieces: [(literal: Range<Int>?, value: String, escape: Bool)] = []
        var literalFrom = lineStart
        var anyPlaceholder = false
        var anyValue = false
        scan(bytes, from: lineStart, to: lineEnd) { open, close, name in
          pieces.append((literalFrom..<open, "", false))
          let value = values[name] ?? ""
          pieces.append((nil, value, html && !name.hasSuffix(".html")))
          anyPlaceholder = true
          if !value.isEmpty { anyValue = true }
          literalFrom = close
        }
        pieces.append((literalFrom..<lineEnd, "", false))
        if oneLine || !anyPlaceholder || anyValue {
          if wroteLine { output.append(newline) }
          for piece in pieces {
            if let literal = piece.literal {
              output.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[literal]))
            } else if piece.escape {
              appendEscapingHTML(piece.value, to: &output)
            } else {
              output.append(contentsOf: piece.value.utf8)
            }
          }
          wroteLine = true
        }
        lineStart = lineEnd + 1
      }
    }
    return String(decoding: output, as: UTF8.self)
  }

  private static let newline = UInt8(ascii: "\n")
  private static let brace = (open: UInt8(ascii: "{"), close: UInt8(ascii: "}"))

  /// Calls `found` with each placeholder of `bytes[from..<to]`: where its `{{` starts, where its
  /// `}}` ends, and its name without surrounding blanks. An opening without a closing ends the
  /// scan: the rest is text.
  private static func scan(
    _ bytes: UnsafeBufferPointer<UInt8>, from: Int, to: Int, _ found: (Int, Int, String) -> Void
  ) {
    var index = from
    while index + 1 < to {
      guard bytes[index] == brace.open, bytes[index + 1] == brace.open else {
        index += 1
        continue
      }
      var close = index + 2
      while close + 1 < to, !(bytes[close] == brace.close && bytes[close + 1] == brace.close) { close += 1 }
      guard close + 1 < to else { return }
      found(index, close + 2, name(bytes, from: index + 2, to: close))
      index = close + 2
    }
  }

  private static func name(_ bytes: UnsafeBufferPointer<UInt8>, from: Int, to: Int) -> String {
    var start = from
    var end = to
    while start < end, bytes[start] == 0x20 || bytes[start] == 0x09 { start += 1 }
    while end > start, bytes[end - 1] == 0x20 || bytes[end - 1] == 0x09 { end -= 1 }
    let name = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<end]), as: UTF8.self)
    // A name with other blanks around it (a no-break space) is trimmed as text would be.
    guard
      name.unicodeScalars.first?.properties.isWhitespace == true
        || name.unicodeScalars.last?.properties.isWhitespace == true
    else { return name }
    return name.trimmingCharacters(in: .whitespaces)
  }

  private static func appendEscapingHTML(_ text: String, to output: inout [UInt8]) {
    for byte in text.utf8 {
      switch byte {
      case UInt8(ascii: "&"): output.append(contentsOf: "&amp;".utf8)
      case UInt8(ascii: "<"): output.append(contentsOf: "&lt;".utf8)
      case UInt8(ascii: ">"): output.append(contentsOf: "&gt;".utf8)
      case UInt8(ascii: "\""): output.append(contentsOf: "&quot;".utf8)
      case UInt8(ascii: "'"): output.append(contentsOf: "&#39;".utf8)
      default: output.append(byte)
      }
    }
  }

  public static func escapeHTML(_ text: String) -> String {
    var output: [UInt8] = []
    output.reserveCapacity(text.utf8.count)
    appendEscapingHTML(text, to: &output)
    return String(decoding: output, as: UTF8.self)
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

  /// The last day allowed once the calendar's rule for a day off is applied: with
  /// `next-working-day`, a last day that is a day off gives way to the next working day
  /// (Civil Code 2015 art. 148(5)), so "trước ngày 15/11/2026" (Sunday) allows Monday 16/11.
  public func lastDay(ofDeadline deadline: Date, calendar: WorkingCalendar) -> LocalDate {
    let last = lastDay(ofDeadline: deadline, zone: calendar.zone)
    guard calendar.dayOff == .nextWorkingDay, !calendar.isWorkingDay(last) else { return last }
    return calendar.workingDay(0, from: last)
  }

  /// When the time limit ends: the deadline itself, or the end of the last day allowed when a
  /// day off moved it (the stated time of that day for "trước HH:MM ngày D"). Lateness, the
  /// ladder and the report are judged against this instant; the messages still cite `D`.
  public func ends(ofDeadline deadline: Date, calendar: WorkingCalendar) -> Date {
    let last = lastDay(ofDeadline: deadline, calendar: calendar)
    guard last != lastDay(ofDeadline: deadline, zone: calendar.zone) else { return deadline }
    switch convention {
    case .before, .by: return calendar.zone.instant(last.adding(days: 1))
    case .at(let time): return calendar.zone.instant(last, time)
    }
  }

  /// The day counts every reader is told on `today`, by named days, not hours, both from the last
  /// day allowed (after a day off moved it) so that one rule holds whatever the wording: `left` is
  /// the days on which the duty can still be met on time, today included (`còn 16 ngày` on 30/10
  /// for "trước ngày 15/11", whose last day is 14/11; `còn 2 ngày` on 14/12 for "chậm nhất ngày
  /// 15/12"), 0 once it has passed; `late` the days since it (15/11 is the first day late for
  /// "trước ngày 15/11" when 14/11 is a working day: `đã quá hạn 1 ngày`), at least 1.
  public func dayCounts(
    ofDeadline deadline: Date, calendar: WorkingCalendar, on today: LocalDate
  ) -> (left: Int, late: Int) {
    let last = lastDay(ofDeadline: deadline, calendar: calendar)
    return (max(0, last.dayNumber - today.dayNumber + 1), max(1, today.dayNumber - last.dayNumber))
  }

  /// The convention an extension's day is read with: "gia hạn đến ngày D" allows D itself, so an
  /// extension of a "trước ngày D" duty is "chậm nhất" its day (and a day off still moves it).
  public var extended: DueSpec {
    guard case .before = convention else { return self }
    return DueSpec(anchor: anchor, convention: .by, lead: lead, versions: versions)
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
  /// The convention of the deadline in force for one obligation: the rule's, or its extension's.
  public func due(for finding: Finding) -> DueSpec {
    finding.extensionFact?.due == nil ? due : due.extended
  }

  /// The values of one obligation a title may use (`MessageTemplate.titleVariables`).
  public func titleValues(for finding: Finding, zone: Zone) -> [String: String] {
    let due = self.due(for: finding)
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
    TemplateText.render(reportTitleTemplate ?? title, periodValues(period: period, calendar: calendar))
  }

  /// The duty's name in a subject, where an inbox line has room for about 100 characters: the
  /// `short_title`, else the report title.
  public func shortTitle(period: Period, calendar: WorkingCalendar) -> String {
    TemplateText.render(
      shortTitleTemplate ?? reportTitleTemplate ?? title, periodValues(period: period, calendar: calendar))
  }

  /// The values of a period, where no one unit is meant.
  public func periodValues(period: Period, calendar: WorkingCalendar) -> [String: String] {
    let named = due.namedDate(for: period, calendar: calendar)
    return [
      "rule.id": id, "period": period.description, "period.name": period.vietnamese, "due": named.vietnamese,
      "due.phrase": due.phrase(named: named), "due.weekday": named.weekday.vietnamese,
    ]
  }

  /// Whether the title names the unit the obligation is about: then the duty is done about that
  /// unit (an inspection of it) by whoever the messages go to, not by the unit.
  public var titleNamesUnit: Bool {
    TemplateText.placeholders(in: title).contains { !MessageTemplate.reportTitleVariables.contains($0) }
  }
}

extension String {
  /// The text on one line, each run of line breaks one space (none at either end): for a mail
  /// header, a log line, a reason quoted from a reply. Text without a line break, nearly all of
  /// it, comes back as it is, without being broken into characters.
  public var oneLine: String {
    let breaks = unicodeScalars.contains {
      (0x0A...0x0D).contains($0.value) || $0.value == 0x85 || $0.value == 0x2028 || $0.value == 0x2029
    }
    return breaks ? split(whereSeparator: \.isNewline).joined(separator: " ") : self
  }
}
