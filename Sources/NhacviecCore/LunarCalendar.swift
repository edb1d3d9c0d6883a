import Foundation

/// The Vietnamese lunisolar calendar, computed astronomically for a given UTC offset.
///
/// Foundation's `.chinese` calendar reckons new moons at UTC+8. Vietnam's calendar reckons them at
/// UTC+7, and a new moon close to midnight falls on different days in the two, so Tết 2030 is
/// 2 February in Vietnam and 3 February in China. The algorithm is Hồ Ngọc Đức's, after Jean
/// Meeus's "Astronomical Algorithms" (new moons and the sun's longitude to about a minute).
public struct LunarCalendar: Sendable {
  /// Hours east of UTC at which days begin: 7 for Vietnam.
  public let utcOffsetHours: Double

  public init(utcOffsetHours: Double = 7) { self.utcOffsetHours = utcOffsetHours }

  public static let vietnam = LunarCalendar(utcOffsetHours: 7)

  public struct Date: Hashable, Sendable, CustomStringConvertible {
    public let year: Int
    public let month: Int
    public let day: Int
    public let isLeapMonth: Bool

    public init(year: Int, month: Int, day: Int, isLeapMonth: Bool = false) {
      self.year = year
      self.month = month
      self.day = day
      self.isLeapMonth = isLeapMonth
    }

    public var description: String { "\(day)/\(month)\(isLeapMonth ? "n" : "")/\(year) âm lịch" }
  }

  /// The solar date of a lunar date, or nil when the lunar date does not exist (a leap month that
  /// the year does not have).
  public func solarDate(of lunar: Date) -> LocalDate? {
    let a11: Int
    let b11: Int
    if lunar.month < 11 {
      a11 = lunarMonth11(year: lunar.year - 1)
      b11 = lunarMonth11(year: lunar.year)
    } else {
      a11 = lunarMonth11(year: lunar.year)
      b11 = lunarMonth11(year: lunar.year + 1)
    }
    let k = Int((0.5 + (Double(a11) - 2_415_021.076998695) / 29.530588853).rounded(.down))
    var offset = lunar.month - 11
    if offset < 0 { offset += 12 }
    if b11 - a11 > 365 {
      let leapOffset = leapMonthOffset(a11: a11)
      var leapMonth = leapOffset - 2
      if leapMonth < 0 { leapMonth += 12 }
      if lunar.isLeapMonth && lunar.month != leapMonth { return nil }
      if lunar.isLeapMonth || offset >= leapOffset { offset += 1 }
    } else if lunar.isLeapMonth {
      return nil
    }
    let monthStart = newMoonDay(k + offset)
    return LocalDate(dayNumber: monthStart + lunar.day - 1 - LocalDate.unixEpochJulianDay)
  }

  /// The lunar date of a solar date.
  public func lunarDate(of date: LocalDate) -> Date {
    let dayNumber = date.julianDay
    let k = Int(((Double(dayNumber) - 2_415_021.076998695) / 29.530588853).rounded(.down))
    // The estimate of k can be one lunation off near a new moon: take the last new moon on or
    // before the day among its neighbours.
    var monthStart = newMoonDay(k - 1)
    for candidate in k...(k + 2) {
      let start = newMoonDay(candidate)
      if start <= dayNumber { monthStart = start }
    }
    let year = date.year
    var a11 = lunarMonth11(year: year)
    var b11 = a11
    var lunarYear: Int
    if a11 >= monthStart {
      lunarYear = year
      a11 = lunarMonth11(year: year - 1)
    } else {
      lunarYear = year + 1
      b11 = lunarMonth11(year: year + 1)
    }
    let lunarDay = dayNumber - monthStart + 1
    let diff = (monthStart - a11) / 29
    var isLeap = false
    var lunarMonth = diff + 11
    if b11 - a11 > 365 {
      let leapDiff = leapMonthOffset(a11: a11)
      if diff >= leapDiff {
        lunarMonth = diff + 10
        if diff == leapDiff { isLeap = true }
      }
    }
    if lunarMonth > 12 { lunarMonth -= 12 }
    if lunarMonth >= 11 && diff < 4 { lunarYear -= 1 }
    return Date(year: lunarYear, month: lunarMonth, day: lunarDay, isLeapMonth: isLeap)
  }

  /// Mùng 1 Tết: the first day of lunar year `year`.
  public func newYear(_ year: Int) -> LocalDate {
    solarDate(of: Date(year: year, month: 1, day: 1))!
  }

  // MARK: - Astronomy

