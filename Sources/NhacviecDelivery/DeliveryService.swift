public import Foundation
public import NhacviecCore
public import NhacviecRender
public import NhacviecStore

/// The end of the pipeline, running on a thread of its own: claim → suppress → window → render
/// → send → record, for every journaled notice whose time has come.
///
/// Each decision is made as late as it can be: whether the obligation is still owed (a report
/// recorded while a notice was retrying stops it), whether it is working time, and what the
/// message says (its date and day counts) are all settled at the instant it is sent. Nothing is
/// sent that was not journaled first, and everything journaled ends sent, dead, suppressed or
/// superseded, never silently dropped. Claims are bounded per channel, so a receiver that never
/// answers holds only its own channel's slots, and outcomes are recorded as they come, many in
/// one transaction, so that after a crash only what was on the wire goes again.
public final class DeliveryService: Sendable {
  /// What the service delivers with: swapped whole on reload.
  public struct Setup: Sendable {
    public let channels: [String: any NoticeChannel]
    /// How many notices of each channel may be on the wire at once: its connections (see
    /// `claimable` for how many may be claimed).
    public let capacity: [String: Int]
    /// The retry policy of a channel without one in `policies`.
    public let policy: RetryPolicy
    public let policies: [String: RetryPolicy]
    /// The channels with a pace: one message starts at least its spacing after the one before.
    public let rates: [String: RateLimit]
    public let renderer: MessageRenderer
    /// The engine to judge with at the send instant: the current configuration and facts.
    public let engine: @Sendable () throws -> Engine

    public init(
      channels: [String: any NoticeChannel], capacity: [String: Int] = [:], policy: RetryPolicy = RetryPolicy(),
      policies: [String: RetryPolicy] = [:], rates: [String: RateLimit] = [:], renderer: MessageRenderer,
      engine: @escaping @Sendable () throws -> Engine
    ) {
      self.channels = channels
      self.capacity = capacity
      self.policy = policy
      self.policies = policies
      self.rates = rates
      self.renderer = renderer
      self.engine = engine
    }

    func capacity(of channel: String) -> Int { capacity[channel] ?? 32 }

    /// How many notices of a channel may be claimed at once: its capacity on the wire, and for
    /// a channel that queues them, half as many again (at least 4) waiting for a connection, so
    /// that a connection that frees need not wait for the next message to be claimed and
    /// rendered. No more: what waits takes the freed connections before the outcomes that freed
    /// them are recorded, and a crash sends those twice.
    func claimable(_ channel: String) -> Int {
      let wire = capacity(of: channel)
      return wire + (channels[channel]?.queuesForConnections == true ? max(wire / 2, 4) : 0)
    }
    func policy(of channel: String) -> RetryPolicy { policies[channel] ?? policy }
  }

  /// What the service has done since it started, for `status` and logs.
  public struct Tally: Sendable, Hashable {
    public var sent = 0
    public var retrying = 0
    public var dead = 0
    public var suppressed = 0
    public var deferred = 0
  }

  let store: Store
  let clock: any WallClock
  let random: @Sendable () -> Double
  /// A line for the log, and the fields that name what it is about (NOTICE_KEY, CHANNEL, RULE,
  /// UNIT), which journald keeps apart so that `journalctl NOTICE_KEY=…` finds them.
  let log: @Sendable (_ warning: Bool, _ line: String, _ fields: [String: String]) -> Void
  let observe: @Sendable (Observation) -> Void
  /// Raised at the end of every round: for whoever waits until delivery has done something.
  public let rounds: Beacon
  private let signal = WakeSignal()
  /// The setup running now: asked once per round, which uses it from claim to record.
  private let setup: @Sendable () -> Setup
  /// What the loop shares with the transfers, the planner and those who ask how it stands.
  private struct State {
    var stopping = false
    var inFlight: [String: Set<JournalKey>] = [:]
    var finished: [Finished] = []
    var unrecorded: [JournalOutcome] = []
    var tally = Tally()
    /// Decisions a pass has just journaled, by row, so that their claim need not decode them again.
    var handed: [JournalKey: NoticeDecision] = [:]
    var lastError: (message: String, since: Date)?
    var idle = true

