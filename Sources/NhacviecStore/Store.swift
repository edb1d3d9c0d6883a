public import Foundation
import GRDB
public import NhacviecCore

/// Where a journaled notice stands.
public enum NoticeState: String, Sendable, CaseIterable, Codable {
  case planned, sending, sent, failed, dead
}

/// One notice through one channel, as the journal holds it.
public struct JournalEntry: Sendable, Hashable {
  public let message: OutgoingMessage
  public let state: NoticeState
  public let attempts: Int
  public let nextAttemptAt: Date?
  public let lastError: String?
  public let receipt: String?
  public let createdAt: Date
  public let sentAt: Date?
}

public struct StoreError: Error, CustomStringConvertible {
  public let description: String
}

/// nhacviec's durable state in SQLite: the journal of notices, and small bookkeeping.
///
/// Every write is named after what it means (`journal`, `claimDue`, `recordSent`). A notice is
/// journaled before anything is sent and claimed by a conditional update, so that two processes
/// sharing the file can never both send it.
public final class Store: Sendable {
  private let writer: any DatabaseWriter

  /// Opens (creating if needed) the database at `path` in WAL mode and migrates it forward.
  public init(path: String) throws {
    var configuration = Configuration()
    configuration.busyMode = .timeout(10)
    // WAL with synchronous=NORMAL: a commit survives the process being killed; only a power
    // loss can undo the last few, and then a `sent` comes back as `planned` (sent again under
    // the same key and Message-ID) and a journaled notice is planned again (its key is the
    // same). Nothing is lost, and each outcome costs no fsync of its own.
    configuration.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = NORMAL") }
    writer = try DatabasePool(path: path, configuration: configuration)
    try Store.migrator.migrate(writer)
  }

  /// A private database in memory, for tests and `simulate`.
  public init() throws {
    writer = try DatabaseQueue()
    try Store.migrator.migrate(writer)
  }

  private static var migrator: DatabaseMigrator {
    var migrator = DatabaseMigrator()
    migrator.registerMigration("v1-journal") { db in
      try db.execute(
        sql: """
          CREATE TABLE notice (
            key TEXT NOT NULL,
            channel TEXT NOT NULL,
            rule TEXT NOT NULL,
            unit TEXT NOT NULL,
            period TEXT NOT NULL,
            step TEXT NOT NULL,
            reason TEXT NOT NULL,
            scheduled_at REAL NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('planned', 'sending', 'sent', 'failed', 'dead')),
            attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
            next_attempt_at REAL,
            last_error TEXT,
            receipt TEXT,
            message TEXT NOT NULL,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            sent_at REAL,
            PRIMARY KEY (key, channel)
          );
          CREATE INDEX notice_due ON notice (state, next_attempt_at);
          CREATE TABLE meta (name TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL);
          """)
    }
    migrator.registerMigration("v2-facts") { db in
      try db.execute(
        sql: """
          CREATE TABLE fact (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            kind TEXT NOT NULL CHECK (kind IN ('report', 'budget', 'extension', 'exemption')),
            unit TEXT NOT NULL,
            rule TEXT NOT NULL,
            period TEXT NOT NULL,
            at REAL,
            reference TEXT,
            amount INTEGER,
            due TEXT,
            decided_by TEXT,
            reason TEXT,
            recorded_at REAL NOT NULL,
            recorded_by_uid INTEGER,
            source TEXT NOT NULL
          );
          CREATE INDEX fact_obligation ON fact (rule, period, unit);
          """)
    }
    return migrator
  }

  private static let encoder: JSONEncoder = {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    encoder.dateEncodingStrategy = .secondsSince1970
    return encoder
  }()

  private static func decode(_ row: Row) throws -> JournalEntry {
    let decoder = JSONDecoder()
    decoder.dateDecodingStrategy = .secondsSince1970
    let text: String = row["message"]
    let message = try decoder.decode(OutgoingMessage.self, from: Data(text.utf8))
    let state: String = row["state"]
    return JournalEntry(
      message: message, state: NoticeState(rawValue: state) ?? .planned, attempts: row["attempts"],
      nextAttemptAt: (row["next_attempt_at"] as Double?).map { Date(timeIntervalSince1970: $0) },
      lastError: row["last_error"], receipt: row["receipt"],
      createdAt: Date(timeIntervalSince1970: row["created_at"]),
      sentAt: (row["sent_at"] as Double?).map { Date(timeIntervalSince1970: $0) })
  }

  // MARK: - Journal

