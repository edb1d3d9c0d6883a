public import Foundation

/// A notice rendered for its channel at the instant it is sent: what a channel transmits.
public struct OutgoingMessage: Sendable, Hashable {
  public let key: String
  public let channel: String
  /// Empty for a digest.
  public let rule: String
  /// Nil for a digest.
  public let unit: UnitRef?
  public let period: String
  public let step: String
  public let reason: NoticeReason
  /// The send instant: the message's `Date`, and what its day counts are counted from.
  public let date: Date
  /// Those this attempt is for: every addressee, or those a previous attempt did not reach.
  public let to: [Addressee]
  public let subject: String
  public let text: String
  public let html: String
  /// The versioned webhook body (`WebhookPayload`), ready to send.
  public let payload: String
  /// Files an email carries: a summary's CSV.
  public let attachments: [Attachment]

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
    key: String, channel: String, rule: String, unit: UnitRef?, period: String, step: String, reason: NoticeReason,
    date: Date, to: [Addressee], subject: String, text: String, html: String, payload: String,
    attachments: [Attachment] = []
  ) {
    self.key = key
    self.channel = channel
    self.rule = rule
    self.unit = unit
    self.period = period
    self.step = step
    self.reason = reason
    self.date = date
    self.to = to
    self.subject = subject
    self.text = text
    self.html = html
    self.payload = payload
    self.attachments = attachments
  }

  /// The same message for fewer addressees.
  public func addressed(to addressees: [Addressee]) -> OutgoingMessage {
    OutgoingMessage(
      key: key, channel: channel, rule: rule, unit: unit, period: period, step: step, reason: reason, date: date,
      to: addressees, subject: subject, text: text, html: html, payload: payload, attachments: attachments)
  }
}

/// What one delivery attempt came to. Every failure says whether trying again can help.
public enum DeliveryOutcome: Sendable, Hashable {
  /// Accepted for every address; the receipt is the server's answer (SMTP reply and queue id,
  /// HTTP status, a program's output).
  case sent(receipt: String)
  /// Accepted for some addresses and refused for others, each refusal with its own outcome
  /// (a stale mailbox refused with 550 does not cost the head's copy).
  case partial(receipt: String, refused: [Refusal])
  /// Worth another attempt: a 4xx SMTP reply, HTTP 5xx, 408 or 429, a timeout, a refused
  /// connection. `retryAfter` is the receiver's own wish (`Retry-After`).
  case transient(reason: String, retryAfter: TimeInterval?)
  /// Not worth another attempt: a 5xx SMTP reply, another HTTP 4xx, a bad configuration.
  case permanent(reason: String)
  /// Nothing was sent: the transfer never got a connection (the daemon was stopping). It costs
  /// no attempt.
  case notAttempted(reason: String)

  public struct Refusal: Sendable, Hashable {
    public let address: String
    public let reason: String
    public let permanent: Bool

    public init(address: String, reason: String, permanent: Bool) {
      self.address = address
      self.reason = reason
      self.permanent = permanent
    }
  }

  /// The outcome for each address of `message`.
  public func byAddress(_ addresses: [String]) -> [String: DeliveryOutcome] {
    switch self {
    case .partial(let receipt, let refused):
      var result = Dictionary(
        addresses.map { ($0, DeliveryOutcome.sent(receipt: receipt)) }, uniquingKeysWith: { a, _ in a })
      for refusal in refused {
        result[refusal.address] =
          refusal.permanent
          ? .permanent(reason: refusal.reason) : .transient(reason: refusal.reason, retryAfter: nil)
      }
      return result
    default:
      return Dictionary(addresses.map { ($0, self) }, uniquingKeysWith: { a, _ in a })
    }
  }
}

/// A way out for notices: SMTP, webhook, file, exec, or a plugin of one's own.
public protocol NoticeChannel: Sendable {
  var name: String { get }
  /// The parts of a message beyond its subject and text that this channel sends: only those
  /// are rendered (a webhook sends no HTML, an email no webhook body).
  var parts: MessageParts { get }
  /// Whether a message handed to it while all its connections are busy waits in a queue of its
  /// own for one to free (libcurl's), rather than starting at once: delivery then keeps as many
  /// again rendered and waiting, so that a connection that frees never waits for delivery's
  /// thread to claim and render the next.
  var queuesForConnections: Bool { get }
  func deliver(_ message: OutgoingMessage) async -> DeliveryOutcome
}

extension NoticeChannel {
  public var parts: MessageParts { .all }
  public var queuesForConnections: Bool { false }
}

/// The optional parts of an `OutgoingMessage`: a part left out is empty.
public struct MessageParts: OptionSet, Sendable, Hashable {
  public let rawValue: Int
  public init(rawValue: Int) { self.rawValue = rawValue }

