public import Foundation

/// Why a notice exists: said in `status` and available to its template.
public enum NoticeReason: String, Sendable, Codable, CaseIterable {
  case firstReminder = "first-reminder"
  case nextReminder = "next-reminder"
  case escalation
  case `repeat`
  /// Steps missed while the daemon was down, collapsed to the newest one for its audience.
  case catchUp = "catch-up"
  /// Many notices to one recipient in one window, merged.
  case digest
  /// A `summary` rule's scheduled report.
  case summary
  /// The Department returned the unit's claim or request: the unit is told why.
  case returned
}

/// Where a journaled notice stands.
public enum NoticeState: String, Sendable, CaseIterable, Codable {
  /// Decided, waiting for its instant (or for the send window).
  case planned
  /// Claimed by the delivery stage: being checked, rendered or transmitted.
  case sending
  /// Reached every addressee it could; permanent refusals, if any, are in its last error.
  case sent
  /// An attempt failed and another is scheduled.
  case failed
  /// No attempt will be made again: a permanent failure, or the retry policy gave up.
  case dead
  /// No longer owed when its time came (the report arrived, an exemption, a moved deadline).
  case suppressed
  /// Fell due while nobody planned, and a newer step for the same audience went instead.
  case superseded
  /// Held by an operator's silence: judged again, and sent if still owed, when the silence ends.
  case silenced

  /// Whether nothing more will happen to it.
  public var isFinal: Bool { [.sent, .dead, .suppressed, .superseded].contains(self) }
}

/// A unit record: its id and the first day of its validity. An id alone is not an identity:
/// statistics-office codes were reused in 2025 (21025 was one ward until 30/06/2025 and is
/// another from 01/07/2025), so everything that names a unit for later names its record.
public struct UnitRef: Hashable, Sendable, Comparable, CustomStringConvertible, Codable {
  public let id: String
  /// Nil for a record valid from the beginning.
  public let validFrom: LocalDate?

  public init(id: String, validFrom: LocalDate?) {
    self.id = id
    self.validFrom = validFrom
  }

  public init(_ unit: OrgUnit) { self.init(id: unit.id, validFrom: unit.validFrom) }

  /// `21025`, or `21025@2025-07-01` for a record that starts on a date.
  public var description: String { validFrom.map { id + "@" + $0.description } ?? id }

  public init?(_ text: String) {
    guard let at = text.lastIndex(of: "@") else {
      guard !text.isEmpty else { return nil }
      self.init(id: text, validFrom: nil)
      return
    }
    guard let date = LocalDate(iso: String(text[text.index(after: at)...])), at != text.startIndex else { return nil }
    self.init(id: String(text[..<at]), validFrom: date)
  }

  public static func < (lhs: UnitRef, rhs: UnitRef) -> Bool {
    (lhs.id, lhs.validFrom?.dayNumber ?? Int.min) < (rhs.id, rhs.validFrom?.dayNumber ?? Int.min)
  }

  public init(from decoder: any Decoder) throws {
    let text = try decoder.singleValueContainer().decode(String.self)
    guard let parsed = UnitRef(text) else {
      throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not a unit: \(text)"))
    }
    self = parsed
  }

  public func encode(to encoder: any Encoder) throws {
    var container = encoder.singleValueContainer()
    try container.encode(description)
  }
}

/// Which rung of a ladder a step is: a reminder so long before the deadline, an escalation so
/// long after it (or one of its repeats), or a summary rule's report of one day. A typed value:
/// whether a step is a reminder is asked of its kind, never of its text.
public enum StepID: Hashable, Sendable, CustomStringConvertible {
  case remind(Offset)
  /// `repeat` 0 is the rung itself; its repeats count from 1.
  case escalate(Offset, repeat: Int)
  case summary(LocalDate)
  /// The Department's verdict returning a unit's claim or request, by its instant in whole
  /// seconds since 1970: one notice per verdict.
  case returned(at: Int64)

  public var isReminder: Bool {
    if case .remind = self { return true }
    return false
  }

