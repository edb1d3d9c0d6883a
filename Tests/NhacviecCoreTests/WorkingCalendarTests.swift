import Foundation
import NhacviecCore
import Testing

func day(_ iso: String) -> LocalDate { LocalDate(iso: iso)! }

/// The 2026 official schedule as the shipped override states it.
let override2026 = WorkingCalendar.YearOverride(
  year: 2026, reference: "test", replaces: ["new-year", "tet"],
  days: (day("2026-01-01").dayNumber...day("2026-01-04").dayNumber).map {
    WorkingCalendar.Day(
      date: LocalDate(dayNumber: $0), isWorking: false, name: "Tết Dương lịch", holiday: "new-year", source: .override)
  }
    + (day("2026-02-14").dayNumber...day("2026-02-22").dayNumber).map {
      WorkingCalendar.Day(
        date: LocalDate(dayNumber: $0), isWorking: false, name: "Tết Nguyên đán", holiday: "tet", source: .override)
    } + [
      WorkingCalendar.Day(
        date: day("2026-01-10"), isWorking: true, name: "Làm bù", holiday: nil, source: .override)
    ])

@Suite("The working calendar")
struct WorkingCalendarTests {
  let calendar = WorkingCalendar(overrides: [override2026], years: 2024...2031)

  @Test("the Labour Code's fixed holidays and lunar holidays are days off")
  func computedHolidays() {
    for iso in ["2027-01-01", "2027-04-30", "2027-05-03", "2027-09-02", "2027-04-16"] {
      #expect(!calendar.isWorkingDay(day(iso)), "\(iso)")
    }
    // Tết 2027 is 6/2 (Saturday): the last day of the old year and mùng 1–4 are off.
    #expect(calendar.specialDay(day("2027-02-05"))?.holiday == "tet")
    #expect(calendar.specialDay(day("2027-02-09"))?.holiday == "tet")
    #expect(calendar.specialDay(day("2027-02-05"))?.source == .computed)
  }

  @Test("a holiday on a weekly rest day gives the next working day off")
  func substitutes() {
    // Hùng Kings day 2026 is Sunday 26/4: Monday 27/4 is given back.
    #expect(calendar.specialDay(day("2026-04-26"))?.source == .computed)
    let substitute = calendar.specialDay(day("2026-04-27"))
    #expect(substitute?.source == .substitute)
    #expect(substitute?.holiday == "hung-kings")
    #expect(!calendar.isWorkingDay(day("2026-04-27")))
    // 1/5/2027 is a Saturday; 30/4 is Friday; the substitute is Monday 3/5.
    #expect(calendar.specialDay(day("2027-05-03"))?.source == .substitute)
    // Two days of Tết 2027 on one weekend (Saturday 6/2, Sunday 7/2) are given back after the
    // break, on Wednesday 10/2 and Thursday 11/2: the law says the next working day.
    #expect(calendar.specialDay(day("2027-02-09"))?.source == .computed)
    #expect(calendar.specialDay(day("2027-02-10"))?.source == .substitute)
    #expect(calendar.specialDay(day("2027-02-11"))?.source == .substitute)
    #expect(calendar.specialDay(day("2027-02-11"))?.reference == "Bộ luật Lao động 2019, Điều 111 khoản 3")
    #expect(calendar.isWorkingDay(day("2027-02-12")))
  }

  @Test("the day beside 2/9 joins it to the weekend, and is 1/9 on a tie")
  func nationalDay() {
    // 2/9 on Thursday 2021, Friday 2022, Saturday 2023, Monday 2024, Tuesday 2025, Wednesday 2026,
    // Sunday 2029: the days the yearly schedules chose for 2021–2026.
    let adjacent = [
      "2021-09-03", "2022-09-01", "2023-09-01", "2024-09-03", "2025-09-01", "2026-09-01", "2029-09-03",
    ]
    let all = WorkingCalendar(years: 2020...2031)
    for expected in adjacent.map(day) {
      let days = all.specialDays(in: expected.year).filter { $0.name == "Quốc khánh (ngày liền kề)" }
      #expect(days.map(\.date) == [expected], "\(expected.year)")
    }
    // 2/9/2029 is a Sunday: 3/9 is the day beside it, and 2/9 itself is given back on 4/9.
    #expect(all.specialDay(day("2029-09-04"))?.source == .substitute)
    #expect(all.isWorkingDay(day("2029-09-05")))
    // Before the 2019 code took effect, 2/9 was one day.
    #expect(all.specialDays(in: 2020).filter { $0.holiday == "national-day" }.map(\.date) == [day("2020-09-02")])
  }

