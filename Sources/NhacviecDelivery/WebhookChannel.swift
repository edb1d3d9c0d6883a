import Foundation
public import NhacviecCore

/// HTTP(S) POST of the versioned JSON payload, or of a templated body for chat services.
///
/// Each request carries `Idempotency-Key: <notice key>`, and with a secret, the signature
/// `X-Nhacviec-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`.
public struct WebhookChannel: NoticeChannel {
  public let name: String
  let client: CurlClient
  let url: String?
  let secret: String?
  let bearerToken: String?
  let bodyTemplate: String?
  let extraHeaders: [String]
  let timeout: TimeInterval
  let maxRedirects: Int
  let caFile: String?
  let redact: Redactor
  let clock: @Sendable () -> Date

  init(
    name: String, settings: inout ChannelSettings, client: CurlClient, clock: @escaping @Sendable () -> Date
  ) throws {
    self.name = name
    self.client = client
    self.clock = clock
    url = settings.optional("url")
    if let url, !(url.hasPrefix("http://") || url.hasPrefix("https://")) {
      throw settings.error("url must start with http:// or https://")
    }
    secret = try settings.secret("secret_file")
    bearerToken = try settings.secret("bearer_token_file")
    bodyTemplate = settings.optional("body_template")
    if let bodyTemplate {
      let known = WebhookChannel.templateVariables
      if let unknown = TemplateText.placeholders(in: bodyTemplate).first(where: { !known.contains($0) }) {
        throw settings.error(
          "body_template: unknown placeholder {{\(unknown)}} (known: \(known.sorted().joined(separator: ", ")))")
      }
    }
    timeout = try settings.seconds("timeout", default: 15)
    maxRedirects = try settings.integer("max_redirects", default: 3)
    guard maxRedirects <= CurlClient.maximumRedirects else {
      throw settings.error("max_redirects must be 0 to \(CurlClient.maximumRedirects), not \(maxRedirects)")
    }
    caFile = settings.optional("ca_file")
    var headers: [String] = []
    for (key, value) in settings.values.sorted(by: { $0.key < $1.key }) where key.hasPrefix("header.") {
      let header = String(key.dropFirst("header.".count))
      guard !header.isEmpty, !header.contains(where: { $0 == ":" || $0 == "\r" || $0 == "\n" || $0 == " " }),
        !value.contains(where: { $0 == "\r" || $0 == "\n" })
      else { throw settings.error("bad header \(header)") }
      headers.append("\(header): \(value)")
    }
    extraHeaders = headers
    redact = Redactor([secret, bearerToken].compactMap { $0 })
  }

  static let templateVariables: Set<String> = [
    "key", "rule", "unit", "period", "step", "reason", "subject", "text", "subject.json", "text.json",
  ]

  func body(for message: OutgoingMessage) -> String {
    guard let bodyTemplate else { return message.payload }
    func json(_ text: String) -> String {
      String(decoding: (try? JSONEncoder().encode(text)) ?? Data("\"\"".utf8), as: UTF8.self)
    }
    return TemplateText.render(
      bodyTemplate,
      [
        "key": message.key, "rule": message.ruleID, "unit": message.unitID, "period": message.period,
        "step": message.step, "reason": message.reason, "subject": message.subject, "text": message.text,
        "subject.json": json(message.subject), "text.json": json(message.text),
      ])
  }

  /// The signature a receiver recomputes with the shared secret.
  public static func signature(secret: String, timestamp: Int, body: [UInt8]) -> String {
    "t=\(timestamp),v1=" + SHA256.hex(SHA256.hmac(key: Array(secret.utf8), message: Array("\(timestamp).".utf8) + body))
  }

  public func deliver(_ message: OutgoingMessage) async -> DeliveryOutcome {
    // A recipient's own webhook, else the channel's URL.
    var targets = message.to.map(\.address).filter { $0.hasPrefix("http://") || $0.hasPrefix("https://") }
    if targets.isEmpty, let url { targets = [url] }
    guard !targets.isEmpty else { return .permanent(reason: "no webhook URL for this notice") }
    let body = Array(body(for: message).utf8)
    var outcomes: [DeliveryOutcome] = []
    for target in targets {
      var request = CurlRequest(url: target)
      request.body = body
      request.timeout = timeout
      request.maxRedirects = maxRedirects
      request.caFile = caFile
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
      request.headers += extraHeaders
      do {
        outcomes.append(redact(WebhookChannel.outcome(try await client.perform(request))))
      } catch {
        outcomes.append(.transient(reason: redact("\(error)"), retryAfter: nil))
      }
    }
    // All must succeed; a retry sends again to all, and the Idempotency-Key lets each drop a repeat.
    if let permanent = outcomes.first(where: { if case .permanent = $0 { return true } else { return false } }) {
      return permanent
    }
    if let transient = outcomes.first(where: { if case .transient = $0 { return true } else { return false } }) {
      return transient
    }
    let receipts = outcomes.compactMap { if case .sent(let r) = $0 { return r } else { return nil } }
    return .sent(receipt: receipts.joined(separator: "; "))
  }

  static func outcome(_ response: CurlResponse) -> DeliveryOutcome {
    guard let failure = response.failure else {
      let code = response.code
      let snippet = String(decoding: response.body.prefix(200), as: UTF8.self)
        .split(whereSeparator: \.isNewline).joined(separator: " ")
      let reason = "HTTP \(code)\(snippet.isEmpty ? "" : ": \(snippet)")"
      switch code {
      case 200..<300: return .sent(receipt: "HTTP \(code)")
      case 408, 425, 429, 500..<600:
        return .transient(reason: reason, retryAfter: retryAfter(response.headers["retry-after"]))
      default: return .permanent(reason: reason)
      }
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
