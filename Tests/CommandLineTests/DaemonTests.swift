import Foundation
import NhacviecControl
import NhacviecCore
import NhacviecDaemon
import TestSupport
import Testing

/// A datagram socket standing in for systemd's NOTIFY_SOCKET.
final class NotifyListener: @unchecked Sendable {
  let path: String
  private let fd: Int32
  /// Every datagram, read as it comes by a thread of its own, as systemd reads its socket: a
  /// test that looks only now and then must not leave the daemon's queue to the socket full.
  private let received = Locked<[String]>([])
  private let arrived = DispatchSemaphore(value: 0)
  private let stopped = Locked(false)

  init() throws {
    path = try temporaryFolder("notify").appendingPathComponent("notify.sock").path
    fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    withUnsafeMutableBytes(of: &address.sun_path) { buffer in
      for (i, byte) in path.utf8.enumerated() { buffer[i] = byte }
    }
    _ = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
    }
    // A second's timeout, so that the reader sees when the listener is gone; it closes the
    // socket itself, so that no other test's descriptor of the same number is read.
    var timeout = timeval(tv_sec: 1, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    let (socket, messages, signal, stopped) = (fd, received, arrived, stopped)
    Thread.detachNewThread {
      var buffer = [UInt8](repeating: 0, count: 4096)
      while !stopped.withLock({ $0 }) {
        let count = recv(socket, &buffer, buffer.count, 0)
        guard count > 0 else { continue }
        messages.withLock { $0.append(String(decoding: buffer[0..<count], as: UTF8.self)) }
        signal.signal()
      }
      close(socket)
    }
  }

  deinit { stopped.withLock { $0 = true } }

  /// Messages until one contains `wanted` (each datagram is one message); nil after 120 s
  /// without one (long enough for a pass over thousands of units under ThreadSanitizer).
  func wait(for wanted: String) -> [String]? {
    var seen: [String] = []
    while arrived.wait(timeout: .now() + 120) == .success {
      let message = received.withLock { $0.removeFirst() }
      seen.append(message)
      if message.contains(wanted) { return seen }
    }
    return nil
  }
}

/// A throw-away deployment for a daemon: a small province, the letter's annual rule, a file
/// channel, and state and socket in a temporary folder.
struct DaemonFixture {
  let folder: URL
  var socket: String { folder.appendingPathComponent("run/nhacviec.sock").path }
  var outbox: URL { folder.appendingPathComponent("outbox") }
  var config: String { folder.appendingPathComponent("nhacviec.yaml").path }

  static let rule = """
    - id: annual
      kind: deadline
      title: Báo cáo ISO {{period.name}}
      basis: Công văn, khoản 1
      applies_to: { kinds: [dept] }
      period: yearly
      due: { date: "11-15", convention: before }
      remind: [7d, 1wd]
      remind_to: [unit.iso-focal]
      escalate:
        - { after: 1wd, to: [unit.head] }
        - { after: 3wd, to: [parent.head] }
      channels: [email]
    """

  /// `daemon` is more of the `daemon:` map, such as `, http_listen: 127.0.0.1:9469`; `units`
  /// departments D1… under the province P.
  init(channel: String? = nil, settings: String = "", daemon: String = "", units count: Int = 20) throws {
    folder = try temporaryFolder("daemon")
    try FileManager.default.createDirectory(
      at: folder.appendingPathComponent("rules"), withIntermediateDirectories: true)
    var units = "id,name,kind,parent_id,head.email,iso-focal.email\nP,Tỉnh Thử,province,,head@p.example,iso@p.example\n"
    for i in 1...count { units += "D\(i),Sở số \(i),dept,P,head@d\(i).example,iso@d\(i).example\n" }
    try units.write(to: folder.appendingPathComponent("units.csv"), atomically: true, encoding: .utf8)
    try DaemonFixture.rule.write(
      to: folder.appendingPathComponent("rules/annual.yaml"), atomically: true, encoding: .utf8)
    try """
    directory: [{ file: units.csv }]
    rules: rules
    digest: { minimum: 0 }
    daemon: { state: state, socket: run/nhacviec.sock\(daemon) }
    \(settings)
    channels:
      email: \(channel ?? "{ type: file, path: outbox }")
    """.write(toFile: config, atomically: true, encoding: .utf8)
  }

  /// Starts `nhacviec run` as a real process and waits for READY=1 on a notify socket;
  /// `launcher` runs it (such as `prlimit --nofile=40:40 --`), `log` keeps its standard error.
  /// `umask`, if given, is the daemon's, set by a shell that then runs it: not this process's,
  /// which every test running meanwhile shares.
  func start(
    at instant: String, notify: NotifyListener, waitForPass: Bool = true, environment extra: [String: String] = [:],
    launcher: [String] = [], log: URL? = nil, umask mask: String? = nil
  ) throws -> Process {
    let process = Process()
    var command = launcher + [Run.binary.path, "run", "--config", config, "--clock-start", instant]
    if let mask { command = ["/bin/sh", "-c", "umask \(mask) && exec \"$0\" \"$@\""] + command }
    process.executableURL = URL(fileURLWithPath: command[0])
    process.arguments = Array(command.dropFirst())
    var environment = ProcessInfo.processInfo.environment
    environment["NOTIFY_SOCKET"] = notify.path
    process.environment = environment.merging(extra) { $1 }
    if let log {
      _ = FileManager.default.createFile(atPath: log.path, contents: nil)
      process.standardError = try FileHandle(forWritingTo: log)
    } else {
      process.standardError = FileHandle.nullDevice
    }
    try process.run()
    // Ready, and the first pass done (its STATUS names the next wake-up).
    guard notify.wait(for: "READY=1") != nil, !waitForPass || notify.wait(for: "STATUS=") != nil else {
      kill(process.processIdentifier, SIGKILL)
      throw DaemonError(description: "the daemon did not become ready")
    }
    return process
  }

