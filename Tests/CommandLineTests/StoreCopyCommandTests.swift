import Foundation
import TestSupport
import Testing

@Suite("nhacviec store copy", .serialized, .enabled(if: SharedStore.available))
struct StoreCopyCommandTests {
  @Test(
    "a province moved from SQLite to PostgreSQL as docs/daemon.md says goes on without sending anything twice; copied back, the same; a store with rows is refused"
  )
  func moveProvince() throws {
    let local = try DaemonFixture()
    let notify = try NotifyListener()
    var daemon = try local.start(at: "2026-11-09T08:00:00+07:00", notify: notify)
    #expect(try local.waitForSent(20, seconds: 30) == 20)
    kill(daemon.processIdentifier, SIGTERM)
    #expect(reap(daemon) == 0)

    let database = try SharedStore.database()
    let password = local.folder.appendingPathComponent("pg-password")
    // The test server trusts its socket: the file is read, its password not needed.
    try "unused\n".write(to: password, atomically: true, encoding: .utf8)
    let journal = local.folder.appendingPathComponent("state/nhacviec.sqlite").path
    let copy = try Run(
      ["store", "copy", "--from", "sqlite:\(journal)", "--to", database, "--password-file", password.path],
      in: local.folder)
    #expect(copy.status == 0, "\(copy.stderr)")
    #expect(copy.stdout.contains("counts verified"), "\(copy.stdout)")
    let journalLine = try #require(copy.stdout.split(separator: "\n").first { $0.hasPrefix("journal ") })
    #expect(journalLine.split(separator: " ").last == "20", "\(copy.stdout)")
    #expect(try SharedStore.value(database, "SELECT count(*) FROM journal WHERE state = 'sent'") == "20")

    // The daemon started again on the copy: the 20 already sent are not sent again.
    let shared = try DaemonFixture(daemon: ", store: \"\(database)\"")
    daemon = try shared.start(at: "2026-11-09T09:00:00+07:00", notify: notify)
    let status = try shared.client(["status", "--json"])
    let object = try #require(try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any])
    #expect((object["journal"] as? [String: Int])?["sent"] == 20, "\(status.stdout)")
    #expect((try? FileManager.default.contentsOfDirectory(atPath: shared.outbox.path).count) ?? 0 == 0)
    kill(daemon.processIdentifier, SIGTERM)
    #expect(reap(daemon) == 0)

    // A backup of a store in PostgreSQL is pg_dump's to take.
    let backup = try Run(
      ["backup", "--config", shared.config, shared.folder.appendingPathComponent("b.sqlite").path], in: shared.folder)
    #expect(backup.status == 1)
    #expect(backup.stderr.contains("the journal is in PostgreSQL (daemon.store)"), "\(backup.stderr)")
    #expect(backup.stderr.contains("nhacviec store copy"), "\(backup.stderr)")

    // And back to a new SQLite file.
    let back = shared.folder.appendingPathComponent("back.sqlite").path
    let returned = try Run(["store", "copy", "--from", database, "--to", "sqlite:\(back)"], in: shared.folder)
    #expect(returned.status == 0, "\(returned.stderr)")
    #expect(returned.stdout.contains("counts verified"), "\(returned.stdout)")
    var info = stat()
    #expect(stat(back, &info) == 0 && info.st_mode & 0o777 == 0o600)
    let backup2 = try Run(["backup", "--database", back, back + ".copy"], in: shared.folder)
    #expect(backup2.stdout.contains("sent 20"), "\(backup2.stdout)")

    // Into a store that has rows: refused, saying which table, the store left as it was.
    let again = try Run(["store", "copy", "--from", "sqlite:\(journal)", "--to", database], in: local.folder)
    #expect(again.status == 1)
    #expect(again.stderr.contains("the destination is not empty: tables meta, journal, attempt"), "\(again.stderr)")
    #expect(try SharedStore.value(database, "SELECT count(*) FROM journal") == "20")

    // A source that does not exist is said, and nothing is created in its place.
    let missing = local.folder.appendingPathComponent("none.sqlite").path
    let none = try Run(["store", "copy", "--from", "sqlite:\(missing)", "--to", "sqlite:\(back).2"], in: local.folder)
    #expect(none.status == 1)
    #expect(none.stderr.contains("no store at"), "\(none.stderr)")
    #expect(!FileManager.default.fileExists(atPath: missing))
    #expect(!FileManager.default.fileExists(atPath: back + ".2"))
  }
}

@Suite("nhacviec store copy, without a server")
struct StoreCopyCommandLineTests {
  @Test("the shells are offered sqlite: and postgresql://, then the .sqlite files after sqlite:")
  func completion() throws {
    let folder = try temporaryFolder("store-completion")
    try Data().write(to: folder.appendingPathComponent("nhacviec.sqlite"))
    try Data().write(to: folder.appendingPathComponent("notes.txt"))
    let start = try Run([
      "---completion", "store", "copy", "--", "--from", "4", "0", "nhacviec", "store", "copy", "--from", "",
    ])
    #expect(start.stdout == "postgresql://\nsqlite:\n", "\(start.stdout)")
    let typed = "sqlite:\(folder.path)/"
    let files = try Run([
      "---completion", "store", "copy", "--", "--to", "4", "\(typed.count)", "nhacviec", "store", "copy", "--to", typed,
    ])
    #expect(files.stdout == "\(typed)nhacviec.sqlite\n", "\(files.stdout)")
  }

  @Test("a store that is neither sqlite:PATH nor a PostgreSQL URL is a usage error")
  func usage() throws {
    let run = try Run(["store", "copy", "--from", "mysql://db/x", "--to", "sqlite:/tmp/x.sqlite"])
    #expect(run.status == 2)
    #expect(run.stderr.contains("--from must be sqlite:PATH or a PostgreSQL URL"), "\(run.stderr)")
    let same = try Run(["store", "copy", "--from", "sqlite:/tmp/a.sqlite", "--to", "sqlite:/tmp/a.sqlite"])
    #expect(same.status == 2)
  }
}
