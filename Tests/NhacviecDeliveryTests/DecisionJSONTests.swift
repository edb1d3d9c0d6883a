import Foundation
import NhacviecCore
import NhacviecStore
import TestSupport
import Testing

@Suite("A decision as the journal holds it")
struct DecisionJSONTests {
  /// What the journal wrote with before `NoticeDecision.json()`: its rows must read the same.
  static let reference: JSONEncoder = {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    encoder.dateEncodingStrategy = .secondsSince1970
    return encoder
  }()

  static let decoder: JSONDecoder = {
    let decoder = JSONDecoder()
    decoder.dateDecodingStrategy = .secondsSince1970
    return decoder
  }()

  /// Decisions of every shape, with text that needs escaping, Vietnamese and emoji in every
  /// string; the parts of a key only where its text still reads back as a key (no `/` or `@`).
  struct Decisions {
    var generator: SplitMix
    static let pieces = [
      "a", "Z", "0", " ", "Đ", "ạ", "ễ", "Ư", "é", "e\u{301}", "\"", "\\", "/", "@", "\n", "\r", "\t", "\r\n",
      "\u{08}", "\u{0C}", "\u{00}", "\u{01}", "\u{0F}", "\u{10}", "\u{1F}", "\u{7F}", "\u{85}", "\u{2028}", "😀",
      "👨‍👩‍👧", "<", "&", "-", "T",
    ]
    static let keyPieces = pieces.filter { $0 != "/" && $0 != "@" }

    mutating func below(_ bound: Int) -> Int { Int(generator.next() % UInt64(bound)) }

    mutating func text(_ pieces: [String] = pieces, nonEmpty: Bool = false) -> String {
      (0..<below(10) + (nonEmpty ? 1 : 0)).map { _ in pieces[below(pieces.count)] }.joined()
    }

    mutating func date() -> LocalDate { LocalDate(year: 1000 + below(9000), month: 1 + below(12), day: 1 + below(28))! }

    mutating func key() -> NoticeKey {
      let kind = [PeriodKind.yearly, .quarterly, .monthly][below(3)]
      let period = Period(
        kind: kind, year: 1000 + below(9000), index: kind == .yearly ? 1 : 1 + below(kind == .quarterly ? 4 : 12))
      return NoticeKey(
        rule: text(Self.keyPieces, nonEmpty: true),
        unit: UnitRef(id: text(Self.keyPieces, nonEmpty: true), validFrom: below(2) == 0 ? nil : date()),
        period: period, step: step(), deadline: date(),
        time: below(2) == 0 ? nil : TimeOfDay(minutes: below(1440)))
    }

    mutating func offset() -> Offset { Offset(below(3661), below(2) == 0 ? .days : .workingDays) }

    mutating func step() -> StepID {
      switch below(3) {
      case 0: return .remind(offset())
      case 1: return .escalate(offset(), repeat: below(3))
      default: return .summary(date())
      }
    }

    mutating func instant() -> Date {
      let edges: [Double] = [0, -0.0, -1, -1.5, 0.1, 1e15 - 1, 1e15, 1e15 + 0.5, 1e16, 2e20, -1e16, 1.5e-7]
      switch below(4) {
      case 0: return Date(timeIntervalSince1970: Double(1_700_000_000 + below(200_000_000)))
      case 1: return Date(timeIntervalSince1970: Double(below(4_000_000_000)) + Double(below(1000)) / 1000)
      case 2: return Date(timeIntervalSince1970: Double(bitPattern: generator.next() & 0x41FF_FFFF_FFFF_FFFF))
      default: return Date(timeIntervalSince1970: edges[below(edges.count)])
      }
    }

    mutating func next(_ index: Int) -> NoticeDecision {
      let content: NoticeContent
      switch index % 3 {
      case 0:
        content = .obligation(
          key: key(), template: text(), audience: below(2) == 0 ? .unit : .superiors(after: offset()))
      case 1: content = .summary(key: key())
      default:
        content = .digest(
          items: (0..<below(5)).map { _ in
            .init(
              key: key(), revision: below(3), template: text(),
              reason: NoticeReason.allCases[below(NoticeReason.allCases.count)],
              also: (0..<below(3)).map { _ in RungID(key(), revision: below(3)) })
          })
      }
      return NoticeDecision(
        key: "\(index)/" + text(), channel: text(), reason: NoticeReason.allCases[below(NoticeReason.allCases.count)],
        scheduledAt: instant(),
        addressees: (0..<below(4)).map { _ in
          Addressee(
            unit: UnitRef(id: text(Self.keyPieces, nonEmpty: true), validFrom: below(2) == 0 ? nil : date()),
            unitName: text(), role: text(), name: below(2) == 0 ? nil : text(), address: text())
        }, content: content)
    }
  }

