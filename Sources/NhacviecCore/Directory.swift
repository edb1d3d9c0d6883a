import Foundation

/// Where a value came from in the configuration, for error messages (`FILE:LINE:COL`).
public struct SourceLocation: Hashable, Sendable, CustomStringConvertible, Codable {
  public let file: String
  public let line: Int
  public let column: Int

  public init(file: String, line: Int, column: Int = 1) {
    self.file = file
    self.line = line
    self.column = column
  }

  public var description: String { "\(file):\(line):\(column)" }
}

/// A mistake in the configuration, placed where it was made.
public struct ConfigError: Error, Hashable, Sendable, CustomStringConvertible {
  public let location: SourceLocation?
  public let message: String

  public init(_ message: String, at location: SourceLocation?) {
    self.message = message
    self.location = location
  }

  /// Control characters in the message (from a value quoted back) are shown escaped, so that an
  /// error is one line and cannot rewrite the terminal it is printed on.
  public var description: String {
    let text = ConfigError.escaped(message)
    guard let location else { return text }
    return "\(location): \(text)"
  }

  public static func escaped(_ text: String) -> String {
    var result = ""
    for scalar in text.unicodeScalars {
      switch scalar.value {
      case 0x00..<0x20, 0x7f..<0xa0, 0x2028, 0x2029:
        result +=
          scalar == "\t"
          ? "\\t" : scalar == "\n" ? "\\n" : scalar == "\r" ? "\\r" : "\\u{\(String(scalar.value, radix: 16))}"
      default:
        result.unicodeScalars.append(scalar)
      }
    }
    return result
  }
}

/// Every mistake found in one pass, so a user fixes them all at once rather than one per run.
public struct ConfigErrors: Error, Sendable, CustomStringConvertible {
  public let errors: [ConfigError]

  public init(_ errors: [ConfigError]) { self.errors = errors }

  /// At most this many are printed: one mistake repeated a thousand times is read in the first few.
  public static let shown = 50

  /// One error per line, at most `shown`, then how many more there are.
  public var description: String {
    let lines = errors.prefix(Self.shown).map(\.description)
    let more = errors.count - lines.count
    return (lines + (more > 0 ? ["… and \(more) more error\(more == 1 ? "" : "s")"] : [])).joined(separator: "\n")
  }
}

/// How to reach one person or mailbox of a unit.
public struct Contact: Hashable, Sendable, Codable {
  public let name: String?
  public let email: String?
  public let webhook: String?

  public init(name: String? = nil, email: String? = nil, webhook: String? = nil) {
    self.name = name
    self.email = email
    self.webhook = webhook
  }
}

/// One agency in the directory, valid over a stretch of dates.
///
/// A unit's id may be reused by a later era (statistics-office codes were reused in 2025), so a
/// unit is one id over one validity interval, and a reference to an id is read as of a date.
public struct OrgUnit: Hashable, Sendable {
  /// The record itself, shared: a unit is copied into every roster, finding, decision and
  /// recipient of a pass, and a copy of its fields (names, tags, contacts) costs a retain each.
  private final class Record: Sendable {
    let id: String
    let name: String
    let kind: String
    let tags: Set<String>
    let parentID: String?
    let contacts: [String: Contact]
    let validFrom: LocalDate?
    let validTo: LocalDate?
    let location: SourceLocation?

    init(
      id: String, name: String, kind: String, tags: Set<String>, parentID: String?, contacts: [String: Contact],
      validFrom: LocalDate?, validTo: LocalDate?, location: SourceLocation?
    ) {
      self.id = id
      self.name = name
      self.kind = kind
      self.tags = tags
      self.parentID = parentID
      self.contacts = contacts
      self.validFrom = validFrom
      self.validTo = validTo
      self.location = location
    }
  }

  private let record: Record