  func client(_ arguments: [String]) throws -> Run {
    try Run(arguments + ["--socket", socket], in: folder)
  }

  /// Asks `status` until the journal counts `wanted` notices sent, or `seconds` have passed;
  /// returns the last count.
  func waitForSent(_ wanted: Int, seconds: TimeInterval) throws -> Int {
    let until = Date().addingTimeInterval(seconds)
    var sent = 0
    while true {
      let status = try client(["status", "--json"])
      let object = try? JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any]
      sent = (object?["journal"] as? [String: Int])?["sent"] ?? 0
      guard sent < wanted, Date() < until else { return sent }
      usleep(50_000)
    }
  }

  struct DaemonError: Error, CustomStringConvertible {
    let description: String
  }
}

/// Waits for a daemon to end and returns its exit status (128 + N for signal N). waitpid
/// directly: Foundation's Process may not notice the end of a child killed with SIGKILL.
func reap(_ process: Process) -> Int32 {
  var raw: Int32 = 0
  while waitpid(process.processIdentifier, &raw, 0) == -1 && errno == EINTR {}
  return (raw & 0x7f) == 0 ? (raw >> 8) & 0xff : 128 + (raw & 0x7f)
}

@Suite("nhacviec run", .serialized)
struct DaemonTests {
  @Test("status answers over the socket, with the CLI and with curl")
  func status() throws {
    let fixture = try DaemonFixture()
    let notify = try NotifyListener()
    let daemon = try fixture.start(at: "2026-11-09T08:00:00+07:00", notify: notify)
    defer { kill(daemon.processIdentifier, SIGKILL) }
    // Delivery runs beside planning: the pass is done, the messages follow.
    #expect(try fixture.waitForSent(20, seconds: 20) == 20)
    let run = try fixture.client(["status", "--json"])
    #expect(run.status == 0, "\(run.stderr)")
    let status = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
    #expect((status["rules"] as? [String: Any])?["count"] as? Int == 1)
    #expect((status["last_reload"] as? [String: Any])?["ok"] as? Bool == true)
    // The first pass sent the seven-day reminder to all twenty departments.
    #expect((status["journal"] as? [String: Int])?["sent"] == 20)
    #expect(status["next_wakeup"] as? String == "2026-11-13T08:00:00+07:00")
    let curl = try ProgramRun("/usr/bin/curl", ["-s", "--unix-socket", fixture.socket, "http://localhost/v1/status"])
    #expect(curl.stdout.contains(#""version":"#))
    let messages = try FileManager.default.contentsOfDirectory(atPath: fixture.outbox.path)
    #expect(messages.count == 20)
    #expect(messages.contains("annual_D1_2026_remind-7d_2026-11-15--email.eml"))
    // A listing cut short says so.
    let listed = try fixture.client(["notices", "--limit", "5"])
    #expect(listed.stdout.split(separator: "\n").count == 5)
    #expect(listed.stderr.contains("… and 15 more not shown; raise --limit"))
    #expect(try fixture.client(["notices"]).stderr.isEmpty)
  }

