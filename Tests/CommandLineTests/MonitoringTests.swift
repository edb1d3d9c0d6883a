import Foundation
import NhacviecControl
import NhacviecDaemon
import TestSupport
import Testing

/// One raw HTTP exchange, to see exactly what goes over the wire (HEAD must carry no body).
struct Exchange {
  let status: Int
  let head: String
  let body: [UInt8]

  func header(_ name: String) -> String? {
    for line in head.split(separator: "\r\n").dropFirst() {
      let parts = line.split(separator: ":", maxSplits: 1)
      if parts.count == 2, parts[0].lowercased() == name.lowercased() {
        return parts[1].trimmingCharacters(in: .whitespaces)
      }
    }
    return nil
  }

  var text: String { String(decoding: body, as: UTF8.self) }

  static func tcp(port: Int, _ method: String, _ target: String) throws -> Exchange {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = UInt16(port).bigEndian
    let connected = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
      }
    }
    guard connected == 0 else {
      close(fd)
      throw MonitoringError(description: "cannot connect to 127.0.0.1:\(port): \(String(cString: strerror(errno)))")
    }
    return try exchange(fd, method, target)
  }

  static func unix(_ path: String, _ method: String, _ target: String) throws -> Exchange {
    let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
    guard var address = UnixAddress.make(path) else { throw MonitoringError(description: "bad path") }
    let connected = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
      }
    }
    guard connected == 0 else {
      close(fd)
      throw MonitoringError(description: "cannot connect to \(path)")
    }
    return try exchange(fd, method, target)
  }

  /// Sends the request and reads until the server closes: everything it sent.
  private static func exchange(_ fd: Int32, _ method: String, _ target: String) throws -> Exchange {
    defer { close(fd) }
    var timeout = timeval(tv_sec: 15, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    let request = Array("\(method) \(target) HTTP/1.1\r\nHost: localhost\r\n\r\n".utf8)
    guard request.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) == request.count else {
      throw MonitoringError(description: "cannot send")
    }
    var received: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65_536)
    while true {
      let count = read(fd, &chunk, chunk.count)
      if count > 0 {
        received += chunk[0..<count]
      } else if count < 0 && errno == EINTR {
        continue
      } else {
        break
      }
    }
    let blank: [UInt8] = [13, 10, 13, 10]
    guard let end = received.indices.first(where: { received[$0...].starts(with: blank) }) else {
      throw MonitoringError(description: "no whole answer: \(String(decoding: received, as: UTF8.self))")
    }
    let head = String(decoding: received[0..<end], as: UTF8.self)
    let status = Int(head.split(separator: " ").dropFirst().first ?? "") ?? 0
    return Exchange(status: status, head: head, body: Array(received[(end + 4)...]))
  }
}

extension DaemonFixture {
  func statusJSON() throws -> (status: Int32, object: [String: Any]) {
    let run = try client(["status", "--json"])
    return (run.status, (try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any]) ?? [:])
  }

  /// The status entry of one channel.
  func channel(_ name: String) throws -> [String: Any] {
    let channels = try statusJSON().object["channels"] as? [[String: Any]] ?? []
    return channels.first { $0["name"] as? String == name } ?? [:]
  }

  /// Asks `status` until `condition` holds on the channel's entry, or 20 s have passed.
  func waitForChannel(_ name: String, _ condition: ([String: Any]) -> Bool) throws -> [String: Any] {
    let until = Date().addingTimeInterval(20)
    while true {
      let entry = try channel(name)
      if condition(entry) || Date() >= until { return entry }
      usleep(50_000)
    }
  }

  func scrape() throws -> Scraped {
    let answer = try Exchange.unix(socket, "GET", "/metrics")
    guard answer.status == 200 else { throw MonitoringError(description: "GET /metrics: \(answer.head)") }
    return try Scraped(answer.text)
  }
}

/// Refuses D1's notices for good and takes every other: one dead notice among twenty.
func refusingD1(in folder: URL) throws -> String {
  try script(
    """
    key=$(sed -n 's/.*"key":"\\([^"]*\\)".*/\\1/p')
    case "$key" in annual/D1/*) echo "gateway refused $key" >&2; exit 1 ;; esac
    echo "queued $key"
    """, in: folder)
}

