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
public final class WakeSignal: @unchecked Sendable {
  private let condition = NSCondition()
  // Guarded by `condition`.
  private var raised = false

  public init() {}

  public func raise() {
    condition.lock()
    raised = true
    condition.broadcast()
    condition.unlock()
  }

  /// Waits until raised or until the real instant `deadline`; true when raised (and clears it).
  @discardableResult
  public func wait(untilReal deadline: Date?) -> Bool {
    condition.lock()
    defer { condition.unlock() }
    while !raised {
      if let deadline {
        guard condition.wait(until: deadline) else { break }
      } else {
        condition.wait()
      }
    }
    let was = raised
    raised = false
    return was
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
