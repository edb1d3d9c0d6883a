import ArgumentParser
import Foundation
import NhacviecConfig
import NhacviecCore
import NhacviecDelivery

struct SendTest: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "send-test",
    abstract: "Send one test message through a configured channel and print what the server answered.",
    discussion: """
      The message is in Vietnamese, so that diacritics can be checked on arrival. --to is an \
      email address for email channels, a URL for webhook channels (optional when the channel \
      has its own url). An SMTP channel first prints the name it gives in EHLO (its helo \
      setting, or the machine's own name). Exit status 0 when the message was accepted, 1 when not.

      Secrets the channel names by file name (password_file: smtp-password) are read as the \
      daemon reads them: from $CREDENTIALS_DIRECTORY under systemd (LoadCredential=), else \
      beside the configuration; --credentials DIR reads them from DIR, as `check` does.
      """)

  @OptionGroup var options: ConfigOptions

  @Option(help: "The channel's name in the configuration.")
  var channel: String

  @Option(help: ArgumentHelp("Where to send: an email address or a webhook URL.", valueName: "ADDRESS"))
  var to: String?

  @Option(
    help: ArgumentHelp(
      "Read secrets named by file name from this folder, as the daemon reads them from $CREDENTIALS_DIRECTORY.",
      valueName: "DIR"))
  var credentials: String?

  func validate() throws {
    var isFolder: ObjCBool = false
    if let credentials,
      !FileManager.default.fileExists(atPath: credentials, isDirectory: &isFolder) || !isFolder.boolValue
    {
      throw ValidationError("--credentials: no folder \(credentials)")
    }
  }

  func run() async throws {
    let deployment = try loadDeployment(options.path, credentials: credentials)
    guard let config = deployment.channels[channel] else {
      throw ValidationError(
        "no channel \(channel); configured: \(deployment.channels.keys.sorted().joined(separator: ", "))")
    }
    let client = CurlClient()
    defer { client.shutdown() }
    let handler: any NoticeChannel
    do {
      handler = try ChannelRuntime(client: client, zone: deployment.zone, stateDirectory: deployment.daemon.state)
        .make(config)
    } catch {
      printError(error.description)
      throw ExitCode(1)
    }
    let now = Date()
    let key = "send-test/\(Int(now.timeIntervalSince1970))"
    let addressees = to.map {
      [
        Addressee(
          unit: UnitRef(id: "send-test", validFrom: nil), unitName: "", role: "test", name: "Người nhận thử nghiệm",
          address: $0)
      ]
    }
    let text = """
      Đây là thư thử nghiệm của hệ thống nhắc việc tự động nhacviec, gửi qua kênh \(channel) lúc \(deployment.zone.vietnamese(now)).
      Nếu các chữ sau hiển thị đúng, kênh gửi hoạt động tốt: Tiếng Việt có dấu — Quảng Ngãi, Sở Khoa học và Công nghệ, Ủy ban nhân dân.
      """
    let message = OutgoingMessage(
      key: key, channel: channel, rule: "send-test", unit: nil, period: "", step: "test", reason: .nextReminder,
      date: now, to: addressees ?? [], subject: "[nhacviec] Thư thử nghiệm — kênh \(channel)",
      text: text, html: "<p>\(TemplateText.escapeHTML(text).replacingOccurrences(of: "\n", with: "<br>"))</p>",
      payload: #"{"version":1,"key":"\#(key)","reason":"test","subject":"[nhacviec] Thư thử nghiệm"}"#)
    if let smtp = handler as? SMTPChannel { print("EHLO name: \(smtp.helo)") }
    switch await handler.deliver(message) {
    case .sent(let receipt):
      print("sent: \(receipt)")
    case .partial(let receipt, let refused):
      print(
        "sent: \(receipt); refused: \(refused.map { "\(SafeURL.shown($0.address)): \($0.reason)" }.joined(separator: "; "))"
      )
      throw ExitCode(1)
    case .transient(let reason, let retryAfter):
      print("failed (transient\(retryAfter.map { ", retry after \(Int($0)) s" } ?? "")): \(reason)")
      throw ExitCode(1)
    case .permanent(let reason):
      print("failed (permanent): \(reason)")
      throw ExitCode(1)
    case .notAttempted(let reason):
      print("not sent: \(reason)")
      throw ExitCode(1)
    }
  }
}
