/// One public holiday as one legal text defines it, for the days that text is in force.
///
/// A change of law is a new row with its own dates, not new code: the row it supersedes gets a
/// `validUntil`, so replaying an old season still computes the holidays of its time.
public struct HolidayDefinition: Sendable, Equatable {
  public enum Rule: Sendable, Equatable {
    /// A fixed day of the solar year.
    case solar(month: Int, day: Int)
    /// A fixed day of the Vietnamese lunar year (new moons reckoned at UTC+7).
    case lunar(month: Int, day: Int)
    /// Tết: the last `lastDaysOfOldYear` days of the lunar year and mùng 1 to mùng
    /// `firstDaysOfNewYear` of the new one.
    case lunarNewYear(lastDaysOfOldYear: Int, firstDaysOfNewYear: Int)
    /// The day before or after a solar date, whichever joins the two to more weekly rest days,
    /// the day before on a tie. The law leaves the side to the Prime Minister each year; this is
    /// the choice every year's schedule made since the rule began (2021–2026).
    case adjacentDay(month: Int, day: Int)
  }

  /// What override files name in `replaces`; several rows share one id.
  public let id: String
  /// The day's name as officials read it.
  public let name: String
  public let rule: Rule
  /// The legal text, shown as the day's reference.
  public let source: String
  /// The first and last day the text is in force; nil is open-ended.
  public let validFrom: LocalDate?
  public let validUntil: LocalDate?
  /// Whether a day of this holiday on a weekly rest day is given back, when a substitute rule is
  /// in force on it.
  public let givesSubstitute: Bool

  public init(
    id: String, name: String, rule: Rule, source: String, validFrom: LocalDate? = nil, validUntil: LocalDate? = nil,
    givesSubstitute: Bool = true
  ) {
    self.id = id
    self.name = name
    self.rule = rule
    self.source = source
    self.validFrom = validFrom
    self.validUntil = validUntil
    self.givesSubstitute = givesSubstitute
  }

  public func isInForce(on date: LocalDate) -> Bool {
    (validFrom.map { $0 <= date } ?? true) && (validUntil.map { date <= $0 } ?? true)
  }
}

/// The legal text that gives back a holiday falling on a weekly rest day, for the days it is in
/// force.
public struct SubstituteRule: Sendable, Equatable {
  public let source: String
  public let validFrom: LocalDate?
  public let validUntil: LocalDate?

  public init(source: String, validFrom: LocalDate? = nil, validUntil: LocalDate? = nil) {
    self.source = source
    self.validFrom = validFrom
    self.validUntil = validUntil
  }

  public func isInForce(on date: LocalDate) -> Bool {
    (validFrom.map { $0 <= date } ?? true) && (validUntil.map { date <= $0 } ?? true)
  }
}

/// The public holidays a calendar computes for a year before any override: a table of
/// definitions evaluated per year.
public struct HolidayRules: Sendable {
  public let name: String
  public let holidays: [HolidayDefinition]
  public let substitutes: [SubstituteRule]
  private let lunar: LunarCalendar

  public init(
    name: String, holidays: [HolidayDefinition], substitutes: [SubstituteRule],
    lunar: LunarCalendar = .vietnam
  ) {
    self.name = name
    self.holidays = holidays
    self.substitutes = substitutes
    self.lunar = lunar
  }

  /// Every id a row of the table carries: what an override's `replaces` may name.
  public var ids: Set<String> { Set(holidays.map(\.id)) }

  /// A computed day off, and the text that gives it back when it falls on a weekly rest day.
  struct Computed {
    let day: WorkingCalendar.Day
    let substitute: SubstituteRule?
  }

  /// The year's holidays, before substitutes and overrides, in table order.
  public func days(
    in year: Int, workingWeekdays: Set<Weekday> = [.monday, .tuesday, .wednesday, .thursday, .friday]
  ) -> [WorkingCalendar.Day] {
    computed(in: year, workingWeekdays: workingWeekdays).map(\.day)
  }

  func computed(in year: Int, workingWeekdays: Set<Weekday>) -> [Computed] {
    var result: [Computed] = []
    for holiday in holidays {
      for (date, name) in dates(of: holiday, in: year, workingWeekdays: workingWeekdays)
      where date.year == year && holiday.isInForce(on: date) {
        let day = WorkingCalendar.Day(
          date: date, isWorking: false, name: name, holiday: holiday.id, source: .computed, reference: holiday.source)
        let substitute = holiday.givesSubstitute ? substitutes.first { $0.isInForce(on: date) } : nil
        result.append(Computed(day: day, substitute: substitute))
      }
    }
    return result
  }