  /// `remind-7d`, `escalate-3wd`, `escalate-7wd-r2`, `summary-2026-11-09`: what keys, messages
  /// and the journal's `step` column carry.
  public var description: String {
    switch self {
    case .remind(let offset): return "remind-\(offset)"
    case .escalate(let offset, let count): return "escalate-\(offset)" + (count == 0 ? "" : "-r\(count)")
    case .summary(let date): return "summary-\(date)"
    case .returned(let at): return "returned-\(at)"
    }
  }

  public init?(_ text: String) {
    if text.hasPrefix("remind-"), let offset = Offset(String(text.dropFirst(7))) {
      self = .remind(offset)
    } else if text.hasPrefix("summary-"), let date = LocalDate(iso: String(text.dropFirst(8))) {
      self = .summary(date)
    } else if text.hasPrefix("returned-"), let seconds = Int64(text.dropFirst(9)), seconds >= 0 {
      self = .returned(at: seconds)
    } else if text.hasPrefix("escalate-") {
      let parts = text.dropFirst(9).split(separator: "-", omittingEmptySubsequences: false)
      guard let offset = Offset(String(parts[0])), parts.count <= 2 else { return nil }
      var count = 0
      if parts.count == 2 {
        guard parts[1].hasPrefix("r"), let n = Int(parts[1].dropFirst()), n > 0, String(n) == parts[1].dropFirst()
        else { return nil }
        count = n
      }
      self = .escalate(offset, repeat: count)
    } else {
      return nil
    }
    // Only the one spelling of each: `remind-07d` is not `remind-7d`.
    guard description == text else { return nil }
  }
}

/// One rung of one obligation's ladder: the identity of a notice to the unit or its superiors.
///
/// The named day of the ladder's deadline is part of it, so that a ladder moved by an extension
/// or by an edited rule is a new ladder whose steps are planned and sent, not mistaken for the
/// old one's.
public struct NoticeKey: Hashable, Sendable, Comparable, CustomStringConvertible, Codable {
  public let rule: String
  public let unit: UnitRef
  public let period: Period
  /// The rung: `remind-7d`, `escalate-3wd`, `escalate-7wd-r2`, `summary-2026-11-09`.
  public let step: StepID
  /// The named day of the deadline this ladder hangs on (`D` of "trước ngày D").
  public let deadline: LocalDate
  /// The deadline's time of day, for a rule due at a stated time: moved within its day, the
  /// ladder is a new one too.
  public let time: TimeOfDay?

  public init(
    rule: String, unit: UnitRef, period: Period, step: StepID, deadline: LocalDate, time: TimeOfDay? = nil
  ) {
    self.rule = rule
    self.unit = unit
    self.period = period
    self.step = step
    self.deadline = deadline
    self.time = time
  }

  /// `iso-annual-report/51-STP@2025-07-01/2026/remind-7d@2026-11-15`: what the journal, the
  /// message's footer and Message-ID, and a webhook's Idempotency-Key carry.
  public var description: String {
    // A period of a four-digit year is written in place; any other as its description.
    let writesPeriod: Bool
    switch period.kind {
    case .yearly: writesPeriod = (1000...9999).contains(period.year)
    case .quarterly: writesPeriod = (1000...9999).contains(period.year) && (1...9).contains(period.index)
    case .monthly: writesPeriod = (1000...9999).contains(period.year) && (1...12).contains(period.index)
    }
    let periodText = writesPeriod ? "" : period.description
    let time = self.time?.description
    let deadline = self.deadline.description
    let step = self.step.description
    var capacity =
      rule.utf8.count + unit.id.utf8.count + (writesPeriod ? 7 : periodText.utf8.count) + step.utf8.count + 4
      + deadline.utf8.count
    if let from = unit.validFrom { capacity += 1 + from.description.utf8.count }
    if let time { capacity += 1 + time.utf8.count }
    // Written byte by byte into one buffer: a pass builds one key per notice, and string
    // interpolation of its parts cost more than the rest of planning a notice.
    return String(unsafeUninitializedCapacity: capacity) { buffer in
      var writer = KeyWriter(buffer: buffer)
      writer.write(rule)
      writer.write(UInt8(ascii: "/"))
      writer.write(unit.id)
      if let from = unit.validFrom {
        writer.write(UInt8(ascii: "@"))
        writer.write(from.description)
      }
      writer.write(UInt8(ascii: "/"))
      if writesPeriod { writer.write(period) } else { writer.write(periodText) }
      writer.write(UInt8(ascii: "/"))
      writer.write(step)
      writer.write(UInt8(ascii: "@"))
      writer.write(deadline)
      if let time {
        writer.write(UInt8(ascii: "T"))
        writer.write(time)
      }
      return writer.count
    }
  }

