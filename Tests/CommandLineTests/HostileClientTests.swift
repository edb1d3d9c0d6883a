import Foundation
import NhacviecControl
import TestSupport
import Testing

/// A reader of the socket, or an operator with a typo, against a real daemon: every request gets
/// an answer, and none stops the daemon.
@Suite("Hostile clients and mistaken input against a running daemon", .serialized)
struct HostileClientTests {
  func get(_ fixture: DaemonFixture, _ target: String) throws -> (status: Int, body: String) {
    let response = try ControlClient.request(socket: fixture.socket, method: "GET", target: target)
    return (response.status, String(decoding: response.body, as: UTF8.self))
  }

  @Test("malformed queries and parameters get 400 or 404 with a JSON error, and the daemon lives on")
  func queries() throws {
    let fixture = try DaemonFixture()
    let notify = try NotifyListener()
    let daemon = try fixture.start(at: "2026-11-09T08:00:00+07:00", notify: notify)
    defer { kill(daemon.processIdentifier, SIGKILL) }
    let cases: [(String, Int, String)] = [
      ("/v1/status?=", 400, "a query parameter without a name"),
      ("/v1/findings?=x", 400, "a query parameter without a name"),
      ("/v1/report?period=-", 400, "period must read 2026"),
      ("/v1/report?period=--", 400, "period must read 2026"),
      ("/v1/findings?period=-", 400, "period must read 2026"),
      ("/v1/findings?state=nope", 400, "unknown state nope"),
      ("/v1/findings?rule=NOPE", 404, "no rule NOPE"),
      ("/v1/findings?unit=NOPE", 404, "no unit NOPE"),
      ("/v1/explain?unit=D1&rule=NOPE", 404, "no rule NOPE"),
      ("/v1/explain?unit=NOPE", 404, "no unit NOPE"),
      ("/v1/report?period=2026&rules=annual,NOPE", 404, "no rule NOPE"),
      ("/v1/report?period=2026&as_of=soon", 400, "as_of: not an instant"),
      ("/v1/status?verbose=1", 400, "unknown parameter verbose"),
      ("/v1/notices?state=gone", 400, "unknown state gone"),
      ("/v1/nothing", 404, "no such endpoint"),
    ]
    for (target, status, message) in cases {
      let answer = try get(fixture, target)
      #expect(answer.status == status, "\(target): \(answer.body)")
      let error = try? JSONDecoder().decode(ControlAPI.Failure.self, from: Data(answer.body.utf8))
      #expect(error?.error.contains(message) == true, "\(target): \(answer.body)")
    }
    // Raw bytes a client library would never send.
    for raw in [
      "GET /v1/status HTTP/1.9\r\n\r\n", "GET /v1/status HTTP/1.1x\r\n\r\n",
      "POST /v1/facts HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc",
    ] {
      let answer = try rawRequest(fixture.socket, raw)
      #expect(answer.hasPrefix("HTTP/1.1 4") || answer.hasPrefix("HTTP/1.1 505"), "\(raw): \(answer)")
      #expect(answer.contains(#"{"error":"#))
    }
    #expect(try get(fixture, "/v1/status").status == 200)
    #expect(FileManager.default.fileExists(atPath: fixture.socket))
    // The command-line client refuses a bad period itself, with the same words.
    let record = try fixture.client(["record", "report", "--unit", "D1", "--rule", "annual", "--period=-"])
    #expect(record.status == 1)
    #expect(record.stderr.contains("period: must read 2026, 2026-Q3 or 2026-09, not `-`"), "\(record.stderr)")
  }

  @Test("an import with one bad row records nothing, and names the file and line")
  func importAllOrNothing() throws {
    let fixture = try DaemonFixture()
    let notify = try NotifyListener()
    let daemon = try fixture.start(at: "2026-11-09T08:00:00+07:00", notify: notify)
    defer { kill(daemon.processIdentifier, SIGKILL) }
    let file = fixture.folder.appendingPathComponent("facts.csv")
    try """
    kind,unit,rule,period,at,reference,amount,due,by,reason
    report,D1,annual,2026,2026-11-09T09:00:00+07:00,1/BC,,,,
    report,D2,annual,2026,2026-11-09T09:00:00+07:00,2/BC,,,,
    report,D3,annual,2026,2026-11-09T09:00:00+07:00,3/BC,5.5,,,
    """.write(to: file, atomically: true, encoding: .utf8)
    let refused = try fixture.client(["import", "facts", file.path, "--config", fixture.config])
    #expect(refused.status == 1)
    #expect(refused.stderr.contains("facts.csv:4:1: amount: a report fact has no amount"), "\(refused.stderr)")
    // The same check, made by the daemon: a batch sent straight to the socket.
    var good = ControlAPI.FactRequest(kind: "report", unit: "D1", rule: "annual", period: "2026")
    good.at = "2026-11-09T09:00:00+07:00"
    good.line = 2
    var bad = ControlAPI.FactRequest(kind: "report", unit: "D2", rule: "annual", period: "-")
    bad.at = "2026-11-09T09:00:00+07:00"
    bad.line = 3
    let batch = ControlAPI.FactBatch(source: "facts.csv", facts: [good, bad])
    let response = try ControlClient.request(
      socket: fixture.socket, method: "POST", target: "/v1/facts", body: Array(try JSONEncoder().encode(batch)))
    #expect(response.status == 422)
    #expect(String(decoding: response.body, as: UTF8.self).contains("facts.csv:3:1: period: must read 2026"))
    // Nothing of either was recorded: D1 is still overdue-to-be, not met.
    let findings = try fixture.client(["findings", "--unit", "D1", "--json"])
    #expect(findings.stdout.contains(#""state":"due-soon""#), "\(findings.stdout)")
  }

