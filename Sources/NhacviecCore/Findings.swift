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

  /// Whether nothing more is owed.
  public var isClosed: Bool { self == .metOnTime || self == .metLate || self == .exempt }

  public var vietnamese: String {
    switch self {
    case .upcoming: return "chưa đến hạn"
    case .dueSoon: return "sắp đến hạn"
    case .overdue: return "quá hạn"
    case .metOnTime: return "đã hoàn thành đúng hạn"
    case .metLate: return "đã hoàn thành trễ hạn"
    case .extended: return "được gia hạn"
    case .exempt: return "được miễn"
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
  /// The rule's deadline before any extension.
  public let ruleDeadline: Date
  public let extensionFact: Fact?
  public let exemptionFact: Fact?
  public let assessment: Assessment
  public let at: Date

}
