/// Which days state agencies work, in the deployment's timezone.
///
/// Built once from the holiday rules and the yearly overrides; afterwards every question is a
/// dictionary lookup, so planning a season for ten thousand units stays cheap.
public struct WorkingCalendar: Sendable {
  public enum Source: String, Sendable, Codable {
    /// From the holiday rules (the Labour Code's table) and the lunar calendar.
    case computed
    /// The next working day given for a holiday that fell on a weekly rest day.
    case substitute
    /// From the year's official schedule (an overrides file).
    case override
  }

  public struct Day: Sendable, Equatable {
    public let date: LocalDate
    /// `false` for a day off, `true` for a make-up working day on a weekly rest day.
    public let isWorking: Bool
    public let name: String
    /// The holiday this day belongs to (`tet`, `national-day`, …), if any.
    public let holiday: String?
    public let source: Source
    /// The text behind the day: the holiday rule's legal source, the substitute rule's, or for an
    /// override its entry's reference, else its file's.
    public let reference: String?

    public init(
      date: LocalDate, isWorking: Bool, name: String, holiday: String?, source: Source, reference: String? = nil
    ) {
      self.date = date
      self.isWorking = isWorking
      self.name = name
      self.holiday = holiday
      self.source = source
      self.reference = reference
    }
  }

  /// One year's official schedule, which wins over what the rules compute.
  public struct YearOverride: Sendable {
    public let year: Int
    /// The documents the file cites; an entry may cite its own.
    public let reference: String?
    /// Holidays whose computed days (and their substitutes) this schedule replaces.
    public let replaces: Set<String>
    public let days: [Day]

    public init(year: Int, reference: String?, replaces: Set<String>, days: [Day]) {
      self.year = year
      self.reference = reference
      self.replaces = replaces
      self.days = days
    }
  }

  /// When a time limit whose last day is a day off ends.
  public enum DayOffRule: String, Sendable, CaseIterable {
    /// At the end of the next working day: Civil Code 2015 art. 148(5), and what a unit whose
    /// last day was a Sunday can actually do (docs/calendar.md).
    case nextWorkingDay = "next-working-day"
    /// On the day the text names, day off or not: the literal reading.
    case stands
  }

  public let zone: Zone
  public let workingWeekdays: Set<Weekday>
  /// Whether a deadline whose last day is a day off moves to the next working day.
  public let dayOff: DayOffRule
  public let holidayRules: HolidayRules
  public let years: ClosedRange<Int>
  /// The years an official schedule states; every other year is computed from the rules alone.
  public let overrideYears: Set<Int>
  private let special: [Int: Day]

  public init(
    zone: Zone = .vietnam,
    workingWeekdays: Set<Weekday> = [.monday, .tuesday, .wednesday, .thursday, .friday],
    holidayRules: HolidayRules = .vietnam,
    overrides: [YearOverride] = [],
    years: ClosedRange<Int> = 2000...2100,
    dayOff: DayOffRule = .stands
  ) {
    precondition(!workingWeekdays.isEmpty, "a working week needs at least one working day")
    self.zone = zone
    self.dayOff = dayOff
    self.workingWeekdays = workingWeekdays
    self.holidayRules = holidayRules
    self.years = years
    self.overrideYears = Set(overrides.map(\.year))
    let overridesByYear = Dictionary(overrides.map { ($0.year, $0) }, uniquingKeysWith: { _, last in last })
    var special: [Int: Day] = [:]
    for year in years {
      let override = overridesByYear[year]
      let computed = holidayRules.computed(in: year, workingWeekdays: workingWeekdays).filter {
        !(override?.replaces.contains($0.day.holiday ?? "") ?? false)
      }
      let days = WorkingCalendar.addingSubstitutes(
        to: computed, workingWeekdays: workingWeekdays, taken: Set(override?.days.map(\.date.dayNumber) ?? []))
      for day in days where special[day.date.dayNumber] == nil { special[day.date.dayNumber] = day }
      for day in override?.days ?? [] { special[day.date.dayNumber] = day }
    }
    self.special = special
  }

