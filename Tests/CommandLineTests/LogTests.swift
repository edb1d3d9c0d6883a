import Foundation
import NhacviecControl
import TestSupport
import Testing

/// The daemon's log as journald receives it under systemd: `JOURNAL_STREAM` names standard error,
/// and lines go to the journal's socket (here a test's own, named by NHACVIEC_JOURNAL_SOCKET) in
/// its native protocol, with fields of their own.
@Suite("logs that speak")
struct LogTests {
  /// A file for standard error, and the `JOURNAL_STREAM` value that names it.
  func journalStream() throws -> (URL, String) {
    let file = try temporaryFolder("journal").appendingPathComponent("stderr")
    _ = FileManager.default.createFile(atPath: file.path, contents: nil)
    var status = stat()
    #expect(stat(file.path, &status) == 0)
    return (file, "\(status.st_dev):\(status.st_ino)")
  }

  /// A datagram's fields, in the native protocol's text form.
  func fields(_ datagram: String) -> [String: String] {
    var result: [String: String] = [:]
    for line in datagram.split(separator: "\n") {
      guard let equals = line.firstIndex(of: "=") else { continue }
      result[String(line[..<equals])] = String(line[line.index(after: equals)...])
    }
    return result
  }

  @Test("a failed delivery goes to the journal with NOTICE_KEY, CHANNEL, RULE and UNIT; log_level: warning drops info")
  func structuredFields() throws {
    let journal = try NotifyListener()
    let (stderr, stream) = try journalStream()
    let fixture = try DaemonFixture(
      channel: "{ type: webhook, url: \"http://127.0.0.1:\(closedPort())/hook\" }", daemon: ", log_level: warning",
      units: 1)
    let notify = try NotifyListener()
    let daemon = try fixture.start(
      at: "2026-11-09T08:00:00+07:00", notify: notify,
      environment: ["JOURNAL_STREAM": stream, "NHACVIEC_JOURNAL_SOCKET": journal.path],
      launcher: ["/bin/sh", "-c", "exec \"$0\" \"$@\" 2>>\(stderr.path)"])
    defer { kill(daemon.processIdentifier, SIGKILL) }
    let seen = try #require(journal.wait(for: "NOTICE_KEY="), "no line with NOTICE_KEY reached the journal")
    let failed = fields(try #require(seen.last))
    #expect(failed["PRIORITY"] == "4")
    #expect(failed["SYSLOG_IDENTIFIER"] == "nhacviec")
    #expect(failed["CHANNEL"] == "email")
    #expect(failed["RULE"] == "annual")
    #expect(failed["UNIT"] == "D1")
    #expect(failed["NOTICE_KEY"]?.hasPrefix("annual/D1/2026/") == true, "\(failed)")
    #expect(failed["MESSAGE"]?.contains("failed, retry at") == true, "\(failed)")
    // Info lines ("control socket …") are below log_level: warning; nothing went to the stream.
    #expect(!seen.contains { $0.contains("PRIORITY=6") }, "\(seen)")
    kill(daemon.processIdentifier, SIGTERM)
    _ = reap(daemon)
    let written = try String(contentsOf: stderr, encoding: .utf8)
    #expect(!written.contains("NOTICE_KEY") && !written.contains("failed, retry at"), "\(written)")
  }

  /// `nhacviec check` with standard error appended to `stderr`, as a journal stream.
  func check(_ arguments: [String], stderr: URL, stream: String) throws -> (status: Int32, stdout: String) {
    let process = Process()
    process.executableURL = Run.binary
    process.arguments = ["check"] + arguments
    process.environment = ProcessInfo.processInfo.environment.merging(["JOURNAL_STREAM": stream]) { $1 }
    let output = Pipe()
    process.standardOutput = output
    let errors = try FileHandle(forWritingTo: stderr)
    errors.seekToEndOfFile()
    process.standardError = errors
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    try errors.close()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
  }

  @Test("check under systemd: its errors carry the error priority; --quiet says one line when it passes")
  func checkUnderSystemd() throws {
    let fixture = try DaemonFixture(units: 1)
    let (stderr, stream) = try journalStream()
    let quiet = try check(["--quiet", "--config", fixture.config], stderr: stderr, stream: stream)
    #expect(quiet.status == 0)
    // Warnings (this fixture has no calendar override), then one line; no summary.
    let said = quiet.stdout.split(separator: "\n")
    #expect(said.last?.hasPrefix("configuration OK: ") == true, "\(quiet.stdout)")
    #expect(said.dropLast().allSatisfy { $0.hasPrefix("warning: ") }, "\(quiet.stdout)")
    try "rules: nowhere\n".write(toFile: fixture.config, atomically: true, encoding: .utf8)
    let broken = try check(["--quiet", "--config", fixture.config], stderr: stderr, stream: stream)
    #expect(broken.status == 1)
    let lines = try String(contentsOf: stderr, encoding: .utf8).split(separator: "\n")
    #expect(lines.count >= 2)
    #expect(lines.allSatisfy { $0.hasPrefix("<3>") }, "\(lines)")
  }
}
