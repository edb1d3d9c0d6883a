public import Foundation
public import NhacviecCore

/// Correcting facts and muting notices: `/v1/facts` (list, retract) and `/v1/silences`.
extension ControlAPI {
  /// `GET /v1/facts`: a recorded fact with its id, who recorded it and, once taken back, who
  /// retracted it and why.
  public struct RecordedFact: Codable, Sendable {
    public let id: Int64
    public let kind: String
    public let unit: String
    public let rule: String
    public let period: String
    public let at: String?
    public let reference: String?
    public let amount: Int64?
    public let due: String?
    public let by: String?
    public let reason: String?
    public let recordedAt: String
    /// The uid that recorded it through the socket; nil when unknown.
    public let recordedBy: UInt32?
    /// `socket`, `import FILE`, `link` (a unit through its signed link), `desk`.
    public let source: String
    /// Who recorded it, by name: an officer's account, `unit` for a link, the Unix user through
    /// the socket; nil for a fact recorded before names were kept.
    public let recordedByName: String?
    public let retracted: Retraction?

    public struct Retraction: Codable, Sendable {
      public let at: String
      public let by: UInt32?
      public let reason: String

      public init(at: String, by: UInt32?, reason: String) {
        self.at = at
        self.by = by
        self.reason = reason
      }
    }

    public init(
      id: Int64, fact: Fact, zone: Zone, recordedAt: String, recordedBy: UInt32?, source: String,
      recordedByName: String? = nil, retracted: Retraction?
    ) {
      self.id = id
      kind = fact.kind.rawValue
      unit = fact.unitID
      rule = fact.ruleID
      period = fact.period
      at = fact.at.map(zone.rfc3339)
      reference = fact.reference
      amount = fact.amount
      due = fact.due?.description
      by = fact.decidedBy
      reason = fact.reason
      self.recordedAt = recordedAt
      self.recordedBy = recordedBy
      self.source = source
      self.recordedByName = recordedByName
      self.retracted = retracted
    }

    enum CodingKeys: String, CodingKey {
      case id, kind, unit, rule, period, at, reference, amount, due, by, reason, source, retracted
      case recordedAt = "recorded_at"
      case recordedBy = "recorded_by"
      case recordedByName = "recorded_by_name"
    }
  }

  /// `DELETE /v1/facts/ID`: why the fact is taken back.
  public struct Retraction: Codable, Sendable {
    public let reason: String
    public init(reason: String) { self.reason = reason }
  }

  /// `POST /v1/silences`: what to mute and until when. At least a rule or a unit.
  public struct SilenceRequest: Codable, Sendable {
    public var rule: String?
    public var unit: String?
    public var period: String?
    /// An instant or a date (`2026-11-20`, the start of that day) in the deployment's zone.
    public var until: String
    public var reason: String

    public init(rule: String?, unit: String?, period: String?, until: String, reason: String) {
      self.rule = rule
      self.unit = unit
      self.period = period
      self.until = until
      self.reason = reason
    }
  }

  /// A silence as `silence list`, `status` and `findings` show it.
  public struct Silence: Codable, Sendable {
    public let id: Int64
    public let rule: String?
    public let unit: String?
    public let period: String?
    public let starts: String
    /// When it stops holding notices: its `until`, or when it was expired.
    public let ends: String
    public let expired: Bool
    public let active: Bool
    public let reason: String
    public let createdBy: UInt32?

    public init(_ silence: NhacviecCore.Silence, zone: Zone, now: Date) {
      id = silence.id
      rule = silence.ruleID
      unit = silence.unitID
      period = silence.period
      starts = zone.rfc3339(silence.starts)
      ends = zone.rfc3339(silence.ends)
      expired = silence.expiredAt.map { $0 < silence.until } ?? false
      active = silence.isActive(at: now)
      reason = silence.reason
      createdBy = silence.createdBy
    }

    enum CodingKeys: String, CodingKey {
      case id, rule, unit, period, starts, ends, expired, active, reason
      case createdBy = "created_by"
    }
  }
}
