public import Foundation

/// An operator's decision that notices about some obligations go nowhere for a while, as
/// `amtool silence` mutes alerts: a unit that is merging away, a wrong contact being fixed.
///
/// A silence holds notices, it does not drop them: a notice it covers is journaled as silenced,
/// and when the silence ends while the obligation is still open it is judged again and sent as
/// of then.
public struct Silence: Sendable, Hashable {
  public let id: Int64
  /// Nil matches every rule; likewise unit and period.
  public let ruleID: String?
  public let unitID: String?
  public let period: String?
  public let starts: Date
  /// The end the operator gave (`--until`).
  public let until: Date
  /// When the operator ended it early (`silence expire`).
  public let expiredAt: Date?
  public let reason: String
  /// The uid of whoever made it; nil from a tool run by root without the socket.
  public let createdBy: UInt32?

  public init(
    id: Int64, ruleID: String?, unitID: String?, period: String?, starts: Date, until: Date, expiredAt: Date? = nil,
    reason: String, createdBy: UInt32? = nil
  ) {
    self.id = id
    self.ruleID = ruleID
    self.unitID = unitID
    self.period = period
    self.starts = starts
    self.until = until
    self.expiredAt = expiredAt
    self.reason = reason
    self.createdBy = createdBy
  }

  /// When it stops holding notices: its end, or the moment it was expired.
  public var ends: Date { expiredAt.map { min($0, until) } ?? until }

  public func isActive(at now: Date) -> Bool { starts <= now && now < ends }

  /// Whether it covers notices about this rule, unit and period.
  public func matches(rule: String, unit: String, period: String) -> Bool {
    (ruleID.map { $0 == rule } ?? true) && (unitID.map { $0 == unit } ?? true)
      && (self.period.map { $0 == period } ?? true)
  }

  /// Why a notice waits, as the journal's last error says it.
  public func heldReason(in zone: Zone) -> String {
    "silenced by silence \(id) (\(matchers)) until \(zone.rfc3339(ends)): \(reason)"
  }

  /// What it matches, as an operator reads it: `rule=iso-annual-report unit=51-STP`.
  public var matchers: String {
    [("rule", ruleID), ("unit", unitID), ("period", period)].compactMap { name, value in value.map { "\(name)=\($0)" } }
      .joined(separator: " ")
  }
}

/// The silences known to the planner, asked by obligation.
public struct SilenceBook: Sendable {
  public let silences: [Silence]

  public init(_ silences: [Silence] = []) { self.silences = silences }

  /// The silence holding notices about an obligation at `now`, the one that lasts longest when
  /// several do.
  public func active(rule: String, unit: String, period: String, at now: Date) -> Silence? {
    silences.filter { $0.isActive(at: now) && $0.matches(rule: rule, unit: unit, period: period) }
      .max { ($0.ends, $0.id) < ($1.ends, $1.id) }
  }

  public func active(for key: NoticeKey, at now: Date) -> Silence? {
    active(rule: key.rule, unit: key.unit.id, period: key.period.description, at: now)
  }

  /// Instants at which a silence starts or ends: the planner wakes for them.
  public var instants: [Date] { silences.flatMap { [$0.starts, $0.ends] } }
}
