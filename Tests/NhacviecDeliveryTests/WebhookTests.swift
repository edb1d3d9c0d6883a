import Foundation
import NhacviecConfig
import NhacviecCore
import NhacviecDelivery
import NhacviecStore
import NhacviecTesting
import TestSupport
import Testing

/// Webhooks against a real HTTP server (Tests/Servers/http_server.py).
@Suite("Webhook channel against a real HTTP server", .serialized)
struct WebhookTests {
  let client = CurlClient()
  let server: TestServer
  let log: URL

  init() throws {
    log = try temporaryFolder("http").appendingPathComponent("requests.jsonl")
    server = try TestServer("http_server.py", ["--log", log.path])
  }

  func channel(
    _ path: String, _ extra: [String: String] = [:], clock: @escaping @Sendable () -> Date = { Date() }
  ) throws
    -> any NoticeChannel
  {
    try ChannelFixture.make(
      type: "webhook", name: "hook", settings: ["url": "http://127.0.0.1:\(server.port)\(path)"].merging(extra) { $1 },
      runtime: ChannelRuntime(client: client, zone: .vietnam, clock: clock))
  }

  /// The POSTs the server logged for one hook name, oldest first.
  func requests(_ name: String) throws -> [[String: Any]] {
    let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
    return text.split(separator: "\n").compactMap { line in
      try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
    }.filter { ($0["method"] as? String) == "POST" && (($0["path"] as? String)?.hasPrefix("/hook/\(name)") ?? false) }
  }

  func hookMessage(_ key: String = "iso-annual-report/51-STP/2026/escalate-3wd@2026-11-15") -> OutgoingMessage {
    ChannelFixture.message(
      key: key, channel: "hook", to: [], subject: "[Báo cáo quá hạn] Sở Tư pháp",
      text: "Sở Tư pháp chưa hoàn thành báo cáo.", html: "<p>x</p>",
      payload:
        #"{"key":"iso-annual-report/51-STP/2026/escalate-3wd@2026-11-15","text":"Sở Tư pháp chưa hoàn thành","version":1}"#
    )
  }

