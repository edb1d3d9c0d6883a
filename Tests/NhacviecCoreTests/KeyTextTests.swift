import Foundation
import NhacviecCore
import Testing

/// Key texts, dates and times are written byte by byte for speed: they must read exactly as the
/// formatted text they replaced, which the journal and every sent message already hold.
@Suite("Key text")
struct KeyTextTests {
  @Test("dates, times and keys read as formatted text does, over years, periods and times of day")
  func sameAsFormatted() throws {
    for dayNumber in stride(from: -800_000, through: 3_000_000, by: 997) {
      let date = LocalDate(dayNumber: dayNumber)
      let (y, m, d) = date.components
      #expect(date.description == String(format: "%04d-%02d-%02d", y, m, d))
    }
    for minutes in [0, 1, 59, 60, 479, 600, 1439, 1440, 5999, 6000, 7000] {
      let time = TimeOfDay(minutes: minutes)
      #expect(time.description == String(format: "%02d:%02d", minutes / 60, minutes % 60))
    }
    let periods = [
      Period(kind: .yearly, year: 2026), Period(kind: .yearly, year: 999), Period(kind: .yearly, year: 12026),
      Period(kind: .quarterly, year: 2026, index: 3), Period(kind: .quarterly, year: 2026, index: 12),
      Period(kind: .monthly, year: 2026, index: 9), Period(kind: .monthly, year: 2026, index: 11),
      Period(kind: .monthly, year: 2026, index: 13), Period(kind: .monthly, year: 5, index: 1),
    ]
    let units = [UnitRef(id: "51-STP", validFrom: nil), UnitRef(id: "21025", validFrom: LocalDate(iso: "2025-07-01"))]
    for period in periods {
      for unit in units {
        for time in [nil, TimeOfDay("17:00"), TimeOfDay(minutes: 0)] {
          let key = NoticeKey(
            rule: "iso-annual-report", unit: unit, period: period, step: .escalate(Offset(7, .workingDays), repeat: 2),
            deadline: LocalDate(iso: "2026-11-15")!, time: time)
          let formatted =
            "\(key.rule)/\(key.unit)/\(period)/\(key.step)@\(key.deadline)" + (time.map { "T\($0)" } ?? "")
          #expect(key.description == formatted)
        }
      }
    }
  }
}