  /// Writes notices that are not in the journal yet; returns how many were new. A notice already
  /// there, in whatever state, is left alone: re-planning never sends a notice twice.
  @discardableResult
  public func journal(_ messages: [OutgoingMessage], now: Date) throws -> Int {
    try writer.write { db in
      var inserted = 0
      for message in messages {
        let json = String(decoding: try Store.encoder.encode(message), as: UTF8.self)
        try db.execute(
          sql: """
            INSERT OR IGNORE INTO notice
              (key, channel, rule, unit, period, step, reason, scheduled_at, state, message, created_at, updated_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'planned', ?, ?, ?)
            """,
          arguments: [
            message.key, message.channel, message.ruleID, message.unitID, message.period, message.step,
            message.reason, message.scheduledAt.timeIntervalSince1970, json, now.timeIntervalSince1970,
            now.timeIntervalSince1970,
          ])
        inserted += db.changesCount
      }
      return inserted
    }
  }

  /// Claims up to `limit` notices that may be sent at `now` (planned, or failed and due for
  /// another attempt): each moves to `sending` only if no one else moved it first.
  public func claimDue(now: Date, limit: Int = 500) throws -> [JournalEntry] {
    try writer.write { db in
      let rows = try Row.fetchAll(
        db,
        sql: """
          SELECT * FROM notice
          WHERE state = 'planned' OR (state = 'failed' AND next_attempt_at <= ?)
          ORDER BY scheduled_at, key, channel LIMIT ?
          """, arguments: [now.timeIntervalSince1970, limit])
      var claimed: [JournalEntry] = []
      for row in rows {
        let key: String = row["key"]
        let channel: String = row["channel"]
        try db.execute(
          sql: """
            UPDATE notice SET state = 'sending', attempts = attempts + 1, updated_at = ?
            WHERE key = ? AND channel = ? AND (state = 'planned' OR (state = 'failed' AND next_attempt_at <= ?))
            """, arguments: [now.timeIntervalSince1970, key, channel, now.timeIntervalSince1970])
        guard db.changesCount == 1 else { continue }
        if let fresh = try Row.fetchOne(
          db, sql: "SELECT * FROM notice WHERE key = ? AND channel = ?", arguments: [key, channel])
        {
          claimed.append(try Store.decode(fresh))
        }
      }
      return claimed
    }
  }

  public func recordSent(key: String, channel: String, receipt: String, now: Date) throws {
    try transition(
      key: key, channel: channel,
      sql: "state = 'sent', receipt = ?, sent_at = ?, next_attempt_at = NULL, updated_at = ?",
      arguments: [receipt, now.timeIntervalSince1970, now.timeIntervalSince1970])
  }

  /// A failed attempt: `failed` with the next attempt's instant, or `dead` when there is none.
  public func recordFailure(key: String, channel: String, error: String, retryAt: Date?, now: Date) throws {
    try transition(
      key: key, channel: channel,
      sql: "state = ?, last_error = ?, next_attempt_at = ?, updated_at = ?",
      arguments: [
        retryAt == nil ? "dead" : "failed", error, retryAt?.timeIntervalSince1970, now.timeIntervalSince1970,
      ])
  }

  private func transition(key: String, channel: String, sql: String, arguments: StatementArguments) throws {
    try writer.write { db in
      try db.execute(
        sql: "UPDATE notice SET \(sql) WHERE key = ? AND channel = ? AND state = 'sending'",
        arguments: arguments + [key, channel])
      guard db.changesCount == 1 else {
        throw StoreError(description: "notice \(key) via \(channel) is not being sent")
      }
    }
  }

  /// After a crash: what was `sending` goes back to `planned`, to be sent again under the same
  /// key (receivers drop the duplicate by Message-ID or Idempotency-Key). Returns how many.
  @discardableResult
  public func recoverInFlight(now: Date) throws -> Int {
    try writer.write { db in
      try db.execute(
        sql: "UPDATE notice SET state = 'planned', updated_at = ? WHERE state = 'sending'",
        arguments: [now.timeIntervalSince1970])
      return db.changesCount
    }
  }

  /// An operator's second chance for a dead notice. Returns how many channels it covered.
  @discardableResult
  public func retryDead(key: String, now: Date) throws -> Int {
    try writer.write { db in
      try db.execute(
        sql: """
          UPDATE notice SET state = 'planned', attempts = 0, next_attempt_at = NULL, updated_at = ?
          WHERE key = ? AND state = 'dead'
          """, arguments: [now.timeIntervalSince1970, key])
      return db.changesCount
    }
  }

  public func counts() throws -> [NoticeState: Int] {
    try writer.read { db in
      var counts = Dictionary(uniqueKeysWithValues: NoticeState.allCases.map { ($0, 0) })
      for row in try Row.fetchAll(db, sql: "SELECT state, COUNT(*) AS n FROM notice GROUP BY state") {
        if let state = NoticeState(rawValue: row["state"]) { counts[state] = row["n"] }
      }
      return counts
    }
  }

