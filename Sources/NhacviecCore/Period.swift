public import Foundation

/// How often an obligation recurs.
public enum PeriodKind: String, Sendable, CaseIterable, Codable {
  case yearly, quarterly, monthly

  var periodsPerYear: Int {
    switch self {
    case .yearly: return 1
    case .quarterly: return 4
    case .monthly: return 12
    }
  }
}

/// The stretch an obligation covers: `2026`, `2026-Q3`, `2026-09`.
public struct Period: Hashable, Comparable, Sendable, CustomStringConvertible {
  public let kind: PeriodKind
  public let year: Int
  /// 1 for a year, 1–4 for a quarter, 1–12 for a month.
  public let index: Int

  public init(kind: PeriodKind, year: Int, index: Int = 1) {
    self.kind = kind
    self.year = year
    self.index = index
  }

  /// Parses `2026`, `2026-Q3` or `2026-09` exactly: four ASCII digits, then nothing, `-Q1`…`-Q4`
  /// or `-01`…`-12`. Anything else (a sign, a missing part, a stray character) is nil.
  public init?(_ text: String) {
    let bytes = Array(text.utf8)
    func digits(_ range: Range<Int>) -> Int? {
      guard range.upperBound <= bytes.count else { return nil }
      var value = 0
      for byte in bytes[range] {
        guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
        value = value * 10 + Int(byte - UInt8(ascii: "0"))
      }
      return value
    }
    guard let year = digits(0..<4) else { return nil }
    switch bytes.count {
    case 4:
      self.init(kind: .yearly, year: year)
    case 7 where bytes[4] == UInt8(ascii: "-") && bytes[5] == UInt8(ascii: "Q"):
      guard let q = digits(6..<7), (1...4).contains(q) else { return nil }
      self.init(kind: .quarterly, year: year, index: q)
    case 7 where bytes[4] == UInt8(ascii: "-"):
      guard let m = digits(5..<7), (1...12).contains(m) else { return nil }
      self.init(kind: .monthly, year: year, index: m)
    default:
      return nil
    }
  }

  public static func containing(_ date: LocalDate, kind: PeriodKind) -> Period {
    switch kind {
    case .yearly: return Period(kind: kind, year: date.year)
    case .quarterly: return Period(kind: kind, year: date.year, index: (date.month - 1) / 3 + 1)
    case .monthly: return Period(kind: kind, year: date.year, index: date.month)
    }
  }

  private var ordinal: Int { year * kind.periodsPerYear + index - 1 }

  public func advanced(by n: Int) -> Period {
    let ordinal = self.ordinal + n
    let perYear = kind.periodsPerYear
    return Period(kind: kind, year: ordinal / perYear, index: ordinal % perYear + 1)
  }

  public var firstDay: LocalDate {
    switch kind {
    case .yearly: return LocalDate(year: year, month: 1, day: 1)!
    case .quarterly: return LocalDate(year: year, month: (index - 1) * 3 + 1, day: 1)!
    case .monthly: return LocalDate(year: year, month: index, day: 1)!
    }
  }

  public var lastDay: LocalDate { advanced(by: 1).firstDay.adding(days: -1) }

  public static func < (lhs: Period, rhs: Period) -> Bool { lhs.ordinal < rhs.ordinal }

  public var description: String {
    switch kind {
    case .yearly: return String(year)
    case .quarterly: return "\(year)-Q\(index)"
    case .monthly: return "\(year)-\(index < 10 ? "0" : "")\(index)"
    }
  }

  /// How the period reads in a message: `năm 2026`, `quý III/2026`, `tháng 9/2026`.
  public var vietnamese: String {
    switch kind {
    case .yearly: return "năm \(year)"
    case .quarterly: return "quý \(["I", "II", "III", "IV"][index - 1])/\(year)"
    case .monthly: return "tháng \(index)/\(year)"
    }
  }
}

/// A distance in calendar days (`7d`) or working days (`3wd`).
public struct Offset: Hashable, Sendable, CustomStringConvertible {
  public enum Unit: String, Sendable { case days = "d", workingDays = "wd" }
  public let amount: Int
  public let unit: Unit

  public init(_ amount: Int, _ unit: Unit) {
    self.amount = amount
    self.unit = unit
  }

  public init?(_ text: String) {
    let trimmed = text.trimmingCharacters(in: .whitespaces)
    let unit: Unit
    let digits: Substring
    if trimmed.hasSuffix("wd") {
      unit = .workingDays
      digits = trimmed.dropLast(2)
    } else if trimmed.hasSuffix("d") {
      unit = .days
      digits = trimmed.dropLast()
    } else {
      return nil
    }
    guard let amount = Int(digits), amount >= 0, amount <= 3660, !digits.hasPrefix("+") else { return nil }
    self.init(amount, unit)
  }