  public var id: String { record.id }
  public var name: String { record.name }
  public var kind: String { record.kind }
  public var tags: Set<String> { record.tags }
  public var parentID: String? { record.parentID }
  /// Contacts by role: `head`, `iso-focal`, `office`, …
  public var contacts: [String: Contact] { record.contacts }
  /// First day the unit exists; nil for always.
  public var validFrom: LocalDate? { record.validFrom }
  /// Last day the unit exists (inclusive); nil for still.
  public var validTo: LocalDate? { record.validTo }
  public var location: SourceLocation? { record.location }

  public init(
    id: String, name: String, kind: String, tags: Set<String> = [], parentID: String? = nil,
    contacts: [String: Contact] = [:], validFrom: LocalDate? = nil, validTo: LocalDate? = nil,
    location: SourceLocation? = nil
  ) {
    record = Record(
      id: id, name: name, kind: kind, tags: tags, parentID: parentID, contacts: contacts, validFrom: validFrom,
      validTo: validTo, location: location)
  }

  /// Equal when every field is, as before the record was shared.
  public static func == (lhs: OrgUnit, rhs: OrgUnit) -> Bool {
    if lhs.record === rhs.record { return true }
    return lhs.id == rhs.id && lhs.name == rhs.name && lhs.kind == rhs.kind && lhs.tags == rhs.tags
      && lhs.parentID == rhs.parentID && lhs.contacts == rhs.contacts && lhs.validFrom == rhs.validFrom
      && lhs.validTo == rhs.validTo && lhs.location == rhs.location
  }

  public func hash(into hasher: inout Hasher) {
    hasher.combine(id)
    hasher.combine(name)
    hasher.combine(kind)
    hasher.combine(tags)
    hasher.combine(parentID)
    hasher.combine(contacts)
    hasher.combine(validFrom)
    hasher.combine(validTo)
    hasher.combine(location)
  }

  public func isValid(on date: LocalDate) -> Bool {
    (validFrom.map { $0 <= date } ?? true) && (validTo.map { date <= $0 } ?? true)
  }

}

/// The tree of units over time. `units(on:)` is the tree as of one date.
public struct Directory: Sendable {
  /// Every unit record, in the order the files gave them.
  public let units: [OrgUnit]
  private let recordsByID: [String: [Int]]
  private let childrenByParentID: [String: [Int]]
  /// Each record's place in the files, by reference: digests sort thousands of lines by it, and
  /// reading it off the records themselves costs a cache miss per record.
  private let positions: [UnitRef: Int]
  /// Rosters already worked out over this directory: planning asks for the same few pass after
  /// pass, and each one filters every record.
  private let rosters = RosterCache()

  /// What is wrong with a unit id, if anything. An id is part of every notice key
  /// (`RULE/ID@FROM/PERIOD/STEP@DEADLINE#REVISION`) and of recipients (`unit:ID.ROLE`), and is
  /// read back from both: the characters that separate their parts cannot be in it. Letters of
  /// any one script, Vietnamese included, digits and `-`, `_` are all an id needs; letters of two
  /// scripts are refused, since a Cyrillic or Greek letter passes for a Latin one.
  public static func idProblem(_ id: String) -> String? {
    if id.isEmpty { return "must not be empty" }
    for scalar in id.unicodeScalars {
      switch scalar {
      case "/": return "must not hold a slash: keys are written RULE/UNIT/PERIOD/STEP"
      case "@": return "must not hold an @: a unit record is written ID@FIRST-DAY"
      case ".": return "must not hold a dot: a recipient is written unit:ID.ROLE"
      case "#": return "must not hold a #: a notice sent again is written KEY#N"
      case _ where scalar.properties.isWhitespace: return "must not hold a space"
      case _ where scalar.value < 0x20 || scalar.value == 0x7f || (0x80..<0xa0).contains(scalar.value):
        return "must not hold a control character"
      default: continue
      }
    }
    return mixedScripts(id)
  }