  @Test("a second daemon on the same state folder stops at once and leaves the first one serving")
  func twoDaemons() throws {
    let fixture = try DaemonFixture()
    let notify = try NotifyListener()
    let first = try fixture.start(at: "2026-11-09T08:00:00+07:00", notify: notify)
    defer { kill(first.processIdentifier, SIGKILL) }
    let second = try ProgramRun(
      Run.binary.path, ["run", "--config", fixture.config, "--clock-start", "2026-11-09T08:00:00+07:00"],
      in: fixture.folder)
    #expect(second.status == 1)
    #expect(second.stderr.contains("another nhacviec daemon (pid \(first.processIdentifier)) is running on"))
    #expect(FileManager.default.fileExists(atPath: fixture.socket))
    #expect(try fixture.client(["status"]).status == 0)
  }

  @Test("run by hand with umask 022, the state folder is 0700 and the journal 0600")
  func permissions() throws {
    let fixture = try DaemonFixture()
    let notify = try NotifyListener()
    let previous = umask(0o022)
    defer { umask(previous) }
    let daemon = try fixture.start(at: "2026-11-09T08:00:00+07:00", notify: notify)
    defer { kill(daemon.processIdentifier, SIGKILL) }
    func mode(_ name: String) throws -> Int {
      let path = fixture.folder.appendingPathComponent(name).path
      return (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int) ?? -1
    }
    #expect(try mode("state") == 0o700)
    #expect(try mode("state/nhacviec.sqlite") == 0o600)
    #expect(try mode("state/nhacviec.sqlite-wal") == 0o600)
    #expect(try mode("run/nhacviec.sock") == 0o660)
  }

  @Test("200 clients sending a byte every two seconds do not keep status from answering")
  func slowClients() throws {
    let fixture = try DaemonFixture()
    let notify = try NotifyListener()
    let daemon = try fixture.start(at: "2026-11-09T08:00:00+07:00", notify: notify)
    defer { kill(daemon.processIdentifier, SIGKILL) }
    let path = fixture.socket
    var slow: [Int32] = []
    for _ in 0..<200 {
      let fd = try connectTo(path)
      _ = send(fd, "G", 1, Int32(MSG_NOSIGNAL))
      slow.append(fd)
    }
    let clients = slow
    // They keep dribbling while status is asked, as they did when they took the API away.
    let dribbled = DispatchSemaphore(value: 0)
    let dribbling = Thread {
      for _ in 0..<3 {
        sleep(2)
        for fd in clients { _ = send(fd, "E", 1, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) }
      }
      dribbled.signal()
    }
    dribbling.start()
    // Closed only after the last byte: a number closed earlier may already be another test's
    // socket, and an "E" sent there made a webhook receiver read "EPOST" (a 501).
    defer {
      dribbled.wait()
      for fd in clients { close(fd) }
    }
    for _ in 0..<3 {
      let started = Date()
      let status = try fixture.client(["status", "--json"])
      let seconds = Date().timeIntervalSince(started)
      #expect(status.status == 0, "\(status.stderr)")
      // The whole command, process start included; the answer itself takes milliseconds.
      #expect(seconds < 1, "status took \(seconds) s")
      sleep(1)
    }
  }

  @Test("facts files with a bare sign for a period are refused by every command that reads them")
  func signPeriods() throws {
    let folder = try temporaryFolder("sign")
    for (name, period) in [("dash", "-"), ("dashes", "--"), ("minus", "-2026")] {
      let file = folder.appendingPathComponent("\(name).csv")
      try """
      kind,unit,rule,period,at
      report,51-STP,iso-annual-report,\(period),2026-10-20T09:00:00+07:00
      """.write(to: file, atomically: true, encoding: .utf8)
      for arguments in [
        ["check", "--facts", file.path],
        ["simulate", "--from", "2026-11-01", "--to", "2026-11-02", "--facts", file.path],
        ["report", "--offline", "--period", "2026", "--facts", file.path],
        ["explain", "--unit", "51-STP", "--offline", "--facts", file.path],
      ] {
        let run = try Run(arguments)
        #expect(run.status == 1, "\(arguments): \(run.stderr)")
        #expect(run.stderr.contains("\(name).csv:2:1: period: must read 2026, 2026-Q3 or 2026-09"), "\(run.stderr)")
      }
    }
    #expect(try Run(["report", "--offline", "--period", "-"]).status == 2)
  }
}

func connectTo(_ path: String) throws -> Int32 {
  let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
  guard var address = UnixAddress.make(path) else { throw DaemonFixture.DaemonError(description: "path") }
  let connected = withUnsafePointer(to: &address) {
    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
  }
  guard connected == 0 else { throw DaemonFixture.DaemonError(description: "connect: \(errno)") }
  return fd
}

/// Sends raw bytes and reads the answer until the daemon closes.
func rawRequest(_ path: String, _ text: String) throws -> String {
  let fd = try connectTo(path)
  defer { close(fd) }
  var timeout = timeval(tv_sec: 10, tv_usec: 0)
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
  let bytes = Array(text.utf8)
  _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
  var answer: [UInt8] = []
  var chunk = [UInt8](repeating: 0, count: 4096)
  while true {
    let count = read(fd, &chunk, chunk.count)
    if count <= 0 { break }
    answer += chunk[0..<count]
  }
  return String(decoding: answer, as: UTF8.self)
}
