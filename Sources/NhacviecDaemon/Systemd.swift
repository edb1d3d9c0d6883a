public import Foundation
import NhacviecControl
import NhacviecCore

/// systemd's notify protocol: datagrams to `$NOTIFY_SOCKET` (a path, or `@name` in the abstract
/// namespace). Without the variable, every call does nothing.
public final class SystemdNotifier: Sendable {
  private let path: String?
  private struct Health {
    var alive: @Sendable () -> Bool = { true }
    var withheld = false
  }
  private let health = Locked(Health())

  public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
    path = environment["NOTIFY_SOCKET"].flatMap { $0.isEmpty ? nil : $0 }
    // WATCHDOG=1 at half the interval systemd expects it.
    if let usec = environment["WATCHDOG_USEC"].flatMap(Double.init), usec > 0,
      environment["WATCHDOG_PID"].map({ Int32($0) == getpid() }) ?? true
    {
      let interval = usec / 2 / 1_000_000
      // A thread of its own that sleeps between pings, for as long as the process lives.
      let thread = Thread { [weak self] in
        var next = monotonicSeconds() + interval
        while let notifier = self {
          let wait = next - monotonicSeconds()
          if wait > 0 { usleep(UInt32(min(wait, 3600) * 1_000_000)) }
          notifier.keepAlive()
          next += interval
        }
      }
      thread.name = "nhacviec-watchdog"
      thread.start()
    }
  }

  /// What the watchdog's ping vouches for. A timer that pings on its own would keep a daemon
  /// whose planning loop is stuck alive forever; with this, the ping stops, and systemd ends the
  /// daemon (SIGABRT) and restarts it.
  public func keepAliveWhile(_ check: @escaping @Sendable () -> Bool) {
    health.withLock { $0.alive = check }
  }

  private func keepAlive() {
    let (check, wasWithheld) = health.withLock { ($0.alive, $0.withheld) }
    let healthy = check()
    health.withLock { $0.withheld = !healthy }
    if healthy {
      send("WATCHDOG=1")
    } else if !wasWithheld {
      Log.write(.error, "the planning loop is stuck in a pass; no longer telling systemd's watchdog all is well")
    }
  }

  /// Never waits: a receiver whose queue is full (a manager that stopped reading, or a test
  /// that reads only when it looks for something) must not stall the thread that reports, which
  /// may be answering a reload. A message it cannot take now is dropped; the watchdog's come
  /// again, and systemd reads its socket at once.
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
        payload.withUnsafeBytes {
          sendto(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT), sockaddrPointer, length)
        }
      }
    }
  }
}
