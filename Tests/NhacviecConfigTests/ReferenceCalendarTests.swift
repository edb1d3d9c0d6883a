import Foundation
import NhacviecConfig
import NhacviecCore
import TestSupport
import Testing

/// What two independent Python packages say of the Vietnamese calendar, as
/// Tests/Reference/run prints it (it installs their pinned versions into .build first).
struct ReferenceCalendars: Decodable, Sendable {
  struct MonthStart: Decodable, Sendable {
    let year: Int
    let month: Int
    let leap: Bool
    let date: String
  }

  struct LunarTable: Decodable, Sendable {
    let tet: [String: String]
    let hungKings: [String: String]

    enum CodingKeys: String, CodingKey {
      case tet
      case hungKings = "hung_kings"
    }
  }

  let versions: [String: String]
  /// lunar-vn: every lunar month start of lunar years 2000–2100.
  let lunarMonthStarts: [MonthStart]
  /// python-holidays' own Vietnamese lunar table, 2000–2100.
  let holidaysLunar: LunarTable
  /// python-holidays' Vietnam calendar, 2020–2030: date → name.
  let holidaysDaysOff: [String: String]

  enum CodingKeys: String, CodingKey {
    case versions
    case lunarMonthStarts = "lunar_month_starts"
    case holidaysLunar = "holidays_lunar"
    case holidaysDaysOff = "holidays_days_off"
  }

  struct Unavailable: Error, CustomStringConvertible {
    let description: String
  }

  /// Run once for every test that needs it. A failure to install or run fails those tests with
  /// the reason; it never lets them pass on nothing.
  static let loaded: Result<ReferenceCalendars, Unavailable> = {
    let script = repositoryRoot.appendingPathComponent("Tests/Reference/run").path
    let run: ProgramRun
    do {
      run = try ProgramRun("/bin/bash", [script])
    } catch {
      return .failure(Unavailable(description: "cannot run \(script): \(error)"))
    }
    guard run.status == 0 else {
      return .failure(Unavailable(description: "\(script) failed (exit \(run.status)):\n\(run.stderr)"))
    }
    do {
      return .success(try JSONDecoder().decode(ReferenceCalendars.self, from: Data(run.stdout.utf8)))
    } catch {
      return .failure(Unavailable(description: "\(script) printed what cannot be read: \(error)\n\(run.stderr)"))
    }
  }()
}

/// A day on which nhacviec and python-holidays disagree, and why.
struct KnownDifference: Hashable, Sendable {
  let date: String
  /// Whether nhacviec has the day off (python-holidays then has it as a working day).
  let offInNhacviec: Bool
  let reason: String
}

@Suite("The calendar against independent references (python-holidays, lunar-vn)")
struct ReferenceCalendarTests {
  static let lunar = LunarCalendar.vietnam

  @Test("every lunar month start of lunar years 2000–2100 agrees with lunar-vn, and so does every day")
  func lunarMonths() throws {
    let reference = try ReferenceCalendars.loaded.get()
    #expect(reference.versions["lunar-vn"] == "1.4.0")
    let starts = reference.lunarMonthStarts
    var disagreements: [String] = []
    for start in starts {
      let ours = Self.lunar.solarDate(
        of: LunarCalendar.Date(year: start.year, month: start.month, day: 1, isLeapMonth: start.leap))
      if ours?.description != start.date {
        disagreements.append(
          "\(start.month)\(start.leap ? "n" : "")/\(start.year): lunar-vn \(start.date), ours \(ours?.description ?? "none")"
        )
      }
    }
    // Each lunar year is whole: months 1–12 once, and at most one leap month.
    for year in 2000...2100 {
      let months = starts.filter { $0.year == year }
      #expect(months.filter { !$0.leap }.map(\.month) == Array(1...12), "\(year)")
      #expect(months.filter(\.leap).count <= 1, "\(year)")
    }
    // Between two month starts, every day's lunar date follows from the first.
    var days = 0
    for (start, next) in zip(starts, starts.dropFirst()) {
      let first = try #require(LocalDate(iso: start.date))
      let end = try #require(LocalDate(iso: next.date))
      for n in first.dayNumber..<end.dayNumber {
        let ours = Self.lunar.lunarDate(of: LocalDate(dayNumber: n))
        days += 1
        if ours.year != start.year || ours.month != start.month || ours.isLeapMonth != start.leap
          || ours.day != n - first.dayNumber + 1
        {
          disagreements.append("\(LocalDate(dayNumber: n)): ours \(ours)")
        }
      }
    }
    #expect(disagreements.isEmpty, "\(disagreements.count) disagreements: \(disagreements.prefix(10))")
    print(
      "lunar-vn \(reference.versions["lunar-vn"] ?? "?"): \(starts.count) month starts "
        + "(\(starts.filter(\.leap).count) leap) and \(days) days compared, \(disagreements.count) disagree")
  }