  public init?(_ text: String) {
    let parts = text.split(separator: "/", omittingEmptySubsequences: false)
    guard parts.count == 4, !parts[0].isEmpty, let unit = UnitRef(String(parts[1])),
      let period = Period(String(parts[2])), let at = parts[3].lastIndex(of: "@"), at != parts[3].startIndex
    else { return nil }
    let stamp = parts[3][parts[3].index(after: at)...].split(separator: "T", omittingEmptySubsequences: false)
    guard stamp.count <= 2, let deadline = LocalDate(iso: String(stamp[0])), let step = StepID(String(parts[3][..<at]))
    else { return nil }
    var time: TimeOfDay?
    if stamp.count == 2 {
      guard let parsed = TimeOfDay(String(stamp[1])) else { return nil }
      time = parsed
    }
    self.init(rule: String(parts[0]), unit: unit, period: period, step: step, deadline: deadline, time: time)
  }

  public static func < (lhs: NoticeKey, rhs: NoticeKey) -> Bool { lhs.description < rhs.description }

  public init(from decoder: any Decoder) throws {
    let text = try decoder.singleValueContainer().decode(String.self)
    guard let parsed = NoticeKey(text) else {
      throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not a key: \(text)"))
    }
    self = parsed
  }

  public func encode(to encoder: any Encoder) throws {
    var container = encoder.singleValueContainer()
    try container.encode(description)
  }
}

/// Writes a key's text into a buffer sized for it.
struct KeyWriter {
  let buffer: UnsafeMutableBufferPointer<UInt8>
  var count = 0

  mutating func write(_ byte: UInt8) {
    buffer[count] = byte
    count += 1
  }

  mutating func write(_ text: String) {
    var text = text
    text.withUTF8 { bytes in
      _ = UnsafeMutableBufferPointer(rebasing: buffer[count..<count + bytes.count]).initialize(fromContentsOf: bytes)
      count += bytes.count
    }
  }

  /// `2026-11-15`, for a year in 0…9999.
  mutating func write(_ date: LocalDate) {
    let (y, m, d) = date.components
    digits(y, 4)
    write(UInt8(ascii: "-"))
    digits(m, 2)
    write(UInt8(ascii: "-"))
    digits(d, 2)
  }

  /// `2026`, `2026-Q3` or `2026-09`, as `Period.description` writes them, for a four-digit year.
  mutating func write(_ period: Period) {
    digits(period.year, 4)
    switch period.kind {
    case .yearly: break
    case .quarterly:
      write(UInt8(ascii: "-"))
      write(UInt8(ascii: "Q"))
      digits(period.index, 1)
    case .monthly:
      write(UInt8(ascii: "-"))
      digits(period.index, 2)
    }
  }

  /// `08:30`, for a time of day within one day.
  mutating func write(_ time: TimeOfDay) {
    digits(time.minutes / 60, 2)
    write(UInt8(ascii: ":"))
    digits(time.minutes % 60, 2)
  }

  private mutating func digits(_ value: Int, _ width: Int) {
    var rest = value
    for place in stride(from: width - 1, through: 0, by: -1) {
      buffer[count + place] = UInt8(ascii: "0") + UInt8(rest % 10)
      rest /= 10
    }
    count += width
  }
}

/// Who a rung of a ladder speaks to. Catch-up keeps the newest step due for each audience, so
/// that after downtime the unit hears of its own lateness and each tier of superiors hears once.
public enum Audience: Hashable, Sendable, Codable, CustomStringConvertible {
  /// The unit itself: its reminders and the escalations addressed only to its own people.
  case unit
  /// Superiors: one escalation rung (named by its `after` offset) and its repeats.
  case superiors(after: Offset)