  /// Julian day (with fraction) of the k-th new moon after 1900-01-01 13:52 UT.
  private func newMoon(_ k: Int) -> Double {
    let k = Double(k)
    let t = k / 1236.85
    let t2 = t * t
    let t3 = t2 * t
    let dr = Double.pi / 180
    var jd1 = 2_415_020.75933 + 29.53058868 * k + 0.0001178 * t2 - 0.000000155 * t3
    jd1 += 0.00033 * sin((166.56 + 132.87 * t - 0.009173 * t2) * dr)
    let m = 359.2242 + 29.10535608 * k - 0.0000333 * t2 - 0.00000347 * t3
    let mpr = 306.0253 + 385.81691806 * k + 0.0107306 * t2 + 0.00001236 * t3
    let f = 21.2964 + 390.67050646 * k - 0.0016528 * t2 - 0.00000239 * t3
    // Each term added or subtracted on its own: Meeus's periodic terms for the true new moon.
    var c1 = (0.1734 - 0.000393 * t) * sin(m * dr) + 0.0021 * sin(2 * dr * m)
    c1 = c1 - 0.4068 * sin(mpr * dr) + 0.0161 * sin(dr * 2 * mpr)
    c1 = c1 - 0.0004 * sin(dr * 3 * mpr)
    c1 = c1 + 0.0104 * sin(dr * 2 * f) - 0.0051 * sin(dr * (m + mpr))
    c1 = c1 - 0.0074 * sin(dr * (m - mpr)) + 0.0004 * sin(dr * (2 * f + m))
    c1 = c1 - 0.0004 * sin(dr * (2 * f - m)) - 0.0006 * sin(dr * (2 * f + mpr))
    c1 = c1 + 0.0010 * sin(dr * (2 * f - mpr)) + 0.0005 * sin(dr * (2 * mpr + m))
    let deltaT: Double
    if t < -11 {
      deltaT = 0.001 + 0.000839 * t + 0.0002261 * t2 - 0.00000845 * t3 - 0.000000081 * t * t3
    } else {
      deltaT = -0.000278 + 0.000265 * t + 0.000262 * t2
    }
    return jd1 + c1 - deltaT
  }

  /// The local day (Julian day number) on which the k-th new moon falls.
  private func newMoonDay(_ k: Int) -> Int {
    Int((newMoon(k) + 0.5 + utcOffsetHours / 24).rounded(.down))
  }

  /// The sun's apparent longitude in radians, normalised to [0, 2π).
  private func sunLongitude(julianDay: Double) -> Double {
    let t = (julianDay - 2_451_545.0) / 36525
    let t2 = t * t
    let dr = Double.pi / 180
    let m = 357.52910 + 35999.05030 * t - 0.0001559 * t2 - 0.00000048 * t * t2
    let l0 = 280.46645 + 36000.76983 * t + 0.0003032 * t2
    var dl = (1.914600 - 0.004817 * t - 0.000014 * t2) * sin(dr * m)
    dl += (0.019993 - 0.000101 * t) * sin(dr * 2 * m) + 0.000290 * sin(dr * 3 * m)
    var l = (l0 + dl) * dr
    l -= Double.pi * 2 * (l / (Double.pi * 2)).rounded(.down)
    return l
  }

  /// Which of the twelve 30° sectors (major solar terms) the sun is in at the start of a local day.
  private func sunSector(day: Int) -> Int {
    Int((sunLongitude(julianDay: Double(day) - 0.5 - utcOffsetHours / 24) / Double.pi * 6).rounded(.down))
  }

  /// The day the 11th lunar month (the one containing the winter solstice) starts, for a solar year.
  private func lunarMonth11(year: Int) -> Int {
    let off = LocalDate.julianDay(year: year, month: 12, day: 31) - 2_415_021
    let k = Int((Double(off) / 29.530588853).rounded(.down))
    var nm = newMoonDay(k)
    if sunSector(day: nm) >= 9 { nm = newMoonDay(k - 1) }
    return nm
  }

  /// In a leap year, how many months after the 11th month the leap month comes: the first month
  /// with no major solar term.
  private func leapMonthOffset(a11: Int) -> Int {
    let k = Int(((Double(a11) - 2_415_021.076998695) / 29.530588853 + 0.5).rounded(.down))
    var last = 0
    var i = 1
    var arc = sunSector(day: newMoonDay(k + i))
    repeat {
      last = arc
      i += 1
      arc = sunSector(day: newMoonDay(k + i))
    } while arc != last && i < 14
    return i - 1
  }
}