  /// Letters of one script only: `51-SТP` with a Cyrillic `Т` reads as `51-STP` and is another
  /// unit. Digits, `-`, `_` and combining marks belong to no script; Vietnamese letters are Latin.
  static func mixedScripts(_ id: String) -> String? {
    var first: Script?
    for scalar in id.unicodeScalars {
      guard let script = Script(scalar) else { continue }
      guard let known = first else {
        first = script
        continue
      }
      if script != known {
        let code = String(format: "U+%04X", scalar.value)
        return
          "mixes scripts: `\(scalar)` (\(code)) is \(script.letter) among \(known.letters); an id is written in one script"
      }
    }
    return nil
  }

  /// The script of a letter, coarsely: those whose letters are taken for Latin ones, and a few
  /// more by name; any other letter is of "another script".
  enum Script: String {
    case latin = "Latin", greek = "Greek", cyrillic = "Cyrillic", armenian = "Armenian", georgian = "Georgian"
    case cherokee = "Cherokee", hebrew = "Hebrew", arabic = "Arabic", thai = "Thai", lao = "Lao", khmer = "Khmer"
    case hangul = "Hangul", cjk = "Han or kana", other = "another script"

    var letter: String { self == .other ? "a letter of another script" : "a \(rawValue) letter" }
    var letters: String { self == .other ? "letters of another script" : "\(rawValue) letters" }

    init?(_ scalar: Unicode.Scalar) {
      switch scalar.properties.generalCategory {
      case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: break
      default: return nil
      }
      switch scalar.value {
      case 0x41...0x5A, 0x61...0x7A, 0xAA, 0xBA, 0xC0...0x2FF, 0x1D00...0x1DBF, 0x1E00...0x1EFF, 0x2C60...0x2C7F,
        0xA720...0xA7FF, 0xAB30...0xAB6F, 0xFF21...0xFF3A, 0xFF41...0xFF5A:
        self = .latin
      case 0x370...0x3FF, 0x1F00...0x1FFF: self = .greek
      case 0x400...0x52F, 0x1C80...0x1C8F, 0x2DE0...0x2DFF, 0xA640...0xA69F: self = .cyrillic
      case 0x530...0x58F, 0xFB13...0xFB17: self = .armenian
      case 0x10A0...0x10FF, 0x1C90...0x1CBF, 0x2D00...0x2D2F: self = .georgian
      case 0x13A0...0x13FF, 0xAB70...0xABBF: self = .cherokee
      case 0x590...0x5FF, 0xFB1D...0xFB4F: self = .hebrew
      case 0x600...0x6FF, 0x750...0x77F, 0x8A0...0x8FF, 0xFB50...0xFDFF, 0xFE70...0xFEFF: self = .arabic
      case 0xE00...0xE7F: self = .thai
      case 0xE80...0xEFF: self = .lao
      case 0x1780...0x17FF, 0x19E0...0x19FF: self = .khmer
      case 0x1100...0x11FF, 0x3130...0x318F, 0xA960...0xA97F, 0xAC00...0xD7FF, 0xFFA0...0xFFDC: self = .hangul
      case 0x3040...0x30FF, 0x31F0...0x31FF, 0x3400...0x4DBF, 0x4E00...0x9FFF, 0xF900...0xFAFF, 0xFF66...0xFF9F,
        0x20000...0x3FFFF:
        self = .cjk
      default: self = .other
      }
    }
  }

