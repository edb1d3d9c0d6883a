import CLibPQ
public import Foundation
import NhacviecCore

/// Several daemons on one database (PostgreSQL): one plans, the leader; every one delivers.
///
/// - A notice claimed carries its node's name and a lease, renewed while the node lives; once a
///   lease has ended, the leader puts the notice back in the queue for any node to send. Leases
///   are read on the database's clock, the one clock every node shares.
/// - The leader holds an advisory lock on a connection of its own, and writes an epoch, one more
///   than the last leader's, when it becomes leader. Every write of planning checks the epoch
///   under the store's write lock: a deposed leader, whose lock has passed to another node while
///   it was cut off, cannot journal (`ClusterError.notLeader`).
extension Store {
  /// The node name when none is configured: the host's.
  public static var defaultNode: String { ProcessInfo.processInfo.hostName }

  public static let defaultLease: TimeInterval = 30

  /// Why a write of planning was refused.
  public enum ClusterError: Error, Equatable, CustomStringConvertible {
    /// This node is not the leader (any more): another one plans.
    case notLeader(node: String, epoch: Int64?, current: Int64?)

    public var description: String {
      switch self {
      case .notLeader(let node, let epoch, let current):
        "node \(node) is not the leader (its epoch \(epoch.map(String.init) ?? "none"), the database's \(current.map(String.init) ?? "none")): it may not plan"
      }
    }
  }

  static let clusterMigration = """
    ALTER TABLE journal ADD COLUMN claimed_by TEXT;
    ALTER TABLE journal ADD COLUMN lease_until REAL;
    CREATE TABLE node (
      name TEXT PRIMARY KEY NOT NULL,
      host TEXT NOT NULL,
      pid INTEGER NOT NULL,
      role TEXT NOT NULL,
      epoch INTEGER,
      started_at REAL NOT NULL,
      seen_at REAL NOT NULL
    );
    """

  /// The database's clock, in seconds since 1970: what leases are read on.
  static func databaseNow(_ dialect: SQLDialect) -> String {
    switch dialect {
    case .sqlite: "((julianday('now') - 2440587.5) * 86400.0)"
    case .postgresql: "EXTRACT(EPOCH FROM clock_timestamp())::double precision"
    }
  }

  /// Whether several daemons may share this store (PostgreSQL).
  public var isShared: Bool { fence != nil }

  /// Refuses a write of planning unless this node leads under the epoch the database holds.
  func checkFence(_ db: any SQLSession) throws {
    guard let fence else { return }
    let mine = fence.withLock { $0 }
    let current = try db.fetchOne(String.self, sql: "SELECT value FROM meta WHERE name = 'leader_epoch'")
      .flatMap { Int64($0) }
    guard let mine, mine == current else { throw ClusterError.notLeader(node: node, epoch: mine, current: current) }
  }

  /// Makes this node the leader: the epoch one more than the last leader's, written now, and
  /// held for planning's writes. Call only while holding the leader's lock (`LeaderLock`).
  @discardableResult
  public func becomeLeader() throws -> Int64 {
    guard let fence else { return 0 }
    let epoch = try engine.write { db in
      let last =
        try db.fetchOne(String.self, sql: "SELECT value FROM meta WHERE name = 'leader_epoch'")
        .flatMap { Int64($0) } ?? 0
      try db.execute(
        sql: """
          INSERT INTO meta (name, value) VALUES ('leader_epoch', ?)
          ON CONFLICT(name) DO UPDATE SET value = excluded.value
          """, arguments: [String(last + 1)])
      return last + 1
    }
    fence.withLock { $0 = epoch }
    return epoch
  }

  /// This node no longer leads: planning's writes are refused from now on.
  public func resign() { fence?.withLock { $0 = nil } }

  /// The epoch this node leads under, if it does.
  public var leaderEpoch: Int64? { fence?.withLock { $0 } }

  /// Renews the leases of the notices this node is sending; returns how many.
  @discardableResult
  public func renewLeases() throws -> Int {
    try engine.write { db in
      try db.execute(
        sql: """
          UPDATE journal SET lease_until = \(Store.databaseNow(db.dialect)) + ?
          WHERE state = 'sending' AND claimed_by = ?
          """, arguments: [lease, node])
      return db.changesCount
    }
  }