    var nothingInFlight: Bool { inFlight.values.allSatisfy(\.isEmpty) && finished.isEmpty }
    var inFlightCount: Int { inFlight.values.reduce(0) { $0 + $1.count } }
  }
  private let state = Locked(State())
  private let ended = DispatchSemaphore(value: 0)
  /// Where the channels' transfers run: not the cooperative pool.
  private let executor = ThreadExecutor(name: "nhacviec-transfer")

  /// A transfer that ended, waiting to be recorded.
  struct Finished: Sendable {
    let entry: JournalEntry
    let addresses: [String]
    let subject: String
    /// For a digest, the rungs its message carried.
    let carried: [NoticeKey]?
    /// The retry policy of the setup it was claimed with: a round's outcome is recorded as the
    /// configuration that sent it says, even across a reload.
    let policy: RetryPolicy
    let outcome: DeliveryOutcome
    let claimed: Date
    let at: Date
  }

  /// One outcome as it is decided, for whoever counts them (the daemon's metrics).
  public struct Observation: Sendable {
    public enum Outcome: String, Sendable { case sent, failed, dead, suppressed }
    public let rule: String
    public let channel: String
    public let outcome: Outcome
    /// When the notice was planned to go out.
    public let scheduledAt: Date
    /// From the claim to the channel's answer; nil when nothing was tried.
    public let attemptDuration: TimeInterval?
    public let at: Date
  }

  public init(
    store: Store, setup: @escaping @Sendable () -> Setup, clock: any WallClock,
    random: @escaping @Sendable () -> Double = { .random(in: 0..<1) },
    log: @escaping @Sendable (_ warning: Bool, _ line: String, _ fields: [String: String]) -> Void = { _, _, _ in },
    observe: @escaping @Sendable (Observation) -> Void = { _ in }, rounds: Beacon = Beacon()
  ) {
    self.store = store
    self.setup = setup
    self.rounds = rounds
    self.clock = clock
    self.random = random
    self.log = log
    self.observe = observe
  }

  /// A service that always delivers with the same setup.
  public convenience init(
    store: Store, setup: Setup, clock: any WallClock, random: @escaping @Sendable () -> Double = { .random(in: 0..<1) },
    log: @escaping @Sendable (_ warning: Bool, _ line: String, _ fields: [String: String]) -> Void = { _, _, _ in },
    observe: @escaping @Sendable (Observation) -> Void = { _ in }
  ) {
    self.init(store: store, setup: { setup }, clock: clock, random: random, log: log, observe: observe)
  }

  /// Starts the loop on a thread of its own.
  public func start() {
    let thread = Thread { [self] in
      loop()
      // Nothing is in flight any more: no transfer will want the executor again.
      executor.stop()
      ended.signal()
    }
    thread.name = "nhacviec-deliver"
    thread.start()
  }

  /// Something may be due now: a new notice, a fact, a reload, an operator's retry.
  public func wake() { signal.raise() }

  /// How many handed decisions are kept at most: beyond, a claim decodes the journal's copy.
  static let handLimit = 16384

  /// Decisions just journaled (as `Store.journalNew` returns them), and a wake: the journal stays
  /// the record, and a claim takes each from here rather than decode what was just encoded.
  public func hand(_ decisions: [NoticeDecision]) {
    guard !decisions.isEmpty else { return }
    state.withLock { state in
      for decision in decisions where state.handed.count < DeliveryService.handLimit {
        state.handed[JournalKey(key: decision.key, channel: decision.channel)] = decision
      }
    }
    wake()
  }

  private func takeHanded(_ row: JournalKey) -> NoticeDecision? {
    state.withLock { $0.handed.isEmpty ? nil : $0.handed.removeValue(forKey: row) }
  }

  /// Stops claiming, and returns once what is in flight has been recorded or `grace` has passed
  /// (what is still in flight then stays `sending`, and goes again at the next start).
  public func stop(grace: TimeInterval) { stop(by: .now() + grace) }

