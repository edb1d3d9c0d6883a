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
  let redact: Redactor

  init(_ config: SMTPConfiguration, runtime: ChannelRuntime) throws(ConfigError) {
    name = config.spec.name
    self.config = config
    client = runtime.client
    zone = runtime.zone
    password = try config.password?.read()
    redact = Redactor([password].compactMap { $0 })
  }

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
    var request = CurlRequest(url: config.url)
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
      return redact(SMTPChannel.outcome(response, url: config.url, recipients: recipients.map(\.address)))
    } catch is CancellationError {
      return .notAttempted(reason: "cancelled")
    } catch CurlError.stopped {
      return .notAttempted(reason: "the daemon was stopping")
    } catch {
      return .transient(reason: redact("\(error)"), retryAfter: nil)
    }
  }

  /// SMTP 4xx, timeouts and refused connections are worth another try; 5xx and failed logins are
  /// not. A transaction that went through with some recipients refused is partial.
  static func outcome(_ response: CurlResponse, url: String, recipients: [String]) -> DeliveryOutcome {
    let code = response.code
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
    let reason = response.lastReply.map { "SMTP \($0)" } ?? response.error
    switch code {
    case 400..<500: return .transient(reason: reason, retryAfter: nil)
    case 500..<600: return .permanent(reason: reason)
    default:
      return failure.isPermanent
        ? .permanent(reason: response.error) : .transient(reason: response.error, retryAfter: nil)
    }
  }
}
