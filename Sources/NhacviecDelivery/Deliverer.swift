public import Foundation
public import NhacviecCore
public import NhacviecStore

/// The end of the pipeline: journal what was planned, then claim, deliver and record.
///
/// Nothing is sent that was not journaled first, and everything journaled ends `sent` or
/// `dead`, never silently dropped: a transient failure is retried with back-off until the
/// retry policy gives up.
public final class Deliverer: Sendable {
  public struct Report: Sendable, Hashable {
    public var sent = 0
    public var retrying = 0
    public var dead = 0

    public init(sent: Int = 0, retrying: Int = 0, dead: Int = 0) {
      self.sent = sent
      self.retrying = retrying
      self.dead = dead
    }
  }

  let store: Store
  let channels: [String: any NoticeChannel]
  let policy: RetryPolicy
  let concurrency: Int
  let random: @Sendable () -> Double

  public init(
    store: Store, channels: [String: any NoticeChannel], policy: RetryPolicy = RetryPolicy(), concurrency: Int = 256,
    random: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) }
  ) {
    self.store = store
    self.channels = channels
    self.policy = policy
    self.concurrency = max(1, concurrency)
    self.random = random
  }

  /// Renders and journals planned notices; those already in the journal are left as they are.
  @discardableResult
  public func journal(_ notices: [Notice], renderer: MessageRenderer, now: Date) throws -> Int {
    try store.journal(notices.map { OutgoingMessage(notice: $0, renderer: renderer) }, now: now)
  }

  /// Delivers everything due at `now`, many at once, and records each outcome.
  public func deliverDue(now: Date, clock: @escaping @Sendable () -> Date = { Date() }) async throws -> Report {
    var report = Report()
    while true {
      let claimed = try store.claimDue(now: now, limit: 1000)
      if claimed.isEmpty { break }
      // Each outcome is recorded the moment it is known, not when the batch ends: after a crash
      // only what was in flight goes again.
      report = try await withThrowingTaskGroup(of: (JournalEntry, DeliveryOutcome).self) { group in
        var report = report
        var iterator = claimed.makeIterator()
        var running = 0
        while running < concurrency, let entry = iterator.next() {
          group.addTask { (entry, await self.attempt(entry)) }
          running += 1
        }
        while let (entry, outcome) = try await group.next() {
          if let entry = iterator.next() { group.addTask { (entry, await self.attempt(entry)) } }
          try record(outcome, of: entry, now: now, finished: clock(), into: &report)
        }
        return report
      }
    }
    return report
  }

  private func record(
    _ outcome: DeliveryOutcome, of entry: JournalEntry, now: Date, finished: Date, into report: inout Report
  ) throws {
    let message = entry.message
    switch outcome {
    case .sent(let receipt):
      try store.recordSent(key: message.key, channel: message.channel, receipt: receipt, now: finished)
      report.sent += 1
    case .permanent(let reason):
      try store.recordFailure(key: message.key, channel: message.channel, error: reason, retryAt: nil, now: finished)
      report.dead += 1
    case .transient(let reason, let retryAfter):
      switch policy.afterTransientFailure(
        attempts: entry.attempts, scheduledAt: message.scheduledAt, now: now, retryAfter: retryAfter,
        random: random())
      {
      case .retry(let at):
        try store.recordFailure(key: message.key, channel: message.channel, error: reason, retryAt: at, now: finished)
        report.retrying += 1
      case .dead(let why):
        try store.recordFailure(
          key: message.key, channel: message.channel, error: "\(reason); \(why)", retryAt: nil, now: finished)
        report.dead += 1
      }
    }
  }

  private func attempt(_ entry: JournalEntry) async -> DeliveryOutcome {
    guard let channel = channels[entry.message.channel] else {
      return .permanent(reason: "no channel named \(entry.message.channel) is configured")
    }
    return await channel.deliver(entry.message)
  }
}