  public static let html = MessageParts(rawValue: 1)
  /// The webhook body (`WebhookPayload`).
  public static let payload = MessageParts(rawValue: 2)
  public static let all: MessageParts = [.html, .payload]
}

/// When to try again, and when to give up. Pure: randomness comes in as a number.
public struct RetryPolicy: Sendable, Hashable {
  public var firstDelay: TimeInterval
  public var multiplier: Double
  public var maximumDelay: TimeInterval
  /// Attempts in all, the first included.
  public var maximumAttempts: Int
  /// After this long in the queue, a failure is final (Postfix's `maximal_queue_lifetime`): counted
  /// from when the notice was journaled, not from when it was due, and without the time it spent
  /// waiting for the send window or a silence.
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

  /// After `attempts` failed attempts of a notice that has been in the queue for `age` at `now`
  /// (see `maximumAge`), the last one transient. `random` is in [0, 1).
  public func afterTransientFailure(
    attempts: Int, age: TimeInterval, now: Date, retryAfter: TimeInterval?, random: Double
  ) -> Decision {
    if attempts >= maximumAttempts { return .dead(reason: "gave up after \(attempts) attempts") }
    let base = min(maximumDelay, firstDelay * pow(multiplier, Double(max(0, attempts - 1))))
    var delay = base * (1 + jitter * (2 * random - 1))
    if let retryAfter { delay = max(delay, min(retryAfter, maximumAge)) }
    if age + delay > maximumAge {
      return .dead(reason: "gave up: still failing \(DurationText.text(maximumAge)) after it was queued")
    }
    let next = now.addingTimeInterval(delay)
    return .retry(at: next)
  }
}

/// A channel's pace, like Postfix's `rate_delay`: one message starts at least `spacing` after
/// the one before, whatever the connections allow. Written `30/min`: messages per unit of time.
public struct RateLimit: Sendable, Hashable, CustomStringConvertible {
  public let messages: Int
  /// The unit of time, in seconds: 1, 60 or 3600.
  public let per: TimeInterval

  public init(messages: Int, per: TimeInterval) {
    self.messages = messages
    self.per = per
  }

  public var spacing: TimeInterval { per / Double(messages) }

  /// When the message after one that started at `start` may start.
  public func next(after start: Date) -> Date { start.addingTimeInterval(spacing) }

  public var description: String { "\(messages)/\(per == 1 ? "s" : per == 60 ? "min" : "h")" }

  /// `30/min`, `2/s`, `500/h` (`m` for `min`, `sec` and `hour` are accepted too); nil if not.
  public init?(_ text: String) {
    let parts = text.split(separator: "/", omittingEmptySubsequences: false)
    guard parts.count == 2, let count = Int(parts[0].trimmingCharacters(in: .whitespaces)), count > 0 else {
      return nil
    }
    switch parts[1].trimmingCharacters(in: .whitespaces) {
    case "s", "sec": per = 1
    case "m", "min": per = 60
    case "h", "hour": per = 3600
    default: return nil
    }
    messages = count
  }
}

/// How a channel paces and retries its notices: settings every kind of channel takes.
public struct DeliverySettings: Sendable, Hashable {
  /// Notices of the channel in flight at once, and connections to each of its servers.
  public var connections: Int
  public var rate: RateLimit?
  public var retry: RetryPolicy

  public init(connections: Int, rate: RateLimit? = nil, retry: RetryPolicy = RetryPolicy()) {
    self.connections = connections
    self.rate = rate
    self.retry = retry
  }
}

/// Durations as configuration writes them: `500ms`, `30s`, `5m`, `2h`, `3d`.
public enum DurationText {
  /// A bare number is seconds; nil for anything else, or a negative or non-finite number.
  public static func seconds(_ text: String) -> TimeInterval? {
    let units: [(suffix: String, scale: Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86_400)]
    let (digits, scale) =
      units.first { text.hasSuffix($0.suffix) }.map { (text.dropLast($0.suffix.count), $0.scale) }
      ?? (Substring(text), 1)
    guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }),
      let number = Double(digits), number.isFinite
    else { return nil }
    return number * scale
  }

  /// The shortest way to write `seconds` back: `90s`, `5m`, `2h`, `3d`, `500ms`.
  public static func text(_ seconds: TimeInterval) -> String {
    for (suffix, scale) in [("d", 86_400.0), ("h", 3600), ("m", 60)]
    where seconds >= scale && (seconds / scale) == (seconds / scale).rounded() {
      return plain(seconds / scale) + suffix
    }
    return seconds < 1 ? plain(seconds * 1000) + "ms" : plain(seconds) + "s"
  }

  /// A number without a needless `.0`: `2`, `1.5`.
  public static func plain(_ value: Double) -> String {
    value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : "\(value)"
  }
}