  /// Stops claiming, and returns once what is in flight has been recorded (true) or at
  /// `deadline` (false: what is still in flight stays `sending`, and goes again at the next
  /// start).
  @discardableResult
  public func stop(by deadline: DispatchTime) -> Bool {
    state.withLock { $0.stopping = true }
    wake()
    guard ended.wait(timeout: deadline) == .success else { return false }
    // For whoever asks next.
    ended.signal()
    return true
  }

  public var status: (tally: Tally, lastError: (message: String, since: Date)?, inFlight: Int) {
    state.withLock { ($0.tally, $0.lastError, $0.inFlightCount) }
  }

  /// Whether nothing is in flight or waiting to be recorded: for tests that move a manual clock.
  public var isIdle: Bool { state.withLock { $0.idle && $0.nothingInFlight } }

  // MARK: - The loop

  private func loop() {
    var lastReclaim = Date.distantPast
    // A paced channel's next free turn: when its next message may start. Only this thread
    // touches it, and a reload keeps it, so that a reload cannot be used to jump the queue.
    var turns: [String: Date] = [:]
    // When each channel's next notice may be attempted, as last read. Read afresh before every
    // sleep with nothing in flight, and at most once a second while transfers are (each one's end
    // wakes the loop, and a claim finds what is due without it), so that a burst does not read
    // the whole index of claimable rows after every message.
    var readiness: [String: Date] = [:]
    var readinessRead = -Double.infinity
    while true {
      let setup = self.setup()
      let stop = state.withLock { $0.stopping }
      let now = clock.now()
      var next: Date?
      do {
        if stop {
          _ = try settle(setup: setup, claiming: [], now: now)
          if state.withLock({ $0.nothingInFlight }) { break }
        } else {
          // Rows a failed recording or a crash left in `sending`, that nobody is sending.
          if now.timeIntervalSince(lastReclaim) >= 60 || now < lastReclaim {
            let held = state.withLock { $0.inFlight.values.reduce(into: Set<JournalKey>()) { $0.formUnion($1) } }
            let back = try store.reclaim(except: held, now: now)
            if back > 0 { log(true, "reclaimed \(back) notices left in sending", [:]) }
            lastReclaim = now
          }
          // The engine is asked once per round, and only when something was claimed.
          var engine: Engine?
          func judge() throws -> Engine {
            if let engine { return engine }
            let made = try setup.engine()
            engine = made
            return made
          }
          // Channels with notices due, configured or not: a notice for a channel the configuration
          // no longer has goes dead with why, rather than wait unseen.
          let names = Set(setup.channels.keys).union(readiness.keys).sorted()
          let paced = names.filter { setup.rates[$0] != nil && setup.channels[$0] != nil }
          let unpaced = names.filter { setup.rates[$0] == nil || setup.channels[$0] == nil }
          // What has ended is recorded, and the slots it frees claimed again, in one transaction.
          let claimed = try settle(setup: setup, claiming: unpaced, now: now)
          for name in unpaced {
            for entry in claimed[name] ?? [] { prepare(entry, engine: try judge(), setup: setup, now: now) }
          }
          for name in paced {
            var free = setup.claimable(name) - state.withLock { $0.inFlight[name, default: []].count }
            // Paced: one at a time, and only a message handed to the channel takes a turn (a
            // notice suppressed or deferred sends nothing).
            while free > 0 {
              // A turn further off than one spacing means the clock was set back: not a wait. (With
              // a millisecond's slack: `now + spacing - now` may exceed a spacing such as 1/3 s in
              // its last bit, and the turn just taken would then not count.)
              let rate = setup.rates[name]!
              if let turn = turns[name], turn > now, turn.timeIntervalSince(now) <= rate.spacing + 0.001 { break }
              guard let entry = try store.claim(channel: name, limit: 1, now: now, known: takeHanded).first else {
                break
              }
              if prepare(entry, engine: try judge(), setup: setup, now: now) {
                turns[name] = rate.next(after: now)
                free -= 1
              }
            }
          }
          // Outcomes waiting (transfers that ended meanwhile, notices just suppressed or deferred):
          // another round records them.
          let (busy, flying) = state.withLock {
            (!$0.finished.isEmpty || !$0.unrecorded.isEmpty, $0.inFlightCount)
          }
          if busy { continue }
          let clockNow = monotonicSeconds()
          if flying == 0 || clockNow - readinessRead >= 1 {
            readiness = try store.readiness()
            readinessRead = clockNow
          }
          // A due time already past means a channel had no room (a transfer's end wakes us) or
          // waits for its turn: a paced channel with notices due wakes the loop at its turn.
          next = readiness.values.filter { $0 > now }.min()
          for (name, turn) in turns where turn > now && readiness[name].map({ $0 <= now }) == true {
            if let rate = setup.rates[name], turn.timeIntervalSince(now) <= rate.spacing + 0.001 {
              next = min(next ?? turn, turn)
            }
          }
        }
        state.withLock { $0.lastError = nil }
      } catch {
        let message = "\(error)"
        state.withLock { state in
          if state.lastError == nil { state.lastError = (message, now) } else { state.lastError?.message = message }
        }
        log(true, "delivery failed: \(error); trying again in a minute", [:])
        next = now.addingTimeInterval(60)
      }
      let busy = state.withLock { state -> Bool in
        state.idle = state.nothingInFlight && state.unrecorded.isEmpty
        return !state.finished.isEmpty
      }
      rounds.raise()
      if busy { continue }
      clock.wait(until: next, on: signal)
    }
  }

