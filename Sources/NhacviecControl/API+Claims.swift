import Foundation
public import NhacviecCore

/// A unit's own word (a claim that its report was sent, a request for more time) and the
/// Department's verdict on it: `/v1/claims`.
extension ControlAPI {
  /// `GET /v1/claims`: a claim or a request waiting for the Department's verdict.
  public struct PendingWord: Codable, Sendable, Hashable {
    /// The fact's id, as `nhacviec facts` lists it.
    public let id: Int64
    /// `claim` or `request`.
    public let kind: String
    public let rule: String
    public let unit: String
    public let unitName: String
    public let period: String
    /// When the unit said it.
    public let at: String?
    /// A claim's document number.
    public let reference: String?
    /// A claim's document date, or the day a request asks for.
    public let due: String?
    public let reason: String?
    /// The deadline in force and the obligation's state now.
    public let deadline: String
    public let state: FindingState
    /// `link`, `socket`, `desk`, …
    public let source: String
    public let recordedBy: String?

    public init(
      id: Int64, kind: String, rule: String, unit: String, unitName: String, period: String, at: String?,
      reference: String?, due: String?, reason: String?, deadline: String, state: FindingState, source: String,
      recordedBy: String?
    ) {
      self.id = id
      self.kind = kind
      self.rule = rule
      self.unit = unit
      self.unitName = unitName
      self.period = period
      self.at = at
      self.reference = reference
      self.due = due
      self.reason = reason
      self.deadline = deadline
      self.state = state
      self.source = source
      self.recordedBy = recordedBy
    }

    enum CodingKeys: String, CodingKey {
      case id, kind, rule, unit, period, at, reference, due, reason, deadline, state, source
      case unitName = "unit_name"
      case recordedBy = "recorded_by"
    }
  }

  /// `POST /v1/claims`: a unit's word recorded on its behalf (the link page records it in the
  /// daemon's own process).
  public struct WordRequest: Codable, Sendable {
    /// `claim` or `request`.
    public var kind: String
    public var rule: String
    public var unit: String
    public var period: String
    /// A claim's document number.
    public var reference: String?
    /// A claim's document date, or the day a request asks for: `2026-11-10`.
    public var due: String?
    public var reason: String?

    public init(
      kind: String, rule: String, unit: String, period: String, reference: String? = nil, due: String? = nil,
      reason: String? = nil
    ) {
      self.kind = kind
      self.rule = rule
      self.unit = unit
      self.period = period
      self.reference = reference
      self.due = due
      self.reason = reason
    }
  }

  /// `POST /v1/claims/accept` and `/v1/claims/return`: the verdict on an obligation's pending
  /// claim or request. `kind` chooses when both wait (the claim by default); `reason` is
  /// required to return one.
  public struct Verdict: Codable, Sendable {
    public var rule: String
    public var unit: String
    public var period: String
    public var kind: String?
    public var reason: String?

    public init(rule: String, unit: String, period: String, kind: String? = nil, reason: String? = nil) {
      self.rule = rule
      self.unit = unit
      self.period = period
      self.kind = kind
      self.reason = reason
    }
  }
}