  /// Puts back in the queue the notices whose node's lease has ended (a node killed, or cut off
  /// from the database): any node may send them now, under the same key. Returns how many.
  @discardableResult
  public func expireLeases(now: Date) throws -> Int {
    try engine.write { db in
      try db.execute(
        sql: """
          UPDATE journal SET state = 'planned', updated_at = ?, claimed_by = NULL, lease_until = NULL
          WHERE state = 'sending' AND lease_until < \(Store.databaseNow(db.dialect))
          """, arguments: [now.timeIntervalSince1970])
      return db.changesCount
    }
  }

  /// A node as the database last heard of it.
  public struct Node: Sendable, Equatable {
    public let name: String
    public let host: String
    public let pid: Int
    public let role: String
    public let epoch: Int64?
    public let startedAt: Date
    /// On the database's clock.
    public let seenAt: Date
    /// Seconds since it was seen, on the database's clock.
    public let age: TimeInterval
  }

  /// Says this node is alive, and in which role.
  public func heartbeat(role: String, startedAt: Date) throws {
    try engine.write { db in
      let now = Store.databaseNow(db.dialect)
      try db.execute(
        sql: """
          INSERT INTO node (name, host, pid, role, epoch, started_at, seen_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, \(now))
          ON CONFLICT(name) DO UPDATE SET host = ?2, pid = ?3, role = ?4, epoch = ?5, started_at = ?6, seen_at = \(now)
          """,
        arguments: [
          node, ProcessInfo.processInfo.hostName, Int(getpid()), role, leaderEpoch, startedAt.timeIntervalSince1970,
        ])
    }
  }

  /// Every node that has shared this database, most recently seen first.
  public func nodes() throws -> [Node] {
    try engine.read { db in
      try db.fetchAll(
        sql: """
          SELECT name, host, pid, role, epoch, started_at, seen_at, \(Store.databaseNow(db.dialect)) - seen_at AS age
          FROM node ORDER BY seen_at DESC, name
          """
      ).map { row in
        Node(
          name: row["name"], host: row["host"], pid: row["pid"], role: row["role"], epoch: row["epoch"],
          startedAt: Date(timeIntervalSince1970: row["started_at"]),
          seenAt: Date(timeIntervalSince1970: row["seen_at"]),
          age: row["age"])
      }
    }
  }

  /// The leader's lock on this store's database, on a connection of its own; nil for SQLite.
  public func leaderLock() -> LeaderLock? {
    guard let engine = engine as? PostgresEngine else { return nil }
    return LeaderLock(conninfo: engine.conninfo, password: engine.password, node: node)
  }
}

/// PostgreSQL's session advisory lock that makes one node the leader. The server lets go of it
/// when the session ends: the leader killed, or its connection lost, frees it for another node.
public final class LeaderLock: @unchecked Sendable {
  static let key: Int64 = 0x6E68_6163_6C65_6164
  let conninfo: String
  let password: String?
  let node: String
  private var connection: PostgresConnection?

  init(conninfo: String, password: String?, node: String) {
    self.conninfo = conninfo
    self.password = password
    self.node = node
  }

  /// Whether this node holds the lock now: `kept` on the same session as before, `taken` anew
  /// (on a new session, or after it was free: another node may have led meanwhile), or `none`.
  /// Throws when the database cannot be reached.
  public enum Hold: Sendable { case kept, taken, none }

  public func hold() throws -> Hold {
    // Held already if this session has it: asked of the server, which knows. A session the
    // server ended (a failover, a cut) has lost the lock; a new one asks for it again.
    if let connection {
      let held = try? connection.run(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted", []
      ).rows.first.map { $0[0] as Int }
      if let held, held > 0 { return .kept }
      if held == nil { self.connection = nil }
    }
    let connection =
      try self.connection
      ?? PostgresConnection(conninfo: conninfo, password: password, application: "nhacviec-leader/\(node)")
    self.connection = connection
    do {
      let taken =
        try connection.run("SELECT pg_try_advisory_lock(\(Self.key))", []).rows.first.map { $0[0] as Bool } ?? false
      return taken ? .taken : .none
    } catch {
      if !connection.isOK { self.connection = nil }
      throw error
    }
  }

  /// Lets go of the lock (a daemon stopping), by ending the session.
  public func release() { connection = nil }
}
