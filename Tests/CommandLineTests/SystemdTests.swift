import Foundation
import TestSupport
import Testing

@Suite("systemd unit")
struct SystemdTests {
  func analyze(_ arguments: [String]) throws -> (status: Int32, output: String) {
    let run = try ProgramRun("/usr/bin/systemd-analyze", arguments)
    return (run.status, run.stdout + run.stderr)
  }

  @Test("systemd-analyze verify is clean and the exposure is 1.5 or lower")
  func unit() throws {
    // verify wants the program where ExecStart= says: point a copy at the binary just built.
    let text = try String(
      contentsOf: repositoryRoot.appendingPathComponent("systemd/nhacviec.service"), encoding: .utf8
    ).replacingOccurrences(of: "/usr/bin/nhacviec", with: Run.binary.path)
    let unit = try temporaryFolder("systemd").appendingPathComponent("nhacviec.service")
    try text.write(to: unit, atomically: true, encoding: .utf8)
    let verify = try analyze(["verify", unit.path])
    #expect(verify.status == 0)
    #expect(verify.output.isEmpty, "\(verify.output)")
    let security = try analyze(["security", "--offline=true", unit.path])
    let line = try #require(security.output.split(separator: "\n").first { $0.contains("Overall exposure level") })
    let figure = try #require(line.split(separator: ":").last?.split(separator: " ").first.flatMap { Double($0) })
    #expect(figure <= 1.5, "\(line)")
  }

  @Test("the unit reloads through the socket, lets SIGABRT end the daemon, and lets Dispatch renice its threads")
  func serviceSettings() throws {
    let text = try String(
      contentsOf: repositoryRoot.appendingPathComponent("systemd/nhacviec.service"), encoding: .utf8)
    let lines = Set(text.split(separator: "\n").map(String.init))
    // kill -HUP cannot fail; `nhacviec reload` exits 1 when the daemon refuses the configuration.
    #expect(lines.contains("ExecReload=/usr/bin/nhacviec reload --config /etc/nhacviec/nhacviec.yaml"))
    #expect(lines.filter { $0.hasPrefix("ExecReload=") }.count == 1)
    // Without Swift's crash handler the watchdog's SIGABRT ends the process at once.
    #expect(lines.contains("Environment=SWIFT_BACKTRACE=enable=no"))
    #expect(lines.contains("SystemCallFilter=setpriority"))
    #expect(lines.contains("LimitNICE=-4"))
    for line in lines where line.hasPrefix("Documentation=") {
      for url in line.dropFirst("Documentation=".count).split(separator: " ") {
        #expect(url.hasPrefix("file:///usr/share/doc/nhacviec/"), "\(url)")
      }
    }
  }
}

@Suite("systemd backup units")
struct BackupUnitTests {
  func unitText(_ name: String) throws -> String {
    try String(contentsOf: repositoryRoot.appendingPathComponent("systemd/\(name)"), encoding: .utf8)
      .replacingOccurrences(of: "/usr/bin/nhacviec", with: Run.binary.path)
  }

  /// The value of `Key=` in a unit, with systemd's `%%` and `$$` read as `%` and `$`.
  func setting(_ key: String, in text: String) throws -> String {
    let line = try #require(text.split(separator: "\n").first { $0.hasPrefix(key + "=") })
    return String(line.dropFirst(key.count + 1)).replacingOccurrences(of: "%%", with: "%")
      .replacingOccurrences(of: "$$", with: "$")
  }

  @Test(
    "the backup service and its timer verify clean; the service's exposure is 1.5 or lower; the timer is not enabled")
  func verify() throws {
    let folder = try temporaryFolder("systemd-backup")
    for name in ["nhacviec-backup.service", "nhacviec-backup.timer"] {
      try unitText(name).write(to: folder.appendingPathComponent(name), atomically: true, encoding: .utf8)
    }
    let service = folder.appendingPathComponent("nhacviec-backup.service").path
    let verify = try ProgramRun(
      "/usr/bin/systemd-analyze", ["verify", service, folder.appendingPathComponent("nhacviec-backup.timer").path])
    #expect(verify.status == 0)
    #expect((verify.stdout + verify.stderr).isEmpty, "\(verify.stdout + verify.stderr)")
    let security = try ProgramRun("/usr/bin/systemd-analyze", ["security", "--offline=true", service])
    let line = try #require(security.stdout.split(separator: "\n").first { $0.contains("Overall exposure level") })
    let figure = try #require(line.split(separator: ":").last?.split(separator: " ").first.flatMap { Double($0) })
    #expect(figure <= 1.5, "\(line)")
    // Shipped disabled: the package's postinst enables nothing.
    let postinst = try String(
      contentsOf: repositoryRoot.appendingPathComponent("packaging/postinst"), encoding: .utf8)
    #expect(!postinst.contains("helper enable") && !postinst.contains("systemctl enable"))
  }

