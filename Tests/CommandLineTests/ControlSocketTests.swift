import Foundation
import NhacviecControl
import NhacviecCore
import TestSupport
import Testing

/// A reader stays a reader: what one member of the socket's group can do to the daemon by
/// volume alone (heavy reads, huge pages, floods, running it out of descriptors) leaves `status`
/// answering and memory bounded; the daemon's socket is its own; a season's facts import whole.
/// Each test runs the real binary through its real socket (docs/reliability.md, "The control
/// socket under attack").
@Suite("The control socket under load")
struct ControlSocketTests {
  /// Sends `GET target` and reads the answer; its status and how long it took (seconds).
  func timed(_ socket: String, _ target: String) throws -> (status: Int, seconds: Double) {
    let began = monotonicNow()
    let answer = try rawRequest(socket, "GET \(target) HTTP/1.1\r\nHost: x\r\n\r\n")
    let status = Int(answer.split(separator: " ").dropFirst().first ?? "") ?? 0
    return (status, monotonicNow() - began)
  }

  /// A counter of the daemon's `/metrics`, read through the socket.
  func metric(_ socket: String, _ sample: String) throws -> Double {
    let text = try rawRequest(socket, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
    guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(sample + " ") }) else { return -1 }
    return Double(line.split(separator: " ").last ?? "") ?? -1
  }

  /// The CPU time (user and system, seconds) a process has used.
  func cpuSeconds(_ pid: Int32) throws -> Double {
    let stat = try String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)
    // The fields after the command (in parentheses, which may hold spaces): utime is the 14th
    // field of the line, stime the 15th.
    let fields = stat[stat.index(after: stat.lastIndex(of: ")")!)...].split(separator: " ")
    return (Double(fields[11])! + Double(fields[12])!) / Double(sysconf(Int32(_SC_CLK_TCK)))
  }

  /// The process's peak resident memory (VmHWM), in bytes.
  func peakMemory(_ pid: Int32) throws -> Int {
    let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
    let line = status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") }!
    return Int(line.split(separator: " ", omittingEmptySubsequences: true)[1])! * 1024
  }

  /// Waits for `condition`, asking again every 50 ms, at most `seconds`: for the daemon to have
  /// seen what the test sent, never for a deadline of the domain.
  func eventually(_ seconds: Double, _ condition: () throws -> Bool) rethrows -> Bool {
    let until = monotonicNow() + seconds
    while monotonicNow() < until {
      if try condition() { return true }
      usleep(50_000)
    }
    return try condition()
  }

  @Test("128 expensive reads in flight: four run, the rest are refused at once, and status answers in under 1 s")
  func heavyReads() throws {
    let fixture = try DaemonFixture(units: 1000)
    let notify = try NotifyListener()
    let daemon = try fixture.start(at: "2026-11-01T09:00:00+07:00", notify: notify)
    defer { kill(daemon.processIdentifier, SIGKILL) }
    // A year of upcoming notices for 1,000 units: seconds of work each.
    let readers = (0..<128).map { _ in
      let thread = Thread {
        _ = try? rawRequest(fixture.socket, "GET /v1/upcoming?days=366 HTTP/1.1\r\nHost: x\r\n\r\n")
      }
      thread.start()
      return thread
    }
    #expect(readers.count == 128)
    // Beyond the four a user may have in flight, each is refused at once (429), or shed (503) when
    // the readers and the test's own probes hold every connection.
    func refused() throws -> Double {
      try metric(fixture.socket, #"nhacviec_control_refused_total{reason="heavy_in_flight"}"#)
        + metric(fixture.socket, #"nhacviec_control_refused_total{reason="shed"}"#)
    }
    var seen = 0.0
    #expect(
      try eventually(60) {
        seen = max(seen, try refused())
        return seen >= 124
      }, "the reads were not bounded: \(seen) refused")
    for _ in 0..<10 {
      let status = try timed(fixture.socket, "/v1/status")
      #expect(status.status == 200)
      #expect(status.seconds < 1, "status took \(status.seconds) s")
      let healthy = try timed(fixture.socket, "/-/healthy")
      #expect(healthy.status == 200)
      #expect(healthy.seconds < 1, "/-/healthy took \(healthy.seconds) s")
    }
    // A writer is not queued behind the readers either.
    let began = monotonicNow()
    #expect(
      try fixture.client(["silence", "add", "--unit", "D1", "--until", "2026-12-01", "--reason", "thử"]).status == 0)
    #expect(monotonicNow() - began < 2)
  }

  @Test(
    "a journal of 20,000 notices read by 100 readers at once: pages of 1000 at most, every row once, memory under the unit's MemoryMax="
  )
  func pagedNotices() throws {
    // 5,000 units after their deadline, the send window closed: 20,000 rows, none sent.
    let fixture = try DaemonFixture(settings: #"send_window: { opens: "18:00", closes: "19:00" }"#, units: 5000)
    let notify = try NotifyListener()
    let daemon = try fixture.start(at: "2026-11-25T09:00:00+07:00", notify: notify)
    defer { kill(daemon.processIdentifier, SIGKILL) }
    #expect(try timed(fixture.socket, "/v1/notices?limit=1000000").status == 400)
    #expect(try timed(fixture.socket, "/v1/notices?limit=%2B5").status == 400)
    // Each reader reads a page, asking again when it is told to wait (429).
    let readers = DispatchGroup()
    let pagesRead = Locked(0)
    for _ in 0..<100 {
      readers.enter()
      Thread {
        var pages = 0
        while pages < 1 {
          let answer = (try? rawRequest(fixture.socket, "GET /v1/notices?limit=1000 HTTP/1.1\r\nHost: x\r\n\r\n")) ?? ""
          if answer.hasPrefix("HTTP/1.1 200") { pages += 1 } else { usleep(10_000) }
        }
        pagesRead.withLock { $0 += pages }
        readers.leave()
      }.start()
    }
    readers.wait()
    #expect(pagesRead.withLock { $0 } == 100)
    // The CLI reads the whole journal a page at a time.
    let listed = try fixture.client(["notices", "--limit", "100000", "--json"])
    #expect(listed.status == 0, "\(listed.stderr)")
    let notices = try JSONDecoder().decode([ControlAPI.Notice].self, from: Data(listed.stdout.utf8))
    #expect(notices.count == 20_000)
    #expect(Set(notices.map { $0.channel + ":" + $0.key }).count == 20_000)
    #expect(notices.map(\.at) == notices.map(\.at).sorted())
    let unit = try String(
      contentsOf: repositoryRoot.appendingPathComponent("systemd/nhacviec.service"), encoding: .utf8)
    let limit = unit.split(separator: "\n").first { $0.hasPrefix("MemoryMax=") }.map { $0.dropFirst(10) }
    #expect(limit == "512M", "the unit's MemoryMax= is the figure measured in docs/reliability.md")
    let peak = try peakMemory(daemon.processIdentifier)
    #expect(peak < 512 << 20, "peak \(peak >> 20) MiB")
    print("peak resident memory: \(peak >> 20) MiB")
  }

  @Test("a second daemon with its own state but the same socket refuses to start; a socket file put in place is kept")
  func socketIsOwn() throws {
    let first = try DaemonFixture()
    let notify = try NotifyListener()
    let daemon = try first.start(at: "2026-11-09T08:00:00+07:00", notify: notify)
    defer { kill(daemon.processIdentifier, SIGKILL) }
    let second = try DaemonFixture(daemon: "")
    let config = try String(contentsOfFile: second.config, encoding: .utf8)
      .replacingOccurrences(of: "socket: run/nhacviec.sock", with: "socket: \(first.socket)")
    try config.write(toFile: second.config, atomically: true, encoding: .utf8)
    let refused = try ProgramRun(
      Run.binary.path, ["run", "--config", second.config, "--clock-start", "2026-11-09T08:00:00+07:00"],
      in: second.folder)
    #expect(refused.status == 1)
    #expect(refused.stderr.contains("another process is serving \(first.socket)"), "\(refused.stderr)")
    #expect(try first.client(["status"]).status == 0)
    // Someone replaces the file: when the daemon stops, the new file stays.
    unlink(first.socket)
    let other = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(other) }
    var address = UnixAddress.make(first.socket)!
    let bound = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        bind(other, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
      }
    }
    #expect(bound == 0)
    kill(daemon.processIdentifier, SIGTERM)
    daemon.waitUntilExit()
    #expect(FileManager.default.fileExists(atPath: first.socket))
  }

  @Test("out of descriptors with 100 connections held: the daemon does not spin, and status still answers")
  func outOfDescriptors() throws {
    let fixture = try DaemonFixture()
    let notify = try NotifyListener()
    let daemon = try fixture.start(
      at: "2026-11-09T08:00:00+07:00", notify: notify, launcher: ["/usr/bin/prlimit", "--nofile=40:40", "--"])
    defer { kill(daemon.processIdentifier, SIGKILL) }
    let held = try (0..<100).map { _ in try connectTo(fixture.socket) }
    defer { held.forEach { close($0) } }
    let before = try cpuSeconds(daemon.processIdentifier)
    // Measuring, not waiting: how much CPU two seconds of this costs.
    usleep(2_000_000)
    let used = try cpuSeconds(daemon.processIdentifier) - before
    #expect(used < 0.5, "the daemon used \(used) s of CPU in 2 s")
    let status = try timed(fixture.socket, "/v1/status")
    #expect(status.status == 200)
    #expect(status.seconds < 1, "status took \(status.seconds) s")
  }

  @Test(
    "a flood of connections from one process: that process's connections are shed, a slow newcomer's status answers")
  func connectionFlood() throws {
    let fixture = try DaemonFixture()
    let notify = try NotifyListener()
    let daemon = try fixture.start(at: "2026-11-09T08:00:00+07:00", notify: notify)
    defer { kill(daemon.processIdentifier, SIGKILL) }
    let flood = Process()
    flood.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
    flood.arguments = [
      repositoryRoot.appendingPathComponent("Tests/Servers/connection_flood.py").path, fixture.socket, "8", "400",
    ]
    flood.standardOutput = Pipe()
    try flood.run()
    defer { flood.terminate() }
    let shed = #"nhacviec_control_refused_total{reason="shed"}"#
    #expect(try eventually(30) { try metric(fixture.socket, shed) > 100 }, "the flood never filled the socket")
    // A newcomer that takes its time over its request (a third of a second between its request
    // line and its headers): while the flood's connections come and go, it soon becomes the
    // oldest connection still sending, and it must keep its place all the same.
    var answers: [String] = []
    for _ in 0..<10 {
      let fd = try connectTo(fixture.socket)
      defer { close(fd) }
      var timeout = timeval(tv_sec: 10, tv_usec: 0)
      setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
      for (index, part) in ["GET /v1/status HTTP/1.1\r\n", "Host: x\r\n\r\n"].enumerated() {
        if index > 0 { usleep(300_000) }
        _ = Array(part.utf8).withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
      }
      var answer: [UInt8] = []
      var chunk = [UInt8](repeating: 0, count: 4096)
      while case let count = read(fd, &chunk, chunk.count), count > 0 { answer += chunk[0..<count] }
      answers.append(String(decoding: answer.prefix(12), as: UTF8.self))
    }
    #expect(answers.allSatisfy { $0 == "HTTP/1.1 200" }, "\(answers)")
  }

  @Test("a refused writer is logged once a minute, with a count, and every refusal is counted in /metrics")
  func refusalsLogged() throws {
    let fixture = try DaemonFixture()
    let notify = try NotifyListener()
    let log = fixture.folder.appendingPathComponent("daemon.log")
    let daemon = try fixture.start(at: "2026-11-09T08:00:00+07:00", notify: notify, log: log)
    defer { kill(daemon.processIdentifier, SIGKILL) }
    let post = Process()
    post.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
    post.arguments = [
      "--reuid=65534", "--regid=0", "--clear-groups", "/usr/bin/python3",
      repositoryRoot.appendingPathComponent("Tests/Servers/control_client.py").path, fixture.socket, "3", "D1",
    ]
    post.standardOutput = Pipe()
    try post.run()
    post.waitUntilExit()
    let data = (post.standardOutput as! Pipe).fileHandleForReading.readDataToEndOfFile()
    let answers = try JSONDecoder().decode([String: Int].self, from: data)
    let refused = answers["403"] ?? 0
    #expect(refused > 100, "\(answers)")
    #expect(try metric(fixture.socket, #"nhacviec_control_refused_total{reason="not_a_writer"}"#) == Double(refused))
    let lines = try String(contentsOf: log, encoding: .utf8).split(separator: "\n").filter {
      $0.contains("not an allowed writer")
    }
    #expect(lines.count == 1, "\(lines.count) lines for \(refused) refusals")
  }

  @Test("a season of 2,000 facts imports in parts as one transaction; one bad line records none of it")
  func bigImport() throws {
    let fixture = try DaemonFixture()
    let notify = try NotifyListener()
    let daemon = try fixture.start(at: "2026-11-09T08:00:00+07:00", notify: notify)
    defer { kill(daemon.processIdentifier, SIGKILL) }
    // 20 units, each with 100 reports sent at different minutes: 2,000 facts, about 200 KB.
    var rows = ["kind,unit,rule,period,at,reference,amount,due,by,reason"]
    var requests: [ControlAPI.FactRequest] = []
    for unit in 1...20 {
      for minute in 0..<100 {
        let at = "2026-11-0\(1 + minute / 60)T08:\(minute % 60 < 10 ? "0" : "")\(minute % 60):00+07:00"
        rows.append("report,D\(unit),annual,2026,\(at),\(unit)-\(minute)/BC,,,,")
        var request = ControlAPI.FactRequest(kind: "report", unit: "D\(unit)", rule: "annual", period: "2026")
        request.at = at
        request.reference = "\(unit)-\(minute)/BC"
        request.line = rows.count
        requests.append(request)
      }
    }
    func recorded() throws -> Int {
      let facts = try fixture.client(["facts", "--json"])
      return (try JSONSerialization.jsonObject(with: Data(facts.stdout.utf8)) as? [Any])?.count ?? -1
    }
    // Parts sent straight to the socket: one bad fact in the last part records none of the first.
    func send(_ facts: ArraySlice<ControlAPI.FactRequest>, _ number: Int, last: Bool, id: String) throws -> Int {
      let batch = ControlAPI.FactBatch(
        source: "season.csv", facts: Array(facts), part: .init(importID: id, number: number, last: last))
      return try ControlClient.request(
        socket: fixture.socket, method: "POST", target: "/v1/facts", body: Array(try JSONEncoder().encode(batch))
      ).status
    }
    var wrong = requests
    wrong[1_998].rule = "nosuchrule"
    // Parts of 250 facts: a request is 64 KiB at most.
    for part in 0..<7 {
      #expect(try send(wrong[part * 250..<(part + 1) * 250], part + 1, last: false, id: "a") == 202)
    }
    #expect(try send(wrong[1750...], 8, last: true, id: "a") == 422)
    #expect(try recorded() == 0)
    // A part out of order is refused.
    #expect(try send(requests[0..<250], 2, last: false, id: "b") == 409)
    // The client's import: parts under one id, recorded as one transaction.
    let file = fixture.folder.appendingPathComponent("season.csv")
    try (rows.joined(separator: "\n") + "\n").write(to: file, atomically: true, encoding: .utf8)
    let imported = try fixture.client(["import", "facts", file.path, "--config", fixture.config])
    #expect(imported.status == 0, "\(imported.stderr)")
    #expect(imported.stdout.contains("recorded 2000 facts"), "\(imported.stdout)")
    #expect(try recorded() == 2000)
  }
}

func monotonicNow() -> Double {
  var now = timespec()
  clock_gettime(CLOCK_MONOTONIC, &now)
  return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
}
