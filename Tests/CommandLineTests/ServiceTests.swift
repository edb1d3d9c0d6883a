import Foundation
import TestSupport
import Testing

/// What the installed service relies on: `nhacviec reload` as the unit's ExecReload= (its exit
/// status is `systemctl reload`'s), `check --credentials` for the secrets layout, and the
/// messages a user gets when the socket or the daemon refuses them.
@Suite("the service's commands", .serialized)
struct ServiceTests {
  @Test("reload through the socket fails with the reason on a broken configuration, and says RELOADING=1 then READY=1")
  func reloadRefused() throws {
    let fixture = try DaemonFixture()
    let notify = try NotifyListener()
    let daemon = try fixture.start(at: "2026-11-09T08:00:00+07:00", notify: notify)
    defer {
      kill(daemon.processIdentifier, SIGKILL)
      _ = reap(daemon)
    }
    try "- id: broken\n  kind: nosuchkind\n".write(
      to: fixture.folder.appendingPathComponent("rules/broken.yaml"), atomically: true, encoding: .utf8)
    let refused = try fixture.client(["reload"])
    #expect(refused.status == 1)
    #expect(refused.stderr.contains("reload failed; the daemon keeps its running configuration"))
    #expect(refused.stderr.contains("unknown rule kind `nosuchkind`"))
    let messages = try #require(notify.wait(for: "READY=1"))
    #expect(messages.contains { $0.contains("RELOADING=1") })
    #expect(messages.last?.contains("reload failed") == true)
    // Fixed, the same command succeeds, and systemd hears of it the same way.
    try FileManager.default.removeItem(at: fixture.folder.appendingPathComponent("rules/broken.yaml"))
    let fixed = try fixture.client(["reload"])
    #expect(fixed.status == 0, "\(fixed.stderr)")
    #expect(fixed.stdout.hasPrefix("reloaded at "))
    let again = try #require(notify.wait(for: "READY=1"))
    #expect(again.contains { $0.contains("RELOADING=1") })
    #expect(again.last?.contains("STATUS=reloaded") == true)
  }

  @Test("a user who may not write is told so, not that the reload failed; one who cannot open the socket is told why")
  func refusals() throws {
    let fixture = try DaemonFixture()
    let notify = try NotifyListener()
    let daemon = try fixture.start(at: "2026-11-09T08:00:00+07:00", notify: notify)
    defer {
      kill(daemon.processIdentifier, SIGKILL)
      _ = reap(daemon)
    }
    // In the socket's group (root here), but no writer: 403.
    let reader = try ProgramRun(
      "/usr/bin/setpriv",
      ["--reuid=65534", "--regid=0", "--clear-groups", Run.binary.path, "reload", "--socket", fixture.socket])
    #expect(reader.status == 1)
    #expect(reader.stderr.contains("the daemon answered 403"))
    #expect(reader.stderr.contains("may read but not write"))
    #expect(!reader.stderr.contains("reload failed"))
    // Outside the group: the socket (mode 0660) refuses to open.
    let stranger = try ProgramRun(
      "/usr/bin/setpriv",
      ["--reuid=65534", "--regid=65534", "--clear-groups", Run.binary.path, "status", "--socket", fixture.socket])
    #expect(stranger.status == 3)
    #expect(stranger.stderr.contains("Permission denied"))
    #expect(stranger.stderr.contains("members of the group root"))
    #expect(stranger.stderr.contains("run the command with sudo"))
    #expect(stranger.stdout.hasPrefix("UNREACHABLE: "))
  }