  /// A date a row gives, with the day's own name ("Tết Nguyên đán (mùng 2)").
  private typealias Named = (date: LocalDate, name: String)

  private func dates(of holiday: HolidayDefinition, in year: Int, workingWeekdays: Set<Weekday>) -> [Named] {
    switch holiday.rule {
    case .solar(let month, let day):
      return LocalDate(year: year, month: month, day: day).map { [($0, holiday.name)] } ?? []
    case .lunar(let month, let day):
      // A late lunar month can fall in the next solar year, so both lunar years are asked.
      return [year - 1, year].compactMap { lunarYear in
        lunar.solarDate(of: LunarCalendar.Date(year: lunarYear, month: month, day: day)).map { ($0, holiday.name) }
      }
    case .lunarNewYear(let before, let after):
      let first = lunar.newYear(year)
      let old = stride(from: before, to: 0, by: -1).map {
        (first.adding(days: -$0), "\(holiday.name) (cuối năm âm lịch)")
      }
      return old + (0..<after).map { (first.adding(days: $0), "\(holiday.name) (mùng \($0 + 1))") }
    case .adjacentDay(let month, let day):
      guard let anchor = LocalDate(year: year, month: month, day: day) else { return [] }
      // A week with no working day would never end the count; seven days bound it.
      func restDays(beyond date: LocalDate, step: Int) -> Int {
        var count = 0
        while count < 7 && !workingWeekdays.contains(date.adding(days: step * (count + 1)).weekday) { count += 1 }
        return count
      }
      func restDaysJoined(_ other: LocalDate) -> Int {
        restDays(beyond: min(anchor, other), step: -1) + restDays(beyond: max(anchor, other), step: 1)
      }
      let before = anchor.adding(days: -1)
      let after = anchor.adding(days: 1)
      return [(restDaysJoined(after) > restDaysJoined(before) ? after : before, holiday.name)]
    }
  }

  public static let none = HolidayRules(name: "none", holidays: [], substitutes: [])

  /// The Labour Code's public holidays (Labour Code 2019, art. 112(1), and the codes before it)
  /// and Ngày Văn hóa Việt Nam. Tết's five days and the day beside 2/9 are fixed by the Prime
  /// Minister each year (art. 112(3)); the rows compute the usual choice, and a year's override
  /// states the real one.
  public static let vietnam = HolidayRules(
    name: "vietnam", holidays: VietnamHolidays.table, substitutes: VietnamHolidays.substitutes)
}

/// The rows of `HolidayRules.vietnam`. Dates a code takes effect: Labour Code 1994 on
/// 01/01/1995, Labour Code 2012 on 01/05/2013, Labour Code 2019 on 01/01/2021.
enum VietnamHolidays {
  private static func date(_ year: Int, _ month: Int, _ day: Int) -> LocalDate {
    LocalDate(year: year, month: month, day: day)!
  }

  static let code1994 = "Bộ luật Lao động 1994, Điều 73"
  static let code2012 = "Bộ luật Lao động 2012, Điều 115 khoản 1"
  static let code2019 = "Bộ luật Lao động 2019, Điều 112 khoản 1"

  static let until2012 = date(2013, 4, 30)
  static let from2012 = date(2013, 5, 1)
  static let until2019 = date(2020, 12, 31)
  static let from2019 = date(2021, 1, 1)

