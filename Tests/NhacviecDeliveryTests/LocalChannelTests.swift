import Foundation
import NhacviecCore
import NhacviecDelivery
import NhacviecTesting
import TestSupport
import Testing

@Suite("The file channel")
struct FileChannelTests {
  @Test("writes each message whole into its folder, emails as .eml and webhooks as .json")
  func writes() async throws {
    let folder = try temporaryFolder("outbox")
    let client = CurlClient()
    defer { client.shutdown() }
    let runtime = ChannelRuntime(client: client, zone: .vietnam)
    let eml = try ChannelFixture.make(
      type: "file", name: "email", settings: ["path": folder.path, "format": "eml"], runtime: runtime)
    let json = try ChannelFixture.make(
      type: "file", name: "hook", settings: ["path": folder.path, "format": "json"], runtime: runtime)
    let outgoing = ChannelFixture.message(
      key: "iso-annual-report/51-STP/2026/remind-7d@2026-11-15", channel: "email", to: ["iso@51-stp.example"],
      subject: "[Nhắc việc] Báo cáo năm 2026")
    guard case .sent(let receipt) = await eml.deliver(outgoing) else {
      Issue.record("not sent")
      return
    }
    #expect(receipt.hasSuffix("iso-annual-report_51-STP_2026_remind-7d_2026-11-15--email.eml"))
    _ = await json.deliver(outgoing)
    let names = try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
    #expect(
      names == [
        "iso-annual-report_51-STP_2026_remind-7d_2026-11-15--email.eml",
        "iso-annual-report_51-STP_2026_remind-7d_2026-11-15--hook.json",
      ])
    let raw = try String(contentsOf: folder.appendingPathComponent(names[0]), encoding: .utf8)
    #expect(MailReader.header(raw, "Subject") == "[Nhắc việc] Báo cáo năm 2026")
    #expect(MailReader.header(raw, "X-Nhacviec-Key") == "iso-annual-report/51-STP/2026/remind-7d@2026-11-15")
    // Delivering again replaces the file: the same key is the same message.
    _ = await eml.deliver(outgoing)
    #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path).count == 2)
  }

  // With umask 0: HostileClientTests, on the daemon (a umask set here would be every test's).
  @Test("a message and the folder made for it are the owner's alone (0600, 0700), whatever the umask")
  func ownerOnly() async throws {
    let parent = try temporaryFolder("outbox-mode")
    let folder = parent.appendingPathComponent("outbox")
    let client = CurlClient()
    defer { client.shutdown() }
    let runtime = ChannelRuntime(client: client, zone: .vietnam)
    for format in ["eml", "json"] {
      let channel = try ChannelFixture.make(
        type: "file", name: "email", settings: ["path": folder.path, "format": format], runtime: runtime)
      let outgoing = ChannelFixture.message(
        key: "iso-annual-report/51-STP/2026/remind-7d@2026-11-15", channel: "email", to: ["iso@51-stp.example"],
        subject: "[Nhắc việc] Báo cáo năm 2026")
      guard case .sent = await channel.deliver(outgoing) else {
        Issue.record("not sent")
        return
      }
    }
    func mode(_ url: URL) throws -> Int {
      (try FileManager.default.attributesOfItem(atPath: url.path)[.posixPermissions] as? Int) ?? -1
    }
    #expect(try mode(folder) == 0o700)
    let names = try FileManager.default.contentsOfDirectory(atPath: folder.path)
    #expect(names.count == 2)
    for name in names {
      #expect(try mode(folder.appendingPathComponent(name)) == 0o600, "\(name)")
    }
  }

  @Test("settings are checked when the channel is built")
  func settings() throws {
    let client = CurlClient()
    defer { client.shutdown() }
    let runtime = ChannelRuntime(client: client, zone: .vietnam)
    #expect(throws: ConfigError.self) { try ChannelFixture.make(type: "file", settings: [:], runtime: runtime) }
    #expect(throws: ConfigError.self) {
      try ChannelFixture.make(type: "file", settings: ["path": "/tmp", "formatt": "eml"], runtime: runtime)
    }
  }
}

@Suite("The exec channel")
struct ExecChannelTests {
  let client = CurlClient()
  func exec(_ settings: [String: String]) throws -> any NoticeChannel {
    try ChannelFixture.make(
      type: "exec", name: "sms", settings: settings, runtime: ChannelRuntime(client: client, zone: .vietnam))
  }

  func message(_ key: String, to: [String] = ["iso@51-stp.example"]) -> OutgoingMessage {
    ChannelFixture.message(key: key, channel: "sms", to: to, subject: "[Nhắc việc] Báo cáo năm 2026")
  }

  @Test("exit 0 is sent with the program's output as receipt, and the program reads the notice as JSON")
  func sent() async throws {
    let folder = try temporaryFolder("exec")
    let input = folder.appendingPathComponent("input.json").path
    let program = try script("cat > '\(input)'\necho 'queued as 42'", in: folder)
    let channel = try exec(["command": program, "timeout": "10s"])
    let outcome = await channel.deliver(message("k/1", to: ["+84900000000"]))
    #expect(outcome == .sent(receipt: "queued as 42"))
    let request = try #require(
      try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: input))) as? [String: Any])
    #expect(request["version"] as? Int == 1)
    #expect(request["key"] as? String == "k/1")
    #expect(request["subject"] as? String == "[Nhắc việc] Báo cáo năm 2026")
    #expect((request["to"] as? [[String: Any]])?.first?["address"] as? String == "+84900000000")
  }

  @Test("exit 75 means try again later; any other failure is permanent")
  func failures() async throws {
    let folder = try temporaryFolder("exec")
    let busy = try exec(["command": try script("echo 'gateway busy' >&2\nexit 75", in: folder)])
    #expect(await busy.deliver(message("k")) == .transient(reason: "exit 75: gateway busy", retryAfter: nil))
    let broken = try exec(["command": try script("echo 'no such number' >&2\nexit 2", in: folder)])
    #expect(await broken.deliver(message("k")) == .permanent(reason: "exit 2: no such number"))
    let missing = try exec(["command": "/nonexistent/program"])
    guard case .permanent = await missing.deliver(message("k")) else {
      Issue.record("a missing program is a permanent failure")
      return
    }
  }

  @Test("a program past its time limit is stopped and the attempt is transient")
  func timeLimit() async throws {
    let folder = try temporaryFolder("exec")
    let pids = folder.appendingPathComponent("pids").path
    // The program and a child of its own both outlive the limit unless they are stopped.
    let slow = try exec([
      "command": try script("sleep 30 &\necho $$ $! > '\(pids)'\nwait", in: folder), "timeout": "300ms",
    ])
    let outcome = await slow.deliver(message("k"))
    guard case .transient(let reason, _) = outcome else {
      Issue.record("a time-out is transient, not \(outcome)")
      return
    }
    #expect(reason.contains("did not finish within"))
    // Stopped, not waited for: neither the program nor its child is still running.
    let running = (try String(contentsOfFile: pids, encoding: .utf8)).split(separator: " ").compactMap {
      Int32($0.trimmingCharacters(in: .whitespacesAndNewlines))
    }
    #expect(running.count == 2)
    for pid in running { #expect(!isRunning(pid), "process \(pid) still runs") }
  }
}

/// Whether a process runs (a zombie waiting for its parent to reap it does not).
func isRunning(_ pid: Int32) -> Bool {
  guard kill(pid, 0) == 0 else { return false }
  let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
  guard let close = stat.lastIndex(of: ")") else { return false }
  return !stat[close...].dropFirst(2).hasPrefix("Z")
}
