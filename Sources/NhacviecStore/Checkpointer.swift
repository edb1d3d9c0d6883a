import Foundation
import GRDBSQLite
import NhacviecCore

/// When the write-ahead log is copied into the database file: the defaults, and smaller figures
/// for tests.
@_spi(Testing) public struct CheckpointPolicy: Sendable {
  /// The log's size, in pages, that makes a checkpoint due: SQLite's default.
  public var pages: Int32 = 1_000
  /// The size at which a commit checkpoints itself. 256 MiB of log: about 25,000 notices
  /// delivered without a pause.
  public var inlinePages: Int32 = 65_536
  /// How long, in seconds, the writer must have committed nothing that grew the log.
  public var quiet: Double = 0.2

  public init() {}
}

/// Copies the write-ahead log into the database file once the writer has paused, not in the
/// commit that filled it.
///
/// SQLite's own automatic checkpoint runs at the end of the commit that brings the log to 1,000
/// pages: that commit copies the pages into the file and waits for two fsyncs. In a burst the
/// commits are the delivery loop's, which claims the next notices in the same transaction, so
/// delivery waited on every checkpoint: a burst of 10,000 webhooks writes about 100 MB of log
/// and ran 22 checkpoints. Run from another thread during the burst, the checkpoints held
/// delivery up all the same (their writes and fsyncs share the disk and the two cores), so the
/// thread waits until no commit has grown the log for a pause (`CheckpointPolicy.quiet`); see
/// bench/PROFILE-delivery.md.
///
/// The writer's commit hook marks a checkpoint due once the log has grown past
/// `CheckpointPolicy.pages`. Where the thread cannot run (its connection could not be opened,
/// or the store is closing), or the log has reached `CheckpointPolicy.inlinePages` without a
/// pause, the commit checkpoints itself, as SQLite would have: the log does not grow without
/// bound under a writer that never pauses.
final class Checkpointer: Sendable {
  private struct State {
    var due = false
    /// On the monotonic clock, so that a change of the system's time cannot hold a checkpoint.
    var lastCommit: UInt64 = 0
    var stopping = false
    var running = true
    var checkpoints = 0
  }

  private let policy: CheckpointPolicy
  private let path: String
  private let state = Locked(State())
  private let signal = WakeSignal()

  init(path: String, policy: CheckpointPolicy = CheckpointPolicy()) {
    self.path = path
    self.policy = policy
    let thread = Thread { [self] in run() }
    thread.name = "nhacviec-checkpoint"
    thread.start()
  }

  /// Installs the commit hook on the writer's connection. The connection's configuration holds
  /// the checkpointer from then on, so the hook's context lives as long as the connection.
  func install(on connection: OpaquePointer?) {
    sqlite3_wal_hook(connection, checkpointerWALHook, Unmanaged.passUnretained(self).toOpaque())
  }

  /// Ends the thread (after the checkpoint it is running, if any); commits checkpoint
  /// themselves from then on.
  func stop() {
    state.withLock { $0.stopping = true }
    signal.raise()
  }

  /// How many checkpoints the thread has completed: for tests.
  var completed: Int { state.withLock { $0.checkpoints } }

  /// Called on the writer's thread after each commit, with the log's size in pages.
  fileprivate func committed(_ connection: OpaquePointer?, logPages: Int32) -> Int32 {
    guard logPages >= policy.pages else { return SQLITE_OK }
    let (handed, wake) = state.withLock { state -> (Bool, Bool) in
      let handed = state.running && !state.stopping && logPages < policy.inlinePages
      guard handed else { return (false, false) }
      state.lastCommit = DispatchTime.now().uptimeNanoseconds
      defer { state.due = true }
      return (true, !state.due)
    }
    if wake { signal.raise() }
    if !handed {
      // What SQLite's automatic checkpoint does; a busy log is tried again after a later commit.
      sqlite3_wal_checkpoint_v2(connection, "main", SQLITE_CHECKPOINT_PASSIVE, nil, nil)
    }
    return SQLITE_OK
  }

  private func run() {
    var connection: OpaquePointer?
    defer {
      if connection != nil { sqlite3_close_v2(connection) }
      state.withLock { $0.running = false }
    }
    while true {
      // Asleep until a checkpoint is due, then until the writer has paused.
      while true {
        let (due, stopping, last) = state.withLock { ($0.due, $0.stopping, $0.lastCommit) }
        if stopping { return }
        guard due else {
          signal.wait(untilReal: nil)
          continue
        }
        let quietFor = Double(DispatchTime.now().uptimeNanoseconds &- last) / 1e9
        if quietFor >= policy.quiet { break }
        signal.wait(untilReal: Date().addingTimeInterval(policy.quiet - quietFor))
      }
      state.withLock { $0.due = false }
      if connection == nil {
        // Opened at the first request: the writer has created the file and put it in WAL mode.
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX
        guard sqlite3_open_v2(path, &connection, flags, nil) == SQLITE_OK,
          // A connection that has not read the database has not opened its log yet, and
          // its checkpoints copy nothing (SQLite 3.40, Debian 12's).
          sqlite3_exec(connection, "PRAGMA schema_version", nil, nil, nil) == SQLITE_OK
        else { return }
      }
      // Passive: copies what no reader still needs, never waits for the writer or readers. A
      // busy log (another checkpoint) is tried again at the next request.
      if sqlite3_wal_checkpoint_v2(connection, "main", SQLITE_CHECKPOINT_PASSIVE, nil, nil) == SQLITE_OK {
        state.withLock { $0.checkpoints += 1 }
      }
    }
  }
}

private func checkpointerWALHook(
  context: UnsafeMutableRawPointer?, connection: OpaquePointer?, name: UnsafePointer<CChar>?, pages: Int32
) -> Int32 {
  guard let context else { return SQLITE_OK }
  return Unmanaged<Checkpointer>.fromOpaque(context).takeUnretainedValue().committed(connection, logPages: pages)
}
