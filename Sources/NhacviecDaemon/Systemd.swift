public import Foundation

/// systemd's notify protocol: datagrams to `$NOTIFY_SOCKET` (a path, or `@name` in the abstract
/// namespace). Without the variable, every call does nothing.
public final class SystemdNotifier: @unchecked Sendable {
  private let path: String?
  private var watchdog: (any DispatchSourceTimer)?

  public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
    path = environment["NOTIFY_SOCKET"].flatMap { $0.isEmpty ? nil : $0 }
    // WATCHDOG=1 at half the interval systemd expects it.
    if let usec = environment["WATCHDOG_USEC"].flatMap(Double.init), usec > 0,
      environment["WATCHDOG_PID"].map({ Int32($0) == getpid() }) ?? true
    {
      let timer = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "nhacviec-watchdog"))
      let interval = usec / 2 / 1_000_000
      timer.schedule(deadline: .now() + interval, repeating: interval)
      timer.setEventHandler { [weak self] in self?.send("WATCHDOG=1") }
      timer.resume()
      watchdog = timer
    }
  }

  public func send(_ message: String) {
    guard let path else { return }
    let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
    guard fd >= 0 else { return }
    defer { close(fd) }
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    var bytes = Array(path.utf8)
    if bytes.first == UInt8(ascii: "@") { bytes[0] = 0 }
    guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { return }
    withUnsafeMutableBytes(of: &address.sun_path) { buffer in
      for (i, byte) in bytes.enumerated() { buffer[i] = byte }
    }
    let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count)
    let payload = Array(message.utf8)
    _ = withUnsafePointer(to: &address) { pointer in
      pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sockaddrPointer in
        payload.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, 0, sockaddrPointer, length) }
      }
    }
  }
}
