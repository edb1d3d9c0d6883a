/// Which days state agencies work, in the deployment's timezone.
///
/// Built once from the holiday rules and the yearly overrides; afterwards every question is a
/// dictionary lookup, so planning a season for ten thousand units stays cheap.
public struct WorkingCalendar: Sendable {
  public enum Source: String, Sendable, Codable {
    /// From the Labour Code's rules and the lunar calendar.
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
    /// Where an override came from: the official notice's number.
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

  public let zone: Zone
  public let workingWeekdays: Set<Weekday>
  public let holidayRules: HolidayRules
  public let years: ClosedRange<Int>
  private let special: [Int: Day]

  public init(
    zone: Zone = .vietnam,
    workingWeekdays: Set<Weekday> = [.monday, .tuesday, .wednesday, .thursday, .friday],
    holidayRules: HolidayRules = .vietnam,
    overrides: [YearOverride] = [],
    years: ClosedRange<Int> = 2000...2100
  ) {
    precondition(!workingWeekdays.isEmpty, "a working week needs at least one working day")
    self.zone = zone
    self.workingWeekdays = workingWeekdays
    self.holidayRules = holidayRules
    self.years = years
    let overridesByYear = Dictionary(overrides.map { ($0.year, $0) }, uniquingKeysWith: { _, last in last })
    var special: [Int: Day] = [:]
    for year in years {
      let override = overridesByYear[year]
      var computed = holidayRules.days(in: year).filter { !(override?.replaces.contains($0.holiday ?? "") ?? false) }
      computed = WorkingCalendar.addingSubstitutes(
        to: computed, workingWeekdays: workingWeekdays, taken: Set(override?.days.map(\.date.dayNumber) ?? []))
      for day in computed where special[day.date.dayNumber] == nil { special[day.date.dayNumber] = day }
      for day in override?.days ?? [] { special[day.date.dayNumber] = day }
    }
    self.special = special
  }

  /// Labour Code art. 112(3): a holiday on a weekly rest day is given back on the next working day.
  private static func addingSubstitutes(to days: [Day], workingWeekdays: Set<Weekday>, taken: Set<Int>) -> [Day] {
    var offDays = Set(days.map(\.date.dayNumber)).union(taken)
    var result = days
    for day in days.sorted(by: { $0.date < $1.date }) where !workingWeekdays.contains(day.date.weekday) {
      var candidate = day.date.adding(days: 1)
      while !workingWeekdays.contains(candidate.weekday) || offDays.contains(candidate.dayNumber) {
        candidate = candidate.adding(days: 1)
      }
      offDays.insert(candidate.dayNumber)
      result.append(
        Day(
          date: candidate, isWorking: false, name: "Nghỉ bù \(day.name) (\(day.date.vietnamese))",
          holiday: day.holiday, source: .substitute))
    }
    return result
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

/// The public holidays a calendar computes for a year before any override.
public struct HolidayRules: Sendable {
  public let name: String
  private let compute: @Sendable (Int) -> [WorkingCalendar.Day]

  public init(name: String, compute: @escaping @Sendable (Int) -> [WorkingCalendar.Day]) {
    self.name = name
    self.compute = compute
  }

  public func days(in year: Int) -> [WorkingCalendar.Day] { compute(year) }

  public static let none = HolidayRules(name: "none") { _ in [] }

  /// Labour Code 2019, art. 112(1). Tết's five days are the last day of the lunar year and the
  /// first four of the new one, and the day beside 2/9 is 1/9, unless a year's override says
  /// otherwise (the Prime Minister fixes both each year).
  public static let vietnam = HolidayRules(name: "vietnam") { year in
    let lunar = LunarCalendar.vietnam
    func day(_ date: LocalDate, _ name: String, _ id: String) -> WorkingCalendar.Day {
      WorkingCalendar.Day(date: date, isWorking: false, name: name, holiday: id, source: .computed)
    }
    var days = [day(LocalDate(year: year, month: 1, day: 1)!, "Tết Dương lịch", "new-year")]
    let tet = lunar.newYear(year)
    days.append(day(tet.adding(days: -1), "Tết Nguyên đán (cuối năm âm lịch)", "tet"))
    for offset in 0..<4 {
      days.append(day(tet.adding(days: offset), "Tết Nguyên đán (mùng \(offset + 1))", "tet"))
    }
    if let hung = lunar.solarDate(of: LunarCalendar.Date(year: year, month: 3, day: 10)) {
      days.append(day(hung, "Giỗ Tổ Hùng Vương (10/3 âm lịch)", "hung-kings"))
    }
    days.append(day(LocalDate(year: year, month: 4, day: 30)!, "Ngày Chiến thắng", "reunification"))
    days.append(day(LocalDate(year: year, month: 5, day: 1)!, "Ngày Quốc tế Lao động", "labour"))
    days.append(day(LocalDate(year: year, month: 9, day: 1)!, "Quốc khánh (ngày liền kề)", "national-day"))
    days.append(day(LocalDate(year: year, month: 9, day: 2)!, "Quốc khánh", "national-day"))
    return days
  }
}
