public import Foundation
public import NhacviecCore

/// How one channel stands, from the journal and its attempts: what `status` and `/metrics` show.
public struct ChannelHealth: Sendable, Hashable {
  public let channel: String
  /// Journal rows of this channel by state (every state, zeros included).
  public let counts: [NoticeState: Int]
  /// Dead rows nobody has acknowledged yet.
  public let deadUnacknowledged: Int
  /// The reason of its most recent attempt that did not reach everyone, and when.
  public let lastError: (error: String, at: Date)?
  /// Set while its most recent attempt failed: the first failure since its last success.
  public let failingSince: Date?

  public static func == (lhs: ChannelHealth, rhs: ChannelHealth) -> Bool {
    lhs.channel == rhs.channel && lhs.counts == rhs.counts && lhs.deadUnacknowledged == rhs.deadUnacknowledged
      && lhs.lastError?.error == rhs.lastError?.error && lhs.lastError?.at == rhs.lastError?.at
      && lhs.failingSince == rhs.failingSince
  }

  public func hash(into hasher: inout Hasher) { hasher.combine(channel) }
}

/// What an acknowledgement came to.
public enum Acknowledgement: Sendable, Hashable {
  /// This many rows (one per channel) are now acknowledged.
  case acknowledged(Int)
  /// Every dead row of the key was acknowledged before: by whom and when, of the first.
  case already(by: UInt32, at: Date)
  /// No dead row has this key.
  case noDeadNotice
}

extension Store {
  /// Marks a dead notice as seen by an operator: it stays dead and in the journal, but no longer
  /// makes `status` fail. A row already acknowledged keeps its first acknowledgement.
  public func acknowledge(key: String, uid: UInt32, now: Date) throws -> Acknowledgement {
    try engine.write { db in
      try db.execute(
        sql: """
          UPDATE journal SET acknowledged_by = ?, acknowledged_at = ?
          WHERE key = ? AND state = 'dead' AND acknowledged_at IS NULL
          """, arguments: [Int64(uid), now.timeIntervalSince1970, key])
      let changed = db.changesCount
      if changed > 0 { return .acknowledged(changed) }
      if let row = try db.fetchOne(
        sql: """
          SELECT acknowledged_by, acknowledged_at FROM journal
          WHERE key = ? AND state = 'dead' AND acknowledged_at IS NOT NULL ORDER BY acknowledged_at LIMIT 1
          """, arguments: [key])
      {
        let by: Int64 = row["acknowledged_by"]
        return .already(by: UInt32(truncatingIfNeeded: by), at: Date(timeIntervalSince1970: row["acknowledged_at"]))
      }
      return .noDeadNotice
    }
  }

  /// Every channel that is configured (`channels`) or has rows in the journal, by name.
  public func channelHealth(channels: [String] = []) throws -> [ChannelHealth] {
    try engine.read { db in
      var counts: [String: [NoticeState: Int]] = [:]
      for name in channels { counts[name] = [:] }
      // Read from the index on (channel, state): no row is read for counting.
      for row in try db.fetchAll(sql: "SELECT channel, state, COUNT(*) AS n FROM journal GROUP BY channel, state") {
        let channel: String = row["channel"]
        guard let state = NoticeState(rawValue: row["state"]) else { continue }
        counts[channel, default: [:]][state] = row["n"]
      }
      var health: [ChannelHealth] = []
      for channel in counts.keys.sorted() {
        var byState = Dictionary(uniqueKeysWithValues: NoticeState.allCases.map { ($0, 0) })
        byState.merge(counts[channel] ?? [:]) { $1 }
        let unacknowledged =
          byState[.dead] == 0
          ? 0
          : try db.fetchOne(
            Int.self,
            sql: "SELECT COUNT(*) FROM journal WHERE channel = ? AND state = 'dead' AND acknowledged_at IS NULL",
            arguments: [channel]) ?? 0
        // Each a lookup in the index on (channel, outcome, id), however many attempts were made.
        func last(_ outcome: String) throws -> Int64? {
          try db.fetchOne(
            Int64.self, sql: "SELECT MAX(id) FROM attempt WHERE channel = ? AND outcome = ?",
            arguments: [channel, outcome])
        }
        func first(_ outcome: String, after id: Int64) throws -> Int64? {
          try db.fetchOne(
            Int64.self, sql: "SELECT MIN(id) FROM attempt WHERE channel = ? AND outcome = ? AND id > ?",
            arguments: [channel, outcome, id])
        }
        let lastSent = try last("sent") ?? 0
        var lastError: (error: String, at: Date)?
        var failingSince: Date?
        if let id = [try last("failed"), try last("dead")].compactMap({ $0 }).max(),
          let row = try db.fetchOne(sql: "SELECT detail, at FROM attempt WHERE id = ?", arguments: [id])
        {
          lastError = (row["detail"], Date(timeIntervalSince1970: row["at"]))
          if id > lastSent,
            let since = [try first("failed", after: lastSent), try first("dead", after: lastSent)].compactMap({ $0 })
              .min()
          {
            failingSince = try db.fetchOne(Double.self, sql: "SELECT at FROM attempt WHERE id = ?", arguments: [since])
              .map { Date(timeIntervalSince1970: $0) }
          }
        }
        health.append(
          ChannelHealth(
            channel: channel, counts: byState, deadUnacknowledged: unacknowledged, lastError: lastError,
            failingSince: failingSince))
      }
      return health
    }
  }
}

