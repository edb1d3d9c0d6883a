import Foundation
import TestSupport
import Testing

/// A PostgreSQL server for the tests of a shared store: `NHACVIEC_TEST_POSTGRESQL` (libpq's
/// key=value form, as scripts/postgres prints it). scripts/test always starts one, so these run in CI.
enum SharedStore {
  static let server = ProcessInfo.processInfo.environment["NHACVIEC_TEST_POSTGRESQL"].flatMap { $0.isEmpty ? nil : $0 }
  static var available: Bool { server != nil }

  /// A new empty database on the server, as the URL `daemon.store` takes.
  static func database() throws -> String {
    let server = try #require(server)
    let name = "d_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
    let created = try ProgramRun("/usr/bin/psql", [server, "-qAtc", "CREATE DATABASE \(name)"])
    #expect(created.status == 0, "\(created.stderr)")
    return url(for: name)
  }

  static func url(for name: String) -> String {
    var fields: [String: String] = [:]
    for pair in (server ?? "").split(separator: " ") {
      let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
      if parts.count == 2 { fields[parts[0]] = parts[1] }
    }
    let host = fields["host"].map { "host=\($0)" } ?? ""
    return "postgresql://\(fields["user"] ?? "nhacviec")@/\(name)?\(host)"
  }

  /// One value a query reads from the database at `url`.
  static func value(_ url: String, _ sql: String) throws -> String {
    let run = try ProgramRun("/usr/bin/psql", [url, "-qAtc", sql])
    #expect(run.status == 0, "\(run.stderr)")
    return run.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
  }
}

