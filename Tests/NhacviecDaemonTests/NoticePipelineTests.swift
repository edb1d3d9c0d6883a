import Foundation
import NhacviecConfig
import NhacviecControl
import NhacviecCore
import NhacviecDelivery
@_spi(Testing) import NhacviecStore
import NhacviecTesting
import TestSupport
import Testing

@testable import NhacviecDaemon

/// The in-process daemon these tests drive (`DaemonHarness`, of NhacviecTesting).
typealias InProcessDaemon = DaemonHarness

extension DaemonHarness {
  /// A copy of the shipped Rules/ in a folder of its own.
  static func shipped(at start: String) throws -> DaemonHarness {
    try .copying(repositoryRoot.appendingPathComponent("Rules"), at: start)
  }
}

@Suite("Every message true when it is sent", .serialized)
struct NoticePipelineTests {
  @Test("a first start on 30/10/2026, and a restart after ten days down: dates and counts true when sent")
  func firstStartAndRestart() throws {
    let first = try InProcessDaemon.shipped(at: "2026-10-30T10:00:00+07:00")
    try first.settle()
    let early = try first.messages()
    #expect(early.count >= 110, "\(early.count)")
    let stp = try #require(early.first { $0.key.hasPrefix("iso-annual-report_51-STP_") }?.value)
    // Sent on 30/10, it says so, and counts from that day, both included, to Monday 16/11, the
    // last day allowed (15/11 is a Sunday): 18 days, not 30.
    #expect(stp.header("Date") == "Fri, 30 Oct 2026 10:00:00 +0700")
    #expect(stp.text.contains("trước ngày 15/11/2026 (Chủ nhật); còn 18 ngày."))
    for (name, mail) in early where name.hasPrefix("iso-annual-report_") {
      #expect(mail.header("Date") == "Fri, 30 Oct 2026 10:00:00 +0700", "\(name)")
    }
    first.stop()

    // Ten days down, through the deadline: the restart catches up.
    let restart = try InProcessDaemon(
      configPath: first.configPath, folder: first.folder, at: "2026-11-20T10:00:00+07:00")
    defer { restart.stop() }
    try restart.settle()
    let late = try restart.messages().filter { !early.keys.contains($0.key) }
    // Every overdue unit hears of its own lateness, as of the day it is told.
    let own = late.filter { $0.key.hasPrefix("iso-annual-report_") && $0.key.contains("_escalate-1wd_") }
    #expect(own.count >= 100, "\(own.count)")
    let stpLate = try #require(own.first { $0.key.hasPrefix("iso-annual-report_51-STP_") }?.value)
    #expect(stpLate.header("Date") == "Fri, 20 Nov 2026 10:00:00 +0700")
    #expect(stpLate.header("To")?.contains("lanhdao@51-stp.quangngai.example") == true)
    // "Trước ngày 15/11": 14/11 and 15/11 are a weekend, so Monday 16/11 was the last day
    // (Civil Code 2015 art. 148(5)) and 20/11 is the fourth day late.
    #expect(stpLate.text.contains("hạn trước ngày 15/11/2026; đã quá hạn 4 ngày."))
    // The Department hears once, in its digest, with the same count.
    let digest = try #require(
      late.first { $0.key.hasPrefix("digest_iso_51-skhcn.quangngai.example_iso-annual-report_") }?.value)
    #expect(digest.text.contains("- Sở Tư pháp: hạn trước ngày 15/11/2026; đã quá hạn 4 ngày"))
    #expect(digest.header("Date") == "Fri, 20 Nov 2026 10:00:00 +0700")
    // No stale reminder went out, and the missed ones are recorded as superseded.
    #expect(!late.keys.contains { $0.contains("_remind-") && $0.hasPrefix("iso-annual-report_") })
    #expect((try restart.daemon.status().journal["superseded"] ?? 0) > 100)
  }

  @Test("no notice is addressed to another unit record than the one that owes it (21025 around 1 July 2025)")
  func reusedCode() throws {
    let deployment = try DeploymentLoader().load(
      configPath: repositoryRoot.appendingPathComponent("Rules/nhacviec.yaml").path)
    let engine = deployment.engine()
    let zone = deployment.zone
    let notices = engine.simulate(
      from: zone.parseInstant("2025-06-01")!, to: zone.parseInstant("2025-07-31T23:59")!)
    let budget = notices.filter { $0.noticeKey?.rule == "iso-budget-estimate" }
    #expect(!budget.isEmpty)
    // FY2026 is due by 19/06/2025, while the code 21025 is Phường Nguyễn Nghiêm (2021 record),
    // not Phường Cẩm Thành (2025): every step of its ladder reaches the 2021 record's addresses.
    let ward = budget.filter { $0.noticeKey?.unit.id == "21025" }
    #expect(ward.count >= 3)
    for decision in ward {
      #expect(decision.noticeKey?.unit == UnitRef(id: "21025", validFrom: nil))
      #expect(decision.addressees.allSatisfy { $0.address.contains("21025-2021") }, "\(decision.key)")
    }
    for decision in budget {
      guard let key = decision.noticeKey else { continue }
      for addressee in decision.addressees where addressee.unit.id == key.unit.id {
        #expect(addressee.unit == key.unit, "\(decision.key) reaches \(addressee.unit)")
      }
    }
  }

  @Test("a failing pass shows in status, and status is not healthy")
  func failingPass() throws {
    let fixture = try ConfigurationFixture()
    let daemon = try InProcessDaemon(
      configPath: fixture.configPath, folder: fixture.folder, at: "2026-11-09T09:00:00+07:00")
    defer { daemon.stop() }
    try daemon.settle()
    #expect(try daemon.daemon.status().isHealthy)
    // The journal loses a table under the daemon, as a broken disk would make it.
    let path = URL(fileURLWithPath: daemon.daemon.current.deployment.daemon.state).appendingPathComponent(
      "nhacviec.sqlite")
    try Store(path: path.path).execute(sql: "DROP TABLE rejudge", arguments: [])
    daemon.clock.advance(by: 60)
    daemon.daemon.changed()
    // A pass that fails says so when it ends, like one that succeeds.
    #expect(
      try daemon.daemon.progress.wait(until: Date().addingTimeInterval(10)) {
        try daemon.daemon.status().lastPassError != nil
      })
    let status = try daemon.daemon.status()
    let failing = try #require(status.lastPassError)
    #expect(failing.error.contains("no such table: rejudge"))
    #expect(failing.since == "2026-11-09T09:01:00+07:00")
    #expect(!status.isHealthy)
  }

  @Test("in process: sleep until the next step, wake on a fact, reload, and keep the old rules on a broken one")
  func sleepWakeReload() throws {
    let fixture = try ConfigurationFixture()
    let daemon = try InProcessDaemon(
      configPath: fixture.configPath, folder: fixture.folder, at: "2026-11-09T09:00:00+07:00")
    defer { daemon.stop() }
    try daemon.settle()
    var status = try daemon.daemon.status()
    // The first start caught up the seven-day reminders; the next wake-up is the next rung's.
    #expect(status.journal["sent"] == 4)
    #expect(status.nextWakeup == "2026-11-13T08:00:00+07:00")
    // A report arrives: D1's next reminder will not go out.
    var report = ControlAPI.FactRequest(kind: "report", unit: "D1", rule: "annual", period: "2026")
    report.at = "2026-11-10T10:00:00+07:00"
    daemon.clock.advance(to: daemon.clock.now().addingTimeInterval(86_400 + 3600))
    _ = try daemon.daemon.record(ControlAPI.FactBatch(source: nil, facts: [report]), uid: 0)
    daemon.clock.advance(to: Zone.vietnam.parseInstant("2026-11-13T08:00:00+07:00")!)
    try daemon.settle()
    status = try daemon.daemon.status()
    #expect(status.journal["sent"] == 7)
    #expect(
      try daemon.messages().keys.filter { $0.contains("_remind-1wd_") }.sorted() == [
        "annual_D2_2026_remind-1wd_2026-11-15--email.eml", "annual_D3_2026_remind-1wd_2026-11-15--email.eml",
        "annual_O_2026_remind-1wd_2026-11-15--email.eml",
      ])
    // A reload with a broken rule keeps the running one and says why.
    let hash = status.rules.hash
    try fixture.write("rules/main.yaml", "- id: broken\n  kind: nope\n")
    let refused = daemon.daemon.reload()
    #expect(!refused.ok)
    #expect(refused.error?.contains("unknown rule kind `nope`") == true)
    #expect(try daemon.daemon.status().rules.hash == hash)
    // A good one is taken whole.
    try fixture.write(
      "rules/main.yaml", ConfigurationFixture.annualRule.replacingOccurrences(of: "[30d, 14d, 7d, 1wd]", with: "[7d]"))
    #expect(daemon.daemon.reload().ok)
    #expect(try daemon.daemon.status().rules.hash != hash)
  }

  @Test("reads of the control API run on the server's own threads, never on the cooperative pool")
  func handlerThreads() throws {
    let folder = try temporaryFolder("server")
    let path = folder.appendingPathComponent("s.sock").path
    let names = NameBox()
    let server = ControlServer(path: path) { _ in
      names.add((Thread.current.threadDictionary[ControlServer.threadMark] as? String) ?? "unmarked")
      return HTTPResponse(status: 200, body: Array("{}".utf8))
    }
    try server.start()
    defer { server.stop() }
    for _ in 0..<5 { _ = try ControlClient.request(socket: path, method: "GET", target: "/v1/status") }
    #expect(names.all.count == 5)
    let seen = names.all
    #expect(seen.allSatisfy { $0 == "request" }, "\(seen)")
  }
}

