import Foundation
import NhacviecCore

/// An executor with a thread of its own, for the channels' transfers: delivery never waits for
/// Swift's cooperative pool (two threads on a two-core server, which anything that blocks there
/// would take from it), and never wakes a thread that is not its own when idle.
///
/// Jobs run one at a time, in order: a channel's `deliver` only prepares a transfer and awaits
/// libcurl's or a program's answer, so one thread carries hundreds of transfers at once.
final class ThreadExecutor: TaskExecutor, Sendable {
  private struct Queue {
    var jobs: [UnownedJob] = []
    var stopping = false
  }

  private let queue = Locked(Queue())
  private let signal = WakeSignal()

  init(name: String) {
    let thread = Thread { [self] in run() }
    thread.name = name
    thread.start()
  }

  func enqueue(_ job: consuming ExecutorJob) {
    let unowned = UnownedJob(job)
    // Only the first job of a batch needs to wake the thread: it takes all there are at once.
    let first = queue.withLock { queue -> Bool in
      queue.jobs.append(unowned)
      return queue.jobs.count == 1
    }
    if first { signal.raise() }
  }

  /// Ends the thread once no job is waiting: for a delivery service that has nothing in flight.
  func stop() {
    queue.withLock { $0.stopping = true }
    signal.raise()
  }

  private func run() {
    while true {
      let (batch, stopping) = queue.withLock { queue -> ([UnownedJob], Bool) in
        defer { queue.jobs.removeAll(keepingCapacity: true) }
        return (queue.jobs, queue.stopping)
      }
      if batch.isEmpty {
        if stopping { return }
        signal.wait(untilReal: nil)
        continue
      }
      for job in batch { job.runSynchronously(on: asUnownedTaskExecutor()) }
    }
  }
}