  public func entries(state: NoticeState? = nil, limit: Int = 1000) throws -> [JournalEntry] {
    try writer.read { db in
      let rows: [Row]
      if let state {
        rows = try Row.fetchAll(
          db, sql: "SELECT * FROM notice WHERE state = ? ORDER BY scheduled_at, key, channel LIMIT ?",
          arguments: [state.rawValue, limit])
      } else {
        rows = try Row.fetchAll(
          db, sql: "SELECT * FROM notice ORDER BY scheduled_at, key, channel LIMIT ?", arguments: [limit])
      }
      return try rows.map(Store.decode)
    }
  }

  public func entry(key: String, channel: String) throws -> JournalEntry? {
    try writer.read { db in
      try Row.fetchOne(db, sql: "SELECT * FROM notice WHERE key = ? AND channel = ?", arguments: [key, channel])
        .map(Store.decode)
    }
  }

  /// The earliest instant at which a journaled notice may be attempted: now for planned ones.
  public func nextAttempt(now: Date) throws -> Date? {
    try writer.read { db in
      if try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM notice WHERE state = 'planned'") ?? 0 > 0 { return now }
      return try Double.fetchOne(
        db, sql: "SELECT MIN(next_attempt_at) FROM notice WHERE state = 'failed'"
      ).map { Date(timeIntervalSince1970: $0) }
    }
  }

  // MARK: - Facts

  /// Who recorded a fact and how: kept beside it for the audit.
  public struct Provenance: Sendable, Hashable {
    public let uid: UInt32?
    /// `socket`, `import FILE`, …
    public let source: String

    public init(uid: UInt32?, source: String) {
      self.uid = uid
      self.source = source
    }
  }

  /// Records facts; they are never rewritten or removed, so a reorganised directory or an
  /// edited rule loses none of them.
  public func record(_ facts: [Fact], by provenance: Provenance, now: Date) throws {
    try writer.write { db in
      for fact in facts {
        try db.execute(
          sql: """
            INSERT INTO fact (kind, unit, rule, period, at, reference, amount, due, decided_by, reason,
                              recorded_at, recorded_by_uid, source)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """,
          arguments: [
            fact.kind.rawValue, fact.unitID, fact.ruleID, fact.period, fact.at?.timeIntervalSince1970, fact.reference,
            fact.amount, fact.due?.description, fact.decidedBy, fact.reason, now.timeIntervalSince1970,
            provenance.uid.map { Int64($0) }, provenance.source,
          ])
      }
    }
  }

  public func facts() throws -> [Fact] {
    try writer.read { db in
      try Row.fetchAll(db, sql: "SELECT * FROM fact ORDER BY id").map { row in
        Fact(
          kind: Fact.Kind(rawValue: row["kind"]) ?? .report, unitID: row["unit"], ruleID: row["rule"],
          period: row["period"], at: (row["at"] as Double?).map { Date(timeIntervalSince1970: $0) },
          reference: row["reference"], amount: row["amount"],
          due: (row["due"] as String?).flatMap { LocalDate(iso: $0) },
          decidedBy: row["decided_by"], reason: row["reason"])
      }
    }
  }

  // MARK: - Bookkeeping

  /// The instant of the last completed planning pass: the `since` of the next one.
  public func lastPass() throws -> Date? {
    try writer.read { db in
      try String.fetchOne(db, sql: "SELECT value FROM meta WHERE name = 'last_pass'").flatMap(Double.init)
        .map { Date(timeIntervalSince1970: $0) }
    }
  }

  /// Records a completed pass. `rulesBehind` holds, for each rule that could not be judged, the
  /// `since` its next pass must plan from (so that a failing program delays its notices but does
  /// not lose them).
  public func recordPass(at instant: Date, rulesBehind: [String: Date] = [:]) throws {
    let behind = rulesBehind.mapValues(\.timeIntervalSince1970)
    let json = String(decoding: try JSONEncoder().encode(behind), as: UTF8.self)
    try writer.write { db in
      let upsert =
        "INSERT INTO meta (name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value"
      try db.execute(sql: upsert, arguments: ["last_pass", String(instant.timeIntervalSince1970)])
      try db.execute(sql: upsert, arguments: ["rules_behind", json])
    }
  }

  /// What the last pass recorded as `rulesBehind`.
  public func rulesBehind() throws -> [String: Date] {
    try writer.read { db in
      guard let json = try String.fetchOne(db, sql: "SELECT value FROM meta WHERE name = 'rules_behind'") else {
        return [:]
      }
      let seconds = (try? JSONDecoder().decode([String: Double].self, from: Data(json.utf8))) ?? [:]
      return seconds.mapValues { Date(timeIntervalSince1970: $0) }
    }
  }
}
