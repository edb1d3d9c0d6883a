public import Foundation

/// A calendar date in the deployment's timezone, with no time of day.
///
/// Dates in rule files and in the working calendar are local dates; arithmetic on them is
/// integer arithmetic on a day number, so planning a season never touches Foundation's calendar.
public struct LocalDate: Hashable, Comparable, Sendable, CustomStringConvertible, Codable {
  /// Days since 1970-01-01 in the proleptic Gregorian calendar.
  public let dayNumber: Int

  public init(dayNumber: Int) { self.dayNumber = dayNumber }

  /// Returns nil for an impossible date such as 31 February.
  public init?(year: Int, month: Int, day: Int) {
    guard (1...12).contains(month), day >= 1, day <= LocalDate.daysIn(month: month, year: year) else {
      return nil
    }
    self.dayNumber = LocalDate.julianDay(year: year, month: month, day: day) - LocalDate.unixEpochJulianDay
  }

  /// Parses `YYYY-MM-DD`.
  public init?(iso: String) {
    let parts = iso.split(separator: "-", omittingEmptySubsequences: false)
    guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
      let y = Int(parts[0]), let m = Int(parts[1]), let d = Int(parts[2])
    else { return nil }
    self.init(year: y, month: m, day: d)
  }

  static let unixEpochJulianDay = 2_440_588

  /// Julian day number of a Gregorian date.
  static func julianDay(year: Int, month: Int, day: Int) -> Int {
    let a = (14 - month) / 12
    let y = year + 4800 - a
    let m = month + 12 * a - 3
    return day + (153 * m + 2) / 5 + 365 * y + y / 4 - y / 100 + y / 400 - 32045
  }

  static func fromJulianDay(_ jd: Int) -> (year: Int, month: Int, day: Int) {
    let a = jd + 32044
    let b = (4 * a + 3) / 146_097
    let c = a - (b * 146_097) / 4
    let d = (4 * c + 3) / 1461
    let e = c - (1461 * d) / 4
    let m = (5 * e + 2) / 153
    let day = e - (153 * m + 2) / 5 + 1
    let month = m + 3 - 12 * (m / 10)
    let year = b * 100 + d - 4800 + m / 10
    return (year, month, day)
  }

  public static func daysIn(month: Int, year: Int) -> Int {
    switch month {
    case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
    case 4, 6, 9, 11: return 30
    default: return 31
    }
  }

  public var julianDay: Int { dayNumber + LocalDate.unixEpochJulianDay }

  public var components: (year: Int, month: Int, day: Int) { LocalDate.fromJulianDay(julianDay) }
  public var year: Int { components.year }
  public var month: Int { components.month }
  public var day: Int { components.day }

  public var weekday: Weekday {
    // 1970-01-01 was a Thursday.
    let index = ((dayNumber % 7) + 7 + 4) % 7
    return Weekday(rawValue: index)!
  }

  public func adding(days: Int) -> LocalDate { LocalDate(dayNumber: dayNumber + days) }

  /// The same day of month `months` later, clamped to the month's last day.
  public func adding(months: Int) -> LocalDate {
    let (y, m, d) = components
    let total = y * 12 + (m - 1) + months
    let ny = total >= 0 ? total / 12 : (total - 11) / 12
    let nm = total - ny * 12 + 1
    return LocalDate(year: ny, month: nm, day: min(d, LocalDate.daysIn(month: nm, year: ny)))!
  }

  public static func < (lhs: LocalDate, rhs: LocalDate) -> Bool { lhs.dayNumber < rhs.dayNumber }

  /// `2026-11-15`. Written into a buffer, not formatted: every notice key holds one or two, and
  /// a pass builds one key per notice.
  public var description: String {
    let (y, m, d) = components
    guard (0...9999).contains(y) else { return String(format: "%04d-%02d-%02d", y, m, d) }
    return String(unsafeUninitializedCapacity: 10) { buffer in
      var writer = KeyWriter(buffer: buffer)
      writer.write(self)
      return writer.count
    }
  }

