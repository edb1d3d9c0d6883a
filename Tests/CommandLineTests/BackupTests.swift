import Foundation
import TestSupport
import Testing

@Suite("nhacviec backup", .serialized)
struct BackupTests {
  /// The journal's count of sent notices, as the running daemon reports it.
  func sent(_ fixture: DaemonFixture) throws -> Int {
    let status = try fixture.client(["status", "--json"])
    let object = try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any]
    return (object?["journal"] as? [String: Int])?["sent"] ?? -1
  }

  /// `sent N` from a backup's report.
  func copiedSent(_ output: String) -> Int? {
    guard let range = output.range(of: #"sent [0-9]+"#, options: .regularExpression) else { return nil }
    return Int(output[range].dropFirst(5))
  }

  @Test("a backup taken during a burst of deliveries is whole, holds what was committed before it, and restores")
  func duringBurst() throws {
    let units = 2000
    let fixture = try DaemonFixture(units: units)
    let notify = try NotifyListener()
    let daemon = try fixture.start(at: "2026-11-09T08:00:00+07:00", notify: notify, waitForPass: false)
    defer { kill(daemon.processIdentifier, SIGKILL) }
    // The burst is under way: some sent, recorded one by one as the file channel writes them.
    #expect(try fixture.waitForSent(50, seconds: 60) >= 50)
    let before = try sent(fixture)
    let copy = fixture.folder.appendingPathComponent("backup.sqlite").path
    let backup = try Run(["backup", "--config", fixture.config, copy], in: fixture.folder)
    let after = try sent(fixture)
    #expect(backup.status == 0, "\(backup.stderr)")
    #expect(backup.stdout.contains("integrity ok"), "\(backup.stdout)")
    let copied = try #require(copiedSent(backup.stdout), "\(backup.stdout)")
    // Every notice recorded sent before the backup began is in the copy, and nothing it could
    // not have seen.
    #expect(before <= copied && copied <= after, "sent before \(before), in the copy \(copied), after \(after)")
    print("backup during the burst: sent \(before) before, \(copied) in the copy, \(after) after, of \(units)")
    var info = stat()
    #expect(stat(copy, &info) == 0 && info.st_mode & 0o777 == 0o600)

    // An existing file is never written over.
    let again = try Run(["backup", "--config", fixture.config, copy], in: fixture.folder)
    #expect(again.status == 1)
    #expect(again.stderr.contains("exists"), "\(again.stderr)")
    #expect(copiedSent(try Run(["backup", "--database", copy, copy + ".2"], in: fixture.folder).stdout) == copied)

    // Restore as docs/daemon.md says: stop the daemon, put the copy in place of the journal (and
    // no log beside it), start. Nothing sent before the backup is lost; the rest goes out.
    kill(daemon.processIdentifier, SIGTERM)
    #expect(reap(daemon) == 0)
    // With the daemon stopped, a backup works the same.
    let stopped = try Run(["backup", "--config", fixture.config, copy + ".stopped"], in: fixture.folder)
    #expect(stopped.status == 0, "\(stopped.stderr)")
    #expect((copiedSent(stopped.stdout) ?? 0) >= after)
    let journal = fixture.folder.appendingPathComponent("state/nhacviec.sqlite").path
    for suffix in ["", "-wal", "-shm"] { unlink(journal + suffix) }
    try FileManager.default.copyItem(atPath: copy, toPath: journal)
    let restored = try fixture.start(at: "2026-11-09T08:10:00+07:00", notify: notify)
    defer { kill(restored.processIdentifier, SIGKILL) }
    #expect(try sent(fixture) >= copied)
    #expect(try fixture.waitForSent(units, seconds: 120) == units)
  }
}