  static let table: [HolidayDefinition] = [
    // Tết Dương lịch.
    .init(
      id: "new-year", name: "Tết Dương lịch", rule: .solar(month: 1, day: 1), source: code1994, validUntil: until2012),
    .init(
      id: "new-year", name: "Tết Dương lịch", rule: .solar(month: 1, day: 1), source: code2012, validFrom: from2012,
      validUntil: until2019),
    .init(
      id: "new-year", name: "Tết Dương lịch", rule: .solar(month: 1, day: 1), source: "\(code2019) điểm a",
      validFrom: from2019),
    // Tết Nguyên đán: four days under the 1994 code, five since 2013.
    .init(
      id: "tet", name: "Tết Nguyên đán", rule: .lunarNewYear(lastDaysOfOldYear: 1, firstDaysOfNewYear: 3),
      source: code1994, validUntil: until2012),
    .init(
      id: "tet", name: "Tết Nguyên đán", rule: .lunarNewYear(lastDaysOfOldYear: 1, firstDaysOfNewYear: 4),
      source: code2012, validFrom: from2012, validUntil: until2019),
    .init(
      id: "tet", name: "Tết Nguyên đán", rule: .lunarNewYear(lastDaysOfOldYear: 1, firstDaysOfNewYear: 4),
      source: "\(code2019) điểm b", validFrom: from2019),
    // Giỗ Tổ Hùng Vương: added to the 1994 code in 2007 (Law 84/2007/QH11); first given on
    // 26/04/2007.
    .init(
      id: "hung-kings", name: "Giỗ Tổ Hùng Vương (10/3 âm lịch)", rule: .lunar(month: 3, day: 10),
      source: "\(code1994) (sửa đổi năm 2007)", validFrom: date(2007, 4, 2), validUntil: until2012),
    .init(
      id: "hung-kings", name: "Giỗ Tổ Hùng Vương (10/3 âm lịch)", rule: .lunar(month: 3, day: 10), source: code2012,
      validFrom: from2012, validUntil: until2019),
    .init(
      id: "hung-kings", name: "Giỗ Tổ Hùng Vương (10/3 âm lịch)", rule: .lunar(month: 3, day: 10),
      source: "\(code2019) điểm e", validFrom: from2019),
    // Ngày Chiến thắng.
    .init(
      id: "reunification", name: "Ngày Chiến thắng", rule: .solar(month: 4, day: 30), source: code1994,
      validUntil: until2012),
    .init(
      id: "reunification", name: "Ngày Chiến thắng", rule: .solar(month: 4, day: 30), source: code2012,
      validFrom: from2012, validUntil: until2019),
    .init(
      id: "reunification", name: "Ngày Chiến thắng", rule: .solar(month: 4, day: 30), source: "\(code2019) điểm c",
      validFrom: from2019),
    // Ngày Quốc tế Lao động.
    .init(
      id: "labour", name: "Ngày Quốc tế Lao động", rule: .solar(month: 5, day: 1), source: code1994,
      validUntil: until2012),
    .init(
      id: "labour", name: "Ngày Quốc tế Lao động", rule: .solar(month: 5, day: 1), source: code2012,
      validFrom: from2012, validUntil: until2019),
    .init(
      id: "labour", name: "Ngày Quốc tế Lao động", rule: .solar(month: 5, day: 1), source: "\(code2019) điểm d",
      validFrom: from2019),
    // Quốc khánh: one day until 2020, two since (2/9 and a day beside it).
    .init(
      id: "national-day", name: "Quốc khánh", rule: .solar(month: 9, day: 2), source: code1994, validUntil: until2012),
    .init(
      id: "national-day", name: "Quốc khánh", rule: .solar(month: 9, day: 2), source: code2012, validFrom: from2012,
      validUntil: until2019),
    .init(
      id: "national-day", name: "Quốc khánh", rule: .solar(month: 9, day: 2), source: "\(code2019) điểm đ",
      validFrom: from2019),
    .init(
      id: "national-day", name: "Quốc khánh (ngày liền kề)", rule: .adjacentDay(month: 9, day: 2),
      source: "\(code2019) điểm đ", validFrom: from2019),
    // Ngày Văn hóa Việt Nam: a paid holiday from 2026. The resolution says nothing of a weekend;
    // it makes the day a public holiday like those of art. 112(1), and art. 111(3) gives those
    // back on the next working day, so this one is given back too (as python-holidays does).
    .init(
      id: "culture-day", name: "Ngày Văn hóa Việt Nam", rule: .solar(month: 11, day: 24),
      source: "Nghị quyết 80-NQ/TW ngày 07/01/2026 của Bộ Chính trị", validFrom: date(2026, 1, 7)),
  ]

  /// A holiday on a weekly rest day is given back on the next working day.
  static let substitutes: [SubstituteRule] = [
    .init(source: code1994, validFrom: date(1995, 1, 1), validUntil: until2012),
    .init(source: "Bộ luật Lao động 2012, Điều 115 khoản 3", validFrom: from2012, validUntil: until2019),
    .init(source: "Bộ luật Lao động 2019, Điều 111 khoản 3", validFrom: from2019),
  ]
}