  /// The form officials read: `15/11/2026`.
  public var vietnamese: String {
    let (y, m, d) = components
    return Digits.text { $0.append(d, width: 2, "/", m, width: 2, "/", y, width: 4) }
  }

  public init(from decoder: any Decoder) throws {
    let text = try decoder.singleValueContainer().decode(String.self)
    guard let date = LocalDate(iso: text) else {
      throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not a date: \(text)"))
    }
    self = date
  }

  public func encode(to encoder: any Encoder) throws {
    var container = encoder.singleValueContainer()
    try container.encode(description)
  }
}

public enum Weekday: Int, Sendable, CaseIterable, Codable {
  case sunday = 0, monday, tuesday, wednesday, thursday, friday, saturday

  /// `mon` or `monday`, in any case.
  public init?(name: String) {
    let short = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
    let long = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"]
    let lowered = name.lowercased()
    guard let index = short.firstIndex(of: lowered) ?? long.firstIndex(of: lowered) else { return nil }
    self.init(rawValue: index)
  }

  public var vietnamese: String {
    ["Chủ nhật", "Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy"][rawValue]
  }
}

/// A time of day in minutes after midnight.
public struct TimeOfDay: Hashable, Comparable, Sendable, CustomStringConvertible {
  public let minutes: Int

  public init(minutes: Int) { self.minutes = minutes }

  /// Parses `HH:MM`.
  public init?(_ text: String) {
    let parts = text.split(separator: ":")
    guard parts.count == 2, parts[1].count == 2, let h = Int(parts[0]), let m = Int(parts[1]),
      (0...23).contains(h), (0...59).contains(m)
    else { return nil }
    minutes = h * 60 + m
  }

  public static let midnight = TimeOfDay(minutes: 0)
  public static func < (lhs: TimeOfDay, rhs: TimeOfDay) -> Bool { lhs.minutes < rhs.minutes }
  public var description: String {
    guard (0..<6000).contains(minutes) else { return String(format: "%02d:%02d", minutes / 60, minutes % 60) }
    return String(unsafeUninitializedCapacity: 5) { buffer in
      var writer = KeyWriter(buffer: buffer)
      writer.write(self)
      return writer.count
    }
  }
}

/// The deployment's timezone: converts between instants and local dates and times.
public struct Zone: Sendable {
  public let timeZone: TimeZone

  public init(_ timeZone: TimeZone) { self.timeZone = timeZone }

  public static let vietnam = Zone(TimeZone(identifier: "Asia/Ho_Chi_Minh")!)

  public var identifier: String { timeZone.identifier }

