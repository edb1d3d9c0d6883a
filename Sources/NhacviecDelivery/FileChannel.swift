import Foundation
public import NhacviecCore

/// Writes each message into a folder, atomically: emails as `.eml`, webhook bodies as `.json`.
/// The shipped configuration's channel, so that a newcomer sees real messages with no server.
public struct FileChannel: NoticeChannel {
  public let name: String
  let folder: String
  let format: String
  let from: EmailMessage.Mailbox
  let zone: Zone

  init(name: String, settings: inout ChannelSettings, zone: Zone, defaultFolder: String?) throws {
    self.name = name
    self.zone = zone
    if let path = settings.optional("path") {
      folder = path
    } else if let defaultFolder {
      folder = defaultFolder
    } else {
      throw settings.error("needs `path`")
    }
    format = settings.optional("format") ?? "eml"
    guard format == "eml" || format == "json" else { throw settings.error("format must be eml or json") }
    let fromText = settings.optional("from") ?? "Hệ thống nhắc việc <nhacviec@localhost.invalid>"
    guard let from = EmailMessage.Mailbox(fromText) else { throw settings.error("from is not an address") }
    self.from = from
  }

  /// A file name from a notice key: letters, digits, `-`, `_` and `.` kept, the rest as `_`.
  static func fileName(key: String, channel: String, format: String) -> String {
    let safe = "\(key)--\(channel)".map { $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) ? $0 : "_" }
    return String(safe) + "." + format
  }

  public func deliver(_ message: OutgoingMessage) async -> DeliveryOutcome {
    let bytes: [UInt8]
    if format == "json" {
      bytes = Array(message.payload.utf8) + [0x0a]
    } else {
      let recipients = message.to.map { EmailMessage.Mailbox(name: $0.name ?? $0.unitName, address: $0.address) }
      var email = EmailMessage(
        from: from, to: recipients, subject: message.subject, text: message.text, html: message.html,
        messageID: EmailMessage.messageID(key: message.key, channel: name, domain: "localhost.invalid"),
        date: message.scheduledAt)
      email.extraHeaders = [("X-Nhacviec-Key", message.key)]
      email.attachments = message.attachments ?? []
      bytes = email.rendered(zone: zone)
    }
    let manager = FileManager.default
    do {
      try manager.createDirectory(atPath: folder, withIntermediateDirectories: true)
      let target = (folder as NSString).appendingPathComponent(
        FileChannel.fileName(key: message.key, channel: name, format: format))
      let temporary = (folder as NSString).appendingPathComponent(".\(UUID().uuidString).tmp")
      guard manager.createFile(atPath: temporary, contents: Data(bytes)) else {
        return .transient(reason: "cannot write in \(folder)", retryAfter: nil)
      }
      // rename(2) replaces atomically: a reader sees the whole old file or the whole new one.
      guard rename(temporary, target) == 0 else {
        let reason = String(cString: strerror(errno))
        try? manager.removeItem(atPath: temporary)
        return .transient(reason: "cannot move the message into place: \(reason)", retryAfter: nil)
      }
      return .sent(receipt: "written to \(target)")
    } catch {
      return .transient(reason: "\(error)", retryAfter: nil)
    }
  }
}