final class NameBox: @unchecked Sendable {
  private let lock = NSLock()
  private var names: [String] = []
  func add(_ name: String) { lock.withLock { names.append(name) } }
  var all: [String] { lock.withLock { names } }
}

@Suite("The daemon's delivery settings")
struct DaemonDeliverySettingsTests {
  @Test("each channel's connections, retry policy and rate reach the delivery service as configured")
  func settingsReachDelivery() throws {
    let fixture = try ConfigurationFixture(
      configuration: """
        directory: [{ file: units.csv }]
        rules: rules
        channels:
          email: { type: file, path: outbox, connections: 3, rate: 2/s, retry: { initial: 30s, max_attempts: 4 } }
          hook: { type: webhook, url: "http://127.0.0.1:9/hook" }
        """)
    let deployment = try fixture.load()
    let client = CurlClient()
    defer { client.shutdown() }
    let setup = try Snapshot(deployment, store: try Store(), client: client, clock: ManualClock(Date())).delivery
    #expect(setup.capacity == ["email": 3, "hook": 16])
    #expect(setup.rates == ["email": RateLimit(messages: 2, per: 1)])
    #expect(setup.policies["email"] == RetryPolicy(firstDelay: 30, maximumAttempts: 4))
    #expect(setup.policies["hook"] == RetryPolicy())
  }
}
