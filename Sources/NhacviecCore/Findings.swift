public import Foundation

/// The state of one obligation of one unit at an instant.
public enum FindingState: String, Sendable, CaseIterable, Codable {
  case upcoming
  case dueSoon = "due-soon"
  case overdue
  case metOnTime = "met-on-time"
  case metLate = "met-late"
  case extended
  case exempt
  /// The unit says it has sent its report; the Department has not verified it yet.
  case claimed

  /// Whether nothing more is owed.
  public var isClosed: Bool { self == .metOnTime || self == .metLate || self == .exempt }

  /// Whether no reminder or escalation goes out: nothing is owed, or the unit's claim waits for
  /// the Department, which verifies it on its desk rather than by pressing the unit or its
  /// superiors.
  public var stopsNotices: Bool { isClosed || self == .claimed }

  public var vietnamese: String {
    switch self {
    case .upcoming: return "chưa đến hạn"
    case .dueSoon: return "sắp đến hạn"
    case .overdue: return "quá hạn"
    case .metOnTime: return "đã hoàn thành đúng hạn"
    case .metLate: return "đã hoàn thành trễ hạn"
    case .extended: return "được gia hạn"
    case .exempt: return "được miễn"
    case .claimed: return "đơn vị báo đã gửi, chờ xác minh"
    }
  }
}

/// One obligation (rule, unit, period) as it stands at `at`.
public struct Finding: Sendable, Hashable {
  public let ruleID: String
  public let unit: OrgUnit
  /// The unit's parent on the last day allowed.
  public let parent: OrgUnit?
  public let period: Period
  public let state: FindingState
  /// The deadline in force: the rule's, or an extension's.
  public let deadline: Date
  /// When the time limit in force ends: `deadline`, or later when its last day is a day off and
  /// the calendar moves it to the next working day. Lateness is judged against this.
  public var ends: Date
  /// The rule's deadline before any extension.
  public let ruleDeadline: Date
  public let extensionFact: Fact?
  public let exemptionFact: Fact?
  public let assessment: Assessment
  public let at: Date
  /// The unit's claim waiting for the Department's verdict.
  public var claimFact: Fact? = nil
  /// The unit's request for more time waiting for the Department's verdict.
  public var requestFact: Fact? = nil
  /// The Department's latest refusal of a claim or request: its reason goes to the unit.
  public var returnedFact: Fact? = nil
  /// The claim or request that `returnedFact` answered: the unit's latest word before it.
  public var returnedWord: Fact? = nil

}
