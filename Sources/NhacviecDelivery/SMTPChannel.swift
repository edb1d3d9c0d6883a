import Foundation
import NhacviecConfig
public import NhacviecCore

/// Email through an SMTP server over libcurl: `smtp://` with STARTTLS or `smtps://`.
///
/// One transaction per message for all its recipients; a recipient the server refuses loses only
/// itself (libcurl's MAIL_RCPT_ALLOWFAILS), and each refusal is reported with the server's reply,
/// so that only those refused with a 4xx are tried again.
public struct SMTPChannel: NoticeChannel {
  public let name: String
  let config: SMTPConfiguration
  let client: CurlClient
  let password: String?
  let zone: Zone
  /// The configured EHLO name as the URL's path, escaped once.
  let heloInURL: String?
  /// The name this channel gives in EHLO. The default is looked up at the first message, on the
  /// transfers' executor: a lookup may wait for DNS, which building a channel must not.
  public var helo: String { config.helo ?? SMTPChannel.localName }

  init(_ config: SMTPConfiguration, runtime: ChannelRuntime) throws(ConfigError) {
    name = config.spec.name
    self.config = config
    client = runtime.client
    zone = runtime.zone
    password = try config.password?.read()
    heloInURL = config.helo.map(SMTPChannel.inURL)
  }

  /// The URL handed to libcurl: the configured one with the EHLO name as its path.
  var transferURL: String {
    let base = config.url.hasSuffix("/") ? String(config.url.dropLast()) : config.url
    return base + "/" + (heloInURL ?? SMTPChannel.localNameInURL)
  }

  static func inURL(_ helo: String) -> String {
    let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-.:"))
    return helo.addingPercentEncoding(withAllowedCharacters: allowed) ?? helo
  }

  /// Escaped once: a message's URL is made for every message.
  static let localNameInURL = inURL(localName)

  /// The machine's fully qualified name if it has one (as `hostname -f` finds it: the host
  /// name, else its canonical name from /etc/hosts or DNS), else its host name; found once.
  public static let localName: String = {
    var buffer = [CChar](repeating: 0, count: 256)
    guard gethostname(&buffer, buffer.count - 1) == 0 else { return "localhost" }
    let host = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    guard !host.isEmpty else { return "localhost" }
    if host.contains(".") { return host }
    var hints = addrinfo()
    hints.ai_flags = AI_CANONNAME
    hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
    var found: UnsafeMutablePointer<addrinfo>?
    guard getaddrinfo(host, nil, &hints, &found) == 0, let found else { return host }
    defer { freeaddrinfo(found) }
    if let canonical = found.pointee.ai_canonname.map({ String(cString: $0) }), canonical.contains("."),
      SMTPConfiguration.isHostName(canonical)
    {
      return canonical
    }
    return host
  }()

  public var parts: MessageParts { .html }
  /// libcurl keeps a message for a busy server until one of its connections frees.
  public var queuesForConnections: Bool { true }

  public func deliver(_ message: OutgoingMessage) async -> DeliveryOutcome {
    let recipients = message.to.map { Mailbox(name: $0.name ?? $0.unitName, address: $0.address) }
    guard !recipients.isEmpty else { return .permanent(reason: "no recipient") }
    let from = config.from
    let domain = from.address.split(separator: "@").last.map(String.init) ?? "localhost"
    var email = EmailMessage(
      from: from, to: recipients, subject: message.subject, text: message.text, html: message.html,
      messageID: EmailMessage.messageID(key: message.key, channel: name, domain: domain), date: message.date)
    email.cc = config.cc
    email.replyTo = config.replyTo
    email.extraHeaders = [("X-Nhacviec-Key", message.key)]
    email.attachments = message.attachments
    var request = CurlRequest(url: transferURL)
    // Connections are made with this EHLO name: a new name (a reload) needs new ones.
    request.pool = "\(name) \(helo)"
    request.connections = config.connections
    request.pace = config.delivery.rate.map { CurlRequest.Pace(key: name, spacing: $0.spacing) }
    request.body = email.rendered(zone: zone)
    request.mailFrom = "<\(from.address)>"
    request.recipients = (recipients + config.cc).map(\.address)
    request.username = config.username
    request.password = password
    switch config.tls {
    case .required: request.tls = .required
    case .opportunistic: request.tls = .opportunistic
    case .none: request.tls = .none
    }
    request.caFile = config.caFile
    request.timeout = config.timeout
    do {
      let response = try await client.perform(request)
      return SMTPChannel.outcome(response, url: SafeURL(config.url), recipients: recipients.map(\.address))
    } catch is CancellationError {
      return .notAttempted(reason: "cancelled")
    } catch CurlError.stopped {
      return .notAttempted(reason: "the daemon was stopping")
    } catch {
      // The client's own errors, which name no part of the request.
      return .transient(reason: "\(error)", retryAfter: nil)
    }
  }

  /// SMTP 4xx, timeouts and refused connections are worth another try; 5xx, failed logins and
  /// TLS that cannot work are not. A transaction that went through with some recipients refused
  /// is partial. An error keeps the server's reply and libcurl's message as the client gives
  /// them (a reply to the login, or one repeating the password, with its code alone; see
  /// `CurlResponse`): a reply code is only ever shown with its own text. The URL is shown in its
  /// safe form.
  static func outcome(_ response: CurlResponse, url: SafeURL, recipients: [String]) -> DeliveryOutcome {
    var refused: [DeliveryOutcome.Refusal] = []
    for address in recipients {
      guard let reply = response.recipientReplies[address], let first = reply.first, first == "4" || first == "5"
      else { continue }
      refused.append(.init(address: address, reason: "SMTP \(reply)", permanent: first == "5"))
    }
    guard let failure = response.failure else {
      let receipt = "accepted by \(url)" + (response.lastReply.map { ": \($0)" } ?? "")
      return refused.isEmpty ? .sent(receipt: receipt) : .partial(receipt: receipt, refused: refused)
    }
    // Every recipient refused: the transaction ended at the RCPT replies.
    if refused.count == recipients.count {
      return refused.allSatisfy(\.permanent)
        ? .permanent(reason: refused.map { "\($0.address): \($0.reason)" }.joined(separator: "; "))
        : .partial(receipt: "", refused: refused)
    }
    let libcurl = response.error.isEmpty ? nil : response.error
    if let reply = response.lastReply, let replyCode = Int(reply.prefix(3)), replyCode >= 400 {
      // The server said no: its reply is the reason, libcurl's words only add which step.
      let reason = "SMTP \(reply)" + (libcurl.map { " (libcurl: \($0))" } ?? "")
      return replyCode < 500 ? .transient(reason: reason, retryAfter: nil) : .permanent(reason: reason)
    }
    var reason = libcurl ?? "the transfer failed"
    if failure == .notTLS {
      reason =
        "\(url) does not speak TLS from the first byte: for a plain or STARTTLS port (25, 587) use smtp://, "
        + "smtps:// is for a port such as 465 (libcurl: \(reason))"
    }
    if failure == .timedOut && response.lastReply == nil && url.description.hasPrefix("smtp://") {
      // Still worth retrying (a server may be slow to greet), but a TLS port waits for us.
      reason += "; the server never greeted: if this is a TLS port such as 465, use smtps://"
    }
    if let reply = response.lastReply { reason += "; the server's last reply: \(reply)" }
    return failure.isPermanent ? .permanent(reason: reason) : .transient(reason: reason, retryAfter: nil)
  }
}