  @Test("200: the versioned payload arrives with its Idempotency-Key and a signature that verifies")
  func delivered() async throws {
    let secret = "bí-mật-webhook-42"
    let hook = try channel(
      "/hook/ok",
      [
        "secret_file": try secretFile(secret), "bearer_token_file": try secretFile("token-xyz"),
        "header.X-Deployment": "quangngai",
      ])
    let message = hookMessage()
    #expect(await hook.deliver(message) == .sent(receipt: "HTTP 200"))
    let request = try #require(try requests("ok").first)
    let headers = try #require(request["headers"] as? [String: String])
    let body = try #require(request["body"] as? String)
    #expect(body == message.payload)
    #expect(headers["idempotency-key"] == message.key)
    #expect(headers["content-type"] == "application/json; charset=utf-8")
    #expect(headers["authorization"] == "Bearer token-xyz")
    #expect(headers["x-deployment"] == "quangngai")
    // The receiver's check: HMAC-SHA256 over "<t>.<body>" with the shared secret.
    let signature = try #require(headers["x-nhacviec-signature"])
    let parts = Dictionary(
      uniqueKeysWithValues: signature.split(separator: ",").map { part in
        let pair = part.split(separator: "=", maxSplits: 1)
        return (String(pair[0]), String(pair[1]))
      })
    let timestamp = try #require(parts["t"])
    let expected = SHA256.hex(SHA256.hmac(key: Array(secret.utf8), message: Array("\(timestamp).\(body)".utf8)))
    #expect(parts["v1"] == expected)
    #expect(
      parts["v1"] != SHA256.hex(SHA256.hmac(key: Array("another".utf8), message: Array("\(timestamp).\(body)".utf8))))
  }

  @Test("500 then 200: retried through the journal at its time, the same key both times")
  func retriedThenSent() async throws {
    let fixture = try ConfigurationFixture(
      configuration: """
        directory: [{ file: units.csv }]
        rules: rules
        digest: { minimum: 0 }
        channels:
          email: { type: webhook, url: "http://127.0.0.1:\(server.port)/hook/flaky?statuses=500,200", address: email }
        """)
    let deployment = try fixture.load()
    let clock = ManualClock(Zone.vietnam.parseInstant("2026-11-09T08:00:00+07:00")!)
    let hook = try ChannelRuntime(client: client, zone: .vietnam).make(deployment.channels["email"]!)
    let harness = try DeliveryHarness(
      deployment: deployment, channels: ["email": hook], clock: clock, policy: RetryPolicy(firstDelay: 30, jitter: 0))
    try harness.plan(since: clock.now().addingTimeInterval(-60))
    try harness.settle()
    // The first POST to reach the server got the 500, whichever notice it carried: several are
    // due at once and go out in parallel.
    let first = try #require(try requests("flaky").first?["headers"] as? [String: String])
    let key = try #require(first["idempotency-key"])
    let failed = try #require(try harness.store.entry(key: key, channel: "email"))
    #expect(failed.state == .failed)
    #expect(failed.lastError?.hasPrefix("HTTP 500") == true)
    #expect(failed.nextAttemptAt == clock.now() + 30)
    clock.advance(by: 30)
    try harness.settle()
    #expect(try harness.store.entry(key: key, channel: "email")?.state == .sent)
    let keys = try requests("flaky").compactMap { ($0["headers"] as? [String: String])?["idempotency-key"] }
    #expect(keys.filter { $0 == key }.count == 2)
  }

  @Test(
    "a server that repeats the request in its error: the URL's token, the bearer token and a header's value, however short, are in no outcome"
  )
  func echoedRequest() async throws {
    let token = "SECRETVALUE-in-query"
    let bearer = "bearer-xyz-42"
    let short = "Zq"
    let hook = try channel(
      "/hook/echoed?statuses=500&echo=1&token=\(token)",
      ["bearer_token_file": try secretFile(bearer), "header.X-Api-Key": short])
    let outcome = await hook.deliver(hookMessage())
    guard case .transient(let reason, _) = outcome else {
      Issue.record("a 500 is worth another try, got \(outcome)")
      return
    }
    #expect(reason == "HTTP 500: (its text is withheld: it repeats a secret of the request)", "\(reason)")
    #expect(
      leaks(of: [token, bearer, short], in: [reason]).isEmpty, "\(leaks(of: [token, bearer, short], in: [reason]))")
    // The server got them all, and said them back.
    let headers = try #require(try requests("echoed").first?["headers"] as? [String: String])
    #expect(headers["authorization"] == "Bearer \(bearer)" && headers["x-api-key"] == short)
  }

  @Test(
    "recipients' own webhooks with a token in their URL: the journal's texts, its history, the log and the channel's status show each URL without its query"
  )
  func tokensInRecipientURLs() throws {
    let base = "http://127.0.0.1:\(server.port)/hook"
    let tokens = ["tok-D1-head-77", "tok-D1-iso-88", "tok-channel-99"]
    let fixture = try ConfigurationFixture(
      directory: """
        id,name,kind,parent_id,tags,head.name,head.webhook,iso-focal.name,iso-focal.webhook
        P,Tỉnh Thử,province,,,Chủ tịch,,,
        S,Sở Khoa học và Công nghệ,dept,P,standing-agency,Giám đốc,,,
        O,Văn phòng UBND tỉnh,dept,P,,Chánh Văn phòng,,,
        D1,Sở Tư pháp,dept,P,,Giám đốc,\(base)/d1head?statuses=500&echo=1&token=\(tokens[0]),Đầu mối ISO,\(base)/d1iso?statuses=500&echo=1&token=\(tokens[1])
        """,
      configuration: """
        directory: [{ file: units.csv }]
        rules: rules
        digest: { minimum: 0 }
        channels:
          email: { type: webhook, url: "\(base)/chan?statuses=500&echo=1&token=\(tokens[2])" }
        """)
    let deployment = try fixture.load()
    // D1's escalation a working day after the deadline reaches its head and its focal point.
    let clock = ManualClock(Zone.vietnam.parseInstant("2026-11-16T08:00:00+07:00")!)
    let hook = try ChannelRuntime(client: client, zone: .vietnam).make(deployment.channels["email"]!)
    let harness = try DeliveryHarness(
      deployment: deployment, channels: ["email": hook], clock: clock, policy: RetryPolicy(firstDelay: 30, jitter: 0))
    try harness.plan(since: clock.now().addingTimeInterval(-60))
    try harness.settle()
    let entries = try harness.store.entries()
    let both = try #require(
      entries.first { $0.addresses.count == 2 && $0.state == .failed },
      "\(entries.map { ($0.key, $0.addresses, $0.state) })")
    let attempts = try harness.store.history(key: both.key)
    let reached = try #require(attempts.first?.reached)
    #expect(Set(reached.keys) == ["\(base)/d1head", "\(base)/d1iso"], "\(reached)")
    #expect(both.lastError?.contains("\(base)/d1head: HTTP 500") == true, "\(both.lastError ?? "")")
    let texts =
      entries.compactMap(\.lastError) + entries.compactMap(\.receipt)
      + attempts.flatMap { [$0.detail] + $0.reached.map { "\($0.key) \($0.value)" } } + harness.logged.map(\.line)
      + (try harness.store.channelHealth(channels: ["email"])).compactMap(\.lastError?.error)
    #expect(leaks(of: tokens, in: texts).isEmpty, "\(leaks(of: tokens, in: texts))")
    // The URLs the journal sends to keep their tokens: the servers got them.
    #expect(try requests("d1head").first?["path"] as? String == "/hook/d1head?statuses=500&echo=1&token=\(tokens[0])")
  }

  @Test("429 with Retry-After: the receiver's wish; 400 is permanent")
  func statuses() async throws {
    let busy = try channel("/hook/busy?statuses=429&retry_after=120")
    #expect(await busy.deliver(hookMessage()).retryAfterSeconds == 120)
    let bad = try channel("/hook/bad?statuses=400")
    guard case .permanent(let reason) = await bad.deliver(hookMessage()) else {
      Issue.record("400 is permanent")
      return
    }
    #expect(reason.hasPrefix("HTTP 400"))
  }

  @Test("a receiver slower than the time limit is a transient failure")
  func slow() async throws {
    let hook = try channel("/hook/slow?delay=5", ["timeout": "300ms"])
    let outcome = await hook.deliver(hookMessage())
    guard case .transient(let reason, _) = outcome else {
      Issue.record("a time-out should be retried, got \(outcome)")
      return
    }
    #expect(reason.lowercased().contains("timeout") || reason.lowercased().contains("timed out"))
  }

  @Test("a refused connection is transient")
  func refused() async throws {
    let hook = try ChannelFixture.make(
      type: "webhook", settings: ["url": "http://127.0.0.1:\(closedPort())/hook/x"],
      runtime: ChannelRuntime(client: client, zone: .vietnam))
    guard case .transient = await hook.deliver(hookMessage()) else {
      Issue.record("a refused connection should be retried")
      return
    }
  }

  @Test("a cancelled transfer ends at once, and the engine goes on serving others")
  func cancellation() async throws {
    var request = CurlRequest(url: "http://127.0.0.1:\(server.port)/hook/stuck?delay=30")
    request.timeout = 60
    let stuck = Task { try await client.perform(request) }
    // Let the transfer start, then cancel it: the result must come back long before 30 s.
    _ = try await client.perform(CurlRequest(url: "http://127.0.0.1:\(server.port)/hook/first"))
    stuck.cancel()
    await #expect(throws: CancellationError.self) { try await stuck.value }
    let next = try await client.perform(CurlRequest(url: "http://127.0.0.1:\(server.port)/hook/after"))
    #expect(next.code == 200, "\(next.code): \(String(decoding: next.body, as: UTF8.self)) \(next.headers)")
  }

  @Test("HTTPS with a test CA; a certificate that does not verify is permanent")
  func https() async throws {
    let secure = try TestServer("http_server.py", ["--tls-cert", TestCA.cert, "--tls-key", TestCA.key])
    defer { secure.stop() }
    let runtime = ChannelRuntime(client: client, zone: .vietnam)
    let trusted = try ChannelFixture.make(
      type: "webhook", settings: ["url": "https://localhost:\(secure.port)/hook/tls", "ca_file": TestCA.ca],
      runtime: runtime)
    #expect(await trusted.deliver(hookMessage()) == .sent(receipt: "HTTP 200"))
    let untrusted = try ChannelFixture.make(
      type: "webhook", settings: ["url": "https://localhost:\(secure.port)/hook/tls"], runtime: runtime)
    guard case .permanent = await untrusted.deliver(hookMessage()) else {
      Issue.record("an unverified certificate must not be accepted, nor retried forever")
      return
    }
  }

  @Test("https:// to a port that answers in plain text is permanent, and says so")
  func httpsToPlainPort() async throws {
    // aiosmtpd greets in plain text at once, so the TLS library reads "220 …" as its first record.
    let plain = try TestServer("smtp_server.py", [])
    defer { plain.stop() }
    let hook = try ChannelFixture.make(
      type: "webhook", settings: ["url": "https://127.0.0.1:\(plain.port)/hook/x"],
      runtime: ChannelRuntime(client: client, zone: .vietnam))
    let outcome = await hook.deliver(hookMessage())
    guard case .permanent(let reason) = outcome else {
      Issue.record("expected a permanent failure, got \(outcome)")
      return
    }
    #expect(reason.hasPrefix("the server does not answer in TLS: for a plain port use http:// (libcurl: "), "\(reason)")
  }

  @Test("a chat service gets a templated body")
  func template() async throws {
    let hook = try channel("/hook/chat", ["body_template": #"{"text": {{subject.json}}}"#])
    _ = await hook.deliver(hookMessage())
    let body = try #require(try requests("chat").first?["body"] as? String)
    #expect(body == #"{"text": "[Báo cáo quá hạn] Sở Tư pháp"}"#)
  }

  /// How many requests the server saw under NAME, whatever path they came by.
  func count(_ name: String) throws -> Int {
    let run = try ProgramRun("/usr/bin/curl", ["-s", "http://127.0.0.1:\(server.port)/count/\(name)"])
    return (try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Int])?["count"] ?? -1
  }

  @Test("a redirect loop ends at the cap, and max_redirects beyond it is a configuration error")
  func redirectLoop() async throws {
    #expect(throws: ConfigError.self) { try channel("/loop/x", ["max_redirects": "100000"]) }
    let hook = try channel("/loop/capped", ["max_redirects": "10"])
    guard case .permanent(let reason) = await hook.deliver(hookMessage()) else {
      Issue.record("a redirect loop is permanent")
      return
    }
    #expect(reason.lowercased().contains("redirect"))
    #expect(try count("capped") == 11)
  }

  @Test("response headers without end are a permanent failure, not a wait")
  func hugeHeaders() async throws {
    let hook = try channel("/bigheaders/x")
    guard case .permanent(let reason) = await hook.deliver(hookMessage()) else {
      Issue.record("endless headers are permanent")
      return
    }
    #expect(reason == "response headers over 65536 bytes")
  }

  @Test("hundreds of transfers run at once, not one at a time")
  func concurrent() async throws {
    let hook = try channel("/hook/parallel?delay=0.5", ["timeout": "60s"])
    let count = 100
    let outcomes = await withTaskGroup(of: DeliveryOutcome.self) { group in
      for i in 0..<count { group.addTask { await hook.deliver(self.hookMessage("parallel/\(i)")) } }
      var all: [DeliveryOutcome] = []
      for await outcome in group { all.append(outcome) }
      return all
    }
    #expect(
      outcomes.allSatisfy { $0 == .sent(receipt: "HTTP 200") },
      "\(Set(outcomes.filter { $0 != .sent(receipt: "HTTP 200") }.map { "\($0)" }))")
    // Each answer takes half a second. Had the transfers run one at a time, no request would
    // arrive before the previous answer; run at once, many arrive within the first answer's time.
    let arrivals = try requests("parallel").compactMap { $0["t"] as? Double }.sorted()
    #expect(arrivals.count == count)
    let first = try #require(arrivals.first)
    #expect(arrivals.filter { $0 < first + 0.4 }.count >= 8)
  }
}

extension DeliveryOutcome {
  var retryAfterSeconds: TimeInterval? {
    if case .transient(_, let after) = self { return after }
    return nil
  }
}
