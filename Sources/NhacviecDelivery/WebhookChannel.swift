import Foundation
import NhacviecConfig
public import NhacviecCore

/// HTTP(S) POST of the versioned JSON payload, or of a templated body for chat services.
///
/// Each request carries `Idempotency-Key: <notice key>`, and with a secret, the signature
/// `X-Nhacviec-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`.
public struct WebhookChannel: NoticeChannel {
  public let name: String
  let config: WebhookConfiguration
  let client: CurlClient
  let secret: String?
  let bearerToken: String?
  /// What the channel sends that only its server may see: the bearer token, every
  /// `header.NAME` value, and the signing secret (which itself never leaves).
  let secretValues: [String]
  let clock: @Sendable () -> Date

  init(_ config: WebhookConfiguration, runtime: ChannelRuntime) throws(ConfigError) {
    name = config.spec.name
    self.config = config
    client = runtime.client
    clock = runtime.clock
    secret = try config.secret?.read()
    bearerToken = try config.bearerToken?.read()
    secretValues =
      [secret, bearerToken].compactMap { $0 }
      + config.headers.map { header in
        let value = header.drop { $0 != ":" }.dropFirst()
        return String(value.drop { $0 == " " })
      }
  }

  public var parts: MessageParts { config.bodyTemplate == nil ? .payload : [] }
  /// libcurl keeps a request for a busy server until one of its connections frees.
  public var queuesForConnections: Bool { true }

  func body(for message: OutgoingMessage) -> String {
    guard let bodyTemplate = config.bodyTemplate else { return message.payload }
    func json(_ text: String) -> String {
      String(decoding: (try? JSONEncoder().encode(text)) ?? Data("\"\"".utf8), as: UTF8.self)
    }
    return TemplateText.render(
      bodyTemplate,
      [
        "key": message.key, "rule": message.rule, "unit": message.unit?.id ?? "", "period": message.period,
        "step": message.step, "reason": message.reason.rawValue, "subject": message.subject, "text": message.text,
        "subject.json": json(message.subject), "text.json": json(message.text),
      ])
  }

  /// The signature a receiver recomputes with the shared secret.
  public static func signature(secret: String, timestamp: Int, body: [UInt8]) -> String {
    "t=\(timestamp),v1=" + SHA256.hex(SHA256.hmac(key: Array(secret.utf8), message: Array("\(timestamp).".utf8) + body))
  }

  public func deliver(_ message: OutgoingMessage) async -> DeliveryOutcome {
    // A recipient's own webhook, else the channel's URL.
    var targets = message.to.map(\.address).filter(WebhookURL.isValid)
    if targets.isEmpty, let url = config.url { targets = [url] }
    guard !targets.isEmpty else { return .permanent(reason: "no webhook URL for this notice") }
    let body = Array(body(for: message).utf8)
    var outcomes: [(String, DeliveryOutcome)] = []
    for target in targets {
      var request = CurlRequest(url: target)
      request.pool = name
      request.connections = config.connections
      request.pace = config.delivery.rate.map { CurlRequest.Pace(key: name, spacing: $0.spacing) }
      request.body = body
      request.timeout = config.timeout
      request.maxRedirects = config.maxRedirects
      request.caFile = config.caFile
      request.headers = [
        "Content-Type: application/json; charset=utf-8", "User-Agent: nhacviec",
        "Idempotency-Key: \(message.key.filter { $0 != "\r" && $0 != "\n" })",
      ]
      if let secret {
        let timestamp = Int(clock().timeIntervalSince1970)
        request.headers.append(
          "X-Nhacviec-Signature: \(WebhookChannel.signature(secret: secret, timestamp: timestamp, body: body))")
      }
      if let bearerToken { request.headers.append("Authorization: Bearer \(bearerToken)") }
      request.headers += config.headers
      request.secretValues = secretValues
      do {
        let response = try await client.perform(request)
        outcomes.append((target, WebhookChannel.outcome(response, secrets: request.secrets)))
      } catch is CancellationError {
        outcomes.append((target, .notAttempted(reason: "cancelled")))
      } catch CurlError.stopped {
        outcomes.append((target, .notAttempted(reason: "the daemon was stopping")))
      } catch {
        // The client's own errors, which name no part of the request.
        outcomes.append((target, .transient(reason: "\(error)", retryAfter: nil)))
      }
    }
    // One target: its outcome. Several (each recipient's own webhook): those that took it are
    // done, and only the others are tried again; each drops a repeat by its Idempotency-Key.
    if outcomes.count == 1 { return outcomes[0].1 }
    var receipts: [String] = []
    var refused: [DeliveryOutcome.Refusal] = []
    for (target, outcome) in outcomes {
      switch outcome {
      case .sent(let receipt), .partial(let receipt, _): receipts.append(receipt)
      case .permanent(let reason): refused.append(.init(address: target, reason: reason, permanent: true))
      case .transient(let reason, _), .notAttempted(let reason):
        refused.append(.init(address: target, reason: reason, permanent: false))
      }
    }
    if refused.isEmpty { return .sent(receipt: receipts.joined(separator: "; ")) }
    return .partial(receipt: receipts.joined(separator: "; "), refused: refused)
  }

  /// An answer's status, and the first of its text unless that repeats one of the request's
  /// `secrets` (a server may echo its URL or headers); libcurl's message as the client gives it.
  /// The target's URL is never part of it: whoever shows an outcome names the target in its safe
  /// form.
  static func outcome(_ response: CurlResponse, secrets: Secrets) -> DeliveryOutcome {
    guard let failure = response.failure else {
      let code = response.code
      if (200..<300).contains(code) { return .sent(receipt: "HTTP \(code)") }
      let text = String(decoding: response.body.prefix(200), as: UTF8.self).oneLine
      let snippet = secrets.cleared(text) ?? "(its text is withheld: it repeats a secret of the request)"
      let reason = "HTTP \(code)\(text.isEmpty ? "" : ": \(snippet)")"
      switch code {
      case 408, 425, 429, 500..<600:
        return .transient(reason: reason, retryAfter: retryAfter(response.headers["retry-after"]))
      default: return .permanent(reason: reason)
      }
    }
    if failure == .notTLS {
      return .permanent(
        reason: "the server does not answer in TLS: for a plain port use http:// (libcurl: \(response.error))")
    }
    return failure.isPermanent
      ? .permanent(reason: response.error) : .transient(reason: response.error, retryAfter: nil)
  }

  /// `Retry-After` as seconds or as an HTTP date.
  static func retryAfter(_ value: String?) -> TimeInterval? {
    guard let value else { return nil }
    if let seconds = Double(value.trimmingCharacters(in: .whitespaces)) { return max(0, seconds) }
    let formatter = DateFormatter()
    formatter.locale = Locale(identifier: "en_US_POSIX")
    formatter.timeZone = TimeZone(identifier: "GMT")
    formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
    return formatter.date(from: value).map { max(0, $0.timeIntervalSinceNow) }
  }
}
