import Foundation
import NhacviecConfig
import NhacviecCore
import NhacviecDelivery
import NhacviecRender
@_spi(Testing) import NhacviecStore
import NhacviecTesting
import TestSupport
import Testing

/// The delivery stages on a manual clock: claim, suppress, window, render, send, record.
@Suite("The delivery pipeline", .serialized)
struct DeliveryServiceTests {
  let zone = Zone.vietnam
  func at(_ text: String) -> Date { zone.parseInstant(text)! }

  /// The fixture province at `start`, delivering through `channel`.
  func harness(
    _ channel: ScriptedChannel, at start: String, policy: RetryPolicy = RetryPolicy(jitter: 0)
  ) throws
    -> DeliveryHarness
  {
    try DeliveryHarness(
      deployment: try ConfigurationFixture().load(), channels: ["email": channel], clock: ManualClock(at(start)),
      policy: policy)
  }

  /// A delivery service of its own thread over `store`, each channel with `capacity` slots.
  func running(
    _ channels: [String: any NoticeChannel], capacity: Int, store: Store, deployment: Deployment, clock: ManualClock
  ) -> DeliveryService {
    let service = DeliveryService(
      store: store,
      setup: .init(
        channels: channels, capacity: channels.mapValues { _ in capacity }, policy: RetryPolicy(jitter: 0),
        renderer: .init(ruleset: deployment.ruleset, calendar: deployment.calendar), engine: { deployment.engine() }),
      clock: clock)
    service.start()
    return service
  }

  @Test("a step falls due, is rendered at the send instant and sent; the journal says so")
  func sent() throws {
    let channel = ScriptedChannel()
    let h = try harness(channel, at: "2026-11-09T08:00:00+07:00")
    try h.plan(since: at("2026-11-09T07:59:00+07:00"))
    try h.settle()
    #expect(channel.delivered.count == 4)
    let d1 = try #require(channel.delivered.first { $0.unit?.id == "D1" })
    #expect(d1.key == "annual/D1/2026/remind-7d@2026-11-15")
    #expect(d1.date == at("2026-11-09T08:00:00+07:00"))
    #expect(d1.text.contains("còn 6 ngày"))
    let entry = try #require(try h.store.entry(key: d1.key, channel: "email"))
    #expect(entry.state == .sent)
    #expect(entry.attempts == 1)
    #expect(entry.subject == d1.subject)
  }

  @Test("a report recorded while a notice is retrying stops it before its next attempt")
  func suppressedWhileRetrying() throws {
    let channel = ScriptedChannel([.transient(reason: "SMTP 451", retryAfter: nil)])
    let h = try harness(channel, at: "2026-11-09T08:00:00+07:00", policy: RetryPolicy(firstDelay: 600, jitter: 0))
    try h.plan(since: at("2026-11-09T07:59:00+07:00"))
    try h.settle()
    let key = "annual/D1/2026/remind-7d@2026-11-15"
    #expect(try h.store.entry(key: key, channel: "email")?.state == .failed)
    try h.record(
      Fact(
        kind: .report, unitID: "D1", ruleID: "annual", period: "2026", at: at("2026-11-09T08:05:00+07:00"),
        reference: "12/BC"))
    h.clock.advance(to: at("2026-11-09T08:10:00+07:00"))
    try h.settle()
    let entry = try #require(try h.store.entry(key: key, channel: "email"))
    #expect(entry.state == .suppressed)
    #expect(entry.lastError == "met (12/BC) before it was sent")
    #expect(entry.attempts == 1)
    #expect(channel.delivered.filter { $0.key == key }.count == 1)
  }

