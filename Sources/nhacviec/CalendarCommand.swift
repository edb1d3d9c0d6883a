import ArgumentParser
import Foundation
import NhacviecConfig
import NhacviecCore

struct CalendarCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "calendar",
    abstract: "Show a year's days off and make-up working days, each with its source.",
    discussion: """
      Sources: computed (the holiday table: Labour Code 2019 art. 112(1) and the codes before
      it, Ngày Văn hóa Việt Nam from 2026, lunar dates at UTC+7), substitute (a holiday on a
      weekly rest day, given back on the next working day: Labour Code 2019 art. 111(3)) and
      override (the year's official schedule from the calendar overrides folder). Each day
      shows its reference: the legal text, or the override entry's document, else its file's.
      """)

  @OptionGroup var options: ConfigOptions

  @Option(help: "The year to show.")
  var year: Int

  @Flag(help: "Print JSON instead of text.")
  var json = false

  func validate() throws {
    guard (2000...2100).contains(year) else { throw ValidationError("--year must be between 2000 and 2100") }
  }

  struct Entry: Encodable {
    let from: String
    let to: String
    let working: Bool
    let name: String
    let holiday: String?
    let source: String
    let reference: String?
  }

  struct Output: Encodable {
    let year: Int
    let timezone: String
    let lunarNewYear: String
    let hungKingsDay: String
    let days: [Entry]

    enum CodingKeys: String, CodingKey {
      case year, timezone, days
      case lunarNewYear = "lunar_new_year"
      case hungKingsDay = "hung_kings_day"
    }
  }

  func run() throws {
    let deployment = try options.load()
    let calendar = deployment.calendar
    // Consecutive days with the same meaning read as one line: "14/02/2026–22/02/2026 Tết".
    var entries: [Entry] = []
    var last: WorkingCalendar.Day?
    for day in calendar.specialDays(in: year) {
      if let previous = last, let open = entries.last, previous.date.adding(days: 1) == day.date,
        previous.name == day.name, previous.source == day.source, previous.isWorking == day.isWorking,
        previous.reference == day.reference
      {
        entries[entries.count - 1] = Entry(
          from: open.from, to: day.date.description, working: open.working, name: open.name, holiday: open.holiday,
          source: open.source, reference: open.reference)
      } else {
        entries.append(
          Entry(
            from: day.date.description, to: day.date.description, working: day.isWorking, name: day.name,
            holiday: day.holiday, source: day.source.rawValue, reference: day.reference))
      }
      last = day
    }
    let lunar = LunarCalendar.vietnam
    let tet = lunar.newYear(year)
    let hung = lunar.solarDate(of: LunarCalendar.Date(year: year, month: 3, day: 10))!
    if json {
      let encoder = JSONEncoder()
      encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
      let output = Output(
        year: year, timezone: calendar.zone.identifier, lunarNewYear: tet.description,
        hungKingsDay: hung.description, days: entries)
      print(String(decoding: try encoder.encode(output), as: UTF8.self))
      return
    }
    print("\(year) (\(calendar.zone.identifier))")
    print("Tết Nguyên đán (mùng 1 tháng Giêng): \(tet.vietnamese), \(tet.weekday.vietnamese)")
    print("Giỗ Tổ Hùng Vương (10/3 âm lịch): \(hung.vietnamese), \(hung.weekday.vietnamese)")
    for working in [false, true] {
      let list = entries.filter { $0.working == working }
      print(working ? "\nMake-up working days:" : "\nDays off:")
      if list.isEmpty { print("  (none)") }
      for entry in list {
        let from = LocalDate(iso: entry.from)!
        let to = LocalDate(iso: entry.to)!
        let span =
          from == to
          ? "\(from.vietnamese) (\(from.weekday.vietnamese))".padding(toLength: 36, withPad: " ", startingAt: 0)
          : "\(from.vietnamese)–\(to.vietnamese)".padding(toLength: 36, withPad: " ", startingAt: 0)
        let source = entry.reference.map { "\(entry.source): \($0)" } ?? entry.source
        print("  \(span)\(entry.name) [\(source)]")
      }
    }
  }
}