  public var description: String {
    switch self {
    case .unit: return "unit"
    case .superiors(let after): return "superiors-after-\(after)"
    }
  }

  // The journal's shape, as Swift's synthesized `Codable` wrote it when the rung was its text:
  // `{"unit": {}}` or `{"superiors": {"rung": "3wd"}}`.
  enum CodingKeys: String, CodingKey { case unit, superiors }
  enum RungKeys: String, CodingKey { case rung }

  public init(from decoder: any Decoder) throws {
    let container = try decoder.container(keyedBy: CodingKeys.self)
    if container.contains(.unit) {
      self = .unit
      return
    }
    let rung = try container.nestedContainer(keyedBy: RungKeys.self, forKey: .superiors)
    let text = try rung.decode(String.self, forKey: .rung)
    guard let offset = Offset(text) else {
      throw DecodingError.dataCorruptedError(forKey: .rung, in: rung, debugDescription: "not an offset: \(text)")
    }
    self = .superiors(after: offset)
  }

  public func encode(to encoder: any Encoder) throws {
    var container = encoder.container(keyedBy: CodingKeys.self)
    switch self {
    case .unit: _ = container.nestedContainer(keyedBy: RungKeys.self, forKey: .unit)
    case .superiors(let after):
      var rung = container.nestedContainer(keyedBy: RungKeys.self, forKey: .superiors)
      try rung.encode(after.description, forKey: .rung)
    }
  }
}

/// Someone a notice reaches, resolved once, when it is planned: the unit record whose person it
/// is, and the address the channel uses. Never matched back from an address.
public struct Addressee: Hashable, Sendable, Codable {
  public let unit: UnitRef
  public let unitName: String
  public let role: String
  public let name: String?
  public let address: String

  public init(unit: UnitRef, unitName: String, role: String, name: String?, address: String) {
    self.unit = unit
    self.unitName = unitName
    self.role = role
    self.name = name
    self.address = address
  }

  enum CodingKeys: String, CodingKey {
    case unit, role, name, address
    case unitName = "unit_name"
  }
}

/// What kind of address a channel sends to.
public enum AddressKind: String, Sendable, Codable {
  case email
  case webhook
}

/// A channel as the planner sees it: a name and how it addresses people.
public struct ChannelSpec: Sendable, Hashable {
  public let name: String
  public let type: String
  public let addressKind: AddressKind
  /// A webhook channel's own URL, used for recipients without a webhook of their own.
  public let url: String?

  public init(name: String, type: String, addressKind: AddressKind, url: String? = nil) {
    self.name = name
    self.type = type
    self.addressKind = addressKind
    self.url = url
  }
}

/// A rung of one obligation's ladder as one notice: the rung's key and how many times it has
/// been sent again after a correction (0 the first time). A correction that finds a rung owed
/// whose earlier notice was suppressed, superseded or dead sends it as a new revision: the old
/// row keeps what became of it, and the new one its own Message-ID and Idempotency-Key.
public struct RungID: Hashable, Sendable, Comparable, CustomStringConvertible {
  public let key: NoticeKey
  public let revision: Int

  public init(_ key: NoticeKey, revision: Int = 0) {
    self.key = key
    self.revision = revision
  }

  /// The key's text, and `#N` for a revision after the first: what the journal, the message's
  /// footer and Message-ID, and a webhook's Idempotency-Key carry.
  public var description: String { revision == 0 ? key.description : key.description + "#" + String(revision) }

  /// A key's text, with `#N` for a later revision.
  public init?(_ text: String) {
    guard let hash = text.lastIndex(of: "#") else {
      guard let key = NoticeKey(text) else { return nil }
      self.init(key)
      return
    }
    let number = text[text.index(after: hash)...]
    guard let key = NoticeKey(String(text[..<hash])), let revision = Int(number), revision > 0,
      String(revision) == number
    else { return nil }
    self.init(key, revision: revision)
  }

