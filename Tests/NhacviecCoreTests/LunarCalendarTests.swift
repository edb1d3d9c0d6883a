import Foundation
import NhacviecCore
import Testing

@Suite("The Vietnamese lunar calendar")
struct LunarCalendarTests {
  let vietnam = LunarCalendar.vietnam

  // Published Vietnamese calendars (lịch vạn niên), UTC+7.
  @Test(
    "Tết (mùng 1 tháng Giêng) matches the published dates",
    arguments: [
      (2020, "2020-01-25"), (2021, "2021-02-12"), (2022, "2022-02-01"), (2023, "2023-01-22"),
      (2024, "2024-02-10"), (2025, "2025-01-29"), (2026, "2026-02-17"), (2027, "2027-02-06"),
      (2028, "2028-01-26"), (2029, "2029-02-13"), (2030, "2030-02-02"),
    ])
  func tet(year: Int, expected: String) {
    #expect(vietnam.newYear(year) == LocalDate(iso: expected))
  }

  @Test(
    "Hùng Kings day (10/3 âm lịch) matches the published dates",
    arguments: [
      (2024, "2024-04-18"), (2025, "2025-04-07"), (2026, "2026-04-26"), (2027, "2027-04-16"), (2028, "2028-04-04"),
    ]
  )
  func hungKings(year: Int, expected: String) {
    #expect(vietnam.solarDate(of: .init(year: year, month: 3, day: 10)) == LocalDate(iso: expected))
  }

  @Test("UTC+7 and UTC+8 disagree where the new moon falls near midnight")
  func offsetsDiffer() {
    let china = LunarCalendar(utcOffsetHours: 8)
    #expect(vietnam.newYear(2030) == LocalDate(iso: "2030-02-02"))
    #expect(china.newYear(2030) == LocalDate(iso: "2030-02-03"))
    #expect(vietnam.newYear(2053) != china.newYear(2053))
    for year in [2037, 2038] {
      let hung = LunarCalendar.Date(year: year, month: 3, day: 10)
      #expect(vietnam.solarDate(of: hung) != china.solarDate(of: hung), "Hùng Kings day \(year)")
    }
  }

  @Test("at UTC+8 the algorithm agrees with Foundation's Chinese calendar on every day of 1990–2050")
  func agreesWithFoundationAtUTC8() throws {
    var chinese = Calendar(identifier: .chinese)
    chinese.timeZone = try #require(TimeZone(secondsFromGMT: 8 * 3600))
    let china = LunarCalendar(utcOffsetHours: 8)
    let start = LocalDate(iso: "1990-01-01")!
    let end = LocalDate(iso: "2050-12-31")!
    var disagreements: [String] = []
    for n in stride(from: start.dayNumber, through: end.dayNumber, by: 1) {
      let date = LocalDate(dayNumber: n)
      // Noon at UTC+8 of that civil day.
      let instant = Date(timeIntervalSince1970: Double(n * 86_400) + 4 * 3600)
      let parts = chinese.dateComponents([.month, .day, .isLeapMonth], from: instant)
      let ours = china.lunarDate(of: date)
      if ours.month != parts.month || ours.day != parts.day || ours.isLeapMonth != (parts.isLeapMonth ?? false) {
        disagreements.append("\(date): ours \(ours), Foundation \(parts.day!)/\(parts.month!)")
      }
    }
    #expect(disagreements.isEmpty, "\(disagreements.prefix(5))")
  }

  @Test("solar → lunar → solar round-trips for every day of 2000–2060")
  func roundTrip() {
    let start = LocalDate(iso: "2000-01-01")!.dayNumber
    let end = LocalDate(iso: "2060-12-31")!.dayNumber
    for n in start...end {
      let date = LocalDate(dayNumber: n)
      let lunar = vietnam.lunarDate(of: date)
      #expect(vietnam.solarDate(of: lunar) == date, "\(date) → \(lunar)")
      if vietnam.solarDate(of: lunar) != date { return }
    }
  }

  @Test("a leap month the year does not have is refused")
  func missingLeapMonth() {
    // 2025 (Ất Tỵ) has a leap 6th month; it has no leap 3rd month.
    #expect(
      vietnam.solarDate(of: .init(year: 2025, month: 6, day: 1, isLeapMonth: true)) == LocalDate(iso: "2025-07-25"))
    #expect(vietnam.solarDate(of: .init(year: 2025, month: 3, day: 1, isLeapMonth: true)) == nil)
  }
}