  @Test("the service's commands, run as systemd would, write a checked copy and delete only copies older than 14 days")
  func commands() throws {
    let text = try unitText("nhacviec-backup.service")
    let folder = try temporaryFolder("backup-units")
    let state = folder.appendingPathComponent("state")
    try FileManager.default.createDirectory(at: state, withIntermediateDirectories: true)
    // A configuration that does not load (its directory file is missing) and names no state
    // folder: the backup still finds the daemon's, the first of STATE_DIRECTORY, as under the unit.
    try """
    directory: [{ file: units.csv }]
    channels: { email: { type: file, path: outbox } }
    """.write(to: folder.appendingPathComponent("nhacviec.yaml"), atomically: true, encoding: .utf8)
    // A small journal to copy, made by SQLite itself.
    let journal = state.appendingPathComponent("nhacviec.sqlite").path
    let sqlite = try ProgramRun(
      "/usr/bin/env",
      [
        "python3", "-c",
        "import sqlite3; sqlite3.connect('\(journal)').executescript('CREATE TABLE journal (state TEXT); CREATE TABLE fact (id INTEGER); INSERT INTO journal VALUES (\"sent\");')",
      ])
    #expect(sqlite.status == 0, "\(sqlite.stderr)")
    let backups = folder.appendingPathComponent("backups")
    try FileManager.default.createDirectory(at: backups, withIntermediateDirectories: true)
    let old = backups.appendingPathComponent("nhacviec-20260101T023000Z.sqlite").path
    let recent = backups.appendingPathComponent("nhacviec-20261130T023000Z.sqlite").path
    for (path, days) in [(old, 15.0), (recent, 12.0)] {
      #expect(FileManager.default.createFile(atPath: path, contents: Data()))
      try FileManager.default.setAttributes(
        [.modificationDate: Date().addingTimeInterval(-days * 86_400)], ofItemAtPath: path)
    }
    let start = try setting("ExecStart", in: text)
      .replacingOccurrences(
        of: "/etc/nhacviec/nhacviec.yaml", with: folder.appendingPathComponent("nhacviec.yaml").path
      )
      .replacingOccurrences(of: "/var/lib/nhacviec-backup", with: backups.path)
    let post = try setting("ExecStartPost", in: text)
      .replacingOccurrences(of: "/var/lib/nhacviec-backup", with: backups.path)
    // systemd splits the line into words; the shell does the same for these two.
    #expect(text.contains("\nStateDirectory=nhacviec nhacviec-backup\n"))
    let ran = try ProgramRun(
      "/usr/bin/env", ["STATE_DIRECTORY=\(state.path):\(backups.path)", "/bin/sh", "-c", start])
    #expect(ran.status == 0, "\(ran.stdout) \(ran.stderr)")
    #expect(ran.stdout.contains("integrity ok"), "\(ran.stdout)")
    #expect(ran.stdout.contains("notices: 1 (sent 1); facts: 0"), "\(ran.stdout)")
    let pruned = try ProgramRun("/bin/sh", ["-c", post])
    #expect(pruned.status == 0, "\(pruned.stderr)")
    let left = try FileManager.default.contentsOfDirectory(atPath: backups.path).sorted()
    #expect(left.count == 2, "\(left)")
    #expect(left.contains("nhacviec-20261130T023000Z.sqlite"))
    #expect(!left.contains("nhacviec-20260101T023000Z.sqlite"))
    #expect(left.allSatisfy { $0.hasPrefix("nhacviec-") && $0.hasSuffix("Z.sqlite") }, "\(left)")
  }
}