  @Test("a failed and a dead notice each write a warning with the key, the channel, the recipients and the reason")
  func failuresLogged() throws {
    let channel = ScriptedChannel([.transient(reason: "SMTP 451 try later", retryAfter: nil)])
    let h = try harness(
      channel, at: "2026-11-09T08:00:00+07:00", policy: RetryPolicy(firstDelay: 60, maximumAttempts: 2, jitter: 0))
    try h.plan(since: at("2026-11-09T07:59:00+07:00"))
    try h.settle()
    let key = "annual/D1/2026/remind-7d@2026-11-15"
    let failed = h.logged.filter { $0.line.contains(key) }
    #expect(failed.count == 1)
    #expect(failed.allSatisfy { $0.warning })
    #expect(failed.first?.line.hasPrefix("notice \(key) via email to 1 recipient failed, retry at ") == true)
    #expect(failed.first?.line.hasSuffix("SMTP 451 try later") == true)
    // The retry's time as every other time the daemon prints: in the deployment's zone.
    #expect(
      failed.first?.line.contains("retry at 2026-11-09T08:01:00+07:00: SMTP 451") == true, "\(failed.first?.line ?? "")"
    )
    h.clock.advance(by: 60)
    try h.settle()
    let dead = h.logged.filter { $0.line.contains(key) && $0.line.contains("is dead") }
    #expect(dead.count == 1)
    #expect(dead.first?.warning == true)
    #expect(dead.first?.line.hasPrefix("notice \(key) via email to 1 recipient is dead: ") == true, "\(dead)")
    #expect(dead.first?.line.contains("SMTP 451 try later") == true, "\(dead)")
  }

  @Test("a retry that falls outside working time waits for the window, and costs no attempt")
  func retryInsideWindow() throws {
    let channel = ScriptedChannel([.transient(reason: "SMTP 451", retryAfter: nil), .sent(receipt: "250 ok")])
    // Monday 16/11 at 16:59, a day after the deadline: the retry a minute later is after the window closes.
    let h = try harness(channel, at: "2026-11-16T16:59:00+07:00", policy: RetryPolicy(firstDelay: 60, jitter: 0))
    let notice = decision("escalate-1wd", at: h.clock.now())
    try h.store.journal(due: [notice], now: h.clock.now())
    h.service.wake()
    try h.settle()
    h.clock.advance(to: at("2026-11-16T17:00:00+07:00"))
    try h.settle()
    let waiting = try #require(try h.store.entry(key: notice.key, channel: "email"))
    #expect(waiting.state == .planned)
    #expect(waiting.attempts == 1)
    #expect(waiting.nextAttemptAt == at("2026-11-17T08:00:00+07:00"))
    h.clock.advance(to: at("2026-11-17T08:00:00+07:00"))
    try h.settle()
    let sent = try #require(try h.store.entry(key: notice.key, channel: "email"))
    #expect(sent.state == .sent)
    #expect(sent.attempts == 2)
    // Rendered when it went: dated the 17th.
    #expect(channel.delivered.last?.date == at("2026-11-17T08:00:00+07:00"))
  }

  @Test("a weekend waiting for the send window does not age a failing notice: max_age counts failing time only")
  func windowDoesNotAge() throws {
    let channel = ScriptedChannel([
      .transient(reason: "SMTP 451", retryAfter: nil), .transient(reason: "SMTP 451", retryAfter: nil),
      .sent(receipt: "250 ok"),
    ])
    // Friday 20/11 at 16:59, a day's max_age: the retry falls after the window closes, and waits
    // for Monday 08:00, 2.6 days later.
    let h = try harness(
      channel, at: "2026-11-20T16:59:00+07:00", policy: RetryPolicy(firstDelay: 60, maximumAge: 86_400, jitter: 0))
    let notice = decision("escalate-1wd", at: h.clock.now())
    try h.store.journal(due: [notice], now: h.clock.now())
    h.service.wake()
    try h.settle()
    h.clock.advance(to: at("2026-11-20T17:00:00+07:00"))
    try h.settle()
    let waiting = try #require(try h.store.entry(key: notice.key, channel: "email"))
    #expect(waiting.state == .planned)
    #expect(waiting.nextAttemptAt == at("2026-11-23T08:00:00+07:00"))
    // Monday: it fails again, and is one minute and a bit old, not 2.6 days.
    h.clock.advance(to: at("2026-11-23T08:00:00+07:00"))
    try h.settle()
    let failed = try #require(try h.store.entry(key: notice.key, channel: "email"))
    #expect(failed.state == .failed, "\(failed.lastError ?? "")")
    #expect(failed.attempts == 2)
    #expect(failed.age(at: h.clock.now()) == 60)
    h.clock.advance(by: 120)
    try h.settle()
    #expect(try h.store.entry(key: notice.key, channel: "email")?.state == .sent)
  }

  @Test("a refused recipient loses only itself: the 4xx one is tried again alone, the 5xx one is recorded")
  func perRecipient() throws {
    let channel = ScriptedChannel(
      byAddress: [
        "stale@d1.example": .permanent(reason: "SMTP 550 5.1.1 No such user"),
        "full@d1.example": .transient(reason: "SMTP 452 mailbox full", retryAfter: nil),
      ])
    let h = try harness(channel, at: "2026-11-09T08:00:00+07:00", policy: RetryPolicy(firstDelay: 60, jitter: 0))
    let notice = decision(to: ["iso@d1.example", "stale@d1.example", "full@d1.example"], at: h.clock.now())
    try h.store.journal(due: [notice], now: h.clock.now())
    h.service.wake()
    try h.settle()
    let first = try #require(try h.store.entry(key: notice.key, channel: "email"))
    #expect(first.state == .failed)
    #expect(first.pending == ["full@d1.example"])
    h.clock.advance(by: 60)
    try h.settle()
    // The second attempt went to the one still to reach, and no one else.
    #expect(
      channel.delivered.map { $0.to.map(\.address) } == [
        ["iso@d1.example", "stale@d1.example", "full@d1.example"], ["full@d1.example"],
      ])
    let history = try h.store.history(key: notice.key)
    #expect(history.count == 2)
    #expect(history[0].reached["iso@d1.example"] == "sent")
    #expect(history[0].reached["stale@d1.example"]?.hasPrefix("refused: SMTP 550") == true)
  }

  @Test("a receiver that never answers holds only its channel's slots; planning goes on; waiting costs no attempt")
  func hungReceiver() throws {
    let channel = ScriptedChannel()
    channel.hold()
    let deployment = try ConfigurationFixture().load()
    let clock = ManualClock(at("2026-11-09T08:00:00+07:00"))
    let store = try TestStore.make()
    let service = running(["email": channel], capacity: 2, store: store, deployment: deployment, clock: clock)
    defer { service.stop(grace: 1) }
    let decisions = (1...10).map { decision("remind-\($0)d", at: clock.now()) }
    try store.journal(due: decisions, now: clock.now())
    service.wake()
    let until = Date().addingTimeInterval(5)
    while channel.delivered.count < 2, Date() < until { usleep(10_000) }
    usleep(100_000)
    // Two on the wire, the rest untouched and free to be planned around.
    #expect(channel.delivered.count == 2)
    #expect(try store.counts()[.sending] == 2)
    #expect(try store.counts()[.planned] == 8)
    #expect(try store.entries().allSatisfy { $0.attempts == 0 })
    #expect(try store.journal(due: [decision("escalate-1wd", at: clock.now())], now: clock.now()) == 1)
    channel.open()
    let done = Date().addingTimeInterval(10)
    while (try store.counts()[.sent] ?? 0) < 11, Date() < done { usleep(20_000) }
    #expect(try store.counts()[.sent] == 11)
  }

  @Test(
    "a webhook channel keeps half as many notices again as its connections, at least 4, claimed and waiting; only its connections reach the receiver"
  )
  func queuedForConnections() throws {
    let server = try TestServer("http_server.py", [])
    defer { server.stop() }
    let client = CurlClient()
    defer { client.shutdown() }
    let hook = try ChannelFixture.make(
      type: "webhook", name: "hook",
      settings: ["url": "http://127.0.0.1:\(server.port)/hang/q", "connections": "2", "timeout": "60s"],
      runtime: ChannelRuntime(client: client, zone: .vietnam))
    let deployment = try ConfigurationFixture().load()
    let clock = ManualClock(at("2026-11-09T08:00:00+07:00"))
    let store = try TestStore.make()
    let service = running(["hook": hook], capacity: 2, store: store, deployment: deployment, clock: clock)
    defer { service.stop(grace: 1) }
    try store.journal(
      due: (1...12).map { decision("remind-\($0)d", channel: "hook", at: clock.now()) }, now: clock.now())
    service.wake()
    func requests() throws -> Int {
      let run = try ProgramRun("/usr/bin/curl", ["-s", "http://127.0.0.1:\(server.port)/count/q"])
      return (try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Int])?["count"] ?? -1
    }
    let until = Date().addingTimeInterval(10)
    while try requests() < 2 || (try store.counts()[.sending] ?? 0) < 6, Date() < until { usleep(20_000) }
    usleep(200_000)
    // Two on the wire, four more (at least 4 wait) claimed and rendered, waiting in libcurl's
    // queue; the rest untouched.
    #expect(try requests() == 2)
    #expect(try store.counts()[.sending] == 6)
    #expect(try store.counts()[.planned] == 6)
  }

  @Test("a recording that fails loses nothing, and once it succeeds the slots it held are free again")
  func failedRecording() throws {
    let channel = ScriptedChannel()
    let deployment = try ConfigurationFixture().load()
    let clock = ManualClock(at("2026-11-09T08:00:00+07:00"))
    let store = try TestStore.make()
    // The database refuses every outcome until the trigger is dropped: a full disk, say.
    try store.execute(
      sql: TestStore.onPostgres
        ? """
        CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$
          BEGIN IF NEW.state = 'sent' THEN RAISE EXCEPTION 'disk full'; END IF; RETURN NEW; END $$;
        CREATE TRIGGER refuse BEFORE UPDATE OF state ON journal FOR EACH ROW EXECUTE FUNCTION refuse()
        """
        : """
        CREATE TRIGGER refuse BEFORE UPDATE OF state ON journal WHEN NEW.state = 'sent'
        BEGIN SELECT RAISE(ABORT, 'disk full'); END
        """, arguments: [])
    let service = running(["email": channel], capacity: 1, store: store, deployment: deployment, clock: clock)
    defer { service.stop(grace: 1) }
    try store.journal(due: (1...3).map { decision("remind-\($0)d", at: clock.now()) }, now: clock.now())
    service.wake()
    let until = Date().addingTimeInterval(5)
    while service.status.lastError == nil, Date() < until { usleep(10_000) }
    #expect(service.status.lastError?.message.contains("disk full") == true)
    // One sent, its outcome unrecorded: nothing else is claimed meanwhile.
    #expect(channel.delivered.count == 1)
    #expect(try store.counts()[.sending] == 1)
    try store.execute(
      sql: TestStore.onPostgres ? "DROP TRIGGER refuse ON journal" : "DROP TRIGGER refuse", arguments: [])
    // The loop tries again a minute later: the outcome kept is recorded, and its slot serves the rest.
    clock.advance(by: 61)
    let done = Date().addingTimeInterval(10)
    while (try store.counts()[.sent] ?? 0) < 3, Date() < done { usleep(20_000) }
    #expect(try store.counts()[.sent] == 3)
    #expect(channel.delivered.count == 3)
  }

  @Test("a notice for a channel the configuration no longer has goes dead with why, not unseen")
  func unknownChannel() throws {
    let h = try harness(ScriptedChannel(), at: "2026-11-09T08:00:00+07:00")
    let notice = decision(channel: "sms", at: h.clock.now())
    try h.store.journal(due: [notice], now: h.clock.now())
    h.service.wake()
    try h.settle()
    #expect(try h.store.entry(key: notice.key, channel: "sms")?.state == .dead)
    #expect(try h.store.entry(key: notice.key, channel: "sms")?.lastError == "no channel named sms is configured")
  }

  @Test("a notice journaled by nhacviec 0.1 goes out as it was rendered")
  func legacy() throws {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("legacy-\(UUID().uuidString).sqlite").path
    let start = at("2026-11-09T08:00:00+07:00")
    try Store.writeLegacyJournal(at: path, key: "annual/D1/2026/remind-7d", state: "planned", at: start)
    let channel = ScriptedChannel()
    let h = try DeliveryHarness(
      deployment: try ConfigurationFixture().load(), channels: ["email": channel], clock: ManualClock(start),
      store: try Store(path: path))
    try h.settle()
    #expect(channel.delivered.map(\.subject) == ["[Nhắc việc] Báo cáo năm 2026"])
    #expect(try h.store.entry(key: "annual/D1/2026/remind-7d", channel: "email")?.state == .sent)
  }
}

@Suite("libcurl's queue", .serialized)
struct CurlQueueTests {
  @Test("transfers beyond a server's connection limit wait their turn, and a time-out is a real one")
  func honestTimeouts() async throws {
    let server = try TestServer("http_server.py", [])
    defer { server.stop() }
    let client = CurlClient(maxConnectionsPerHost: 2)
    defer { client.shutdown() }
    let results = await withTaskGroup(of: CurlResponse?.self) { group in
      for _ in 0..<6 {
        group.addTask {
          var request = CurlRequest(url: "http://127.0.0.1:\(server.port)/hang/q")
          request.timeout = 0.5
          return try? await client.perform(request)
        }
      }
      var all: [CurlResponse?] = []
      for await result in group { all.append(result) }
      return all
    }
    #expect(results.count == 6)
    // Each one reached the server and waited there its whole time: none timed out in a queue.
    #expect(results.allSatisfy { $0?.failure == .timedOut })
    #expect(results.allSatisfy { $0?.error.lowercased().contains("resolve") == false })
    let run = try ProgramRun("/usr/bin/curl", ["-s", "http://127.0.0.1:\(server.port)/count/q"])
    #expect(run.stdout.contains(#""count": 6"#))
  }
}