  @Test("Ngày Văn hóa Việt Nam is a day off from 2026, given back when it falls on a weekend")
  func cultureDay() {
    let all = WorkingCalendar(years: 2025...2030)
    #expect(all.isWorkingDay(day("2025-11-24")))
    #expect(all.specialDay(day("2026-11-24"))?.holiday == "culture-day")
    #expect(all.specialDay(day("2026-11-24"))?.reference == "Nghị quyết 80-NQ/TW ngày 07/01/2026 của Bộ Chính trị")
    #expect(!all.isWorkingDay(day("2027-11-24")))
    // Saturday 24/11/2029 and Sunday 24/11/2030 give back the next Monday.
    #expect(all.specialDay(day("2029-11-26"))?.source == .substitute)
    #expect(all.specialDay(day("2030-11-25"))?.holiday == "culture-day")
  }

  @Test("a row of the table holds only while its law is in force")
  func validity() {
    // Tết 2013 (10/2) fell under the 1994 code (four days); Tết 2014 under the 2012 code (five).
    let old = WorkingCalendar(years: 2013...2014)
    #expect(old.specialDays(in: 2013).filter { $0.holiday == "tet" && $0.source == .computed }.count == 4)
    #expect(old.specialDays(in: 2014).filter { $0.holiday == "tet" && $0.source == .computed }.count == 5)
    // A law that ends is data: the same table with 24/11 ending in 2027 stops giving it.
    let rows = HolidayRules.vietnam.holidays.map { row in
      row.id != "culture-day"
        ? row
        : HolidayDefinition(
          id: row.id, name: row.name, rule: row.rule, source: row.source, validFrom: row.validFrom,
          validUntil: day("2027-12-31"))
    }
    let ended = WorkingCalendar(
      holidayRules: HolidayRules(name: "test", holidays: rows, substitutes: HolidayRules.vietnam.substitutes),
      years: 2027...2028)
    #expect(!ended.isWorkingDay(day("2027-11-24")))
    #expect(ended.isWorkingDay(day("2028-11-24")))
  }

  @Test("the operator hears of a year without an override: this year always, the next from 1 October")
  func overrideWarning() {
    let calendar = WorkingCalendar(overrides: [override2026], years: 2024...2031)
    #expect(calendar.overrideWarning(today: day("2026-09-30")) == nil)
    let october = calendar.overrideWarning(today: day("2026-10-01"))
    #expect(october?.hasPrefix("no calendar override for 2027:") == true)
    #expect(october?.contains("add 2027.yaml") == true)
    #expect(calendar.overrideWarning(today: day("2026-12-31"))?.contains("2027") == true)
    #expect(calendar.overrideWarning(today: day("2027-03-01"))?.hasPrefix("no calendar override for 2027:") == true)
    #expect(
      calendar.overrideWarning(today: day("2027-10-01"))?.hasPrefix("no calendar override for 2027 and 2028:")
        == true)
    let both = WorkingCalendar(
      overrides: [override2026, WorkingCalendar.YearOverride(year: 2027, reference: nil, replaces: [], days: [])],
      years: 2024...2031)
    #expect(both.overrideWarning(today: day("2026-11-15")) == nil)
    // Past the calendar's last year there is nothing to add.
    #expect(calendar.overrideWarning(today: day("2031-10-01"))?.contains("2032") == false)
    #expect(
      calendar.overrideWarning(today: day("2027-03-01"))?.contains("computed from the vietnam holiday rules alone")
        == true)
    // With `holidays: none` there are no rules to name: only the weekly days off are known.
    let none = WorkingCalendar(holidayRules: .none, overrides: [override2026], years: 2024...2031)
    let warning = none.overrideWarning(today: day("2027-03-01"))
    #expect(warning?.contains("none holiday rules") == false, "\(warning ?? "")")
    #expect(
      warning?.hasPrefix(
        "no calendar override for 2027: with no holiday rules (holidays: none), its only days off are the weekly ones")
        == true, "\(warning ?? "")")
    #expect(warning?.hasSuffix("add 2027.yaml to the calendar overrides folder once the schedule is published") == true)
  }

  @Test("a year's override replaces computed days and adds make-up working Saturdays")
  func overrides() {
    for n in day("2026-02-14").dayNumber...day("2026-02-22").dayNumber {
      let date = LocalDate(dayNumber: n)
      #expect(!calendar.isWorkingDay(date))
      #expect(calendar.specialDay(date)?.source == .override)
    }
    #expect(!calendar.isWorkingDay(day("2026-01-02")))
    #expect(calendar.isWorkingDay(day("2026-01-10")), "Saturday 10/1/2026 is worked")
    // Replaced computed days leave no trace: mùng 1 Tết 2026 is the override's, not computed.
    #expect(calendar.specialDays(in: 2026).filter { $0.holiday == "tet" }.allSatisfy { $0.source == .override })
    #expect(calendar.isWorkingDay(day("2026-02-23")))
  }

  @Test("working-day arithmetic skips weekends and holidays both ways")
  func arithmetic() {
    // Friday 13/11/2026 + 1 working day is Monday 16/11.
    #expect(calendar.workingDay(1, from: day("2026-11-13")) == day("2026-11-16"))
    #expect(calendar.workingDay(-1, from: day("2026-11-16")) == day("2026-11-13"))
    #expect(calendar.workingDay(3, from: day("2026-11-13")) == day("2026-11-18"))
    // Across Tết 2026: Friday 13/2 + 1 working day is Monday 23/2.
    #expect(calendar.workingDay(1, from: day("2026-02-13")) == day("2026-02-23"))
    #expect(calendar.workingDay(-1, from: day("2026-02-23")) == day("2026-02-13"))
    // Across the make-up Saturday 10/1/2026.
    #expect(calendar.workingDay(1, from: day("2026-01-09")) == day("2026-01-10"))
    // n == 0: the day itself when working, else the next working day.
    #expect(calendar.workingDay(0, from: day("2026-11-13")) == day("2026-11-13"))
    #expect(calendar.workingDay(0, from: day("2026-11-14")) == day("2026-11-16"))
    #expect(calendar.workingDays(from: day("2026-11-09"), to: day("2026-11-16")) == 5)
    #expect(calendar.workingDays(from: day("2026-02-09"), to: day("2026-02-28")) == 10)
  }

  @Test("a six-day working week counts Saturdays")
  func customWeek() {
    let six = WorkingCalendar(
      workingWeekdays: [.monday, .tuesday, .wednesday, .thursday, .friday, .saturday], holidayRules: .none,
      years: 2026...2026)
    #expect(six.workingDay(1, from: day("2026-11-13")) == day("2026-11-14"))
    #expect(six.isWorkingDay(day("2026-09-02")))
  }
}