  /// Validates the whole directory and reports every problem it finds.
  public init(units: [OrgUnit]) throws(ConfigErrors) {
    var errors: [ConfigError] = []
    var byID: [String: [Int]] = [:]
    var children: [String: [Int]] = [:]
    for (index, unit) in units.enumerated() {
      if let problem = Directory.idProblem(unit.id) {
        errors.append(ConfigError("unit id `\(unit.id)` \(problem)", at: unit.location))
      }
      if let from = unit.validFrom, let to = unit.validTo, to < from {
        errors.append(ConfigError("unit \(unit.id): valid_to \(to) is before valid_from \(from)", at: unit.location))
      }
      byID[unit.id, default: []].append(index)
      if let parent = unit.parentID { children[parent, default: []].append(index) }
      for (role, contact) in unit.contacts.sorted(by: { $0.key < $1.key }) {
        if let email = contact.email, !EmailAddress.isValid(email) {
          errors.append(ConfigError("unit \(unit.id): invalid email for \(role): \(email)", at: unit.location))
        }
        if let hook = contact.webhook, !WebhookURL.isValid(hook) {
          errors.append(
            ConfigError(
              "unit \(unit.id): webhook for \(role) must be an http:// or https:// URL without spaces or control characters: \(hook)",
              at: unit.location))
        }
      }
    }
    errors += Directory.duplicates(units: units, byID: byID)
    for unit in units {
      guard let parentID = unit.parentID else { continue }
      guard let parents = byID[parentID] else {
        errors.append(ConfigError("unit \(unit.id): unknown parent \(parentID)", at: unit.location))
        continue
      }
      if !Directory.covered(unit, by: parents.map { units[$0] }) {
        errors.append(
          ConfigError(
            "unit \(unit.id) is valid \(Directory.describe(unit)) but its parent \(parentID) is not valid all that time",
            at: unit.location))
      }
    }
    errors += Directory.cycles(units: units, byID: byID)
    if !errors.isEmpty { throw ConfigErrors(errors) }
    self.units = units
    self.recordsByID = byID
    self.childrenByParentID = children
    var positions: [UnitRef: Int] = [:]
    positions.reserveCapacity(units.count)
    for (index, unit) in units.enumerated() where positions[UnitRef(unit)] == nil {
      positions[UnitRef(unit)] = index
    }
    self.positions = positions
  }

  /// Records of one id whose validity overlaps an earlier record's, each reported once and
  /// naming the first definition it clashes with. Sorted by start, so that a file that repeats one
  /// row thousands of times costs n log n, not n².
  private static func duplicates(units: [OrgUnit], byID: [String: [Int]]) -> [ConfigError] {
    var errors: [(index: Int, error: ConfigError)] = []
    for (id, records) in byID where records.count > 1 {
      let ordered = records.sorted {
        (units[$0].validFrom?.dayNumber ?? Int.min, $0) < (units[$1].validFrom?.dayNumber ?? Int.min, $1)
      }
      // The record reaching furthest so far: whatever starts before its end overlaps it.
      var reach = ordered[0]
      for index in ordered.dropFirst() {
        let start = units[index].validFrom?.dayNumber ?? Int.min
        let reachEnd = units[reach].validTo?.dayNumber ?? Int.max
        if start <= reachEnd {
          let other = units[reach].location.map { " (\(reach < index ? "first" : "also") defined at \($0))" } ?? ""
          errors.append((index, ConfigError("duplicate unit id \(id)\(other)", at: units[index].location)))
        }
        if (units[index].validTo?.dayNumber ?? Int.max) > reachEnd { reach = index }
      }
    }
    return errors.sorted { $0.index < $1.index }.map(\.error)
  }

  private static func describe(_ unit: OrgUnit) -> String {
    "from \(unit.validFrom?.description ?? "the beginning") to \(unit.validTo?.description ?? "now")"
  }

  /// Whether the parent's records, joined, cover the child's whole validity.
  private static func covered(_ child: OrgUnit, by parents: [OrgUnit]) -> Bool {
    var cursor = child.validFrom?.dayNumber ?? Int.min
    let end = child.validTo?.dayNumber ?? Int.max
    for parent in parents.sorted(by: { ($0.validFrom?.dayNumber ?? Int.min) < ($1.validFrom?.dayNumber ?? Int.min) }) {
      let start = parent.validFrom?.dayNumber ?? Int.min
      let stop = parent.validTo?.dayNumber ?? Int.max
      if start > cursor { return false }
      if stop >= cursor {
        if stop >= end { return true }
        cursor = stop + 1
      }
    }
    return false
  }

