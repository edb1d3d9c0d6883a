import Foundation

/// An executor with a thread of its own, for the channels' transfers: delivery never waits for
/// Swift's cooperative pool (two threads on a two-core server, which anything that blocks there
/// would take from it), and never wakes a thread that is not its own when idle.
///
/// Jobs run one at a time, in order: a channel's `deliver` only prepares a transfer and awaits
/// libcurl's or a program's answer, so one thread carries hundreds of transfers at once.
final class ThreadExecutor: TaskExecutor, @unchecked Sendable {
  private let condition = NSCondition()
  // Guarded by `condition`.
  private var jobs: [UnownedJob] = []
  private var head = 0
  private var stopping = false

  init(name: String) {
    let thread = Thread { [self] in run() }
    thread.name = name
    thread.start()
  }

  func enqueue(_ job: consuming ExecutorJob) {
    let unowned = UnownedJob(job)
    condition.lock()
    jobs.append(unowned)
    condition.signal()
    condition.unlock()
  }

  /// Ends the thread once no job is waiting: for a delivery service that has nothing in flight.
  func stop() {
    condition.lock()
    stopping = true
    condition.signal()
    condition.unlock()
  }

  private func run() {
    while true {
      condition.lock()
      while head == jobs.count && !stopping { condition.wait() }
      if head == jobs.count {
        condition.unlock()
        return
      }
      let batch = Array(jobs[head...])
      jobs.removeAll(keepingCapacity: true)
      head = 0
      condition.unlock()
      for job in batch { job.runSynchronously(on: asUnownedTaskExecutor()) }
    }
  }
}