@Suite("Dates and instants")
struct LocalDateTests {
  @Test("day numbers, weekdays and month arithmetic")
  func basics() {
    #expect(day("1970-01-01").dayNumber == 0)
    #expect(day("2026-11-15").weekday == .sunday)
    #expect(day("2024-02-29").adding(days: 1) == day("2024-03-01"))
    #expect(day("2026-01-31").adding(months: 1) == day("2026-02-28"))
    #expect(LocalDate(iso: "2026-02-30") == nil)
    #expect(day("2026-11-15").vietnamese == "15/11/2026")
  }

  @Test("instants resolve in the deployment's zone")
  func zone() {
    let zone = Zone.vietnam
    let deadline = zone.instant(day("2026-11-15"))
    #expect(zone.rfc3339(deadline) == "2026-11-15T00:00:00+07:00")
    #expect(deadline.timeIntervalSince1970 == 1_794_675_600)
    #expect(zone.parseInstant("2026-10-20T09:00:00+07:00") == zone.instant(day("2026-10-20"), TimeOfDay("09:00")!))
    #expect(zone.parseInstant("2026-10-20T02:00:00Z") == zone.instant(day("2026-10-20"), TimeOfDay("09:00")!))
    #expect(zone.parseInstant("2026-10-20T09:00") == zone.instant(day("2026-10-20"), TimeOfDay("09:00")!))
    #expect(zone.parseInstant("2026-13-20") == nil)
    #expect(zone.localDate(of: deadline.addingTimeInterval(-1)) == day("2026-11-14"))
  }

  @Test("periods")
  func periods() {
    #expect(Period("2026-Q3")?.firstDay == day("2026-07-01"))
    #expect(Period("2026-Q3")?.lastDay == day("2026-09-30"))
    #expect(Period("2026-02")?.lastDay == day("2026-02-28"))
    #expect(Period("2026-12")?.advanced(by: 1).description == "2027-01")
    #expect(Period("2026")?.vietnamese == "năm 2026")
    #expect(Period("2026-Q5") == nil)
    #expect(Money.vietnamese(1_500_000) == "1.500.000 đồng")
    #expect(Money.parse("5.000.000 đ") == 5_000_000)
  }
}
