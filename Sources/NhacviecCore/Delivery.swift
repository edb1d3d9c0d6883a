public import Foundation

/// A notice rendered and frozen for delivery: what the journal stores before anything is sent,
/// so that a retry or a restart sends exactly the same message under the same key.
public struct OutgoingMessage: Sendable, Hashable, Codable {
  public struct Addressee: Sendable, Hashable, Codable {
    public let unitID: String
    public let unitName: String
    public let role: String
    public let name: String?
    public let address: String

    enum CodingKeys: String, CodingKey {
      case role, name, address
      case unitID = "unit_id"
      case unitName = "unit_name"
    }

    public init(unitID: String, unitName: String, role: String, name: String?, address: String) {
      self.unitID = unitID
      self.unitName = unitName
      self.role = role
      self.name = name
      self.address = address
    }
  }

  public let key: String
  public let channel: String
  public let ruleID: String
  public let unitID: String
  public let period: String
  public let step: String
  public let reason: String
  public let template: String
  public let scheduledAt: Date
  public let to: [Addressee]
  public let subject: String
  public let text: String
  public let html: String
  /// The versioned webhook body (`WebhookPayload`), ready to send.
  public let payload: String
  /// Files an email carries: a summary's CSV. Nil in journals written before there were any.
  public let attachments: [Attachment]?

  public struct Attachment: Sendable, Hashable, Codable {
    /// May hold any Unicode: email encodes it per RFC 2231.
    public let filename: String
    public let contentType: String
    public let data: Data

    public init(filename: String, contentType: String, data: Data) {
      self.filename = filename
      self.contentType = contentType
      self.data = data
    }
  }

  public init(
    key: String, channel: String, ruleID: String, unitID: String, period: String, step: String, reason: String,
    template: String, scheduledAt: Date, to: [Addressee], subject: String, text: String, html: String, payload: String,
    attachments: [Attachment]? = nil
  ) {
    self.key = key
    self.channel = channel
    self.ruleID = ruleID
    self.unitID = unitID
    self.period = period
    self.step = step
    self.reason = reason
    self.template = template
    self.scheduledAt = scheduledAt
    self.to = to
    self.subject = subject
    self.text = text
    self.html = html
    self.payload = payload
    self.attachments = attachments
  }

  /// Renders a planned notice for its channel.
  public init(notice: Notice, renderer: MessageRenderer) {
    let message = renderer.render(notice)
    var addressees: [Addressee] = []
    for address in notice.to {
      let recipient = notice.recipients.first { $0.contact.email == address || $0.contact.webhook == address }
      addressees.append(
        Addressee(
          unitID: recipient?.unitID ?? "", unitName: recipient?.unitName ?? "", role: recipient?.role ?? "",
          name: recipient?.contact.name, address: address))
    }
    self.init(
      key: notice.key, channel: notice.channel, ruleID: notice.ruleID, unitID: notice.unitID, period: notice.period,
      step: notice.step, reason: notice.reason.rawValue, template: notice.template, scheduledAt: notice.at,
      to: addressees, subject: message.subject, text: message.text, html: message.html,
      payload: WebhookPayload(notice: notice, message: message, zone: renderer.zone).json(),
      attachments: notice.report.map { report in
        [
          Attachment(
            filename: report.fileName(on: renderer.zone.localDate(of: notice.at), extension: "csv"),
            contentType: "text/csv; charset=UTF-8", data: Data(report.csv(zone: renderer.zone).utf8))
        ]
      })
  }
}

/// What one delivery attempt came to. Every failure says whether trying again can help.
public enum DeliveryOutcome: Sendable, Hashable {
  /// Accepted; the receipt is the server's answer (SMTP reply, HTTP status, a program's output).
  case sent(receipt: String)
  /// Worth another attempt: a 4xx SMTP reply, HTTP 5xx, 408 or 429, a timeout, a refused
  /// connection. `retryAfter` is the receiver's own wish (`Retry-After`).
  case transient(reason: String, retryAfter: TimeInterval?)
  /// Not worth another attempt: a 5xx SMTP reply, another HTTP 4xx, a bad configuration.
  case permanent(reason: String)
}

/// A way out for notices: SMTP, webhook, file, exec, or a plugin of one's own.
public protocol NoticeChannel: Sendable {
  var name: String { get }
  func deliver(_ message: OutgoingMessage) async -> DeliveryOutcome
}

/// When to try again, and when to give up. Pure: randomness comes in as a number.
public struct RetryPolicy: Sendable, Hashable {
  public var firstDelay: TimeInterval
  public var multiplier: Double
  public var maximumDelay: TimeInterval
  /// Attempts in all, the first included.
  public var maximumAttempts: Int
  /// After this long since the notice was scheduled, a failure is final.
  public var maximumAge: TimeInterval
  /// Each delay is spread by ± this fraction, so that failed notices do not retry in lockstep.
  public var jitter: Double

  public init(
    firstDelay: TimeInterval = 60, multiplier: Double = 2, maximumDelay: TimeInterval = 3600,
    maximumAttempts: Int = 12, maximumAge: TimeInterval = 3 * 86_400, jitter: Double = 0.2
  ) {
    self.firstDelay = firstDelay
    self.multiplier = multiplier
    self.maximumDelay = maximumDelay
    self.maximumAttempts = maximumAttempts
    self.maximumAge = maximumAge
    self.jitter = jitter
  }

  public enum Decision: Sendable, Hashable {
    case retry(at: Date)
    case dead(reason: String)
  }

  /// After `attempts` failed attempts of a notice scheduled at `scheduledAt`, the last one
  /// transient. `random` is in [0, 1).
  public func afterTransientFailure(
    attempts: Int, scheduledAt: Date, now: Date, retryAfter: TimeInterval?, random: Double
  ) -> Decision {
    if attempts >= maximumAttempts { return .dead(reason: "gave up after \(attempts) attempts") }
    let base = min(maximumDelay, firstDelay * pow(multiplier, Double(max(0, attempts - 1))))
    var delay = base * (1 + jitter * (2 * random - 1))
    if let retryAfter { delay = max(delay, min(retryAfter, maximumAge)) }
    let next = now.addingTimeInterval(delay)
    if next.timeIntervalSince(scheduledAt) > maximumAge {
      return .dead(reason: "gave up: still failing \(Int(maximumAge / 3600)) hours after it was due")
    }
    return .retry(at: next)
  }
}
