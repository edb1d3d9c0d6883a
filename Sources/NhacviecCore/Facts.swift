public import Foundation

/// Something recorded as done or decided.
public struct Fact: Hashable, Sendable {
  public enum Kind: String, Sendable, CaseIterable, Codable {
    /// A report (or a consolidation, a training course, an inspection) was received or done.
    case report
    /// A budget estimate carries an ISO line of `amount` đồng for the fiscal year `period`.
    case budget
    /// The unit's deadline for the period moves to `due`.
    case `extension`
    /// The unit does not owe the obligation for the period.
    case exemption
    /// The unit says it has sent its report: `reference` (the document's number), `at` (when it
    /// said so) and, optionally, `due` (the document's own date). The Department verifies it:
    /// accepting records a `report` with that reference; returning records a `returned`.
    case claim
    /// The unit asks for its deadline to move to `due`, for `reason`. The deadline stands until
    /// the Department accepts (an `extension` to that day) or refuses (a `returned`).
    case request
    /// The Department refuses the pending claim or request: `reason` is why, `by` who decided.
    case returned

    /// Whether the kind is the unit's own word or the verdict on it, rather than a fact the
    /// Department records of its own knowledge.
    public var isUnitsWord: Bool { self == .claim || self == .request || self == .returned }
  }

  public let kind: Kind
  public let unitID: String
  public let ruleID: String
  public let period: String
  /// When it happened (received, decided).
  public let at: Date?
  /// A document number: `123/BC-STP`.
  public let reference: String?
  /// In đồng.
  public let amount: Int64?
  /// An extension's new day, allowed itself ("gia hạn đến ngày D": `DueSpec.extended`).
  public let due: LocalDate?
  /// Who decided an extension or exemption.
  public let decidedBy: String?
  public let reason: String?
  public let location: SourceLocation?

  public init(
    kind: Kind, unitID: String, ruleID: String, period: String, at: Date? = nil, reference: String? = nil,
    amount: Int64? = nil, due: LocalDate? = nil, decidedBy: String? = nil, reason: String? = nil,
    location: SourceLocation? = nil
  ) {
    self.kind = kind
    self.unitID = unitID
    self.ruleID = ruleID
    self.period = period
    self.at = at
    self.reference = reference
    self.amount = amount
    self.due = due
    self.decidedBy = decidedBy
    self.reason = reason
    self.location = location
  }

  /// Whether the fact is known at `now`: facts dated later have not happened yet.
  public func isKnown(at now: Date) -> Bool { at.map { $0 <= now } ?? true }
}

/// Facts indexed by (rule, period, unit), the only way evaluation asks for them.
public struct FactBook: Sendable {
  public let facts: [Fact]
  private let index: [Key: [Int]]

  struct Key: Hashable {
    let rule: String
    let period: String
    let unit: String
  }

  public init(_ facts: [Fact] = []) {
    self.facts = facts
    var index: [Key: [Int]] = [:]
    for (i, fact) in facts.enumerated() {
      index[Key(rule: fact.ruleID, period: fact.period, unit: fact.unitID), default: []].append(i)
    }
    self.index = index
  }

  /// The facts of one kind for one obligation known at `now`, oldest first.
  public func facts(_ kind: Fact.Kind, rule: String, period: String, unit: String, at now: Date) -> [Fact] {
    facts(rule: rule, period: period, unit: unit, at: now).filter { $0.kind == kind }
  }

  /// Every fact for one obligation known at `now`, oldest first.
  public func facts(rule: String, period: String, unit: String, at now: Date) -> [Fact] {
    // Most obligations have no fact at all: an empty book answers without hashing the key.
    guard !index.isEmpty, let found = index[Key(rule: rule, period: period, unit: unit)] else { return [] }
    return found.map { facts[$0] }
      .filter { $0.isKnown(at: now) }
      .sorted { ($0.at ?? .distantPast) < ($1.at ?? .distantPast) }
  }

  /// Instants at which a fact becomes known, for the planner's next wake-up.
  public var instants: [Date] { facts.compactMap(\.at) }
}