  public func instant(_ date: LocalDate, _ time: TimeOfDay = .midnight) -> Date {
    let naive = Double(date.dayNumber * 86_400 + time.minutes * 60)
    let guess = naive - Double(timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: naive)))
    let offset = timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: guess))
    return Date(timeIntervalSince1970: naive - Double(offset))
  }

  public func localDate(of instant: Date) -> LocalDate {
    let local = instant.timeIntervalSince1970 + Double(timeZone.secondsFromGMT(for: instant))
    return LocalDate(dayNumber: Int((local / 86_400).rounded(.down)))
  }

  /// The last local day that starts before `instant`: for a deadline, the last day allowed, whose
  /// directory is the one that owes it.
  public func lastDay(before instant: Date) -> LocalDate { localDate(of: instant.addingTimeInterval(-1)) }

  public func timeOfDay(of instant: Date) -> TimeOfDay {
    let local = Int(instant.timeIntervalSince1970.rounded(.down)) + timeZone.secondsFromGMT(for: instant)
    let secondsInDay = ((local % 86_400) + 86_400) % 86_400
    return TimeOfDay(minutes: secondsInDay / 60)
  }

  /// An instant's local day, its second of that day and the zone's offset then (seconds east).
  private func wallClock(_ instant: Date) -> (date: LocalDate, seconds: Int, offset: Int) {
    let offset = timeZone.secondsFromGMT(for: instant)
    let local = Int(instant.timeIntervalSince1970.rounded(.down)) + offset
    let date = LocalDate(dayNumber: Int((Double(local) / 86_400).rounded(.down)))
    return (date, ((local % 86_400) + 86_400) % 86_400, offset)
  }

  /// RFC 3339 with the local offset: `2026-11-09T08:00:00+07:00`.
  public func rfc3339(_ instant: Date) -> String {
    let (date, seconds, offset) = wallClock(instant)
    let (y, m, d) = date.components
    let absOffset = abs(offset)
    return Digits.text {
      $0.append(y, width: 4, "-", m, width: 2, "-", d, width: 2)
      $0.append("T", seconds / 3600, width: 2, ":", (seconds / 60) % 60, width: 2, ":", seconds % 60, width: 2)
      $0.append(offset < 0 ? "-" : "+", absOffset / 3600, width: 2, ":", (absOffset / 60) % 60, width: 2)
    }
  }

  /// RFC 5322's date with the local offset, for a mail's `Date:` header:
  /// `Mon, 16 Nov 2026 08:00:00 +0700`.
  public func rfc5322(_ instant: Date) -> String {
    let (date, seconds, offset) = wallClock(instant)
    let (y, m, d) = date.components
    let absOffset = abs(offset)
    return Digits.text {
      $0.append(Zone.dayNames[date.weekday.rawValue])
      $0.append(", ")
      $0.append(d, width: 1)
      $0.append(" ")
      $0.append(Zone.monthNames[m - 1])
      $0.append(" ", y, width: 4, " ", seconds / 3600, width: 2)
      $0.append(":", (seconds / 60) % 60, width: 2, ":", seconds % 60, width: 2)
      $0.append(offset < 0 ? " -" : " +")
      $0.append(absOffset / 3600, width: 2)
      $0.append((absOffset / 60) % 60, width: 2)
    }
  }

  static let dayNames: [StaticString] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
  static let monthNames: [StaticString] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
  ]

  /// `08:00 15/11/2026`: how an instant reads to an official.
  public func vietnamese(_ instant: Date) -> String {
    "\(timeOfDay(of: instant)) \(localDate(of: instant).vietnamese)"
  }

  /// Parses RFC 3339 (`2026-10-20T09:00:00+07:00`, `…Z`, with optional fractional seconds), a
  /// local `YYYY-MM-DDTHH:MM[:SS]` or a bare local date (its start). Every field has its fixed
  /// number of digits and its range; an offset is at most ±23:59. Anything else is nil.
  public func parseInstant(_ text: String) -> Date? {
    if let date = LocalDate(iso: text) { return instant(date) }
    let bytes = Array(text.utf8)
    guard bytes.count >= 16, let date = LocalDate(iso: String(decoding: bytes[0..<10], as: UTF8.self)) else {
      return nil
    }
    func number(_ range: Range<Int>) -> Int? {
      guard range.upperBound <= bytes.count else { return nil }
      var value = 0
      for byte in bytes[range] {
        guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
        value = value * 10 + Int(byte - UInt8(ascii: "0"))
      }
      return value
    }
    guard [UInt8(ascii: "T"), UInt8(ascii: "t"), UInt8(ascii: " ")].contains(bytes[10]),
      let hour = number(11..<13), bytes[13] == UInt8(ascii: ":"), let minute = number(14..<16),
      hour <= 23, minute <= 59
    else { return nil }
    var index = 16
    var seconds = 0.0
    if index < bytes.count, bytes[index] == UInt8(ascii: ":") {
      guard let whole = number(index + 1..<index + 3), whole <= 60 else { return nil }
      seconds = Double(whole)
      index += 3
      if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
        var end = index + 1
        while end < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[end]) { end += 1 }
        guard end > index + 1, end - index <= 10,
          let fraction = Double("0" + String(decoding: bytes[index..<end], as: UTF8.self))
        else { return nil }
        seconds += fraction
        index = end
      }
    }
    var offset: Int?
    if index < bytes.count {
      switch bytes[index] {
      case UInt8(ascii: "Z"), UInt8(ascii: "z"):
        guard index + 1 == bytes.count else { return nil }
        offset = 0
      case UInt8(ascii: "+"), UInt8(ascii: "-"):
        guard index + 6 == bytes.count, let h = number(index + 1..<index + 3), bytes[index + 3] == UInt8(ascii: ":"),
          let m = number(index + 4..<index + 6), h <= 23, m <= 59
        else { return nil }
        offset = (bytes[index] == UInt8(ascii: "-") ? -1 : 1) * (h * 3600 + m * 60)
      default:
        return nil
      }
    }
    let local = Double(date.dayNumber * 86_400 + hour * 3600 + minute * 60) + seconds
    if let offset { return Date(timeIntervalSince1970: local - Double(offset)) }
    return instant(date, TimeOfDay(minutes: hour * 60 + minute)).addingTimeInterval(seconds)
  }
}

