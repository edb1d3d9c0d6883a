public import Foundation
public import NhacviecControl
public import NhacviecCore

/// What the desk asks of the daemon. The daemon answers with what its control API already
/// answers with (`report`, `findings`, `facts`, `record`, `retract`, notices), so that a page and
/// a command show the same figures; the desk adds only who did it.
public protocol DeskBackend: Sendable {
  /// Now, by the daemon's clock.
  func now() -> Date
  var zone: Zone { get }
  /// The obligation rules, for the season's filters.
  func rules() -> [DeskRule]
  /// The unit's name in today's directory; nil for a unit nobody knows.
  func unitName(_ id: String) -> String?
  /// The consolidated report, as `nhacviec report` builds it.
  func report(period: Period, rules: [String]?, scope: String?) throws -> ConsolidatedReport
  /// The unit's obligations as things stand.
  func findings(unit: String) throws -> [ControlAPI.Finding]
  func recordedFacts(unit: String?, retracted: Bool) throws -> [ControlAPI.RecordedFact]
  /// The unit's notices, newest last, at most `limit`.
  func notices(unit: String, limit: Int) throws -> [ControlAPI.Notice]
  func history(key: String) throws -> ControlAPI.NoticeHistory?
  /// Records one fact for an officer; what happened, in English (the CLI's words).
  func record(_ fact: ControlAPI.FactRequest, officer: String) throws -> String
  func retract(id: Int64, reason: String, officer: String) throws -> ControlAPI.RecordedFact
  /// The notices that need someone: failed (another attempt planned) and dead, oldest first.
  func troubled(limit: Int) throws -> [ControlAPI.Notice]
  /// Plans again the failed and dead notices with these keys; how many rows.
  func retry(keys: [String], officer: String) throws -> Int
  /// Acknowledges the dead notices with these keys; how many rows.
  func acknowledge(keys: [String], officer: String) throws -> Int
  func silences(all: Bool) throws -> [ControlAPI.Silence]
  func addSilence(_ request: ControlAPI.SilenceRequest, officer: String) throws -> ControlAPI.Silence
  func expireSilence(id: Int64, officer: String) throws -> ControlAPI.Silence
}

/// A rule as the season's filter names it.
public struct DeskRule: Sendable, Hashable {
  public let id: String
  public let title: String
  public let period: PeriodKind

  public init(id: String, title: String, period: PeriodKind) {
    self.id = id
    self.title = title
    self.period = period
  }
}
