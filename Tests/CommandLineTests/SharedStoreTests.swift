import Foundation
import TestSupport
import Testing

/// A PostgreSQL server for the tests of a shared store: `NHACVIEC_TEST_POSTGRESQL` (libpq's
/// key=value form, as scripts/postgres prints it). scripts/test always starts one, so these run in CI.
enum SharedStore {
  static let server = ProcessInfo.processInfo.environment["NHACVIEC_TEST_POSTGRESQL"].flatMap { $0.isEmpty ? nil : $0 }
  static var available: Bool { server != nil }

  /// A new empty database on the server, as the URL `daemon.store` takes.
  static func database() throws -> String {
    let server = try #require(server)
    let name = "d_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
    let created = try ProgramRun("/usr/bin/psql", [server, "-qAtc", "CREATE DATABASE \(name)"])
    #expect(created.status == 0, "\(created.stderr)")
    return url(for: name)
  }

  static func url(for name: String) -> String {
    var fields: [String: String] = [:]
    for pair in (server ?? "").split(separator: " ") {
      let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
      if parts.count == 2 { fields[parts[0]] = parts[1] }
    }
    let host = fields["host"].map { "host=\($0)" } ?? ""
    return "postgresql://\(fields["user"] ?? "nhacviec")@/\(name)?\(host)"
  }

  /// One value a query reads from the database at `url`.
  static func value(_ url: String, _ sql: String) throws -> String {
    let run = try ProgramRun("/usr/bin/psql", [url, "-qAtc", sql])
    #expect(run.status == 0, "\(run.stderr)")
    return run.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
  }
}

@Suite("The journal on PostgreSQL", .serialized, .enabled(if: SharedStore.available))
struct SharedStoreTests {
  @Test("a daemon keeps its journal and facts in PostgreSQL; started again on it, it sends nothing twice")
  func oneDaemon() throws {
    let database = try SharedStore.database()
    let fixture = try DaemonFixture(daemon: ", store: \"\(database)\"")
    let notify = try NotifyListener()
    var daemon = try fixture.start(at: "2026-11-09T08:00:00+07:00", notify: notify)
    #expect(try fixture.waitForSent(20, seconds: 30) == 20)
    let recorded = try fixture.client(["record", "report", "--unit", "D3", "--rule", "annual", "--period", "2026"])
    #expect(recorded.status == 0, "\(recorded.stderr)")
    #expect(try SharedStore.value(database, "SELECT count(*) FROM journal WHERE state = 'sent'") == "20")
    #expect(try SharedStore.value(database, "SELECT unit FROM fact WHERE kind = 'report'") == "D3")
    // No SQLite file beside it: the state folder holds the lock only.
    #expect(
      !FileManager.default.fileExists(atPath: fixture.folder.appendingPathComponent("state/nhacviec.sqlite").path))
    kill(daemon.processIdentifier, SIGTERM)
    #expect(reap(daemon) == 0)
    daemon = try fixture.start(at: "2026-11-09T09:00:00+07:00", notify: notify)
    defer { kill(daemon.processIdentifier, SIGKILL) }
    let status = try fixture.client(["status", "--json"])
    let object = try #require(try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any])
    #expect((object["journal"] as? [String: Int])?["sent"] == 20)
    #expect(try FileManager.default.contentsOfDirectory(atPath: fixture.outbox.path).count == 20)
    let facts = try fixture.client(["facts", "--unit", "D3"])
    #expect(facts.stdout.contains("D3"), "\(facts.stdout)")
  }

  @Test("a store URL with a password in it, or not PostgreSQL's, is refused with its line")
  func refusedURL() throws {
    let fixture = try DaemonFixture(daemon: ", store: \"postgresql://u:secret@db/x\"")
    let run = try Run(["check", "--config", fixture.config], in: fixture.folder)
    #expect(run.status != 0)
    #expect(run.stderr.contains("nhacviec.yaml:4"), "\(run.stderr)")
    #expect(run.stderr.contains("store_password_file"), "\(run.stderr)")
    let other = try DaemonFixture(daemon: ", store: \"mysql://db/x\"")
    let refused = try Run(["check", "--config", other.config], in: other.folder)
    #expect(refused.stderr.contains("store must be a PostgreSQL URL"), "\(refused.stderr)")
  }
}
