import Foundation
public import NhacviecCore

/// Email through an SMTP server over libcurl: `smtp://` with STARTTLS or `smtps://`.
public struct SMTPChannel: NoticeChannel {
  public let name: String
  let client: CurlClient
  let url: String
  let from: EmailMessage.Mailbox
  let replyTo: EmailMessage.Mailbox?
  let cc: [EmailMessage.Mailbox]
  let username: String?
  let password: String?
  let caFile: String?
  let tls: CurlRequest.TLS
  let timeout: TimeInterval
  let zone: Zone
  let redact: Redactor

  init(name: String, settings: inout ChannelSettings, client: CurlClient, zone: Zone) throws {
    self.name = name
    self.client = client
    self.zone = zone
    url = try settings.required("url")
    guard url.hasPrefix("smtp://") || url.hasPrefix("smtps://") else {
      throw settings.error("url must start with smtp:// or smtps://")
    }
    guard let from = EmailMessage.Mailbox(try settings.required("from")) else {
      throw settings.error("from must be an address, or a name and an address: Nhắc việc <nhacviec@example.org>")
    }
    self.from = from
    replyTo = try settings.optional("reply_to").map { text in
      guard let mailbox = EmailMessage.Mailbox(text) else { throw settings.error("reply_to is not an address") }
      return mailbox
    }
    cc = try (settings.optional("cc") ?? "").split(separator: ",").map { text in
      guard let mailbox = EmailMessage.Mailbox(String(text)) else {
        throw settings.error("cc has a bad address: \(text)")
      }
      return mailbox
    }
    username = settings.optional("username")
    password = try settings.secret("password_file")
    if (username == nil) != (password == nil) { throw settings.error("username and password_file go together") }
    caFile = settings.optional("ca_file")
    timeout = try settings.seconds("timeout", default: 60)
    let implicitTLS = url.hasPrefix("smtps://")
    let credentials = username != nil
    switch settings.optional("tls") ?? (credentials ? "required" : "opportunistic") {
    case "required": tls = .required
    case "opportunistic": tls = .opportunistic
    case "none": tls = .none
    case let other: throw settings.error("tls must be required, opportunistic or none, not \(other)")
    }
    // A password never crosses the network in clear: STARTTLS is mandatory unless TLS is implicit.
    if credentials && !implicitTLS && tls != .required {
      throw settings.error("refusing to send credentials in clear: use tls: required or an smtps:// url")
    }
    redact = Redactor([password].compactMap { $0 })
  }

  public func deliver(_ message: OutgoingMessage) async -> DeliveryOutcome {
    let recipients = message.to.map { EmailMessage.Mailbox(name: $0.name ?? $0.unitName, address: $0.address) }
    guard !recipients.isEmpty else { return .permanent(reason: "no recipient") }
    let domain = from.address.split(separator: "@").last.map(String.init) ?? "localhost"
    var email = EmailMessage(
      from: from, to: recipients, subject: message.subject, text: message.text, html: message.html,
      messageID: EmailMessage.messageID(key: message.key, channel: name, domain: domain), date: message.scheduledAt)
    email.cc = cc
    email.replyTo = replyTo
    email.extraHeaders = [("X-Nhacviec-Key", message.key)]
    email.attachments = message.attachments ?? []
    var request = CurlRequest(url: url)
    request.body = email.rendered(zone: zone)
    request.mailFrom = "<\(from.address)>"
    request.recipients = (recipients + cc).map(\.address)
    request.username = username
    request.password = password
    request.tls = tls
    request.caFile = caFile
    request.timeout = timeout
    do {
      return redact(SMTPChannel.outcome(try await client.perform(request), url: url))
    } catch {
      return .transient(reason: redact("\(error)"), retryAfter: nil)
    }
  }

  /// SMTP 4xx, timeouts and refused connections are worth another try; 5xx and failed logins are not.
  static func outcome(_ response: CurlResponse, url: String) -> DeliveryOutcome {
    let code = response.code
    guard let failure = response.failure else {
      return .sent(receipt: "\(code == 0 ? 250 : code) accepted by \(url)")
    }
    let reason = code > 0 ? "SMTP \(code): \(response.error)" : response.error
    switch code {
    case 400..<500: return .transient(reason: reason, retryAfter: nil)
    case 500..<600: return .permanent(reason: reason)
    default: return failure.isPermanent ? .permanent(reason: reason) : .transient(reason: reason, retryAfter: nil)
    }
  }
}