  public var description: String { "\(amount)\(unit.rawValue)" }
}

/// When an obligation falls due, resolved to one instant for each period.
public struct DueSpec: Sendable, Hashable {
  public enum Anchor: Sendable, Hashable {
    /// A day of the year in the period's year plus `yearOffset`: the letter's 15/11.
    case date(month: Int, day: Int, yearOffset: Int)
    /// So many days (or working days) after the period's last day: monthly and quarterly reports.
    case afterPeriod(Offset)
  }

  /// What "due on D" means, stated in every rule so that nobody guesses.
  public enum Convention: Sendable, Hashable, CustomStringConvertible {
    /// "trước ngày D": the deadline is 00:00 on D.
    case before
    /// "chậm nhất ngày D" / "đến hết ngày D": the deadline is 24:00 on D.
    case by
    /// At a stated time on D.
    case at(TimeOfDay)

    public var description: String {
      switch self {
      case .before: return "before"
      case .by: return "by"
      case .at(let time): return "at \(time)"
      }
    }
  }

  /// An earlier rule for the date, in force for the deadlines whose named day falls within
  /// `validFrom`…`validTo` (a budget date of a decree since replaced).
  public struct Version: Sendable, Hashable {
    public let validFrom: LocalDate?
    public let validTo: LocalDate?
    public let anchor: Anchor
    public let lead: Offset?

    public init(validFrom: LocalDate?, validTo: LocalDate?, anchor: Anchor, lead: Offset?) {
      self.validFrom = validFrom
      self.validTo = validTo
      self.anchor = anchor
      self.lead = lead
    }

    public func contains(_ day: LocalDate) -> Bool {
      (validFrom.map { day >= $0 } ?? true) && (validTo.map { day <= $0 } ?? true)
    }
  }

  public let anchor: Anchor
  public let convention: Convention
  /// So long before the anchor's day: a date derived from someone else's (an agency's budget
  /// line so many working days before the province's own estimate is due).
  public let lead: Offset?
  /// Rules for the date that were in force before (or apart from) this one, tried first: a
  /// period whose named day under one of them falls in its validity takes that day.
  public let versions: [Version]

  /// The stated time of a rule due at a time of day.
  public var time: TimeOfDay? {
    if case .at(let time) = convention { return time }
    return nil
  }

  public init(anchor: Anchor, convention: Convention, lead: Offset? = nil, versions: [Version] = []) {
    self.anchor = anchor
    self.convention = convention
    self.lead = lead
    self.versions = versions
  }

  /// The named day for a period (the `D` of the convention), under the rule in force on it.
  public func namedDate(for period: Period, calendar: WorkingCalendar) -> LocalDate {
    for version in versions {
      let day = Self.namedDate(anchor: version.anchor, lead: version.lead, period: period, calendar: calendar)
      if version.contains(day) { return day }
    }
    return Self.namedDate(anchor: anchor, lead: lead, period: period, calendar: calendar)
  }

  static func namedDate(anchor: Anchor, lead: Offset?, period: Period, calendar: WorkingCalendar) -> LocalDate {
    let anchored = anchorDate(anchor, for: period, calendar: calendar)
    guard let lead else { return anchored }
    switch lead.unit {
    case .days: return anchored.adding(days: -lead.amount)
    case .workingDays: return calendar.workingDay(-lead.amount, from: anchored)
    }
  }

  /// The anchor's own day, before any lead.
  static func anchorDate(_ anchor: Anchor, for period: Period, calendar: WorkingCalendar) -> LocalDate {
    switch anchor {
    case .date(let month, let day, let yearOffset):
      let year = period.year + yearOffset
      return LocalDate(year: year, month: month, day: min(day, LocalDate.daysIn(month: month, year: year)))!
    case .afterPeriod(let offset):
      switch offset.unit {
      case .days: return period.lastDay.adding(days: offset.amount)
      case .workingDays: return calendar.workingDay(offset.amount, from: period.lastDay)
      }
    }
  }

  public func deadline(for period: Period, calendar: WorkingCalendar) -> Date {
    deadline(on: namedDate(for: period, calendar: calendar), zone: calendar.zone)
  }

  /// The deadline instant for a named day, under this convention (also for an extension's new day).
  public func deadline(on date: LocalDate, zone: Zone) -> Date {
    switch convention {
    case .before: return zone.instant(date)
    case .by: return zone.instant(date.adding(days: 1))
    case .at(let time): return zone.instant(date, time)
    }
  }
}