@Suite("monitoring: per-channel status, ack, /metrics", .serialized)
struct MonitoringTests {
  @Test("a dead notice shows per channel and fails status until acknowledged; dying again fails it again")
  func acknowledge() throws {
    let setup = try temporaryFolder("program")
    let fixture = try DaemonFixture(channel: "{ type: exec, command: \(try refusingD1(in: setup)), timeout: 30s }")
    let notify = try NotifyListener()
    let daemon = try fixture.start(at: "2026-11-09T08:00:00+07:00", notify: notify)
    defer { kill(daemon.processIdentifier, SIGKILL) }
    #expect(try fixture.waitForSent(19, seconds: 20) == 19)
    let email = try fixture.waitForChannel("email") { $0["dead"] as? Int == 1 }
    #expect(email["sent"] as? Int == 19)
    #expect(email["failed"] as? Int == 0)
    #expect(email["dead_unacknowledged"] as? Int == 1)
    #expect((email["last_error"] as? String ?? "").contains("gateway refused annual/D1/"), "\(email)")
    #expect(email["last_error_at"] as? String != nil)
    // The latest attempt was not necessarily the dead one: failing only while the last one failed.
    let text = try fixture.client(["status"])
    #expect(text.status == 1, "a dead notice nobody has seen fails status")
    #expect(text.stdout.contains("channel email: sent 19, failed 0, dead 1"), "\(text.stdout)")
    #expect(text.stdout.contains("last error at "))
    #expect(text.stdout.contains("dead notices not acknowledged: 1"))

    let dead = try fixture.client(["notices", "--state", "dead", "--json"])
    let key = try #require(
      ((try JSONSerialization.jsonObject(with: Data(dead.stdout.utf8)) as? [[String: Any]])?.first)?["key"] as? String)
    #expect(key.hasPrefix("annual/D1/"))