  @Test("Tết and Hùng Kings day 2000–2100 agree with python-holidays' Vietnamese lunar table")
  func lunarHolidays() throws {
    let reference = try ReferenceCalendars.loaded.get()
    var disagreements: [String] = []
    for year in 2000...2100 {
      let tet = Self.lunar.newYear(year).description
      if reference.holidaysLunar.tet["\(year)"] != tet {
        disagreements.append(
          "Tết \(year): python-holidays \(reference.holidaysLunar.tet["\(year)"] ?? "-"), ours \(tet)")
      }
      let hung = Self.lunar.solarDate(of: LunarCalendar.Date(year: year, month: 3, day: 10))?.description
      if reference.holidaysLunar.hungKings["\(year)"] != hung {
        disagreements.append(
          "Hùng Kings \(year): python-holidays \(reference.holidaysLunar.hungKings["\(year)"] ?? "-"), ours \(hung ?? "-")"
        )
      }
    }
    #expect(disagreements.isEmpty, "\(disagreements)")
    print(
      "python-holidays lunar table: 202 dates compared (Tết and Hùng Kings day, 2000–2100), \(disagreements.count) disagree"
    )
  }

  /// Days on which one calendar works and the other does not, in the given years.
  static func differences(
    _ calendar: WorkingCalendar, years: ClosedRange<Int>, reference: [String: String]
  ) -> [(date: LocalDate, offInNhacviec: Bool, theirs: String)] {
    var result: [(LocalDate, Bool, String)] = []
    for year in years {
      let first = LocalDate(year: year, month: 1, day: 1)!
      let last = LocalDate(year: year, month: 12, day: 31)!
      for n in first.dayNumber...last.dayNumber {
        let date = LocalDate(dayNumber: n)
        let weekend = date.weekday == .saturday || date.weekday == .sunday
        let theirs = reference[date.description]
        let offThere = weekend || theirs != nil
        let offHere = !calendar.isWorkingDay(date)
        if offHere != offThere {
          result.append((date, offHere, theirs ?? (weekend ? "weekend" : "working day")))
        }
      }
    }
    return result
  }

  static func check(
    _ calendar: WorkingCalendar, years: ClosedRange<Int>, known: [KnownDifference], reference: [String: String]
  ) {
    let found = differences(calendar, years: years, reference: reference)
    let knownKeys = Set(known.map { "\($0.date) \($0.offInNhacviec)" })
    let foundKeys = Set(found.map { "\($0.date.description) \($0.offInNhacviec)" })
    for difference in found where !knownKeys.contains("\(difference.date) \(difference.offInNhacviec)") {
      let ours = difference.offInNhacviec ? "off (\(calendar.specialDay(difference.date)?.name ?? "?"))" : "working"
      let theirs = difference.offInNhacviec ? "working" : "off (\(difference.theirs))"
      Issue.record(
        "unexplained difference on \(difference.date.vietnamese) (\(difference.date.weekday.vietnamese)): nhacviec \(ours), python-holidays \(theirs)"
      )
    }
    for stale in known where !foundKeys.contains("\(stale.date) \(stale.offInNhacviec)") {
      Issue.record("the known difference on \(stale.date) is gone: remove it here and in docs/calendar.md")
    }
  }

  @Test("2020–2030 computed without overrides: every day off that differs from python-holidays is known")
  func fallback() throws {
    let reference = try ReferenceCalendars.loaded.get()
    #expect(reference.versions["holidays"] == "0.109")
    let calendar = WorkingCalendar(overrides: [], years: 2019...2031)
    Self.check(calendar, years: 2020...2030, known: Self.fallbackDifferences, reference: reference.holidaysDaysOff)
  }

