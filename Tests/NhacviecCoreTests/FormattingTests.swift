import Foundation
import NhacviecCore
import NhacviecRender
import TestSupport
import Testing

@Suite("Dates and instants as text")
struct FormattingTests {
  @Test("dates, times of day, RFC 3339 and RFC 5322 instants read as String(format:) wrote them")
  func matchesFormat() {
    var generator = SplitMix(seed: 0x6461_7465)
    for _ in 0..<3000 {
      let date = LocalDate(dayNumber: Int(generator.next() % 800_000))
      let (y, m, d) = date.components
      #expect(date.description == String(format: "%04d-%02d-%02d", y, m, d))
      #expect(date.vietnamese == String(format: "%02d/%02d/%04d", d, m, y))
      let minutes = Int(generator.next() % 1440)
      #expect(TimeOfDay(minutes: minutes).description == String(format: "%02d:%02d", minutes / 60, minutes % 60))
    }
    // Offsets east and west of Greenwich, and one with minutes (India).
    for identifier in ["Asia/Ho_Chi_Minh", "America/St_Johns", "Asia/Kolkata", "UTC"] {
      let zone = Zone(TimeZone(identifier: identifier)!)
      for _ in 0..<500 {
        let instant = Date(timeIntervalSince1970: Double(generator.next() % 4_000_000_000) + 0.75)
        let offset = zone.timeZone.secondsFromGMT(for: instant)
        let local = Int(instant.timeIntervalSince1970.rounded(.down)) + offset
        let seconds = ((local % 86_400) + 86_400) % 86_400
        let expected = String(
          format: "%@T%02d:%02d:%02d%@%02d:%02d", zone.localDate(of: instant).description, seconds / 3600,
          (seconds / 60) % 60, seconds % 60, offset < 0 ? "-" : "+", abs(offset) / 3600, (abs(offset) / 60) % 60)
        #expect(zone.rfc3339(instant) == expected)
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        let day = zone.localDate(of: instant)
        let mail = String(
          format: "%@, %d %@ %04d %02d:%02d:%02d %@%02d%02d", days[day.weekday.rawValue], day.day,
          months[day.month - 1], day.year, seconds / 3600, (seconds / 60) % 60, seconds % 60,
          offset < 0 ? "-" : "+", abs(offset) / 3600, (abs(offset) / 60) % 60)
        #expect(zone.rfc5322(instant) == mail)
        #expect(zone.parseInstant(zone.rfc3339(instant)) == instant.addingTimeInterval(-0.75))
      }
    }
  }
}

@Suite("Text on one line")
struct OneLineTests {
  @Test("reads as splitting at every line break and joining with spaces, for text with and without breaks")
  func matchesSplit() {
    var generator = SplitMix(seed: 0x6f6e_656c)
    let pieces = [
      "Sở Tư pháp", "a", " ", "\n", "\r\n", "\r", "\u{0B}", "\u{0C}", "\u{85}", "\u{2028}", "\u{2029}", "e\u{301}",
      "🇻🇳", "\t", "/", "\\",
    ]
    for _ in 0..<5000 {
      let text = (0..<Int(generator.next() % 8)).map { _ in pieces[Int(generator.next() % UInt64(pieces.count))] }
        .joined()
      #expect(
        text.oneLine == text.split(whereSeparator: \.isNewline).joined(separator: " "), "\(Array(text.unicodeScalars))")
    }
  }
}

@Suite("The webhook body")
struct WebhookBodyTests {
  @Test("is what JSONEncoder with sorted keys and unescaped slashes writes, byte for byte")
  func matchesEncoder() throws {
    var generator = SplitMix(seed: 0x6a73_6f6e)
    let pieces = [
      "a", "Đ", "ạ", "\"", "\\", "/", "\n", "\r", "\t", "\u{08}", "\u{0C}", "\u{01}", "\u{1F}", "\u{7F}", "\u{2028}",
      "😀",
      " ", "<", "&",
    ]
    func text() -> String {
      (0..<Int(generator.next() % 12)).map { _ in pieces[Int(generator.next() % UInt64(pieces.count))] }.joined()
    }
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    for round in 0..<400 {
      var object: [String: Any] = [
        "version": 1, "key": text(), "reason": text(), "step": text(), "rule": text(), "period": text(),
        "subject": text(), "text": text(), "unit": text(),
        "recipients": (0..<Int(generator.next() % 3)).map { _ in text() },
        "items": (0..<Int(generator.next() % 3)).map { _ in
          [
            "key": text(), "rule": text(), "unit": text(), "unit_name": text(), "period": text(), "due": text(),
            "state": text(),
          ]
        },
      ]
      // Optional members present in some rounds, absent in others.
      if round % 2 == 0 { object["unit_name"] = text() }
      if round % 3 == 0 { object["due"] = text() }
      if round % 5 != 0 { object["state"] = text() }
      let payload = try JSONDecoder().decode(
        WebhookPayload.self, from: try JSONSerialization.data(withJSONObject: object))
      #expect(payload.json() == String(decoding: try encoder.encode(payload), as: UTF8.self))
    }
  }
}
