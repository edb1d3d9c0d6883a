import Foundation
import NhacviecCore
import TestSupport
import Testing

/// Every identity nhacviec writes as text reads back as itself: unit records, steps, keys,
/// revisions, recipients and whole decisions, over generated ids with Vietnamese letters; and an
/// id holding a character that separates those texts' parts is refused when the directory loads.
@Suite("Identities read back what they write")
struct IdentityTests {
  /// Pieces of ids: what a directory may hold, Vietnamese letters (composed and not) among them.
  static let allowed = [
    "a", "Z", "0", "9", "-", "_", "Đ", "đ", "ạ", "ễ", "Ư", "ươ", "ệ", "e\u{301}", "Ấ", "ữ", "ỳ", "Tịnh", "Khê",
  ]
  /// What separates the parts of a key, a record or a recipient, and what no id may hold.
  static let separators = ["/", "@", ".", "#", " ", "\t", "\u{00A0}", "\n", "\u{7F}", "\u{85}"]

  struct Generator {
    var random = SplitMix(seed: 20_261_118)

    mutating func below(_ bound: Int) -> Int { Int(random.next() % UInt64(bound)) }

    mutating func id() -> String {
      (0..<(1 + below(6))).map { _ in IdentityTests.allowed[below(IdentityTests.allowed.count)] }.joined()
    }

    mutating func day() -> LocalDate { LocalDate(year: 1900 + below(200), month: 1 + below(12), day: 1 + below(28))! }

    mutating func offset() -> Offset { Offset(below(400), below(2) == 0 ? .days : .workingDays) }

    mutating func step() -> StepID {
      switch below(3) {
      case 0: return .remind(offset())
      case 1: return .escalate(offset(), repeat: below(4))
      default: return .summary(day())
      }
    }

    mutating func period() -> Period {
      let kind = [PeriodKind.yearly, .quarterly, .monthly][below(3)]
      return Period(
        kind: kind, year: 1900 + below(200), index: kind == .yearly ? 1 : 1 + below(kind == .quarterly ? 4 : 12))
    }

    mutating func key() -> NoticeKey {
      NoticeKey(
        rule: id(), unit: UnitRef(id: id(), validFrom: below(2) == 0 ? nil : day()), period: period(), step: step(),
        deadline: day(), time: below(3) == 0 ? TimeOfDay(minutes: below(1440)) : nil)
    }
  }

  @Test("2,000 generated identities of each kind read back as themselves")
  func roundTrips() throws {
    var g = Generator()
    // As the journal writes decisions (NhacviecStore's `json()` writes these very bytes, which
    // DecisionJSONTests holds it to) and reads them.
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    encoder.dateEncodingStrategy = .secondsSince1970
    let decoder = JSONDecoder()
    decoder.dateDecodingStrategy = .secondsSince1970
    for _ in 0..<2000 {
      let unit = UnitRef(id: g.id(), validFrom: g.below(2) == 0 ? nil : g.day())
      #expect(Directory.idProblem(unit.id) == nil, "\(unit.id)")
      #expect(UnitRef(unit.description) == unit, "\(unit)")
      let step = g.step()
      #expect(StepID(step.description) == step, "\(step)")
      let key = g.key()
      #expect(NoticeKey(key.description) == key, "\(key)")
      let rung = RungID(key, revision: g.below(3))
      #expect(RungID(rung.description) == rung, "\(rung)")
      let role = ["head", "iso-focal", "office"][g.below(3)]
      for selector in [RecipientSelector.named(unitID: unit.id, role: role), .unit(role: role), .parent(role: role)] {
        #expect(RecipientSelector(selector.description) == selector, "\(selector)")
      }
      // A decision, whole.
      let addressee = Addressee(
        unit: unit, unitName: g.id(), role: role, name: g.id(), address: "\(g.below(100))@x.example")
      let decision = NoticeDecision(
        channel: "email", reason: .catchUp, scheduledAt: Date(timeIntervalSince1970: Double(g.below(2_000_000_000))),
        addressees: [addressee],
        content: g.below(2) == 0
          ? .obligation(
            key: key, template: "overdue", audience: g.below(2) == 0 ? .unit : .superiors(after: g.offset()))
          : .digest(items: [
            .init(key: key, revision: rung.revision, template: "escalation", reason: .escalation),
            .init(key: g.key(), template: "overdue", reason: .catchUp),
          ]),
        revision: g.below(3))
      let read = try decoder.decode(NoticeDecision.self, from: try encoder.encode(decision))
      #expect(read == decision, "\(decision.key)")
      if case .digest(let items) = read.content {
        #expect(
          read.key == NoticeDecision.digestKey(address: addressee.address, rule: key.rule, items: items.map(\.rung)))
      } else {
        #expect(read.rung == RungID(key, revision: decision.revision))
      }
    }
  }

  @Test("an id holding a separator is refused with the reason, whatever else it holds")
  func separatorsRefused() throws {
    var g = Generator()
    for separator in Self.separators {
      for _ in 0..<50 {
        let id = g.id() + separator + (g.below(2) == 0 ? g.id() : "")
        let problem = try #require(Directory.idProblem(id), "\(id.debugDescription)")
        #expect(problem.hasPrefix("must not hold"), "\(problem)")
        // Loaded, the directory names the unit and the reason.
        let unit = OrgUnit(id: id, name: "Xã \(id)", kind: "commune", parentID: nil)
        #expect(throws: ConfigErrors.self) { try Directory(units: [unit]) }
      }
    }
    #expect(Directory.idProblem("") == "must not be empty")
  }

  @Test("an id mixing scripts is refused, naming the letter that does not belong; one script alone is an id")
  func mixedScripts() {
    // A Cyrillic Т (U+0422), a Greek Ο (U+039F), a Cyrillic а (U+0430) among Latin letters.
    #expect(
      Directory.idProblem("51-S\u{0422}P")
        == "mixes scripts: `Т` (U+0422) is a Cyrillic letter among Latin letters; an id is written in one script")
    #expect(Directory.idProblem("51-SKHCN-\u{039F}")?.contains("`Ο` (U+039F) is a Greek letter among Latin") == true)
    #expect(Directory.idProblem("Ph\u{0430}-Tịnh")?.contains("(U+0430) is a Cyrillic letter among Latin") == true)
    #expect(Directory.idProblem("\u{0421}\u{0422}P")?.contains("`P` (U+0050) is a Latin letter among Cyrillic") == true)
    #expect(Directory.idProblem("x\u{0E01}")?.contains("is a Thai letter among Latin") == true)
    // Vietnamese letters, composed or not, are Latin; digits, `-` and `_` belong to no script.
    for id in ["51-STP", "Tịnh-Khê_2", "Đ\u{1EA1}i-Ư", "e\u{301}-9", "51", "-_-"] {
      #expect(Directory.idProblem(id) == nil, "\(id)")
    }
    // One script alone, any script.
    for id in ["\u{0421}\u{0422}\u{041F}-1", "\u{0398}\u{0395}", "東京-1", "서울"] {
      #expect(Directory.idProblem(id) == nil, "\(id)")
    }
  }
}
