public import Foundation
import NhacviecControl

/// systemd's notify protocol: datagrams to `$NOTIFY_SOCKET` (a path, or `@name` in the abstract
/// namespace). Without the variable, every call does nothing.
public final class SystemdNotifier: @unchecked Sendable {
  private let path: String?
  private var watchdog: (any DispatchSourceTimer)?
  private let lock = NSLock()
  // Guarded by `lock`.
  private var alive: @Sendable () -> Bool = { true }
  private var withheld = false

  public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
    path = environment["NOTIFY_SOCKET"].flatMap { $0.isEmpty ? nil : $0 }
    // WATCHDOG=1 at half the interval systemd expects it.
    if let usec = environment["WATCHDOG_USEC"].flatMap(Double.init), usec > 0,
      environment["WATCHDOG_PID"].map({ Int32($0) == getpid() }) ?? true
    {
      let timer = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "nhacviec-watchdog"))
      let interval = usec / 2 / 1_000_000
      timer.schedule(deadline: .now() + interval, repeating: interval)
      timer.setEventHandler { [weak self] in self?.keepAlive() }
      timer.resume()
      watchdog = timer
    }
  }

  /// What the watchdog's ping vouches for. A timer that pings on its own would keep a daemon
  /// whose planning loop is stuck alive forever; with this, the ping stops, and systemd ends the
  /// daemon (SIGABRT) and restarts it.
  public func keepAliveWhile(_ check: @escaping @Sendable () -> Bool) {
    lock.withLock { alive = check }
  }

  private func keepAlive() {
    let (check, wasWithheld) = lock.withLock { (alive, withheld) }
    let healthy = check()
    lock.withLock { withheld = !healthy }
    if healthy {
      send("WATCHDOG=1")
    } else if !wasWithheld {
      Log.write(.error, "the planning loop is stuck in a pass; no longer telling systemd's watchdog all is well")
    }
  }

  public func send(_ message: String) {
    guard let path else { return }
    let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
    guard fd >= 0 else { return }
    defer { close(fd) }
    guard var address = UnixAddress.make(path) else { return }
    // An abstract address is as long as its name, not the whole structure.
    let length = socklen_t(MemoryLayout<sa_family_t>.size + path.utf8.count)
    let payload = Array(message.utf8)
    _ = withUnsafePointer(to: &address) { pointer in
      pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sockaddrPointer in
        payload.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, 0, sockaddrPointer, length) }
      }
    }
  }
}
