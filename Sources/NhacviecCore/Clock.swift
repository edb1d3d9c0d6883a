public import Foundation

/// The daemon's sense of time, injected: the system's, the system's from a chosen start
/// (`run --clock-start`), or one a test moves by hand. Nothing that plans or delivers reads
/// `Date()` itself.
public protocol WallClock: Sendable {
  func now() -> Date
  /// Blocks the calling thread until this clock reads `deadline` (nil: no deadline), or until
  /// `signal` is raised, whichever comes first; a raised signal is cleared.
  func wait(until deadline: Date?, on signal: WakeSignal)
}

/// Something that ends a wait early: a new fact, a reload, a finished transfer, a stop.
/// A raise with nobody waiting is remembered, so the next wait returns at once.
///
/// A pipe: a raise writes a byte into it, a wait polls it and drains it. The kernel holds the
/// state, so the object is only two descriptors, shared freely between threads.
public final class WakeSignal: Sendable {
  private let reader: Int32
  private let writer: Int32

  public init() {
    var ends: [Int32] = [0, 0]
    precondition(pipe(&ends) == 0, "pipe: \(String(cString: strerror(errno)))")
    for end in ends {
      _ = fcntl(end, F_SETFL, fcntl(end, F_GETFL) | O_NONBLOCK)
      _ = fcntl(end, F_SETFD, FD_CLOEXEC)
    }
    (reader, writer) = (ends[0], ends[1])
  }

  deinit {
    close(reader)
    close(writer)
  }

  /// What to poll for a raise, beside other descriptors; `wait(untilReal: .distantPast)` then
  /// clears it.
  public var descriptor: Int32 { reader }

  /// A full pipe already holds a raise: the byte that does not fit is not needed.
  public func raise() {
    var one: UInt8 = 1
    _ = write(writer, &one, 1)
  }

  /// Waits until raised or until the real instant `deadline`; true when raised (and clears it).
  @discardableResult
  public func wait(untilReal deadline: Date?) -> Bool {
    while true {
      var drained = [UInt8](repeating: 0, count: 64)
      var raised = false
      while read(reader, &drained, drained.count) > 0 { raised = true }
      if raised { return true }
      var milliseconds: Int32 = -1
      if let deadline {
        let left = deadline.timeIntervalSinceNow
        if left <= 0 { return false }
        // Rounded up: a wait never ends before its instant.
        milliseconds = Int32(min(Double(Int32.max), (left * 1000).rounded(.up)))
      }
      var entry = pollfd(fd: reader, events: Int16(POLLIN), revents: 0)
      _ = poll(&entry, 1, milliseconds)
    }
  }
}

/// Raised by a loop each time it has done a round of its work (a planning pass, a delivery
/// round): whoever waits for a condition on what the loops did wakes to look again, instead of
/// looking every few milliseconds.
public final class Beacon: Sendable {
  private let waiting = Locked<[ObjectIdentifier: WakeSignal]>([:])

  public init() {}

  public func raise() {
    for signal in waiting.withLock({ Array($0.values) }) { signal.raise() }
  }

  /// Returns true as soon as `condition` holds, looking again at each raise; false at the real
  /// instant `deadline`. A raise between two looks is not missed: the waiter is registered first.
  public func wait(until deadline: Date, for condition: () throws -> Bool) rethrows -> Bool {
    let signal = WakeSignal()
    waiting.withLock { $0[ObjectIdentifier(signal)] = signal }
    defer { _ = waiting.withLock { $0.removeValue(forKey: ObjectIdentifier(signal)) } }
    while true {
      if try condition() { return true }
      guard deadline.timeIntervalSinceNow > 0 else { return false }
      signal.wait(untilReal: deadline)
    }
  }
}

/// The system's clock, optionally shifted so that it reads `start` at the moment it is made and
/// runs at the system's speed from there.
public struct SystemClock: WallClock {
  let offset: TimeInterval

  public init(startingAt start: Date? = nil) { offset = start.map { $0.timeIntervalSinceNow } ?? 0 }

  public func now() -> Date { Date().addingTimeInterval(offset) }

  public func wait(until deadline: Date?, on signal: WakeSignal) {
    // At most an hour at a time, so that a clock set backwards cannot make it oversleep for long.
    let hour = Date().addingTimeInterval(3600)
    let real = deadline.map { min($0.addingTimeInterval(-offset), hour) } ?? hour
    signal.wait(untilReal: real)
  }
}

/// Seconds on the monotonic clock: for how long something has run, which neither the injected
/// wall clock nor a change of the system's time may falsify.
public func monotonicSeconds() -> Double {
  var time = timespec()
  clock_gettime(CLOCK_MONOTONIC, &time)
  return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
}