  @Test("check reads secrets from --credentials DIR or $CREDENTIALS_DIRECTORY, as the daemon does under systemd")
  func checkCredentials() throws {
    let fixture = try DaemonFixture(
      channel: """
        { type: smtp, url: "smtp://127.0.0.1:2525", from: nhacviec@p.example, username: nhacviec,
                 password_file: smtp-password, tls: required }
        """)
    let secrets = fixture.folder.appendingPathComponent("secrets")
    try FileManager.default.createDirectory(at: secrets, withIntermediateDirectories: true)
    try "mật-khẩu\n".write(to: secrets.appendingPathComponent("smtp-password"), atomically: true, encoding: .utf8)
    // Outside systemd, a secret named by file name is looked for beside the configuration.
    let plain = try Run(["check", "--config", fixture.config], in: fixture.folder)
    #expect(plain.status == 1)
    #expect(plain.stderr.contains("cannot read"))
    #expect(plain.stderr.contains("--credentials DIR"))
    let given = try Run(["check", "--config", fixture.config, "--credentials", secrets.path], in: fixture.folder)
    #expect(given.status == 0, "\(given.stderr)")
    #expect(given.stdout.contains("configuration OK"))
    // Under systemd (ExecStartPre=), LoadCredential= sets $CREDENTIALS_DIRECTORY.
    let underSystemd = try ProgramRun(
      "/usr/bin/env", ["CREDENTIALS_DIRECTORY=\(secrets.path)", Run.binary.path, "check", "--config", fixture.config],
      in: fixture.folder)
    #expect(underSystemd.status == 0, "\(underSystemd.stderr)")
    let missing = try Run(["check", "--config", fixture.config, "--credentials", "/nonexistent"], in: fixture.folder)
    #expect(missing.status == 2)
    #expect(missing.stderr.contains("--credentials: no folder /nonexistent"))
  }

  @Test("a pass stuck longer than the limit stops the watchdog's pings, so that systemd ends the daemon")
  func stuckPassStopsWatchdog() throws {
    let fixture = try DaemonFixture()
    // An external rule whose program takes 6 s, well within its own timeout: the first pass hangs.
    let program = fixture.folder.appendingPathComponent("rules/slow.sh")
    try "#!/bin/sh\nsleep 6\n".write(to: program, atomically: true, encoding: .utf8)
    try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: program.path)
    try """
    - id: slow
      kind: exec
      params: { command: ./slow.sh, timeout: 60s }
      title: Báo cáo {{period.name}}
      basis: Công văn, khoản 1
      applies_to: { kinds: [dept] }
      period: yearly
      due: { date: "11-15", convention: before }
      remind: [7d]
      remind_to: [unit.iso-focal]
      channels: [email]
    """.write(to: fixture.folder.appendingPathComponent("rules/slow.yaml"), atomically: true, encoding: .utf8)
    let notify = try NotifyListener()
    let log = fixture.folder.appendingPathComponent("daemon.log")
    _ = FileManager.default.createFile(atPath: log.path, contents: nil)
    let process = Process()
    process.executableURL = Run.binary
    process.arguments = ["run", "--config", fixture.config, "--clock-start", "2026-11-09T08:00:00+07:00"]
    var environment = ProcessInfo.processInfo.environment
    // systemd would expect WATCHDOG=1 every 0.1 s; a pass may take 1 s.
    environment["NOTIFY_SOCKET"] = notify.path
    environment["WATCHDOG_USEC"] = "200000"
    environment["NHACVIEC_PASS_LIMIT"] = "1"
    process.environment = environment
    process.standardError = try FileHandle(forWritingTo: log)
    try process.run()
    defer {
      kill(process.processIdentifier, SIGKILL)
      _ = reap(process)
    }
    #expect(notify.wait(for: "READY=1") != nil)
    // Everything said until the slow pass ends: pings for its first second only, not for 6 s.
    let messages = try #require(notify.wait(for: "STATUS="))
    let pings = messages.filter { $0.contains("WATCHDOG=1") }.count
    #expect(pings < 30, "\(pings) pings while the pass was stuck")
    let text = try String(contentsOf: log, encoding: .utf8)
    #expect(text.contains("the planning loop is stuck in a pass"))
    // The pass over, the pings resume.
    #expect(notify.wait(for: "WATCHDOG=1") != nil)
  }
}
