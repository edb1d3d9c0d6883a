public import Foundation

/// Why a notice exists: said in `status` and available to its template.
public enum NoticeReason: String, Sendable, Codable {
  case firstReminder = "first-reminder"
  case nextReminder = "next-reminder"
  case escalation
  case `repeat`
  /// A ladder missed while the daemon was down, collapsed to its newest step.
  case catchUp = "catch-up"
  /// Many notices to one recipient in one window, merged.
  case digest
  /// A `summary` rule's scheduled report.
  case summary
}

/// Someone a step reaches, resolved through the directory as of the send date.
public struct Recipient: Sendable, Hashable {
  public let unitID: String
  public let unitName: String
  public let role: String
  public let contact: Contact

  public init(unitID: String, unitName: String, role: String, contact: Contact) {
    self.unitID = unitID
    self.unitName = unitName
    self.role = role
    self.contact = contact
  }
}

/// What kind of address a channel sends to.
public enum AddressKind: String, Sendable, Codable {
  case email
  case webhook
}

/// A channel as the planner sees it: a name and how it addresses people.
public struct ChannelSpec: Sendable, Hashable {
  public let name: String
  public let type: String
  public let addressKind: AddressKind
  /// A webhook channel's own URL, used for recipients without a webhook of their own.
  public let url: String?

  public init(name: String, type: String, addressKind: AddressKind, url: String? = nil) {
    self.name = name
    self.type = type
    self.addressKind = addressKind
    self.url = url
  }
}

/// One message that should go out through one channel.
public struct Notice: Sendable, Hashable {
  /// Stable across re-plans: `iso-annual-report/51-STP/2026/remind-7d`. With the channel, it names
  /// the notice in the journal.
  public let key: String
  public let ruleID: String
  public let unitID: String
  public let period: String
  /// `remind-7d`, `escalate-3wd`, `escalate-7wd-r2`, `digest`.
  public let step: String
  public let reason: NoticeReason
  /// `reminder`, `overdue`, `escalation` or `digest`.
  public let template: String
  /// When the step is scheduled (inside the send window).
  public let at: Date
  public let channel: String
  public let recipients: [Recipient]
  /// The channel's addresses for the recipients: emails, or webhook URLs.
  public let to: [String]
  /// The obligation as it stood when the notice was planned; nil for a digest.
  public let finding: Finding?
  /// A digest's notices.
  public let items: [Notice]
  /// A `summary` rule's report, as it stood when the notice was planned.
  public let report: ConsolidatedReport?

  public init(
    key: String, ruleID: String, unitID: String, period: String, step: String, reason: NoticeReason,
    template: String, at: Date, channel: String, recipients: [Recipient], to: [String], finding: Finding?,
    items: [Notice] = [], report: ConsolidatedReport? = nil
  ) {
    self.key = key
    self.ruleID = ruleID
    self.unitID = unitID
    self.period = period
    self.step = step
    self.reason = reason
    self.template = template
    self.at = at
    self.channel = channel
    self.recipients = recipients
    self.to = to
    self.finding = finding
    self.items = items
    self.report = report
  }

  func addressed(to addresses: [String], recipients: [Recipient]) -> Notice {
    Notice(
      key: key, ruleID: ruleID, unitID: unitID, period: period, step: step, reason: reason, template: template, at: at,
      channel: channel, recipients: recipients, to: addresses, finding: finding, items: items, report: report)
  }
}