    let ack = try fixture.client(["ack", key])
    #expect(ack.status == 0, "\(ack.stderr)")
    #expect(ack.stdout.contains("\(key): dead notice acknowledged"))
    let after = try fixture.client(["status"])
    #expect(after.status == 0, "every dead notice is acknowledged: \(after.stdout)")
    #expect(after.stdout.contains("channel email: sent 19, failed 0, dead 1 (1 acknowledged)"), "\(after.stdout)")
    // Still dead and visible, with who and when.
    let listed = try fixture.client(["notices", "--state", "dead", "--json"])
    let row = try #require(
      (try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [[String: Any]])?.first)
    #expect(row["state"] as? String == "dead")
    #expect(row["acknowledged_by"] as? Int == Int(getuid()))
    #expect((row["acknowledged_at"] as? String)?.hasPrefix("2026-11-09T08:") == true, "\(row)")
    #expect(try fixture.client(["notices", "--state", "dead"]).stdout.contains("acknowledged by uid \(getuid())"))
    #expect((try fixture.statusJSON().object["journal"] as? [String: Int])?["dead"] == 1)
    // Again: says so, changes nothing. A key with no dead notice: 404, exit 1.
    let again = try fixture.client(["ack", key])
    #expect(again.status == 0)
    #expect(again.stdout.contains("already acknowledged by uid \(getuid())"))
    let unknown = try fixture.client(["ack", "annual/D2/nothing"])
    #expect(unknown.status == 1)
    #expect(unknown.stderr.contains("404: no dead notice with key annual/D2/nothing"))
    // Over the socket, as a writer would.
    let curl = try ProgramRun(
      "/usr/bin/curl",
      [
        "-s", "--unix-socket", fixture.socket, "-X", "POST", "-d", #"{"key": "\#(key)"}"#,
        "http://localhost/v1/notices/ack",
      ])
    #expect(curl.stdout.contains("already acknowledged"), "\(curl.stdout)")

    // Retried, it dies again: a new death nobody has seen fails status again.
    #expect(try fixture.client(["retry", key]).status == 0)
    let redead = try fixture.waitForChannel("email") { $0["dead_unacknowledged"] as? Int == 1 }
    #expect(redead["dead_unacknowledged"] as? Int == 1)
    #expect(try fixture.client(["status"]).status == 1)
  }

  @Test("a channel whose receiver is down shows as failing, with its last error and since when")
  func failingChannel() throws {
    let port = closedPort()
    let fixture = try DaemonFixture(channel: "{ type: webhook, url: \"http://127.0.0.1:\(port)/hook\" }")
    let notify = try NotifyListener()
    let daemon = try fixture.start(at: "2026-11-09T08:00:00+07:00", notify: notify)
    defer { kill(daemon.processIdentifier, SIGKILL) }
    let email = try fixture.waitForChannel("email") { $0["failed"] as? Int == 20 }
    #expect(email["failed"] as? Int == 20, "\(email)")
    #expect(email["sent"] as? Int == 0)
    let error = try #require(email["last_error"] as? String)
    #expect(!error.isEmpty)
    #expect((email["failing_since"] as? String)?.hasPrefix("2026-11-09T08:0") == true, "\(email)")
    let text = try fixture.client(["status"])
    #expect(text.status == 1)
    #expect(text.stdout.contains("channels failing: email"))
    #expect(text.stdout.contains("channel email: sent 0, failed 20, dead 0; FAILING since 2026-11-09T08:0"))
    #expect(text.stdout.contains(error), "\(text.stdout)")
    let metrics = try fixture.scrape()
    #expect(metrics.problems.isEmpty, "\(metrics.problems)")
    #expect(metrics.value("nhacviec_channel_failing", ["channel": "email"]) == 1)
    #expect(metrics.value("nhacviec_channels_failing") == 1)
    #expect(metrics.value("nhacviec_journal_notices", ["channel": "email", "state": "failed"]) == 20)
    #expect(metrics.value("nhacviec_notices_total", ["rule": "annual", "channel": "email", "outcome": "failed"]) == 20)
  }

  @Test("/metrics over the socket and the TCP listener parses with Prometheus's parser and follows the journal")
  func metrics() throws {
    let setup = try temporaryFolder("program")
    let port = closedPort()
    let fixture = try DaemonFixture(
      channel: "{ type: exec, command: \(try refusingD1(in: setup)), timeout: 30s }",
      daemon: ", http_listen: 127.0.0.1:\(port)")
    let notify = try NotifyListener()
    let daemon = try fixture.start(at: "2026-11-09T08:00:00+07:00", notify: notify)
    defer { kill(daemon.processIdentifier, SIGKILL) }
    #expect(try fixture.waitForSent(19, seconds: 20) == 19)
    _ = try fixture.waitForChannel("email") { $0["dead"] as? Int == 1 }

    // Over the socket: the format's content type, and what the parser reads.
    let answer = try Exchange.unix(fixture.socket, "GET", "/metrics")
    #expect(answer.status == 200)
    #expect(answer.header("Content-Type") == "text/plain; version=0.0.4; charset=utf-8")
    let metrics = try Scraped(answer.text)
    #expect(metrics.problems.isEmpty, "\(metrics.problems)")
    #expect(metrics.value("nhacviec_build_info", ["version": Daemon.version]) == 1)
    #expect(metrics.type(of: "nhacviec_notices") == "counter")
    #expect(metrics.type(of: "nhacviec_delivery_latency_seconds") == "histogram")
    #expect(metrics.value("nhacviec_notices_total", ["rule": "annual", "channel": "email", "outcome": "sent"]) == 19)
    #expect(metrics.value("nhacviec_notices_total", ["rule": "annual", "channel": "email", "outcome": "dead"]) == 1)
    #expect(metrics.value("nhacviec_journal_notices", ["channel": "email", "state": "sent"]) == 19)
    #expect(metrics.value("nhacviec_journal_notices", ["channel": "email", "state": "dead"]) == 1)
    #expect(metrics.value("nhacviec_journal_notices", ["channel": "email", "state": "planned"]) == 0)
    #expect(metrics.value("nhacviec_journal_dead_unacknowledged", ["channel": "email"]) == 1)
    #expect(metrics.value("nhacviec_channel_failing", ["channel": "email"]) == 0)
    #expect(metrics.value("nhacviec_delivery_latency_seconds_count", ["channel": "email"]) == 19)
    #expect(metrics.value("nhacviec_delivery_attempt_duration_seconds_count", ["channel": "email"]) == 20)
    #expect(
      metrics.value("nhacviec_delivery_attempt_duration_seconds_bucket", ["channel": "email", "le": "+Inf"]) == 20)
    #expect((metrics.value("nhacviec_pass_duration_seconds_count") ?? 0) >= 1)
    #expect(metrics.value("nhacviec_pass_failures_total") == 0)
    #expect(metrics.value("nhacviec_rules") == 1)
    #expect(metrics.value("nhacviec_rules_failing") == 0)
    #expect(metrics.value("nhacviec_config_last_reload_successful") == 1)
    // The daemon's clock started at 2026-11-09T08:00:00+07:00 (1 794 186 000 s).
    let lastPass = try #require(metrics.value("nhacviec_pass_last_success_timestamp_seconds"))
    #expect(lastPass >= 1_794_186_000 && lastPass < 1_794_186_000 + 60, "\(lastPass)")
    #expect(metrics.value("nhacviec_next_wakeup_timestamp_seconds") == 1_794_531_600)
    let hash = try #require((try fixture.statusJSON().object["rules"] as? [String: Any])?["hash"] as? String)
    #expect(metrics.value("nhacviec_config_info", ["hash": hash]) == 1)

    // Acknowledged, the dead notice leaves the gauge that alerts, and stays in the journal's.
    let key = try #require(
      ((try JSONSerialization.jsonObject(
        with: Data(try fixture.client(["notices", "--state", "dead", "--json"]).stdout.utf8)) as? [[String: Any]])?
        .first)?["key"] as? String)
    #expect(try fixture.client(["ack", key]).status == 0)
    let acknowledged = try fixture.scrape()
    #expect(acknowledged.value("nhacviec_journal_dead_unacknowledged", ["channel": "email"]) == 0)
    #expect(acknowledged.value("nhacviec_journal_notices", ["channel": "email", "state": "dead"]) == 1)

    // Over TCP: the same exposition, healthy and ready; HEAD has the headers and no body.
    let tcp = try Exchange.tcp(port: port, "GET", "/metrics")
    #expect(tcp.status == 200)
    #expect(tcp.header("Content-Type") == "text/plain; version=0.0.4; charset=utf-8")
    let overTCP = try Scraped(tcp.text)
    #expect(overTCP.problems.isEmpty)
    #expect(overTCP.value("nhacviec_notices_total", ["rule": "annual", "channel": "email", "outcome": "sent"]) == 19)
    let head = try Exchange.tcp(port: port, "HEAD", "/metrics")
    #expect(head.status == 200)
    #expect(head.body.isEmpty, "HEAD answered with a body")
    #expect((Int(head.header("Content-Length") ?? "") ?? 0) > 1000)
    #expect(head.header("Content-Type") == "text/plain; version=0.0.4; charset=utf-8")
    for path in ["/-/healthy", "/-/ready"] {
      let get = try Exchange.tcp(port: port, "GET", path)
      #expect(get.status == 200, "\(path)")
      #expect(get.text.contains("nhacviec is"), "\(get.text)")
      let probe = try Exchange.tcp(port: port, "HEAD", path)
      #expect(probe.status == 200)
      #expect(probe.body.isEmpty)
    }
    // Nothing else over TCP: the /v1 API is the socket's alone.
    #expect(try Exchange.tcp(port: port, "GET", "/v1/status").status == 404)
    #expect(try Exchange.tcp(port: port, "GET", "/v1/notices?state=dead").status == 404)
    #expect(try Exchange.tcp(port: port, "POST", "/v1/reload").status == 404)
    #expect(try Exchange.tcp(port: port, "GET", "/").status == 404)
    let notFoundHead = try Exchange.tcp(port: port, "HEAD", "/v1/status")
    #expect(notFoundHead.status == 404)
    #expect(notFoundHead.body.isEmpty)
    #expect(try Exchange.tcp(port: port, "DELETE", "/metrics").status == 405)
    #expect(try Exchange.tcp(port: port, "GET", "/metrics?x=1").status == 400)
    // The socket answers HEAD too, and the probes.
    let socketHead = try Exchange.unix(fixture.socket, "HEAD", "/metrics")
    #expect(socketHead.status == 200 && socketHead.body.isEmpty)
    #expect(try Exchange.unix(fixture.socket, "GET", "/-/ready").status == 200)

    // A refused reload shows at once, and the previous configuration's hash stays.
    try "- id: broken\n  kind: nosuchkind\n".write(
      to: fixture.folder.appendingPathComponent("rules/broken.yaml"), atomically: true, encoding: .utf8)
    #expect(try fixture.client(["reload"]).status == 1)
    let refused = try fixture.scrape()
    #expect(refused.value("nhacviec_config_last_reload_successful") == 0)
    #expect(refused.value("nhacviec_config_info", ["hash": hash]) == 1)
  }

  @Test("a reload that moves http_listen is refused whole, says to restart, and exits 1; the listener stays")
  func reloadMovingListener() throws {
    let port = closedPort()
    let fixture = try DaemonFixture(daemon: ", http_listen: 127.0.0.1:\(port)")
    let notify = try NotifyListener()
    let daemon = try fixture.start(at: "2026-11-09T08:00:00+07:00", notify: notify)
    defer { kill(daemon.processIdentifier, SIGKILL) }
    let moved = closedPort()
    let text = try String(contentsOfFile: fixture.config, encoding: .utf8)
    try text.replacingOccurrences(of: "127.0.0.1:\(port)", with: "127.0.0.1:\(moved)")
      .write(toFile: fixture.config, atomically: true, encoding: .utf8)
    let reload = try fixture.client(["reload"])
    #expect(reload.status == 1)
    #expect(
      reload.stderr.contains(
        "daemon.http_listen changed from 127.0.0.1:\(port) to 127.0.0.1:\(moved): a reload cannot apply it; restart the daemon"
      ), "\(reload.stderr)")
    // The running listener answers as before; status shows the refused reload.
    #expect(try Exchange.tcp(port: port, "GET", "/-/healthy").status == 200)
    let status = try fixture.client(["status"])
    #expect(status.status == 1)
    #expect(status.stdout.contains("restart the daemon"), "\(status.stdout)")
  }

  @Test("check refuses a malformed http_listen with FILE:LINE:COL")
  func badListenAddress() throws {
    for (address, why) in [
      ("localhost:9469", "http_listen: `localhost` is not a numeric IP address"),
      ("127.0.0.1", "http_listen: no port in 127.0.0.1"),
      ("127.0.0.1:70000", "http_listen: port must be 1 to 65535, not `70000`"),
      ("::1:9469", "http_listen: an IPv6 address goes in brackets"),
    ] {
      let fixture = try DaemonFixture(daemon: ", http_listen: \"\(address)\"")
      let run = try Run(["check", "--config", "nhacviec.yaml"], in: fixture.folder)
      #expect(run.status == 1, "\(address)")
      #expect(run.stderr.contains("nhacviec.yaml:4:"), "\(run.stderr)")
      #expect(run.stderr.contains(why), "\(address): \(run.stderr)")
    }
    let fine = try DaemonFixture(daemon: ", http_listen: \"[::1]:9469\"")
    #expect(try Run(["check", "--config", "nhacviec.yaml"], in: fine.folder).status == 0)
  }

  @Test("/-/ready answers 503 until the first pass has ended, while /-/healthy answers 200")
  func readiness() throws {
    let fixture = try DaemonFixture()
    let flag = fixture.folder.appendingPathComponent("hold").path
    #expect(FileManager.default.createFile(atPath: flag, contents: Data()))
    // An external rule whose program holds the first pass until the flag goes, then fails.
    let program = try script(
      "while [ -e '\(flag)' ]; do sleep 0.05; done\necho 'register unreadable' >&2; exit 1", in: fixture.folder)
    try """
    - id: external
      kind: exec
      params: { command: \(program), timeout: 30s }
      title: Báo cáo ISO {{period.name}}
      basis: Công văn, khoản 1
      applies_to: { kinds: [dept] }
      period: yearly
      due: { date: "11-15", convention: before }
      remind: [7d]
      remind_to: [unit.iso-focal]
      channels: [email]
    """.write(to: fixture.folder.appendingPathComponent("rules/external.yaml"), atomically: true, encoding: .utf8)
    let notify = try NotifyListener()
    let daemon = try fixture.start(at: "2026-11-09T08:00:00+07:00", notify: notify, waitForPass: false)
    defer { kill(daemon.processIdentifier, SIGKILL) }
    let waiting = try Exchange.unix(fixture.socket, "GET", "/-/ready")
    #expect(waiting.status == 503, "\(waiting.text)")
    #expect(waiting.text.contains("not ready: no pass has ended yet"))
    #expect(try Exchange.unix(fixture.socket, "GET", "/-/healthy").status == 200)
    try FileManager.default.removeItem(atPath: flag)
    #expect(notify.wait(for: "STATUS=") != nil)
    #expect(try Exchange.unix(fixture.socket, "GET", "/-/ready").status == 200)
    // The rule that could not judge shows in the metrics.
    #expect(try fixture.scrape().value("nhacviec_rules_failing") == 1)
  }

  @Test("a port the daemon cannot bind for http_listen stops it at start, with the reason")
  func portTaken() throws {
    // Something else listens on the port already.
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
    }
    _ = withUnsafeMutablePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    #expect(listen(fd, 1) == 0)
    let port = Int(UInt16(bigEndian: address.sin_port))
    let fixture = try DaemonFixture(daemon: ", http_listen: 127.0.0.1:\(port)")
    let run = try ProgramRun(
      Run.binary.path, ["run", "--config", fixture.config, "--clock-start", "2026-11-09T08:00:00+07:00"])
    #expect(run.status == 1)
    #expect(
      run.stderr.contains("cannot open daemon.http_listen: cannot listen on 127.0.0.1:\(port): Address already in use"),
      "\(run.stderr)")
    #expect(!FileManager.default.fileExists(atPath: fixture.socket), "the control socket is removed again")
  }
}