  private static func cycles(units: [OrgUnit], byID: [String: [Int]]) -> [ConfigError] {
    var parentsOf: [String: Set<String>] = [:]
    for unit in units { if let p = unit.parentID { parentsOf[unit.id, default: []].insert(p) } }
    var state: [String: Int] = [:]  // 1: on the current path, 2: done
    var errors: [ConfigError] = []
    func visit(_ id: String, path: [String]) {
      if state[id] == 2 { return }
      if state[id] == 1 {
        let cycle = path[(path.firstIndex(of: id) ?? 0)...] + [id]
        let location = byID[id].flatMap { units[$0[0]].location }
        errors.append(ConfigError("cycle in the directory: \(cycle.joined(separator: " → "))", at: location))
        return
      }
      state[id] = 1
      for parent in (parentsOf[id] ?? []).sorted() { visit(parent, path: path + [id]) }
      state[id] = 2
    }
    for unit in units { visit(unit.id, path: []) }
    return errors
  }

  /// The unit with this id on `date`.
  public func unit(_ id: String, on date: LocalDate) -> OrgUnit? {
    guard let records = recordsByID[id] else { return nil }
    for index in records where units[index].isValid(on: date) { return units[index] }
    return nil
  }

  /// Every record of an id, in the order the files gave them.
  public func records(of id: String) -> [OrgUnit] { (recordsByID[id] ?? []).map { units[$0] } }

  /// Whether any era knows this id.
  public func knows(_ id: String) -> Bool { recordsByID[id] != nil }

  /// Where a unit record stands in the directory's files: lists that officials read (a digest,
  /// a report) follow the directory's order, departments before communes, as it was written.
  public func position(of ref: UnitRef) -> Int { positions[ref] ?? Int.max }

  /// Names an official would see as careless: a doubled space, a space at either end. They load
  /// (the file is not wrong), and `check` warns, since they go into every message.
  public var textWarnings: [ConfigError] {
    var warnings: [ConfigError] = []
    for unit in units {
      let names =
        [("name", unit.name)]
        + unit.contacts.sorted { $0.key < $1.key }.compactMap { role, contact in
          contact.name.map { ("\(role).name", $0) }
        }
      for (field, text) in names {
        let problem: String
        if text.contains("  ") {
          problem = "a doubled space"
        } else if text.first?.isWhitespace == true || text.last?.isWhitespace == true {
          problem = "a space at its start or end"
        } else {
          continue
        }
        warnings.append(ConfigError("unit \(unit.id): \(field) has \(problem): `\(text)`", at: unit.location))
      }
    }
    return warnings
  }

  /// The tree as of `date`: every unit valid on that day.
  public func units(on date: LocalDate) -> [OrgUnit] { units.filter { $0.isValid(on: date) } }

  /// The units valid on `date` that any of `selectors` matches, their parent read as of `date`, in
  /// the directory's order. Worked out once per directory, selectors and date.
  public func roster(matching selectors: [UnitSelector], on date: LocalDate) -> [OrgUnit] {
    rosters.roster(RosterCache.Key(selectors: selectors, date: date)) {
      units(on: date).filter { unit in
        let parent = self.parent(of: unit, on: date)
        return selectors.contains { $0.matches(unit, parent: parent) }
      }
    }
  }

  public func parent(of unit: OrgUnit, on date: LocalDate) -> OrgUnit? {
    unit.parentID.flatMap { self.unit($0, on: date) }
  }

  public func children(of id: String, on date: LocalDate) -> [OrgUnit] {
    (childrenByParentID[id] ?? []).map { units[$0] }.filter { $0.isValid(on: date) }
  }
}

/// Rosters of one directory, shared by every engine over it (one per pass in the daemon, and the
/// passes of `simulate`), so a lock guards them.
final class RosterCache: Sendable {
  struct Key: Hashable {
    let selectors: [UnitSelector]
    let date: LocalDate
  }

