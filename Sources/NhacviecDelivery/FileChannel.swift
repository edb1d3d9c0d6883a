import Foundation
import NhacviecConfig
public import NhacviecCore

/// Writes each message into a folder, atomically: emails as `.eml`, webhook bodies as `.json`.
/// The shipped configuration's channel, so that a newcomer sees real messages with no server.
public struct FileChannel: NoticeChannel {
  public let name: String
  let folder: String
  let format: FileConfiguration.Format
  let from: Mailbox
  let zone: Zone

  init(_ config: FileConfiguration, runtime: ChannelRuntime) throws(ConfigError) {
    name = config.spec.name
    zone = runtime.zone
    guard let folder = config.path ?? runtime.stateDirectory.map({ ($0 as NSString).appendingPathComponent("outbox") })
    else { throw ConfigError("channel \(config.spec.name) needs `path`", at: config.location) }
    self.folder = folder
    format = config.format
    from = config.from
  }

  /// A file name from a notice key: letters, digits, `-`, `_` and `.` kept, the rest as `_`.
  static func fileName(key: String, channel: String, format: String) -> String {
    let safe = "\(key)--\(channel)".map { $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) ? $0 : "_" }
    return String(safe) + "." + format
  }

  public func deliver(_ message: OutgoingMessage) async -> DeliveryOutcome {
    // File writes may block (a full or remote disk): on a thread of their own, not the pool's.
    await withCheckedContinuation { continuation in
      Thread.detachNewThread { continuation.resume(returning: write(message)) }
    }
  }

  func write(_ message: OutgoingMessage) -> DeliveryOutcome {
    let bytes: [UInt8]
    switch format {
    case .json:
      bytes = Array(message.payload.utf8) + [0x0a]
    case .eml:
      let recipients = message.to.map { Mailbox(name: $0.name ?? $0.unitName, address: $0.address) }
      var email = EmailMessage(
        from: from, to: recipients, subject: message.subject, text: message.text, html: message.html,
        messageID: EmailMessage.messageID(key: message.key, channel: name, domain: "localhost.invalid"),
        date: message.date)
      email.extraHeaders = [("X-Nhacviec-Key", message.key)]
      email.attachments = message.attachments
      bytes = email.rendered(zone: zone)
    }
    let manager = FileManager.default
    do {
      // A folder it makes is its owner's alone, as each message is (0600), whatever the umask:
      // under the unit, the socket's group would otherwise read every message.
      try manager.createDirectory(
        atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
      let target = (folder as NSString).appendingPathComponent(
        FileChannel.fileName(key: message.key, channel: name, format: format.rawValue))
      let temporary = (folder as NSString).appendingPathComponent(".\(UUID().uuidString).tmp")
      if let reason = FileChannel.writeOwnerOnly(temporary, bytes) {
        try? manager.removeItem(atPath: temporary)
        return .transient(reason: "cannot write in \(folder): \(reason)", retryAfter: nil)
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

  /// Creates `path` with mode 0600 (set again after creating it: the umask can only take bits
  /// away, but a umask of 0277 would leave 0400) and writes `bytes`; why not, if it could not.
  static func writeOwnerOnly(_ path: String, _ bytes: [UInt8]) -> String? {
    let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
    guard fd >= 0 else { return String(cString: strerror(errno)) }
    defer { close(fd) }
    guard fchmod(fd, 0o600) == 0 else { return String(cString: strerror(errno)) }
    var offset = 0
    while offset < bytes.count {
      let written = bytes[offset...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
      if written < 0 && errno == EINTR { continue }
      guard written > 0 else { return String(cString: strerror(errno)) }
      offset += written
    }
    return nil
  }
}