/// Zero-padded numbers and separators written as bytes: dates and instants are formatted for
/// every message and every key, and `String(format:)` goes through Foundation's formatter.
struct Digits {
  private var bytes: [UInt8] = []

  static func text(_ write: (inout Digits) -> Void) -> String {
    var digits = Digits()
    digits.bytes.reserveCapacity(32)
    write(&digits)
    return String(decoding: digits.bytes, as: UTF8.self)
  }

  /// `value` in decimal, at least `width` digits (`%0*d`).
  mutating func append(_ value: Int, width: Int) { Digits.append(value, width: width, to: &bytes) }

  /// `value` in decimal, at least `width` digits (`%0*d`), at the end of `bytes`.
  static func append(_ value: Int, width: Int, to bytes: inout [UInt8]) {
    if value < 0 {
      bytes.append(UInt8(ascii: "-"))
      // Int.min has no positive counterpart: its digits are its magnitude's.
      appendMagnitude(value.magnitude, width: width - 1, to: &bytes)
    } else {
      appendMagnitude(value.magnitude, width: width, to: &bytes)
    }
  }

  private static func appendMagnitude(_ value: UInt, width: Int, to bytes: inout [UInt8]) {
    let start = bytes.count
    var rest = value
    repeat {
      bytes.append(UInt8(ascii: "0") + UInt8(rest % 10))
      rest /= 10
    } while rest > 0
    while bytes.count - start < width { bytes.append(UInt8(ascii: "0")) }
    bytes[start...].reverse()
  }

  mutating func append(_ separator: StaticString) {
    separator.withUTF8Buffer { bytes.append(contentsOf: $0) }
  }

  mutating func append(_ a: Int, width wa: Int, _ s1: StaticString, _ b: Int, width wb: Int) {
    append(a, width: wa)
    append(s1)
    append(b, width: wb)
  }

  mutating func append(
    _ a: Int, width wa: Int, _ s1: StaticString, _ b: Int, width wb: Int, _ s2: StaticString, _ c: Int, width wc: Int
  ) {
    append(a, width: wa, s1, b, width: wb)
    append(s2)
    append(c, width: wc)
  }

  mutating func append(
    _ s0: StaticString, _ a: Int, width wa: Int, _ s1: StaticString, _ b: Int, width wb: Int, _ s2: StaticString,
    _ c: Int, width wc: Int
  ) {
    append(s0)
    append(a, width: wa, s1, b, width: wb, s2, c, width: wc)
  }

  mutating func append(_ s0: StaticString, _ a: Int, width wa: Int, _ s1: StaticString, _ b: Int, width wb: Int) {
    append(s0)
    append(a, width: wa, s1, b, width: wb)
  }
}