  private let rosters = Locked<[Key: [OrgUnit]]>([:])

  func roster(_ key: Key, make: () -> [OrgUnit]) -> [OrgUnit] {
    if let known = rosters.withLock({ $0[key] }) { return known }
    let made = make()
    return rosters.withLock { cache in
      // A bound, not an eviction policy: rosters for every day ever asked of could add up.
      if cache.count > 1_000 { cache.removeAll() }
      // The same selectors on another day mostly give the same units (eras change rarely): such
      // rosters share one array, so that what the cache holds grows with the eras, not the days.
      let same = cache.first { $0.key.selectors == key.selectors && $0.value == made }?.value ?? made
      cache[key] = same
      return same
    }
  }
}

public enum WebhookURL {
  /// An absolute http(s) URL with a host and nothing a request line or header could be split on.
  public static func isValid(_ text: String) -> Bool {
    guard text.hasPrefix("http://") || text.hasPrefix("https://") else { return false }
    guard text.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value != 0x7f && $0.isASCII }) else { return false }
    let rest = text.drop { $0 != "/" }.dropFirst(2)
    let host = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
    return !host.isEmpty && !host.hasPrefix(":") && !host.utf8.contains(UInt8(ascii: "@"))
  }
}

/// `Name <address>` or a bare address.
public struct Mailbox: Sendable, Hashable {
  public let name: String?
  public let address: String

  public init(name: String?, address: String) {
    self.name = name
    self.address = address
  }

  public init?(_ text: String) {
    let trimmed = text.trimmingCharacters(in: .whitespaces)
    if let open = trimmed.lastIndex(of: "<"), trimmed.hasSuffix(">") {
      let address = String(trimmed[trimmed.index(after: open)..<trimmed.index(before: trimmed.endIndex)])
      let name = trimmed[..<open].trimmingCharacters(in: .whitespaces).trimmingCharacters(
        in: CharacterSet(charactersIn: "\""))
      guard EmailAddress.isValid(address) else { return nil }
      self.init(name: name.isEmpty ? nil : name, address: address)
    } else {
      guard EmailAddress.isValid(trimmed) else { return nil }
      self.init(name: nil, address: trimmed)
    }
  }
}

public enum EmailAddress {
  private static let allowedLocal = Set(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.!#$%&'*+/=?^_`{|}~-")
  private static let allowedDomain = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-")

  /// A pragmatic check of `local@domain.tld`: catches typos, not every RFC 5322 subtlety.
  public static func isValid(_ address: String) -> Bool {
    let parts = address.split(separator: "@", omittingEmptySubsequences: false)
    guard parts.count == 2, !parts[0].isEmpty, parts[0].count <= 64, !parts[1].isEmpty else { return false }
    guard parts[0].allSatisfy({ allowedLocal.contains($0) }), !parts[0].hasPrefix("."), !parts[0].hasSuffix("."),
      !parts[0].contains("..")
    else { return false }
    let labels = parts[1].split(separator: ".", omittingEmptySubsequences: false)
    guard labels.count >= 2 else { return false }
    return labels.allSatisfy { label in
      !label.isEmpty && label.count <= 63 && label.allSatisfy { allowedDomain.contains($0) } && !label.hasPrefix("-")
        && !label.hasSuffix("-")
    }
  }
}

extension OrgUnit {
  /// The kinds of unit that are a territory: its People's Committee acts for it.
  public static let territoryKinds: Set<String> = [
    "province", "district", "city", "town", "commune", "ward", "township", "special-zone",
  ]

  /// Who acts for the unit, as the letter addresses it ("UBND các xã, phường, thị trấn"): a
  /// territory's People's Committee ("UBND phường Cẩm Thành", the kind of area in lower case),
  /// an agency itself.
  public var actor: String {
    guard Self.territoryKinds.contains(kind), let first = name.first else { return name }
    return "UBND " + first.lowercased() + name.dropFirst()
  }
}