  /// Suppress, window and render one claimed notice, then hand it to its channel; whether it
  /// was handed over.
  @discardableResult
  private func prepare(_ entry: JournalEntry, engine: Engine, setup: Setup, now: Date) -> Bool {
    let row = JournalKey(key: entry.key, channel: entry.channel)
    guard let channel = setup.channels[entry.channel] else {
      unrecorded(row, .dead(error: "no channel named \(entry.channel) is configured"), now: now)
      return false
    }
    // The message is made on the transfer executor's thread, beside this one: rendering is pure,
    // and this thread goes on claiming and recording meanwhile.
    let message: @Sendable () -> OutgoingMessage
    var carried: [NoticeKey]?
    switch entry.payload {
    case .decided(let decision):
      switch engine.check(decision, at: now) {
      case .suppress(let reason):
        unrecorded(row, .suppressed(reason: reason), now: now)
        return false
      case .wait(let reason, let until):
        unrecorded(row, .deferred(until: until, reason: reason), now: now)
        return false
      case .silenced(let silence):
        unrecorded(
          row, .silenced(until: silence.ends, reason: silence.heldReason(in: engine.context.calendar.zone)), now: now)
        return false
      case .send(let evaluated):
        let pending = entry.pending.map(Set.init)
        let addressees = decision.addressees.filter { pending?.contains($0.address) ?? true }
        let renderer = setup.renderer
        message = { renderer.render(evaluated, to: addressees, parts: channel.parts) }
        if case .digest = decision.content { carried = evaluated.items.flatMap { $0.rungs.map(\.key) } }
      }
    case .rendered(let frozen):
      // Journaled by nhacviec 0.1: sent as it was rendered then, inside the window all the same.
      let window = engine.ruleset.settings.sendWindow
      guard window.contains(now, calendar: engine.context.calendar) else {
        let until = window.next(atOrAfter: now, calendar: engine.context.calendar)
        unrecorded(row, .deferred(until: until, reason: "outside the send window"), now: now)
        return false
      }
      let pending = entry.pending.map(Set.init)
      let addressed = frozen.addressed(to: frozen.to.filter { pending?.contains($0.address) ?? true })
      message = { addressed }
    }
    state.withLock { _ = $0.inFlight[entry.channel, default: []].insert(row) }
    let digestCarried = carried
    let policy = setup.policy(of: entry.channel)
    Task(executorPreference: executor) { [self] in
      let message = message()
      let addresses = message.to.map(\.address)
      let outcome = await channel.deliver(message)
      let done = clock.now()
      let ended = Finished(
        entry: entry, addresses: addresses, subject: message.subject, carried: digestCarried, policy: policy,
        outcome: outcome, claimed: now, at: done)
      state.withLock { $0.finished.append(ended) }
      wake()
    }
    return true
  }