  public static func < (lhs: RungID, rhs: RungID) -> Bool {
    lhs.key == rhs.key ? lhs.revision < rhs.revision : lhs.key < rhs.key
  }
}

/// What a notice is about: one obligation's rung, a digest of many, or a summary rule's report.
public enum NoticeContent: Hashable, Sendable, Codable {
  /// A rung of the key's ladder, rendered with `template` (`reminder`, `overdue`, `escalation`).
  case obligation(key: NoticeKey, template: String, audience: Audience)
  /// A summary rule's step: the report it names, as of the send time.
  case summary(key: NoticeKey)
  /// Several rungs to one address through one channel, merged.
  case digest(items: [DigestItem])

  public struct DigestItem: Hashable, Sendable, Codable {
    public let key: NoticeKey
    /// The revision of the rung it carries (see `RungID`).
    public let revision: Int
    public let template: String
    public let reason: NoticeReason
    /// Other rungs of the same obligation to the same reader that this line stands for: the
    /// Department, late on its own report and told of everyone's, reads its unit once, on the
    /// higher rung's line, and has heard both.
    public let also: [RungID]

    public init(key: NoticeKey, revision: Int = 0, template: String, reason: NoticeReason, also: [RungID] = []) {
      self.key = key
      self.revision = revision
      self.template = template
      self.reason = reason
      self.also = also
    }

    public var rung: RungID { RungID(key, revision: revision) }

    /// Every rung the line tells its reader of.
    public var rungs: [RungID] { [rung] + also }

    enum CodingKeys: String, CodingKey {
      case key, revision, template, reason, also
    }

    public init(from decoder: any Decoder) throws {
      let container = try decoder.container(keyedBy: CodingKeys.self)
      key = try container.decode(NoticeKey.self, forKey: .key)
      revision = try container.decodeIfPresent(Int.self, forKey: .revision) ?? 0
      template = try container.decode(String.self, forKey: .template)
      reason = try container.decode(NoticeReason.self, forKey: .reason)
      also =
        try container.decodeIfPresent([String].self, forKey: .also)?.map { text in
          guard let rung = RungID(text) else {
            throw DecodingError.dataCorruptedError(
              forKey: .also, in: container, debugDescription: "not a rung: \(text)")
          }
          return rung
        } ?? []
    }

    /// The revision and the other rungs only when there are: rows journaled before them read the
    /// same.
    public func encode(to encoder: any Encoder) throws {
      var container = encoder.container(keyedBy: CodingKeys.self)
      if !also.isEmpty { try container.encode(also.map(\.description), forKey: .also) }
      try container.encode(key, forKey: .key)
      if revision != 0 { try container.encode(revision, forKey: .revision) }
      try container.encode(template, forKey: .template)
      try container.encode(reason, forKey: .reason)
    }
  }

  /// The obligations the content speaks of.
  public var keys: [NoticeKey] {
    switch self {
    case .obligation(let key, _, _), .summary(let key): return [key]
    case .digest(let items): return items.map(\.key)
    }
  }
}

/// A notice as decided when it was planned: what the journal holds, typed and versioned. Nothing
/// in it is rendered: the text, its dates and its counts are made when it is sent.
public struct NoticeDecision: Hashable, Sendable, Codable {
  /// The version of this shape in the journal; a reader refuses others.
  public static let schema = 2

  /// The journal's key: a rung's text (`RungID`), or a digest's (`digestKey`). Written once, when
  /// the notice is decided, and never read back into parts: the content says what it is about.
  public let key: String
  public let channel: String
  public let reason: NoticeReason
  /// When the plan said it falls due (inside the send window).
  public let scheduledAt: Date
  public let addressees: [Addressee]
  public let content: NoticeContent
  /// For a rung or a summary: which time it is decided (see `RungID`); 0 for a digest.
  public let revision: Int

  /// A decision about one rung (or a summary's step): its key is the rung's.
  public init(
    channel: String, reason: NoticeReason, scheduledAt: Date, addressees: [Addressee], content: NoticeContent,
    revision: Int = 0
  ) {
    let key: String
    switch content {
    case .obligation(let rung, _, _), .summary(let rung): key = RungID(rung, revision: revision).description
    case .digest(let items):
      key = NoticeDecision.digestKey(
        address: addressees.first?.address ?? "", rule: items.first?.key.rule ?? "", items: items.flatMap(\.rungs))
    }
    self.init(
      key: key, channel: channel, reason: reason, scheduledAt: scheduledAt, addressees: addressees, content: content,
      revision: revision)
  }