  @Test("2025–2026 with the shipped overrides: every day off that differs from python-holidays is known")
  func shippedOverrides() throws {
    let reference = try ReferenceCalendars.loaded.get()
    let folder = repositoryRoot.appendingPathComponent("Rules/calendar")
    let overrides = try ["2025.yaml", "2026.yaml"].map {
      try CalendarLoader.override(file: folder.appendingPathComponent($0).path, zone: .vietnam)
    }
    let calendar = WorkingCalendar(overrides: overrides, years: 2024...2027)
    Self.check(calendar, years: 2025...2026, known: Self.overrideDifferences, reference: reference.holidaysDaysOff)
  }

  @Test("docs/calendar.md lists every known difference")
  func documented() throws {
    let docs = try String(
      contentsOf: repositoryRoot.appendingPathComponent("docs/calendar.md"), encoding: .utf8)
    for difference in Self.fallbackDifferences + Self.overrideDifferences {
      let date = try #require(LocalDate(iso: difference.date))
      #expect(docs.contains(date.vietnamese), "docs/calendar.md does not mention \(date.vietnamese)")
    }
  }

  // The reasons, explained at length in docs/calendar.md.
  static let tetBefore =
    "a day of Tết on a Saturday: python-holidays gives it back on the working day before the break, as the "
    + "yearly schedules do; the fallback gives it back after, on the next working day (art. 111(3))"
  static let tetAfter =
    "a day of Tết on a weekend given back on the next working day after the break (art. 111(3)); python-holidays "
    + "gives it back before the break, so the day after is a working day there"
  static let swap =
    "a working day swapped with a Saturday by that year's decision, which python-holidays records; the computed "
    + "fallback cannot know a swap (the 2025 and 2026 overrides state theirs; 2024 has no override)"
  static let makeUp =
    "a make-up working Saturday of the override; python-holidays lists days off only, so it has every Saturday off"
  static let newYear2026 =
    "the 2026 New Year swap (Friday 2/1 off for Saturday 10/1) is in the override; python-holidays 0.109 lacks it"

  static let fallbackDifferences: [KnownDifference] = [
    .init(date: "2020-01-23", offInNhacviec: false, reason: tetBefore),
    .init(date: "2020-01-30", offInNhacviec: true, reason: tetAfter),
    .init(date: "2021-02-10", offInNhacviec: false, reason: tetBefore),
    .init(date: "2021-02-17", offInNhacviec: true, reason: tetAfter),
    .init(date: "2023-01-20", offInNhacviec: false, reason: tetBefore),
    .init(date: "2023-01-27", offInNhacviec: true, reason: tetAfter),
    .init(date: "2024-02-08", offInNhacviec: false, reason: tetBefore),
    .init(date: "2024-02-15", offInNhacviec: true, reason: tetAfter),
    .init(date: "2024-04-29", offInNhacviec: false, reason: swap),
    .init(date: "2025-01-27", offInNhacviec: false, reason: tetBefore),
    .init(date: "2025-02-03", offInNhacviec: true, reason: tetAfter),
    .init(date: "2025-05-02", offInNhacviec: false, reason: swap),
    .init(date: "2026-08-31", offInNhacviec: false, reason: swap),
    .init(date: "2027-02-04", offInNhacviec: false, reason: tetBefore),
    .init(date: "2027-02-11", offInNhacviec: true, reason: tetAfter),
    .init(date: "2028-01-24", offInNhacviec: false, reason: tetBefore),
    .init(date: "2028-01-31", offInNhacviec: true, reason: tetAfter),
    .init(date: "2030-01-31", offInNhacviec: false, reason: tetBefore),
    .init(date: "2030-02-07", offInNhacviec: true, reason: tetAfter),
  ]

  static let overrideDifferences: [KnownDifference] = [
    .init(date: "2025-04-26", offInNhacviec: false, reason: makeUp),
    .init(date: "2026-01-02", offInNhacviec: true, reason: newYear2026),
    .init(date: "2026-01-10", offInNhacviec: false, reason: makeUp),
    .init(date: "2026-08-22", offInNhacviec: false, reason: makeUp),
  ]
}