  @Test("hundreds of clients at once are all served, and a client that says nothing stops no one")
  func manyClients() async throws {
    let fixture = try DaemonFixture()
    let notify = try NotifyListener()
    let daemon = try fixture.start(at: "2026-11-09T08:00:00+07:00", notify: notify)
    defer { kill(daemon.processIdentifier, SIGKILL) }
    // A client that connects and never sends a request.
    let silent = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    withUnsafeMutableBytes(of: &address.sun_path) { buffer in
      for (i, byte) in fixture.socket.utf8.enumerated() { buffer[i] = byte }
    }
    let connected = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        connect(silent, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
      }
    }
    #expect(connected == 0)
    defer { close(silent) }
    let socketPath = fixture.socket
    let statuses = await withTaskGroup(of: Int.self) { group in
      for _ in 0..<300 {
        group.addTask {
          (try? ControlClient.request(socket: socketPath, method: "GET", target: "/v1/status").status) ?? 0
        }
      }
      var all: [Int] = []
      for await status in group { all.append(status) }
      return all
    }
    #expect(statuses.count == 300)
    #expect(statuses.allSatisfy { $0 == 200 })
    // Oversized and malformed requests get an answer, not a hang.
    let big = try ControlClient.request(
      socket: socketPath, method: "POST", target: "/v1/facts", body: [UInt8](repeating: 0x41, count: 100_000))
    #expect(big.status == 413)
    #expect(try ControlClient.request(socket: socketPath, method: "GET", target: "/v2/status").status == 404)
    #expect(try ControlClient.request(socket: socketPath, method: "DELETE", target: "/v1/status").status == 405)
  }

  @Test("silences for several units or every unit under a parent, checked first; expired by filter")
  func silencesInBulk() throws {
    let fixture = try DaemonFixture(units: 4)
    let notify = try NotifyListener()
    let daemon = try fixture.start(at: "2026-11-10T09:00:00+07:00", notify: notify)
    defer { kill(daemon.processIdentifier, SIGKILL) }
    // A typo in the second unit: nothing is made.
    let typo = try fixture.client([
      "silence", "add", "--unit", "D1", "--unit", "D9", "--until", "2026-12-01", "--reason", "thử", "--config",
      fixture.config,
    ])
    #expect(typo.status == 2, "\(typo.stderr)")
    #expect(typo.stderr.contains("no unit D9"))
    #expect(try fixture.client(["silence", "list"]).stdout == "no silences in force\n")
    let two = try fixture.client([
      "silence", "add", "--unit", "D1", "--unit", "D2", "--until", "2026-12-01", "--reason", "đổi đầu mối",
      "--config", fixture.config,
    ])
    #expect(two.status == 0, "\(two.stderr)")
    #expect(two.stdout.split(separator: "\n").count == 2, "\(two.stdout)")
    let scoped = try fixture.client([
      "silence", "add", "--scope", "P", "--rule", "annual", "--until", "2026-12-01", "--reason", "Tết",
      "--config", fixture.config,
    ])
    #expect(scoped.status == 0, "\(scoped.stderr)")
    #expect(scoped.stdout.split(separator: "\n").count == 4, "\(scoped.stdout)")
    let dry = try fixture.client(["silence", "expire", "--unit", "D1", "--dry-run"])
    #expect(dry.stdout.split(separator: "\n").count == 2, "\(dry.stdout)")
    #expect(try fixture.client(["silence", "list"]).stdout.split(separator: "\n").count == 6)
    let expired = try fixture.client(["silence", "expire", "--rule", "annual"])
    #expect(expired.status == 0, "\(expired.stderr)")
    #expect(expired.stdout.split(separator: "\n").count == 4, "\(expired.stdout)")
    let left = try fixture.client(["silence", "list"]).stdout.split(separator: "\n")
    #expect(left.count == 2 && left.allSatisfy { $0.contains("unit=D1") || $0.contains("unit=D2") }, "\(left)")
    #expect(try fixture.client(["silence", "expire"]).status == 2)
  }

  @Test("upcoming shows what waits in the queue and why, with the JSON's names, then what the rules will plan")
  func upcomingWaits() throws {
    // Saturday 14/11, 10:00: the last reminders, caught up, wait for Monday's window; the
    // escalations the rules plan for Monday follow (15/11 is the deadline).
    let fixture = try DaemonFixture(settings: "send_window: { opens: \"08:00\", closes: \"17:00\" }", units: 3)
    let notify = try NotifyListener()
    let daemon = try fixture.start(at: "2026-11-14T10:00:00+07:00", notify: notify)
    defer { kill(daemon.processIdentifier, SIGKILL) }
    let text = try fixture.client(["upcoming", "--days", "3"])
    #expect(text.status == 0, "\(text.stderr)")
    let lines = text.stdout.split(separator: "\n").map(String.init)
    let waiting = lines.filter { $0.contains("[waiting for the send window]") }
    #expect(waiting.count == 3, "\(text.stdout)")
    #expect(
      waiting.allSatisfy {
        $0.hasPrefix("2026-11-16T08:00:00+07:00") && $0.contains("/remind-1wd@2026-11-15  catch-up  ")
      },
      "\(text.stdout)")
    #expect(lines.contains { $0.contains("/escalate-1wd@2026-11-15  escalation  ") && !$0.contains("[") })
    let json = try fixture.client(["upcoming", "--days", "3", "--json"])
    let notices = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]])
    #expect(notices.filter { $0["waits"] as? String == "window" }.count == 3, "\(json.stdout)")
    // The JSON's names, as docs/daemon.md lists them, never Swift's (catchUp, nextReminder).
    #expect(
      notices.allSatisfy { ($0["reason"] as? String)?.allSatisfy { $0.isLowercase || $0 == "-" } == true },
      "\(json.stdout)")
  }

  @Test("recording a report stops that unit's pending reminders; a writer who is not allowed is refused")
  func record() throws {
    let fixture = try DaemonFixture()
    let notify = try NotifyListener()
    let daemon = try fixture.start(at: "2026-11-10T09:00:00+07:00", notify: notify)
    defer { kill(daemon.processIdentifier, SIGKILL) }
    let before = try fixture.client(["upcoming", "--days", "10"])
    #expect(before.stdout.contains("annual/D3/2026/remind-1wd"))
    let recorded = try fixture.client([
      "record", "report", "--unit", "D3", "--rule", "annual", "--period", "2026", "--at", "2026-11-10T08:30:00+07:00",
      "--reference", "12/BC-D3",
    ])
    #expect(recorded.status == 0, "\(recorded.stderr)")
    let after = try fixture.client(["upcoming", "--days", "10"])
    #expect(!after.stdout.contains("annual/D3/"))
    #expect(after.stdout.contains("annual/D4/2026/remind-1wd"))
    // explain asks the daemon: its recorded facts count.
    let explained = try fixture.client(["explain", "--unit", "D3"])
    #expect(explained.stdout.contains("(from the running daemon)"))
    #expect(explained.stdout.contains("annual 2026: met-on-time"))
    #expect(explained.stdout.contains("fact: report, at 2026-11-10T08:30:00+07:00, 12/BC-D3"))
    let findings = try fixture.client(["findings", "--unit", "D3", "--rule", "annual", "--period", "2026", "--json"])
    #expect(findings.stdout.contains(#""state":"due-soon""#) == false)
    #expect(findings.stdout.contains(#""reference":"12/BC-D3""#))
    // A facts file goes in whole.
    let file = fixture.folder.appendingPathComponent("facts.csv")
    try """
    kind,unit,rule,period,at,reference,amount,due,by,reason
    report,D4,annual,2026,2026-11-10T08:00:00+07:00,4/BC,,,,
    exemption,D5,annual,2026,,,,,Chủ tịch UBND tỉnh,Sáp nhập
    """.write(to: file, atomically: true, encoding: .utf8)
    let imported = try Run(["import", "facts", file.path, "--config", fixture.config])
    #expect(imported.status == 0, "\(imported.stderr)")
    #expect(imported.stdout == "recorded 2 facts from \(file.path)\n")
    // The same file again, or the same fact again, records nothing and says so.
    let again = try Run(["import", "facts", file.path, "--config", fixture.config])
    #expect(again.status == 0, "\(again.stderr)")
    #expect(again.stdout == "recorded 0 facts (2 already recorded) from \(file.path)\n")
    let repeated = try fixture.client([
      "record", "report", "--unit", "D4", "--rule", "annual", "--period", "2026", "--at", "2026-11-10T08:00:00+07:00",
      "--reference", "4/BC",
    ])
    #expect(repeated.status == 0, "\(repeated.stderr)")
    #expect(repeated.stdout == "already recorded: report for D4 annual 2026; nothing changed\n")
    let later = try fixture.client(["upcoming", "--days", "10"])
    #expect(!later.stdout.contains("annual/D4/") && !later.stdout.contains("annual/D5/"))
    // A bad fact is refused with the reason.
    let bad = try fixture.client(["record", "report", "--unit", "D99", "--rule", "annual", "--period", "2026"])
    #expect(bad.status == 1)
    #expect(bad.stderr.contains("unit: unknown unit D99"))
    // Another user in the socket's group may read but not write.
    let reader = try ProgramRun(
      "/usr/bin/setpriv",
      [
        "--reuid=65534", "--regid=0", "--clear-groups", Run.binary.path, "record", "report", "--unit", "D4", "--rule",
        "annual", "--period", "2026", "--socket", fixture.socket,
      ])
    #expect(reader.status == 1)
    let message = reader.stderr
    #expect(message.contains("403"))
    #expect(message.contains("may read but not write"))
  }

  @Test("facts, retract and silence through the real socket: listed with ids, audited, writers only")
  func retractAndSilence() throws {
    let fixture = try DaemonFixture()
    let notify = try NotifyListener()
    let daemon = try fixture.start(at: "2026-11-10T09:00:00+07:00", notify: notify)
    defer { kill(daemon.processIdentifier, SIGKILL) }
    let recorded = try fixture.client([
      "record", "report", "--unit", "D3", "--rule", "annual", "--period", "2026", "--at", "2026-11-10T08:30:00+07:00",
      "--reference", "12/BC-D3",
    ])
    #expect(recorded.status == 0, "\(recorded.stderr)")
    #expect(!(try fixture.client(["upcoming", "--days", "10"]).stdout.contains("annual/D3/")))
    // Without --at, the daemon's clock stamps it, and the same record again is the same fact.
    let bare = ["record", "report", "--unit", "D4", "--rule", "annual", "--period", "2026", "--reference", "9/BC"]
    #expect(try fixture.client(bare).stdout == "recorded report for D4 annual 2026\n")
    #expect(try fixture.client(bare).stdout == "already recorded: report for D4 annual 2026; nothing changed\n")
    let stamped = try fixture.client(["facts", "--unit", "D4", "--json"])
    let d4 = try JSONDecoder().decode([ControlAPI.RecordedFact].self, from: Data(stamped.stdout.utf8))
    #expect(d4.count == 1)
    #expect(d4.first?.at?.hasPrefix("2026-11-10T09:") == true, "\(d4.first?.at ?? "")")
    let listed = try fixture.client(["facts", "--unit", "D3", "--json"])
    #expect(listed.status == 0, "\(listed.stderr)")
    let facts = try JSONDecoder().decode([ControlAPI.RecordedFact].self, from: Data(listed.stdout.utf8))
    let fact = try #require(facts.first)
    #expect(facts.count == 1 && fact.reference == "12/BC-D3" && fact.source == "socket")
    #expect(fact.recordedBy == getuid())
    #expect(
      try fixture.client(["facts"]).stdout.hasPrefix("\(fact.id)\treport D3 annual 2026 at 2026-11-10T08:30:00+07:00"))

    // Someone who may only read cannot retract or silence.
    for arguments in [
      ["retract", "\(fact.id)", "--reason", "x"],
      ["silence", "add", "--unit", "D2", "--until", "2026-12-01", "--reason", "x"],
    ] {
      let reader = try ProgramRun(
        "/usr/bin/setpriv",
        ["--reuid=65534", "--regid=0", "--clear-groups", Run.binary.path] + arguments + ["--socket", fixture.socket])
      #expect(reader.status == 1)
      #expect(reader.stderr.contains("403") && reader.stderr.contains("may read but not write"), "\(reader.stderr)")
    }

    let retracted = try fixture.client(["retract", "\(fact.id)", "--reason", "wrong unit"])
    #expect(retracted.status == 0, "\(retracted.stderr)")
    #expect(retracted.stdout == "retracted fact \(fact.id): report for D3 annual 2026\n")
    // D3 owes again: the next reminder is back.
    #expect(try fixture.client(["upcoming", "--days", "10"]).stdout.contains("annual/D3/2026/remind-1wd"))
    #expect(try fixture.client(["facts", "--unit", "D3"]).stdout == "no facts recorded that match\n")
    let audit = try fixture.client(["facts", "--unit", "D3", "--retracted"]).stdout
    #expect(audit.contains("RETRACTED") && audit.contains(": wrong unit"), "\(audit)")
    let twice = try fixture.client(["retract", "\(fact.id)", "--reason", "again"])
    #expect(twice.status == 1 && twice.stderr.contains("409"))
    // curl speaks the same API.
    let curl = try ProgramRun(
      "/usr/bin/curl",
      [
        "-s", "-X", "DELETE", "--unix-socket", fixture.socket, "-d", #"{"reason":"x"}"#,
        "http://localhost/v1/facts/999",
      ])
    #expect(curl.stdout.trimmingCharacters(in: .newlines) == #"{"error":"no fact with id 999"}"#)
    // An id is digits: "+1" names no fact, and retracts nothing.
    let signed = try ProgramRun(
      "/usr/bin/curl",
      ["-s", "-X", "DELETE", "--unix-socket", fixture.socket, "-d", #"{"reason":"x"}"#, "http://localhost/v1/facts/+1"])
    #expect(signed.stdout.contains("an id is a positive number"), "\(signed.stdout)")

    let added = try fixture.client([
      "silence", "add", "--unit", "D2", "--until", "2026-11-20", "--reason", "đổi đầu mối ISO",
    ])
    #expect(added.status == 0, "\(added.stderr)")
    #expect(added.stdout == "silence 1 holds notices (unit=D2) until 2026-11-20T00:00:00+07:00\n")
    #expect(try fixture.client(["silence", "list"]).stdout.hasPrefix("1\tactive\tunit=D2\t"))
    let status = try fixture.client(["status"])
    #expect(status.status == 0, "\(status.stdout)")
    #expect(status.stdout.contains("silence 1: unit=D2 until 2026-11-20T00:00:00+07:00: đổi đầu mối ISO"))
    #expect(try fixture.client(["findings", "--unit", "D2"]).stdout.contains("SILENCED by 1 until 2026-11-20"))
    #expect(try fixture.client(["explain", "--unit", "D2"]).stdout.contains("silenced by silence 1 (unit=D2)"))
    let refused = try fixture.client(["silence", "add", "--rule", "nope", "--until", "2026-12-01", "--reason", "x"])
    #expect(refused.status == 1 && refused.stderr.contains("404: no rule nope"), "\(refused.stderr)")
    #expect(try fixture.client(["silence", "add", "--until", "2026-12-01", "--reason", "x"]).status == 2)
    let expired = try fixture.client(["silence", "expire", "1"])
    #expect(expired.stdout == "silence 1 expired (unit=D2)\n", "\(expired.stderr)")
    #expect(try fixture.client(["silence", "list"]).stdout == "no silences in force\n")
    #expect(try fixture.client(["silence", "list", "--all"]).stdout.hasPrefix("1\texpired\tunit=D2\t"))
  }

  @Test("SIGHUP with a broken rule keeps the running rules and status shows the error; SIGTERM exits cleanly")
  func reloadAndStop() throws {
    let fixture = try DaemonFixture()
    let notify = try NotifyListener()
    // A watchdog of 0.2 s: systemd expects WATCHDOG=1 every 0.1 s.
    let daemon = try fixture.start(
      at: "2026-11-09T08:00:00+07:00", notify: notify, environment: ["WATCHDOG_USEC": "200000"])
    #expect(notify.wait(for: "WATCHDOG=1") != nil)
    var stopped = false
    defer { if !stopped { kill(daemon.processIdentifier, SIGKILL) } }
    try "- id: broken\n  kind: nosuchkind\n".write(
      to: fixture.folder.appendingPathComponent("rules/broken.yaml"), atomically: true, encoding: .utf8)
    kill(daemon.processIdentifier, SIGHUP)
    let messages = try #require(notify.wait(for: "READY=1"))
    #expect(messages.contains { $0.contains("RELOADING=1") })
    let status = try fixture.client(["status"])
    #expect(status.status == 1)
    #expect(status.stdout.contains("last reload:"))
    #expect(status.stdout.contains("FAILED"))
    #expect(status.stdout.contains("unknown rule kind `nosuchkind`"))
    #expect(status.stdout.contains("1 rules"))
    // With the configuration on disk broken, the client still finds the daemon's socket.
    let byConfig = try Run(["status", "--config", fixture.config], in: fixture.folder)
    #expect(byConfig.status == 1, "\(byConfig.stderr)")
    #expect(byConfig.stdout.contains("unknown rule kind `nosuchkind`"))
    #expect(byConfig.stderr.contains("does not load"))
    // Fixed, a reload through the socket succeeds.
    try FileManager.default.removeItem(at: fixture.folder.appendingPathComponent("rules/broken.yaml"))
    #expect(try fixture.client(["reload"]).status == 0)
    #expect(try fixture.client(["status"]).status == 0)
    kill(daemon.processIdentifier, SIGTERM)
    #expect(notify.wait(for: "STOPPING=1") != nil)
    #expect(reap(daemon) == 0)
    stopped = true
    #expect(!FileManager.default.fileExists(atPath: fixture.socket))
    let gone = try fixture.client(["status"])
    #expect(gone.status == 3)
    // Monitoring plugins read standard output: the reason is there too.
    #expect(gone.stdout.hasPrefix("UNREACHABLE: "))
  }

  @Test("a reload that moves a deadline sends the new ladder, under keys of its own")
  func reloadMovesDeadline() throws {
    // Round the clock, so that a ladder's step falls at midnight, seconds after the start.
    let fixture = try DaemonFixture(
      settings: """
        send_window: { opens: "00:00", closes: "23:59" }
        calendar: { working_days: [mon, tue, wed, thu, fri, sat, sun], holidays: none }
        """)
    let rule = { (day: String) in
      """
      - id: annual
        kind: deadline
        title: Báo cáo ISO {{period.name}}
        basis: Công văn, khoản 1
        applies_to: { ids: [D1] }
        period: yearly
        due: { date: "\(day)", convention: before }
        remind: [7d]
        remind_to: [unit.iso-focal]
        channels: [email]
      """
    }
    let file = fixture.folder.appendingPathComponent("rules/annual.yaml")
    try rule("11-15").write(to: file, atomically: true, encoding: .utf8)
    let notify = try NotifyListener()
    let daemon = try fixture.start(at: "2026-11-08T23:59:57+07:00", notify: notify)
    defer { kill(daemon.processIdentifier, SIGKILL) }
    // The old ladder's reminder (00:00 on 8/11) went at the start.
    #expect(try fixture.waitForSent(1, seconds: 10) == 1)
    // The deadline moves a day later: its reminder falls at 00:00 on 9/11, three seconds on.
    try rule("11-16").write(to: file, atomically: true, encoding: .utf8)
    #expect(try fixture.client(["reload"]).status == 0)
    #expect(try fixture.waitForSent(2, seconds: 15) == 2)
    let files = try FileManager.default.contentsOfDirectory(atPath: fixture.outbox.path).sorted()
    #expect(
      files == [
        "annual_D1_2026_remind-7d_2026-11-15--email.eml", "annual_D1_2026_remind-7d_2026-11-16--email.eml",
      ])
  }

  /// The journal's rows as `nhacviec notices --json` lists them, but for those superseded (the
  /// catch-up's older rungs, which are never sent).
  func notices(_ fixture: DaemonFixture) throws -> [[String: Any]] {
    let run = try fixture.client(["notices", "--json"])
    let rows = (try? JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [[String: Any]]) ?? []
    return rows.filter { ($0["state"] as? String) != "superseded" }
  }

  /// Polls (at most 10 s of real time) until `condition` holds of the journal's rows.
  func waitForNotices(_ fixture: DaemonFixture, _ condition: ([[String: Any]]) -> Bool) throws -> [[String: Any]] {
    let until = Date().addingTimeInterval(10)
    while true {
      let rows = try notices(fixture)
      if condition(rows) || Date() >= until { return rows }
      usleep(50_000)
    }
  }

  @Test("widening the send window then reloading releases at once what waited for Monday 08:00")
  func reloadReleasesWindowWaits() throws {
    let fixture = try DaemonFixture(units: 2)
    let notify = try NotifyListener()
    // Friday 20/11 at 17:30, after the window closed: the catch-up notices wait for Monday 08:00.
    let daemon = try fixture.start(at: "2026-11-20T17:30:00+07:00", notify: notify)
    defer { kill(daemon.processIdentifier, SIGKILL) }
    let waiting = try waitForNotices(fixture) { rows in
      !rows.isEmpty
        && rows.allSatisfy { ($0["state"] as? String) == "planned" && ($0["last_error"] as? String) != nil }
    }
    #expect(waiting.count == 4, "\(waiting)")
    #expect(waiting.allSatisfy { ($0["last_error"] as? String)?.contains("send window") == true }, "\(waiting)")
    #expect(try fixture.waitForSent(1, seconds: 0.5) == 0)
    // The window now takes in the whole week: a reload sends them now, not on Monday.
    var text = try String(contentsOfFile: fixture.config, encoding: .utf8)
    text = text.replacingOccurrences(
      of: "digest: { minimum: 0 }",
      with: """
        digest: { minimum: 0 }
        send_window: { opens: "00:00", closes: "23:59" }
        calendar: { working_days: [mon, tue, wed, thu, fri, sat, sun], holidays: none }
        """)
    try text.write(toFile: fixture.config, atomically: true, encoding: .utf8)
    #expect(try fixture.client(["reload"]).status == 0)
    #expect(try fixture.waitForSent(waiting.count, seconds: 10) == waiting.count)
  }

  @Test("a start judges again what waited for the send window: a window widened while it was stopped applies at once")
  func startReleasesWindowWaits() throws {
    let fixture = try DaemonFixture(units: 2)
    let notify = try NotifyListener()
    let first = try fixture.start(at: "2026-11-20T17:30:00+07:00", notify: notify)
    let waiting = try waitForNotices(fixture) { rows in
      !rows.isEmpty
        && rows.allSatisfy { ($0["state"] as? String) == "planned" && ($0["last_error"] as? String) != nil }
    }
    #expect(waiting.count == 4, "\(waiting)")
    kill(first.processIdentifier, SIGTERM)
    #expect(reap(first) == 0)
    var text = try String(contentsOfFile: fixture.config, encoding: .utf8)
    text = text.replacingOccurrences(
      of: "digest: { minimum: 0 }",
      with: """
        digest: { minimum: 0 }
        send_window: { opens: "00:00", closes: "23:59" }
        calendar: { working_days: [mon, tue, wed, thu, fri, sat, sun], holidays: none }
        """)
    try text.write(toFile: fixture.config, atomically: true, encoding: .utf8)
    let second = try fixture.start(at: "2026-11-20T17:31:00+07:00", notify: try NotifyListener())
    defer { kill(second.processIdentifier, SIGKILL) }
    #expect(try fixture.waitForSent(waiting.count, seconds: 10) == waiting.count)
  }

  @Test(
    "flush: the notices failed against a mail server that was down go at once once it is up, not at their retry; writers only"
  )
  func flush() throws {
    let port = closedPort()
    let fixture = try DaemonFixture(
      channel: "{ type: smtp, url: \"smtp://127.0.0.1:\(port)\", from: a@b.example, tls: none }", units: 2)
    let notify = try NotifyListener()
    // Friday 20/11 at 09:00, inside the window: every catch-up notice fails, its retry a minute on.
    let daemon = try fixture.start(at: "2026-11-20T09:00:00+07:00", notify: notify)
    defer { kill(daemon.processIdentifier, SIGKILL) }
    let failed = try waitForNotices(fixture) { rows in
      !rows.isEmpty && rows.allSatisfy { ($0["state"] as? String) == "failed" }
    }
    #expect(failed.count == 4 && failed.allSatisfy { ($0["state"] as? String) == "failed" }, "\(failed)")
    let maildir = try temporaryFolder("mail")
    let server = try TestServer("smtp_server.py", ["--port", "\(port)", "--maildir", maildir.path])
    defer { server.stop() }
    // Not a writer: refused, and nothing moves.
    let reader = try runAs([], ["flush"], fixture: fixture)
    #expect(reader.status == 1)
    #expect(reader.stderr.contains("may read but not write"), "\(reader.stderr)")
    let unknown = try fixture.client(["flush", "--channel", "sms"])
    #expect(unknown.status == 1)
    #expect(unknown.stderr.contains("no channel named sms is configured"), "\(unknown.stderr)")
    let flushed = try fixture.client(["flush", "--channel", "email"])
    #expect(flushed.status == 0, "\(flushed.stderr)")
    #expect(flushed.stdout == "\(failed.count) waiting notices of channel email judged again now\n")
    // Their retries were 48 s away at the soonest: within 10 s only the flush sends them.
    #expect(try fixture.waitForSent(failed.count, seconds: 10) == failed.count)
    let stored = try FileManager.default.contentsOfDirectory(atPath: maildir.path).filter { $0.hasSuffix(".eml") }
    #expect(stored.count == failed.count)
  }

  /// `arguments` of nhacviec run as uid 65534 with primary group 0 (so that the socket, 0660
  /// root:root, opens) and the supplementary `groups`.
  func runAs(_ groups: [Int], _ arguments: [String], fixture: DaemonFixture) throws -> ProgramRun {
    let credentials =
      ["--reuid=65534", "--regid=0"]
      + (groups.isEmpty ? ["--clear-groups"] : ["--groups=" + groups.map(String.init).joined(separator: ",")])
    return try ProgramRun(
      "/usr/bin/setpriv", credentials + [Run.binary.path] + arguments + ["--socket", fixture.socket])
  }

  @Test("a writer is judged by the groups its process holds, as the kernel says, and writers change at a reload")
  func writersFromTheKernel() throws {
    let fixture = try DaemonFixture(daemon: ", writer_groups: [\"4242\"]")
    let notify = try NotifyListener()
    let daemon = try fixture.start(at: "2026-11-09T09:00:00+07:00", notify: notify)
    defer { kill(daemon.processIdentifier, SIGKILL) }
    let record = ["record", "report", "--unit", "D1", "--rule", "annual", "--period", "2026"]
    // Group 4242 in the process's credentials: a writer, though /etc/group lists nobody in it.
    let writer = try runAs([4242], record, fixture: fixture)
    #expect(writer.status == 0, "\(writer.stderr)")
    // The same user without the group: a reader, whatever /etc/group says.
    let reader = try runAs([], record, fixture: fixture)
    #expect(reader.status == 1)
    #expect(reader.stderr.contains("403"))
    // A reload that removes the group refuses its members from then on; one that names the user
    // lets it write at once.
    let config = try String(contentsOfFile: fixture.config, encoding: .utf8)
    try config.replacingOccurrences(of: ", writer_groups: [\"4242\"]", with: "")
      .write(toFile: fixture.config, atomically: true, encoding: .utf8)
    #expect(try fixture.client(["reload"]).status == 0)
    #expect(try runAs([4242], record, fixture: fixture).status == 1)
    try config.replacingOccurrences(of: ", writer_groups: [\"4242\"]", with: ", writers: [\"65534\"]")
      .write(toFile: fixture.config, atomically: true, encoding: .utf8)
    #expect(try fixture.client(["reload"]).status == 0)
    let named = try runAs([], record, fixture: fixture)
    #expect(named.status == 0, "\(named.stderr)")
  }

  @Test("a reader posting while a writer writes through a supplementary group: 30 s, no reader write accepted")
  func readerAndWriterRace() throws {
    let fixture = try DaemonFixture(daemon: ", writer_groups: [\"4242\"]")
    let notify = try NotifyListener()
    let daemon = try fixture.start(at: "2026-11-09T09:00:00+07:00", notify: notify)
    defer { kill(daemon.processIdentifier, SIGKILL) }
    let client = repositoryRoot.appendingPathComponent("Tests/Servers/control_client.py").path
    // Two users, as in the attack: the writer holds the group, the reader does not.
    func loop(uid: Int, _ groups: String, unit: String) throws -> Process {
      let process = Process()
      process.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
      process.arguments = [
        "--reuid=\(uid)", "--regid=0", groups, "/usr/bin/python3", client, fixture.socket, "30", unit,
      ]
      process.standardOutput = Pipe()
      try process.run()
      return process
    }
    let writer = try loop(uid: 65534, "--groups=4242", unit: "D1")
    let reader = try loop(uid: 65533, "--clear-groups", unit: "D2")
    func answers(_ process: Process) -> [String: Int] {
      process.waitUntilExit()
      let data = (process.standardOutput as! Pipe).fileHandleForReading.readDataToEndOfFile()
      return (try? JSONDecoder().decode([String: Int].self, from: data)) ?? [:]
    }
    let written = answers(writer)
    let read = answers(reader)
    print("the writer's answers \(written), the reader's \(read)")
    // 201 for the first, 200 for the same fact again.
    #expect(written["200"] ?? 0 > 100, "\(written)")
    #expect(written.keys.allSatisfy { $0.hasPrefix("2") }, "the writer was refused: \(written)")
    #expect(read["403"] ?? 0 > 100, "\(read)")
    #expect(read.keys.sorted() == ["403"], "a reader's write was accepted: \(read)")
  }

  @Test(
    "corrections on the real binary: a unit added and reloaded hears at once, an extension moves a unit to its new ladder at once, nothing twice"
  )
  func corrections() throws {
    let fixture = try DaemonFixture()
    let notify = try NotifyListener()
    let daemon = try fixture.start(at: "2026-11-18T09:00:00+07:00", notify: notify)
    defer { kill(daemon.processIdentifier, SIGKILL) }
    // The first start: each of the 20 departments' own overdue notice and its superior's.
    #expect(try fixture.waitForSent(40, seconds: 15) == 40)
    // D21 joins the directory after the deadline.
    let units = fixture.folder.appendingPathComponent("units.csv")
    try (String(contentsOf: units, encoding: .utf8) + "D21,Sở số 21,dept,P,head@d21.example,iso@d21.example\n")
      .write(to: units, atomically: true, encoding: .utf8)
    #expect(try fixture.client(["reload"]).status == 0)
    #expect(try fixture.waitForSent(42, seconds: 15) == 42)
    var files = try FileManager.default.contentsOfDirectory(atPath: fixture.outbox.path)
    #expect(files.contains("annual_D21_2026_escalate-1wd_2026-11-15--email.eml"))
    #expect(files.contains("annual_D21_2026_escalate-3wd_2026-11-15--email.eml"))
    // D1 is given until 20/11: its new ladder's newest reminder due (seven days before) goes now.
    let extended = try fixture.client([
      "record", "extension", "--unit", "D1", "--rule", "annual", "--period", "2026", "--due", "2026-11-20", "--by",
      "Chủ tịch UBND tỉnh",
    ])
    #expect(extended.status == 0, "\(extended.stderr)")
    #expect(try fixture.waitForSent(43, seconds: 15) == 43)
    files = try FileManager.default.contentsOfDirectory(atPath: fixture.outbox.path)
    #expect(files.contains("annual_D1_2026_remind-7d_2026-11-20--email.eml"), "\(files.sorted())")
    let status = try fixture.client(["status"])
    #expect(status.stdout.contains("journal conflicts: 0"), "\(status.stdout)")
    // Nothing more: each correction is judged once, and what was sent is not sent again.
    #expect(try fixture.waitForSent(44, seconds: 2) == 43)
  }

  @Test("kill -9 in the middle of a burst: after a restart nothing is lost, and only what was on the wire goes twice")
  func crash() throws {
    let fixture0 = try DaemonFixture()
    let log = fixture0.folder.appendingPathComponent("deliveries.log").path
    let slow = fixture0.folder.appendingPathComponent("slow").path
    // Logs each delivery's key; while the flag file exists, the deliveries to D10–D19 hang and
    // the others go through.
    let program = try script(
      """
      key=$(sed -n 's/.*"key":"\\([^"]*\\)".*/\\1/p')
      echo "$key" >> '\(log)'
      case "$key" in */D1[0-9]/*) while [ -e '\(slow)' ]; do sleep 0.05; done ;; esac
      echo delivered
      """, in: fixture0.folder)
    let fixture = try DaemonFixture(channel: "{ type: exec, command: \(program), timeout: 60s, connections: 32 }")
    #expect(FileManager.default.createFile(atPath: slow, contents: Data()))
    let notify = try NotifyListener()
    let daemon = try fixture.start(at: "2026-11-09T08:00:00+07:00", notify: notify, waitForPass: false)
    // Wait until the burst is in flight: the ten quick ones are through and recorded as they
    // finish, not at the end of the batch; the ten slow ones hang, on the wire.
    // (Bounded well inside the exec channel's 60 s limit, at which the slow ones would end too.)
    #expect(try fixture.waitForSent(10, seconds: 20) == 10)
    let recorded = try fixture.client(["notices", "--state", "sent", "--json"])
    let sentBefore = Set(
      ((try JSONSerialization.jsonObject(with: Data(recorded.stdout.utf8)) as? [[String: Any]]) ?? []).compactMap {
        $0["key"] as? String
      })
    #expect(sentBefore.count == 10)
    kill(daemon.processIdentifier, SIGKILL)
    _ = reap(daemon)
    try FileManager.default.removeItem(atPath: slow)
    // Restart: the journal sends what was in flight again and everything else once.
    let restarted = try fixture.start(at: "2026-11-09T08:05:00+07:00", notify: notify)
    defer { kill(restarted.processIdentifier, SIGKILL) }
    #expect(try fixture.waitForSent(20, seconds: 30) == 20)
    let deliveries = ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    let counts = Dictionary(deliveries.map { ($0, 1) }, uniquingKeysWith: +)
    #expect(counts.count == 20, "every notice delivered")
    // What was recorded sent before the crash went exactly once; only what was on the wire
    // (the hanging ten) went again.
    for key in sentBefore { #expect(counts[key] == 1, "\(key)") }
    let twice = Set(counts.filter { $0.value > 1 }.keys)
    #expect(twice.isSubset(of: Set(counts.keys).subtracting(sentBefore)))
    #expect(twice.allSatisfy { $0.contains("/D1") && !$0.hasPrefix("annual/D1/") }, "\(twice)")
    #expect(!twice.isEmpty, "the hanging notices were on the wire at the crash")
  }
}