  /// A decision as the journal wrote it, key and all.
  public init(
    key: String, channel: String, reason: NoticeReason, scheduledAt: Date, addressees: [Addressee],
    content: NoticeContent, revision: Int = 0
  ) {
    self.key = key
    self.channel = channel
    self.reason = reason
    self.scheduledAt = scheduledAt
    self.addressees = addressees
    self.content = content
    self.revision = revision
  }

  /// A digest's key, from what it holds: `digest/ADDRESS/RULE/` and a hash of its rungs, so that
  /// two digests to one address are one notice only when they carry the very same rungs. Two
  /// different digests of one minute (several corrections judged in one pass, a rule judged late)
  /// are two notices, never one dropped for the other.
  public static func digestKey(address: String, rule: String, items: [RungID]) -> String {
    var bytes: [UInt8] = []
    for item in items.sorted() {
      bytes += Array(item.description.utf8)
      bytes.append(0x0a)
    }
    return "digest/\(address)/\(rule)/" + SHA256.hex(SHA256.hash(bytes)).prefix(16)
  }

  /// The rung this decision is about, for a rung or a summary; nil for a digest.
  public var rung: RungID? { noticeKey.map { RungID($0, revision: revision) } }

  /// The obligation's key for a rung or a summary; nil for a digest.
  public var noticeKey: NoticeKey? {
    switch content {
    case .obligation(let key, _, _), .summary(let key): return key
    case .digest: return nil
    }
  }

  /// The same decision for fewer addressees: those a digest did not take, or those a correction
  /// finds still owed.
  public func addressed(to addressees: [Addressee]) -> NoticeDecision {
    NoticeDecision(
      key: key, channel: channel, reason: reason, scheduledAt: scheduledAt, addressees: addressees, content: content,
      revision: revision)
  }

  /// The same rung decided again as a later revision, for those it still owes (see `RungID`).
  public func revised(_ revision: Int, reason: NoticeReason, to addressees: [Addressee]) -> NoticeDecision {
    NoticeDecision(
      channel: channel, reason: reason, scheduledAt: scheduledAt, addressees: addressees, content: content,
      revision: revision)
  }

  /// Whether `other` says the same to the same people: what a journal row already holds may
  /// differ from a decision made again only in when and why it was planned.
  public func saysTheSame(as other: NoticeDecision) -> Bool {
    key == other.key && channel == other.channel && content == other.content && addressees == other.addressees
  }

  enum CodingKeys: String, CodingKey {
    case key, channel, reason, addressees, content, revision
    case scheduledAt = "scheduled_at"
  }

  public init(from decoder: any Decoder) throws {
    let container = try decoder.container(keyedBy: CodingKeys.self)
    key = try container.decode(String.self, forKey: .key)
    channel = try container.decode(String.self, forKey: .channel)
    reason = try container.decode(NoticeReason.self, forKey: .reason)
    scheduledAt = try container.decode(Date.self, forKey: .scheduledAt)
    addressees = try container.decode([Addressee].self, forKey: .addressees)
    content = try container.decode(NoticeContent.self, forKey: .content)
    revision = try container.decodeIfPresent(Int.self, forKey: .revision) ?? 0
  }

  /// The revision only when it is not the first: rows journaled before revisions read the same.
  public func encode(to encoder: any Encoder) throws {
    var container = encoder.container(keyedBy: CodingKeys.self)
    try container.encode(key, forKey: .key)
    try container.encode(channel, forKey: .channel)
    try container.encode(reason, forKey: .reason)
    try container.encode(scheduledAt, forKey: .scheduledAt)
    try container.encode(addressees, forKey: .addressees)
    try container.encode(content, forKey: .content)
    if revision != 0 { try container.encode(revision, forKey: .revision) }
  }
}
