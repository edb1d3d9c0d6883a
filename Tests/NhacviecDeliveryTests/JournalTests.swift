import Foundation
import NhacviecCore
import NhacviecDelivery
import NhacviecStore
import Testing

func message(
  _ key: String, channel: String = "email", to: [String] = ["iso@d.example"],
  at: Date = Date(timeIntervalSince1970: 1_800_000_000)
) -> OutgoingMessage {
  OutgoingMessage(
    key: key, channel: channel, ruleID: "annual", unitID: "D", period: "2026", step: "remind-7d",
    reason: "first-reminder", template: "reminder", scheduledAt: at,
    to: to.map { .init(unitID: "D", unitName: "Sở Tư pháp", role: "iso-focal", name: "Đầu mối ISO", address: $0) },
    subject: "[Nhắc việc] Báo cáo năm 2026", text: "Kính gửi", html: "<p>Kính gửi</p>", payload: #"{"version":1}"#)
}

/// A channel that answers from a script and remembers what it was given.
final class ScriptedChannel: NoticeChannel, @unchecked Sendable {
  let name: String
  private let lock = NSLock()
  private var script: [DeliveryOutcome]
  private(set) var delivered: [OutgoingMessage] = []

  init(name: String = "email", _ script: [DeliveryOutcome]) {
    self.name = name
    self.script = script
  }

  func deliver(_ message: OutgoingMessage) async -> DeliveryOutcome {
    lock.withLock {
      delivered.append(message)
      return script.count > 1 ? script.removeFirst() : script.first ?? .sent(receipt: "ok")
    }
  }

  var count: Int {
    lock.lock()
    defer { lock.unlock() }
    return delivered.count
  }
}

@Suite("The journal")
struct JournalTests {
  let t0 = Date(timeIntervalSince1970: 1_800_000_000)

  @Test("a notice is journaled once, whatever the number of plans that name it")
  func insertIfAbsent() throws {
    let store = try Store()
    #expect(try store.journal([message("a"), message("b")], now: t0) == 2)
    #expect(try store.journal([message("a"), message("c")], now: t0) == 1)
    #expect(try store.counts()[.planned] == 3)
    // The same key through another channel is another delivery.
    #expect(try store.journal([message("a", channel: "hook")], now: t0) == 1)
  }

  @Test("two processes sharing the database can never both claim a notice")
  func exclusiveClaim() throws {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("journal-\(UUID().uuidString).sqlite").path
    let first = try Store(path: path)
    let second = try Store(path: path)
    try first.journal((0..<200).map { message("k\($0)") }, now: t0)
    let results = ConcurrentResults()
    DispatchQueue.concurrentPerform(iterations: 2) { i in
      let store = i == 0 ? first : second
      var mine: [String] = []
      while let batch = try? store.claimDue(now: t0, limit: 7), !batch.isEmpty { mine += batch.map(\.message.key) }
      results.add(mine)
    }
    #expect(results.all.count == 200)
    #expect(Set(results.all).count == 200)
    #expect(try first.counts()[.sending] == 200)
  }

  @Test("after a crash, what was being sent goes out again under the same key; what was sent never does")
  func crashRecovery() async throws {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("crash-\(UUID().uuidString).sqlite").path
    do {
      let store = try Store(path: path)
      try store.journal([message("sent"), message("inflight")], now: t0)
      let claimed = try store.claimDue(now: t0)
      #expect(claimed.count == 2)
      try store.recordSent(key: "sent", channel: "email", receipt: "250 ok", now: t0)
      // The process dies here with "inflight" in `sending`.
    }
    let reopened = try Store(path: path)
    #expect(try reopened.entry(key: "inflight", channel: "email")?.state == .sending)
    #expect(try reopened.recoverInFlight(now: t0 + 60) == 1)
    let channel = ScriptedChannel([.sent(receipt: "250 ok")])
    let report = try await Deliverer(store: reopened, channels: ["email": channel]).deliverDue(now: t0 + 60)
    #expect(report.sent == 1)
    #expect(channel.delivered.map(\.key) == ["inflight"])
    #expect(try reopened.entry(key: "inflight", channel: "email")?.attempts == 2)
    #expect(try reopened.entry(key: "sent", channel: "email")?.state == .sent)
  }
}

final class ConcurrentResults: @unchecked Sendable {
  private let lock = NSLock()
  private var items: [String] = []
  func add(_ more: [String]) {
    lock.lock()
    items += more
    lock.unlock()
  }
  var all: [String] {
    lock.lock()
    defer { lock.unlock() }
    return items
  }
}

@Suite("The delivery pipeline")
struct DelivererTests {
  let t0 = Date(timeIntervalSince1970: 1_800_000_000)
  let policy = RetryPolicy(
    firstDelay: 60, multiplier: 2, maximumDelay: 3600, maximumAttempts: 3, maximumAge: 86_400, jitter: 0)

  @Test("a transient failure is retried after its back-off, then sent")
  func transientThenSent() async throws {
    let store = try Store()
    try store.journal([message("a")], now: t0)
    let channel = ScriptedChannel([.transient(reason: "SMTP 451", retryAfter: nil), .sent(receipt: "250 ok")])
    let deliverer = Deliverer(store: store, channels: ["email": channel], policy: policy, random: { 0.5 })
    var report = try await deliverer.deliverDue(now: t0, clock: { self.t0 })
    #expect(report.retrying == 1)
    let failed = try #require(try store.entry(key: "a", channel: "email"))
    #expect(failed.state == .failed)
    #expect(failed.lastError == "SMTP 451")
    #expect(failed.nextAttemptAt == t0 + 60)
    #expect(try store.nextAttempt(now: t0) == t0 + 60)
    // Not yet due: nothing happens.
    report = try await deliverer.deliverDue(now: t0 + 30)
    #expect(report == .init())
    report = try await deliverer.deliverDue(now: t0 + 60, clock: { self.t0 + 61 })
    #expect(report.sent == 1)
    let sent = try #require(try store.entry(key: "a", channel: "email"))
    #expect(sent.state == .sent)
    #expect(sent.receipt == "250 ok")
    #expect(sent.attempts == 2)
  }

  @Test("a permanent failure is dead at once; transient ones die at the attempt bound")
  func dead() async throws {
    let store = try Store()
    try store.journal([message("perm"), message("temp")], now: t0)
    let channel = ScriptedChannel([.permanent(reason: "SMTP 550")])
    let temp = ScriptedChannel(name: "email", [.transient(reason: "timeout", retryAfter: nil)])
    var deliverer = Deliverer(store: store, channels: ["email": channel], policy: policy, random: { 0.5 })
    _ = try await deliverer.deliverDue(now: t0)
    #expect(try store.entry(key: "perm", channel: "email")?.state == .dead)
    #expect(try store.entry(key: "perm", channel: "email")?.lastError == "SMTP 550")
    // `temp` was sent by the first channel too; start again with a channel that always times out.
    try store.journal([message("t2")], now: t0)
    deliverer = Deliverer(store: store, channels: ["email": temp], policy: policy, random: { 0.5 })
    var now = t0
    for _ in 0..<3 {
      let current = now
      _ = try await deliverer.deliverDue(now: current, clock: { current })
      now = try store.nextAttempt(now: current) ?? current
    }
    let entry = try #require(try store.entry(key: "t2", channel: "email"))
    #expect(entry.state == .dead)
    #expect(entry.attempts == 3)
    #expect(entry.lastError?.contains("gave up after 3 attempts") == true)
    // An operator can give it another chance.
    #expect(try store.retryDead(key: "t2", now: now) == 1)
    #expect(try store.entry(key: "t2", channel: "email")?.state == .planned)
  }

  @Test("a notice for a channel that is not configured is dead, not lost")
  func unknownChannel() async throws {
    let store = try Store()
    try store.journal([message("x", channel: "sms")], now: t0)
    _ = try await Deliverer(store: store, channels: [:]).deliverDue(now: t0)
    #expect(try store.entry(key: "x", channel: "sms")?.lastError == "no channel named sms is configured")
  }

  @Test("planned notices are rendered and journaled, and a second plan adds nothing")
  func fromPlan() throws {
    let directory = try Directory(units: [
      OrgUnit(id: "P", name: "Tỉnh", kind: "province", contacts: ["head": Contact(email: "head@p.example")]),
      OrgUnit(
        id: "D", name: "Sở Tư pháp", kind: "dept", parentID: "P",
        contacts: ["iso-focal": Contact(email: "iso@d.example")]),
    ])
    let rule = Rule(
      id: "annual", kindName: "deadline", kind: try DeadlineKind(parameters: nil), title: "Báo cáo {{period.name}}",
      basis: "khoản 1", appliesTo: [UnitSelector(kinds: ["dept"])], period: .yearly,
      due: DueSpec(anchor: .date(month: 11, day: 15, yearOffset: 0), convention: .before), remind: [Offset(7, .days)],
      remindTo: [.unit(role: "iso-focal")], escalate: [], stopAfter: Offset(10, .days), channels: ["email"])
    let ruleset = Ruleset(
      rules: [rule], channels: ["email": ChannelSpec(name: "email", type: "smtp", addressKind: .email)])
    let engine = Engine(
      ruleset: ruleset,
      context: EvaluationContext(directory: directory, calendar: WorkingCalendar(years: 2026...2026), facts: FactBook())
    )
    let now = Zone.vietnam.parseInstant("2026-11-09T08:00")!
    let plan = engine.plan(since: nil, now: now)
    let store = try Store()
    let deliverer = Deliverer(store: store, channels: [:])
    let renderer = MessageRenderer(ruleset: ruleset, zone: .vietnam)
    #expect(try deliverer.journal(plan.due, renderer: renderer, now: now) == 1)
    #expect(try deliverer.journal(engine.plan(since: nil, now: now).due, renderer: renderer, now: now) == 0)
    let entry = try #require(try store.entries().first)
    #expect(entry.message.key == "annual/D/2026/remind-7d")
    #expect(entry.message.subject.contains("15/11/2026"))
    #expect(entry.message.to.map(\.address) == ["iso@d.example"])
  }
}