  private func unrecorded(_ row: JournalKey, _ change: JournalOutcome.Change, now: Date) {
    let outcome = JournalOutcome(entry: row, change: change, attempted: false, pending: nil, at: now)
    // Rare (an obligation met meanwhile, a channel no longer configured): its rule is read back.
    let counted: Observation.Outcome? =
      switch change {
      case .suppressed: .suppressed
      case .dead: .dead
      default: nil
      }
    if let counted, let entry = try? store.entry(key: row.key, channel: row.channel) {
      observe(Observation(entry, counted, attemptDuration: nil, at: now))
    }
    state.withLock { state in
      state.unrecorded.append(outcome)
      switch change {
      case .suppressed: state.tally.suppressed += 1
      case .deferred, .silenced: state.tally.deferred += 1
      case .dead: state.tally.dead += 1
      default: break
      }
    }
  }

  /// An error as one short line: its first line, at most 200 characters. The whole answer stays
  /// in the journal (`notices --key`), where a reader looks for it; the log names the event.
  static func short(_ error: String) -> String {
    let first = error.split(whereSeparator: \.isNewline).first.map(String.init) ?? error
    return first.count <= 200 ? first : String(first.prefix(199)) + "…"
  }

  /// Records every outcome known so far, and claims the free slots of `channels`, in one
  /// transaction. If it fails, the outcomes are kept and recorded at the next turn; their rows
  /// stay `sending` and held meanwhile, and nothing is claimed.
  private func settle(setup: Setup, claiming channels: [String], now: Date) throws -> [String: [JournalEntry]] {
    let (done, pending) = state.withLock { state -> ([Finished], [JournalOutcome]) in
      defer {
        state.finished = []
        state.unrecorded = []
      }
      return (state.finished, state.unrecorded)
    }
    var outcomes = pending
    for item in done {
      let (entry, addresses) = (item.entry, item.addresses)
      let result = DeliveryService.outcome(
        entry, addresses: addresses, outcome: item.outcome, subject: item.subject, carried: item.carried,
        policy: item.policy, now: item.at, random: random())
      outcomes.append(result)
      let took = item.at.timeIntervalSince(item.claimed)
      switch result.change {
      case .sent: observe(Observation(entry, .sent, attemptDuration: took, at: item.at))
      case .failed: observe(Observation(entry, .failed, attemptDuration: took, at: item.at))
      case .dead: observe(Observation(entry, .dead, attemptDuration: took, at: item.at))
      default: break
      }
      let fields = ["NOTICE_KEY": entry.key, "CHANNEL": entry.channel, "RULE": entry.rule, "UNIT": entry.unit]
      let recipients = "\(addresses.count) recipient\(addresses.count == 1 ? "" : "s")"
      switch result.change {
      case .sent(_, let refused):
        if let refused {
          log(true, "notice \(entry.key) via \(entry.channel) sent, but refused for: \(refused)", fields)
        }
      case .failed(let error, let at):
        log(
          true,
          "notice \(entry.key) via \(entry.channel) to \(recipients) failed, retry at \(setup.renderer.zone.rfc3339(at)): \(DeliveryService.short(error))",
          fields)
      case .dead(let error):
        log(
          true, "notice \(entry.key) via \(entry.channel) to \(recipients) is dead: \(DeliveryService.short(error))",
          fields)
      default: break
      }
    }
    // A slot is free once its outcome is recorded, which this same transaction does.
    let busy = state.withLock { state in
      var busy = state.inFlight.mapValues(\.count)
      for outcome in outcomes where state.inFlight[outcome.entry.channel]?.contains(outcome.entry) == true {
        busy[outcome.entry.channel]! -= 1
      }
      return busy
    }
    let claims = channels.map { (channel: $0, limit: setup.claimable($0) - busy[$0, default: 0]) }
    let claimed: [String: [JournalEntry]]
    do {
      claimed = try store.settle(outcomes, claims: claims, now: now, known: takeHanded)
    } catch {
      let kept = outcomes
      state.withLock { $0.unrecorded = kept + $0.unrecorded }
      throw error
    }
    let recorded = outcomes
    state.withLock { state in
      // Outcomes kept from a recording that failed free their slots now too.
      for outcome in recorded { state.inFlight[outcome.entry.channel]?.remove(outcome.entry) }
      for outcome in recorded where outcome.attempted {
        switch outcome.change {
        case .sent: state.tally.sent += 1
        case .failed: state.tally.retrying += 1
        case .dead: state.tally.dead += 1
        default: break
        }
      }
    }
    return claimed
  }

