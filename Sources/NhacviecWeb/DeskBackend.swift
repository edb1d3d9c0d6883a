public import Foundation
public import NhacviecControl
public import NhacviecCore

/// What the desk asks of the daemon. The daemon answers with what its control API already
/// answers with (`report`, `findings`, `facts`, `record`, `retract`, notices), so that a page and
/// a command show the same figures; the desk adds only who did it.
public protocol DeskBackend: UnitsWordBackend {
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
  /// Records every fact of a file, or none: an error names the file's line.
  func importFacts(_ facts: [ControlAPI.FactRequest], file: String, officer: String) throws -> String
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

/// What a unit's link opens: its obligation as things stand, or why it opens nothing.
public enum LinkOpening: Sendable {
  /// The token was refused: `reason` for the log (never the token), `message` for the unit,
  /// `expired` to answer 410 rather than 403.
  case refused(reason: String, message: String, expired: Bool)
  /// The token is good but names nothing owed now (the unit left the roster, the rule is gone).
  case gone
  case open(LinkObligation)
}

/// One obligation as the unit's link page shows it, in the words of its messages.
public struct LinkObligation: Sendable {
  public let rule: String
  public let unit: String
  public let period: String
  /// The duty's name (`Báo cáo tình hình … năm 2026`), the unit's name and what it rests on.
  public let title: String
  public let unitName: String
  public let basis: String
  /// `trước ngày 15/11/2026`, or the extension's day.
  public let duePhrase: String
  public let state: FindingState
  /// Days past the deadline in force; 0 before it.
  public let daysOverdue: Int
  /// The days on which the duty can still be met on time, today included (`DueSpec.dayCounts`);
  /// 0 once the deadline in force has passed.
  public let daysLeft: Int
  /// A claim waiting for the Department: its document number and date.
  public let claim: (reference: String, date: String?)?
  /// A request for time waiting: the day asked for and why.
  public let request: (until: String, reason: String)?

  public init(
    rule: String, unit: String, period: String, title: String, unitName: String, basis: String, duePhrase: String,
    state: FindingState, daysOverdue: Int, daysLeft: Int, claim: (reference: String, date: String?)?,
    request: (until: String, reason: String)?
  ) {
    self.rule = rule
    self.unit = unit
    self.period = period
    self.title = title
    self.unitName = unitName
    self.basis = basis
    self.duePhrase = duePhrase
    self.state = state
    self.daysOverdue = daysOverdue
    self.daysLeft = daysLeft
    self.claim = claim
    self.request = request
  }
}

/// A claim or request on the desk, named by its obligation.
public struct WordOf: Sendable, Hashable {
  public let rule: String
  public let unit: String
  public let period: String
  /// `claim` or `request`.
  public let kind: String

  public init(rule: String, unit: String, period: String, kind: String) {
    self.rule = rule
    self.unit = unit
    self.period = period
    self.kind = kind
  }
}

/// What the unit's link and the claims page ask of the daemon.
public protocol UnitsWordBackend: Sendable {
  func open(link token: String) -> LinkOpening
  /// Records the unit's claim through its link; false when the same claim already waits.
  func claim(link token: String, reference: String, documentDate: LocalDate?) throws -> Bool
  /// Records the unit's request for time through its link; false when the same one waits.
  func request(link token: String, until: LocalDate, reason: String) throws -> Bool
  func pendingWords() throws -> [ControlAPI.PendingWord]
  func accept(_ word: WordOf, officer: String) throws -> ControlAPI.RecordedFact
  func giveBack(_ word: WordOf, reason: String, officer: String) throws -> ControlAPI.RecordedFact
}