  /// Labour Code 2019 art. 111(3) (art. 115(3) of the 2012 code): a holiday on a weekly rest day
  /// is given back on the next working day. The law says "next", so a Saturday of Tết is given
  /// back after the break, although the yearly schedules usually give it back before.
  private static func addingSubstitutes(
    to days: [HolidayRules.Computed], workingWeekdays: Set<Weekday>, taken: Set<Int>
  ) -> [Day] {
    var offDays = Set(days.map(\.day.date.dayNumber)).union(taken)
    var result = days.map(\.day)
    for computed in days.sorted(by: { $0.day.date < $1.day.date }) {
      let day = computed.day
      guard let rule = computed.substitute, !workingWeekdays.contains(day.date.weekday) else { continue }
      var candidate = day.date.adding(days: 1)
      while !workingWeekdays.contains(candidate.weekday) || offDays.contains(candidate.dayNumber) {
        candidate = candidate.adding(days: 1)
      }
      offDays.insert(candidate.dayNumber)
      result.append(
        Day(
          date: candidate, isWorking: false, name: "Nghỉ bù \(day.name) (\(day.date.vietnamese))",
          holiday: day.holiday, source: .substitute, reference: rule.source))
    }
    return result
  }

  /// What an operator must hear when a year's days off rest on the rules alone: the current
  /// year at any time, and from 1 October the next year, since its official schedule is
  /// usually published in the autumn and deadlines in January are planned weeks ahead. Nil when
  /// both have an override (or fall outside the calendar's years).
  public func overrideWarning(today: LocalDate) -> String? {
    var missing = [today.year]
    if today.month >= 10 { missing.append(today.year + 1) }
    missing = missing.filter { years.contains($0) && !overrideYears.contains($0) }
    guard !missing.isEmpty else { return nil }
    let list = missing.map(String.init).joined(separator: " and ")
    let files = missing.map { "\($0).yaml" }.joined(separator: " and ")
    let add = "add \(files) to the calendar overrides folder once the schedule is published"
    // With `holidays: none` there are no rules to compute from: say what is left.
    guard !holidayRules.holidays.isEmpty else {
      return "no calendar override for \(list): with no holiday rules (holidays: none), its only days off are the "
        + "weekly ones, with none of the official schedule's public holidays, swapped days and make-up Saturdays nor "
        + "the days it gives for Tết; \(add)"
    }
    return "no calendar override for \(list): its days off are computed from the \(holidayRules.name) holiday rules "
      + "alone, which know neither the official schedule's swapped days and make-up Saturdays nor the days it gives "
      + "for Tết; \(add)"
  }

  public func isWorkingDay(_ date: LocalDate) -> Bool {
    if let day = special[date.dayNumber] { return day.isWorking }
    return workingWeekdays.contains(date.weekday)
  }

  /// The day off or make-up working day on `date`, if it is one.
  public func specialDay(_ date: LocalDate) -> Day? { special[date.dayNumber] }

  /// The days off and make-up working days of a year, in date order.
  public func specialDays(in year: Int) -> [Day] {
    guard let first = LocalDate(year: year, month: 1, day: 1) else { return [] }
    let count = LocalDate(year: year, month: 12, day: 31)!.dayNumber - first.dayNumber + 1
    return (0..<count).compactMap { special[first.dayNumber + $0] }
  }

  /// The `n`-th working day strictly after `date` (n > 0), strictly before it (n < 0), or `date`
  /// itself when it is a working day and the next working day otherwise (n == 0).
  public func workingDay(_ n: Int, from date: LocalDate) -> LocalDate {
    var current = date
    if n == 0 {
      while !isWorkingDay(current) { current = current.adding(days: 1) }
      return current
    }
    let step = n > 0 ? 1 : -1
    var remaining = abs(n)
    while remaining > 0 {
      current = current.adding(days: step)
      if isWorkingDay(current) { remaining -= 1 }
    }
    return current
  }

  /// Working days in the half-open range [from, to).
  public func workingDays(from: LocalDate, to: LocalDate) -> Int {
    guard from < to else { return 0 }
    return (from.dayNumber..<to.dayNumber).reduce(0) { $0 + (isWorkingDay(LocalDate(dayNumber: $1)) ? 1 : 0) }
  }
}