  // MARK: - Record, pure

  /// What one attempt came to for the journal: each address sent, refused for good, or still to
  /// reach; another attempt for those still to reach while the retry policy allows. An attempt
  /// that never made a request costs nothing.
  public static func outcome(
    _ entry: JournalEntry, addresses: [String], outcome: DeliveryOutcome, subject: String? = nil,
    carried: [NoticeKey]? = nil, policy: RetryPolicy, now: Date, random: Double
  ) -> JournalOutcome {
    let row = JournalKey(key: entry.key, channel: entry.channel)
    if case .notAttempted(let reason) = outcome {
      return JournalOutcome(
        entry: row, change: .deferred(until: now.addingTimeInterval(60), reason: reason), attempted: false,
        pending: entry.pending, at: now)
    }
    let results = outcome.byAddress(addresses)
    var reached: [String: String] = [:]
    var stillPending: [String] = []
    var refused: [String] = []
    var receipt: String?
    var retryAfter: TimeInterval?
    var reasons: [String] = []
    for address in addresses {
      // What the journal's texts say of an address: a webhook's URL in its safe form.
      let shown = SafeURL.shown(address)
      switch results[address] ?? outcome {
      case .sent(let r), .partial(let r, _):
        reached[shown] = "sent"
        receipt = receipt ?? r
      case .permanent(let reason):
        reached[shown] = "refused: \(reason)"
        refused.append(address)
        reasons.append(addresses.count > 1 ? "\(shown): \(reason)" : reason)
      case .transient(let reason, let after):
        reached[shown] = "failed: \(reason)"
        stillPending.append(address)
        retryAfter = after.map { max($0, retryAfter ?? 0) } ?? retryAfter
        reasons.append(addresses.count > 1 ? "\(shown): \(reason)" : reason)
      case .notAttempted(let reason):
        reached[shown] = "not tried: \(reason)"
        stillPending.append(address)
      }
    }
    let error = reasons.isEmpty ? nil : reasons.joined(separator: "; ")
    let everReached = receipt != nil || (entry.pending.map { $0.count < entry.addresses.count } ?? false)
    let change: JournalOutcome.Change
    if stillPending.isEmpty {
      change =
        everReached
        ? .sent(receipt: receipt ?? entry.receipt ?? "sent", error: error) : .dead(error: error ?? "refused")
    } else {
      switch policy.afterTransientFailure(
        attempts: entry.attempts + 1, age: entry.age(at: now), now: now, retryAfter: retryAfter, random: random)
      {
      case .retry(let at): change = .failed(error: error ?? "failed", retryAt: at)
      case .dead(let why): change = .dead(error: "\(error ?? "failed"); \(why)")
      }
    }
    return JournalOutcome(
      entry: row, change: change, attempted: true, pending: stillPending.isEmpty ? nil : stillPending,
      reached: reached, subject: subject, carried: carried, at: now)
  }
}

extension DeliveryService.Observation {
  init(_ entry: JournalEntry, _ outcome: Outcome, attemptDuration: TimeInterval?, at: Date) {
    self.init(
      // A digest gathers several rules: it has none of its own.
      rule: entry.rule.isEmpty ? "(digest)" : entry.rule, channel: entry.channel, outcome: outcome,
      scheduledAt: entry.scheduledAt,
      attemptDuration: attemptDuration, at: at)
  }
}