/// Which of the journal's rows an operator's `retry` or `ack` is about: every filter given
/// must hold; `keys` empty means any key.
public struct JournalSelection: Sendable {
  public var keys: [String] = []
  public var channel: String?
  public var rule: String?
  public var unit: String?
  public var period: String?
  public var state: NoticeState = .dead

  public init() {}
}

/// A row a selection found.
public struct SelectedRow: Sendable, Equatable {
  public let key: String
  public let channel: String
  public let lastError: String?
}

extension Store {
  /// The rows a selection finds, in the journal's order (when due, then key and channel).
  /// `unacknowledged`: only dead rows nobody has acknowledged.
  static func select(_ selection: JournalSelection, unacknowledged: Bool, in db: any SQLSession) throws -> [SelectedRow]
  {
    var conditions = ["state = ?"]
    var arguments: [(any SQLBindable)?] = [selection.state.rawValue]
    for (column, value) in [
      ("channel", selection.channel), ("rule", selection.rule), ("unit", selection.unit),
      ("period", selection.period),
    ] {
      if let value {
        conditions.append("\(column) = ?")
        arguments.append(value)
      }
    }
    if !selection.keys.isEmpty {
      conditions.append("key IN (\(Array(repeating: "?", count: selection.keys.count).joined(separator: ", ")))")
      arguments += selection.keys.map { $0 }
    }
    if unacknowledged { conditions.append("acknowledged_at IS NULL") }
    return try db.fetchAll(
      sql: """
        SELECT key, channel, last_error FROM journal WHERE \(conditions.joined(separator: " AND "))
        ORDER BY scheduled_at, key, channel
        """, arguments: SQLArguments(arguments)
    ).map { SelectedRow(key: $0["key"], channel: $0["channel"], lastError: $0["last_error"]) }
  }

  /// Plans the selected rows (dead, or failed) again at once: every address not reached is
  /// tried again, from the first attempt and with its age in the queue started again (as
  /// `retryDead` does: a notice retried must not die of the age it had), and an acknowledgement
  /// is cleared. With `dryRun`,
  /// only finds them. Returns the rows.
  public func retry(_ selection: JournalSelection, dryRun: Bool, now: Date) throws -> [SelectedRow] {
    try engine.write { db in
      let rows = try Store.select(selection, unacknowledged: false, in: db)
      guard !dryRun else { return rows }
      for row in rows {
        try db.execute(
          sql: """
            UPDATE journal SET state = 'planned', attempts = 0, next_attempt_at = NULL, acknowledged_by = NULL,
              acknowledged_at = NULL, updated_at = ?1, waited = ?1 - created_at, held_since = NULL
            WHERE key = ?2 AND channel = ?3 AND state = ?4
            """, arguments: [now.timeIntervalSince1970, row.key, row.channel, selection.state.rawValue])
      }
      return rows
    }
  }

  /// Acknowledges the selected dead rows nobody has acknowledged yet (with `dryRun`, only
  /// finds them). Returns the rows.
  public func acknowledge(
    _ selection: JournalSelection, uid: UInt32, dryRun: Bool, now: Date
  ) throws
    -> [SelectedRow]
  {
    try engine.write { db in
      var dead = selection
      dead.state = .dead
      let rows = try Store.select(dead, unacknowledged: true, in: db)
      guard !dryRun else { return rows }
      for row in rows {
        try db.execute(
          sql: """
            UPDATE journal SET acknowledged_by = ?, acknowledged_at = ?
            WHERE key = ? AND channel = ? AND state = 'dead' AND acknowledged_at IS NULL
            """, arguments: [Int64(uid), now.timeIntervalSince1970, row.key, row.channel])
      }
      return rows
    }
  }
}
