import Foundation
import GRDB

/// What a backup copied, read from the copy after its integrity check.
public struct BackupSummary: Sendable, Equatable {
  /// The copy's size in bytes.
  public let bytes: Int64
  /// The journal's rows (one a notice and channel), and how many in each state.
  public let notices: Int
  public let noticesByState: [String: Int]
  /// The facts recorded, retracted ones included.
  public let facts: Int
}

public struct BackupError: Error, CustomStringConvertible, Sendable {
  public let description: String
}

extension Store {
  /// Copies the database at `path` to `destination` with SQLite's online backup API, through a
  /// read-only connection of its own: the copy is one snapshot (a read transaction, which in WAL
  /// mode never waits for the daemon's writer nor holds it up), whether or not a daemon is
  /// writing meanwhile. `destination` must not exist (it is created 0600, whatever the umask);
  /// the copy then passes `PRAGMA integrity_check` or is removed.
  public static func backup(database path: String, to destination: String) throws -> BackupSummary {
    guard FileManager.default.fileExists(atPath: path) else {
      throw BackupError(description: "no journal at \(path)")
    }
    var configuration = Configuration()
    configuration.readonly = true
    configuration.busyMode = .timeout(10)
    let source: DatabaseQueue
    do {
      source = try DatabaseQueue(path: path, configuration: configuration)
    } catch {
      throw BackupError(description: "cannot open \(path) to read: \(error)")
    }
    // Created here, exclusively: an existing file (a previous backup, or a link planted in its
    // place) is never written over.
    let fd = open(destination, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
    guard fd >= 0 else {
      let reason = errno == EEXIST ? "it exists; a backup never writes over a file" : String(cString: strerror(errno))
      throw BackupError(description: "cannot create \(destination): \(reason)")
    }
    fchmod(fd, 0o600)
    close(fd)
    do {
      let copy = try DatabaseQueue(path: destination)
      try source.backup(to: copy)
      try source.close()
      let (check, byState, facts) = try copy.read { db in
        let check = try String.fetchAll(db, sql: "PRAGMA integrity_check")
        var byState: [String: Int] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT state, COUNT(*) AS n FROM journal GROUP BY state") {
          byState[row["state"]] = row["n"]
        }
        let facts = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM fact") ?? 0
        return (check, byState, facts)
      }
      try copy.close()
      guard check == ["ok"] else {
        throw BackupError(description: "the copy fails its integrity check: \(check.prefix(5).joined(separator: "; "))")
      }
      let size = (try? FileManager.default.attributesOfItem(atPath: destination)[.size] as? NSNumber)??.int64Value
      return BackupSummary(
        bytes: size ?? 0, notices: byState.values.reduce(0, +), noticesByState: byState, facts: facts)
    } catch {
      for suffix in ["", "-wal", "-shm", "-journal"] { unlink(destination + suffix) }
      if let error = error as? BackupError { throw error }
      throw BackupError(description: "backup of \(path) to \(destination) failed: \(error)")
    }
  }
}