  @Test("is what JSONEncoder with sorted keys and seconds since 1970 writes, byte for byte, and reads back")
  func matchesEncoder() throws {
    var decisions = Decisions(generator: SplitMix(seed: 0x6465_6369))
    var differing: [(ours: String, theirs: String)] = []
    for index in 0..<6000 {
      let decision = decisions.next(index)
      let ours = try decision.json()
      let theirs = String(decoding: try Self.reference.encode(decision), as: UTF8.self)
      if ours != theirs { differing.append((ours, theirs)) }
      let read = try Self.decoder.decode(NoticeDecision.self, from: Data(ours.utf8))
      #expect(try read.json() == ours)
      // An instant goes through Date's own reference date, which may move a fraction by its last bit.
      #expect(read == decision.at(read.scheduledAt))
      let seconds = decision.scheduledAt.timeIntervalSince1970
      #expect(abs(read.scheduledAt.timeIntervalSince1970 - seconds) <= 1e-6 * max(1, abs(seconds)))
    }
    let first = differing.first.map { "ours:\n\($0.ours)\ntheirs:\n\($0.theirs)" } ?? ""
    let count = differing.count
    #expect(count == 0, "the first that differs: \(first)")
  }

  @Test("an instant that is not a number is refused, as the encoder refuses it")
  func notANumber() {
    var decisions = Decisions(generator: SplitMix(seed: 1))
    let decision = decisions.next(0)
    for value in [Double.nan, .infinity, -.infinity] {
      let odd = NoticeDecision(
        key: decision.key, channel: decision.channel, reason: decision.reason,
        scheduledAt: Date(timeIntervalSince1970: value), addressees: decision.addressees, content: decision.content)
      #expect(throws: EncodingError.self) { try odd.json() }
      #expect(throws: EncodingError.self) { try Self.reference.encode(odd) }
    }
  }

  @Test("an attempt's addresses and what each came to are written as JSONEncoder with sorted keys wrote them")
  func outcomeColumns() throws {
    var decisions = Decisions(generator: SplitMix(seed: 0x7265_6163))
    for _ in 0..<2000 {
      let addresses = (0..<decisions.below(4)).map { _ in decisions.text() }
      var reached: [String: String] = [:]
      for address in addresses { reached[address] = decisions.text() }
      #expect(JSONBytes.text(reached) == String(decoding: try Self.reference.encode(reached), as: UTF8.self))
      #expect(JSONBytes.text(addresses) == String(decoding: try Self.reference.encode(addresses), as: UTF8.self))
    }
  }

  @Test("journaled rows are read back by a claim that decodes them")
  func journalReadsBack() throws {
    var decisions = Decisions(generator: SplitMix(seed: 0x726f_7773))
    let written = (0..<600).map { decisions.next($0) }.map {
      // One channel, so that one claim takes them all; whole seconds, as planned instants are.
      NoticeDecision(
        key: $0.key, channel: "hook", reason: $0.reason,
        scheduledAt: Date(timeIntervalSince1970: $0.scheduledAt.timeIntervalSince1970.rounded()),
        addressees: $0.addressees,
        content: $0.content)
    }
    let store = try TestStore.make()
    #expect(try store.journal(due: written, now: Date(timeIntervalSince1970: 1_794_700_800)) == written.count)
    let claimed = try store.claim(channel: "hook", limit: 1000, now: Date(timeIntervalSince1970: 1_794_700_800))
    var read: [String: NoticeDecision] = [:]
    for entry in claimed {
      guard case .decided(let decision) = entry.payload else { continue }
      read[decision.key] = decision
    }
    #expect(claimed.count == written.count)
    for decision in written { #expect(read[decision.key] == decision) }
  }
}

extension NoticeDecision {
  fileprivate func at(_ instant: Date) -> NoticeDecision {
    NoticeDecision(
      key: key, channel: channel, reason: reason, scheduledAt: instant, addressees: addressees, content: content)
  }
}