@Suite("The journal on PostgreSQL", .serialized, .enabled(if: SharedStore.available))
struct SharedStoreTests {
  @Test("a daemon keeps its journal and facts in PostgreSQL; started again on it, it sends nothing twice")
  func oneDaemon() throws {
    let database = try SharedStore.database()
    let fixture = try DaemonFixture(daemon: ", store: \"\(database)\"")
    let notify = try NotifyListener()
    var daemon = try fixture.start(at: "2026-11-09T08:00:00+07:00", notify: notify)
    #expect(try fixture.waitForSent(20, seconds: 30) == 20)
    let recorded = try fixture.client(["record", "report", "--unit", "D3", "--rule", "annual", "--period", "2026"])
    #expect(recorded.status == 0, "\(recorded.stderr)")
    #expect(try SharedStore.value(database, "SELECT count(*) FROM journal WHERE state = 'sent'") == "20")
    #expect(try SharedStore.value(database, "SELECT unit FROM fact WHERE kind = 'report'") == "D3")
    // No SQLite file beside it: the state folder holds the lock only.
    #expect(
      !FileManager.default.fileExists(atPath: fixture.folder.appendingPathComponent("state/nhacviec.sqlite").path))
    kill(daemon.processIdentifier, SIGTERM)
    #expect(reap(daemon) == 0)
    daemon = try fixture.start(at: "2026-11-09T09:00:00+07:00", notify: notify)
    defer { kill(daemon.processIdentifier, SIGKILL) }
    let status = try fixture.client(["status", "--json"])
    let object = try #require(try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any])
    #expect((object["journal"] as? [String: Int])?["sent"] == 20)
    #expect(try FileManager.default.contentsOfDirectory(atPath: fixture.outbox.path).count == 20)
    let facts = try fixture.client(["facts", "--unit", "D3"])
    #expect(facts.stdout.contains("D3"), "\(facts.stdout)")
  }

  @Test("a store URL with a password in it, or not PostgreSQL's, is refused with its line")
  func refusedURL() throws {
    let fixture = try DaemonFixture(daemon: ", store: \"postgresql://u:secret@db/x\"")
    let run = try Run(["check", "--config", fixture.config], in: fixture.folder)
    #expect(run.status != 0)
    #expect(run.stderr.contains("nhacviec.yaml:4"), "\(run.stderr)")
    #expect(run.stderr.contains("store_password_file"), "\(run.stderr)")
    let other = try DaemonFixture(daemon: ", store: \"mysql://db/x\"")
    let refused = try Run(["check", "--config", other.config], in: other.folder)
    #expect(refused.stderr.contains("store must be a PostgreSQL URL"), "\(refused.stderr)")
  }

  /// The requests the test server logged: each notice's Idempotency-Key, in arrival order.
  static func keys(_ log: URL) -> [String] {
    guard let text = try? String(contentsOf: log, encoding: .utf8) else { return [] }
    return text.split(separator: "\n").compactMap { line in
      let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
      let headers = object?["headers"] as? [String: String] ?? [:]
      return headers.first { $0.key.lowercased() == "idempotency-key" }?.value
    }
  }

  static func cluster(_ fixture: DaemonFixture) throws -> [String: Any]? {
    let status = try fixture.client(["status", "--json"])
    let object = try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any]
    return object?["cluster"] as? [String: Any]
  }

  @Test(
    "two daemons on one database: the leader killed with SIGKILL in a burst of 111 webhooks, the other leads within 10 s and delivers the rest, nothing lost, duplicates no more than were in flight"
  )
  func leaderKilled() throws {
    let database = try SharedStore.database()
    let folder = try temporaryFolder("cluster")
    let log = folder.appendingPathComponent("requests.jsonl")
    let http = try TestServer("http_server.py", ["--log", log.path])
    defer { http.stop() }
    // 4 at once per daemon, each answered in 0.2 s: the burst lasts seconds, long enough to kill in.
    let channel =
      "{ type: webhook, url: \"http://127.0.0.1:\(http.port)/hook/burst?delay=0.2\", connections: 4, retry: { initial: 1s } }"
    func node(_ name: String) throws -> DaemonFixture {
      try DaemonFixture(
        channel: channel, daemon: ", store: \"\(database)\", node: \(name), lease: 3s", units: 111)
    }
    let (first, second) = (try node("n1"), try node("n2"))
    let (notifyFirst, notifySecond) = (try NotifyListener(), try NotifyListener())
    let leader = try first.start(at: "2026-11-09T08:00:00+07:00", notify: notifyFirst)
    defer { kill(leader.processIdentifier, SIGKILL) }
    let follower = try second.start(at: "2026-11-09T08:00:00+07:00", notify: notifySecond)
    defer { kill(follower.processIdentifier, SIGKILL) }
    #expect(try Self.cluster(first)?["role"] as? String == "leader")
    #expect(try Self.cluster(second)?["role"] as? String == "follower")
    // Killed once a fifth of the burst has arrived.
    let until = Date().addingTimeInterval(30)
    while Self.keys(log).count < 22, Date() < until { usleep(5_000) }
    kill(leader.processIdentifier, SIGKILL)
    let killedAt = Date()
    let arrivedBefore = Self.keys(log).count
    // What it held: claimed, being sent or sent with its outcome not yet recorded.
    let inFlight = try #require(
      Int(try SharedStore.value(database, "SELECT count(*) FROM journal WHERE state = 'sending' AND claimed_by = 'n1'"))
    )
    #expect(arrivedBefore >= 22 && arrivedBefore < 111, "the kill came at \(arrivedBefore) of 111")
    _ = reap(leader)
    var led: Date?
    while Date() < killedAt.addingTimeInterval(40) {
      if led == nil, try Self.cluster(second)?["role"] as? String == "leader" { led = Date() }
      if led != nil, Set(Self.keys(log)).count == 111,
        try SharedStore.value(database, "SELECT count(*) FROM journal WHERE state = 'sent'") == "111"
      {
        break
      }
      usleep(50_000)
    }
    let took = try #require(led).timeIntervalSince(killedAt)
    print("leader killed at \(arrivedBefore) of 111 arrived, \(inFlight) in flight; the other led after \(took) s")
    #expect(took < 10, "the other node led after \(took) s")
    let keys = Self.keys(log)
    #expect(Set(keys).count == 111, "delivered \(Set(keys).count) of 111")
    // At most what the killed daemon had in flight went twice.
    #expect(inFlight > 0 && inFlight <= 8)
    #expect(
      keys.count - Set(keys).count <= inFlight, "\(keys.count - Set(keys).count) duplicates, \(inFlight) in flight")
    #expect(try SharedStore.value(database, "SELECT count(*) FROM journal WHERE state = 'sent'") == "111")
    let cluster = try #require(try Self.cluster(second))
    let nodes = try #require(cluster["nodes"] as? [[String: Any]])
    #expect(Set(nodes.compactMap { $0["node"] as? String }) == ["n1", "n2"])
    #expect(cluster["epoch"] as? Int == 2)
    let metrics = try ProgramRun("/usr/bin/curl", ["-s", "--unix-socket", second.socket, "http://localhost/metrics"])
    #expect(metrics.stdout.contains("nhacviec_cluster_leader{node=\"n2\"} 1"), "\(metrics.stdout.prefix(300))")
    #expect(metrics.stdout.contains("nhacviec_cluster_node_last_seen_seconds{node=\"n1\"}"))
  }

  /// The burst's two daemons on `database`, each with its own state and socket.
  func burstNodes(_ database: String, port: Int) throws -> (DaemonFixture, DaemonFixture) {
    let channel =
      "{ type: webhook, url: \"http://127.0.0.1:\(port)/hook/burst?delay=0.2\", connections: 4, retry: { initial: 1s } }"
    func node(_ name: String) throws -> DaemonFixture {
      try DaemonFixture(channel: channel, daemon: ", store: \"\(database)\", node: \(name), lease: 3s", units: 111)
    }
    return (try node("n1"), try node("n2"))
  }

  static func status(_ fixture: DaemonFixture) throws -> [String: Any] {
    let status = try fixture.client(["status", "--json"])
    return try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any] ?? [:]
  }

  @Test(
    "PostgreSQL stopped for 30 s in a burst: both daemons say why, wait, and resume when it is back; nothing is lost"
  )
  func outage() throws {
    // A server of this test's own, since it is stopped.
    let serverFolder = try temporaryFolder("pg-outage")
    let script = repositoryRoot.appendingPathComponent("scripts/postgres").path
    let started = try ProgramRun(script, ["start", serverFolder.path])
    try #require(started.status == 0, "\(started.stderr)")
    defer { _ = try? ProgramRun(script, ["stop", serverFolder.path]) }
    let server = started.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    #expect(try ProgramRun("/usr/bin/psql", [server, "-qAtc", "CREATE DATABASE burst"]).status == 0)
    let database = "postgresql://nhacviec@/burst?host=\(serverFolder.path)"
    let log = serverFolder.appendingPathComponent("requests.jsonl")
    let http = try TestServer("http_server.py", ["--log", log.path])
    defer { http.stop() }
    let (first, second) = try burstNodes(database, port: http.port)
    let (notifyFirst, notifySecond) = (try NotifyListener(), try NotifyListener())
    let one = try first.start(at: "2026-11-09T08:00:00+07:00", notify: notifyFirst)
    defer { kill(one.processIdentifier, SIGKILL) }
    let two = try second.start(at: "2026-11-09T08:00:00+07:00", notify: notifySecond)
    defer { kill(two.processIdentifier, SIGKILL) }
    let until = Date().addingTimeInterval(30)
    while Self.keys(log).count < 22, Date() < until { usleep(5_000) }
    let inFlight = try #require(
      Int(try SharedStore.value(database, "SELECT count(*) FROM journal WHERE state = 'sending'")))
    let stopped = try ProgramRun(script, ["stop", serverFolder.path])
    try #require(stopped.status == 0, "\(stopped.stderr)")
    let stoppedAt = Date()
    let arrivedAtStop = Self.keys(log).count
    // Within a few ticks each daemon says why, and `status` fails.
    var said: [String: Any] = [:]
    while Date() < stoppedAt.addingTimeInterval(10) {
      said = try Self.status(second)
      if said["store_error"] != nil || (said["cluster"] as? [String: Any])?["error"] != nil { break }
      usleep(100_000)
    }
    let error =
      (said["store_error"] as? String) ?? ((said["cluster"] as? [String: Any])?["error"] as? [String: Any])?["error"]
      as? String
    #expect(error?.contains("PostgreSQL") == true || error?.contains("connect") == true, "\(said)")
    #expect(try second.client(["status"]).status == 1)
    // The outage lasts 30 s: what was being sent may finish; nothing new is claimed.
    usleep(useconds_t(max(0, 30 - Date().timeIntervalSince(stoppedAt)) * 1_000_000))
    let duringOutage = Self.keys(log).count - arrivedAtStop
    #expect(duringOutage <= inFlight, "\(duringOutage) arrived while PostgreSQL was down, \(inFlight) in flight")
    let restarted = try ProgramRun(script, ["start", serverFolder.path])
    try #require(restarted.status == 0, "\(restarted.stderr)")
    let back = Date()
    while Date() < back.addingTimeInterval(60) {
      if Set(Self.keys(log)).count == 111,
        (try? SharedStore.value(database, "SELECT count(*) FROM journal WHERE state = 'sent'")) == "111"
      {
        break
      }
      usleep(100_000)
    }
    let keys = Self.keys(log)
    print(
      "outage: \(arrivedAtStop) arrived before, \(inFlight) in flight, \(duringOutage) during; all \(Set(keys).count) after \(Date().timeIntervalSince(back)) s, \(keys.count - Set(keys).count) duplicates"
    )
    #expect(Set(keys).count == 111, "delivered \(Set(keys).count) of 111")
    #expect(keys.count - Set(keys).count <= inFlight, "\(keys.count - Set(keys).count) duplicates")
    #expect(try SharedStore.value(database, "SELECT count(*) FROM journal WHERE state = 'sent'") == "111")
    // Healthy again, one of them leading.
    let roles = try [first, second].map { try Self.cluster($0)?["role"] as? String }
    #expect(roles.compactMap { $0 }.sorted() == ["follower", "leader"], "\(roles)")
    #expect(try second.client(["status"]).status == 0)
  }

  @Test(
    "a leader whose lock is lost (its session ended by the server) is deposed: the other leads under a new epoch, and the old one plans nothing"
  )
  func deposed() throws {
    let database = try SharedStore.database()
    let http = try TestServer("http_server.py", [])
    defer { http.stop() }
    let (first, second) = try burstNodes(database, port: http.port)
    let (notifyFirst, notifySecond) = (try NotifyListener(), try NotifyListener())
    let logFirst = first.folder.appendingPathComponent("daemon.log")
    let one = try first.start(at: "2026-11-09T08:00:00+07:00", notify: notifyFirst, log: logFirst)
    defer { kill(one.processIdentifier, SIGKILL) }
    let two = try second.start(at: "2026-11-09T08:00:00+07:00", notify: notifySecond)
    defer { kill(two.processIdentifier, SIGKILL) }
    #expect(try Self.cluster(first)?["epoch"] as? Int == 1)
    // n1 stands still (a long pause, a cut) while the server ends its lock session, as it
    // would on a network cut or a failover: n2 takes the lock.
    kill(one.processIdentifier, SIGSTOP)
    let ended = try SharedStore.value(
      database,
      "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'nhacviec-leader/n1'")
    #expect(ended == "1")
    let until = Date().addingTimeInterval(15)
    while Date() < until, try Self.cluster(second)?["role"] as? String != "leader" { usleep(100_000) }
    #expect(try Self.cluster(second)?["epoch"] as? Int == 2)
    #expect(try SharedStore.value(database, "SELECT value FROM meta WHERE name = 'leader_epoch'") == "2")
    // n1 comes back believing it leads: a fact recorded through it wakes its planning, whose
    // writes are refused (epoch 1 is not the database's 2) until it learns it follows.
    kill(one.processIdentifier, SIGCONT)
    let recorded = try first.client(["record", "report", "--unit", "D5", "--rule", "annual", "--period", "2026"])
    #expect(recorded.status == 0, "\(recorded.stderr)")
    var roles: [String?] = []
    while Date() < until.addingTimeInterval(10) {
      roles = try [first, second].map { try Self.cluster($0)?["role"] as? String }
      if roles == ["follower", "leader"] { break }
      usleep(100_000)
    }
    #expect(roles == ["follower", "leader"])
    let text = try String(contentsOf: logFirst, encoding: .utf8)
    #expect(text.contains("node n1 no longer leads"), "\(text)")
    // Whatever n1 tried to plan meanwhile was refused, never journaled under its old epoch.
    for line in text.split(separator: "\n") where line.contains("pass failed") {
      #expect(line.contains("is not the leader"), "\(line)")
    }
    #expect(try SharedStore.value(database, "SELECT value FROM meta WHERE name = 'leader_epoch'") == "2")
  }
}
