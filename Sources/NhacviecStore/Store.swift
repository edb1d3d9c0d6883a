public import Foundation
import GRDB
public import NhacviecCore

/// nhacviec's durable state in SQLite: the journal of notices, and small bookkeeping.
///
/// Every write is named after what it means (`journal`, `claimDue`, `recordSent`). A notice is
/// journaled before anything is sent and claimed by a conditional update, so that two processes
/// sharing the file can never both send it.
public final class Store: Sendable {
  let writer: any DatabaseWriter

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

  static var migrator: DatabaseMigrator {
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
    migrator.registerMigration("v3-decisions") { db in
      // The journal holds what was decided, typed and versioned, rendered only when sent; the rows
      // of nhacviec 0.1 keep their rendered message (schema 1). Each attempt is kept, with whom
      // it reached, and a notice remembers which addresses it has still to reach.
      try db.execute(
        sql: """
          CREATE TABLE journal (
            key TEXT NOT NULL,
            channel TEXT NOT NULL,
            schema INTEGER NOT NULL,
            rule TEXT NOT NULL,
            unit TEXT NOT NULL,
            period TEXT NOT NULL,
            step TEXT NOT NULL,
            reason TEXT NOT NULL,
            scheduled_at REAL NOT NULL,
            state TEXT NOT NULL
              CHECK (state IN ('planned', 'sending', 'sent', 'failed', 'dead', 'suppressed', 'superseded')),
            attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
            next_attempt_at REAL,
            last_error TEXT,
            receipt TEXT,
            decision TEXT,
            message TEXT,
            pending TEXT,
            subject TEXT,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            sent_at REAL,
            PRIMARY KEY (key, channel),
            CHECK (decision IS NOT NULL OR message IS NOT NULL)
          );
          INSERT INTO journal
            (key, channel, schema, rule, unit, period, step, reason, scheduled_at, state, attempts, next_attempt_at,
             last_error, receipt, message, subject, created_at, updated_at, sent_at)
          SELECT key, channel, 1, rule, unit, period, step, reason, scheduled_at, state, attempts, next_attempt_at,
                 last_error, receipt, message, json_extract(message, '$.subject'), created_at, updated_at, sent_at
          FROM notice;
          DROP TABLE notice;
          CREATE INDEX journal_due ON journal (channel, state, next_attempt_at);
          CREATE TABLE attempt (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            key TEXT NOT NULL,
            channel TEXT NOT NULL,
            number INTEGER NOT NULL,
            at REAL NOT NULL,
            outcome TEXT NOT NULL,
            detail TEXT NOT NULL,
            reached TEXT NOT NULL
          );
          CREATE INDEX attempt_key ON attempt (key);
          """)
    }
    migrator.registerMigration("v4-acknowledgements") { db in
      // An operator's acknowledgement of a dead notice (uid, when); cleared when it is retried, so
      // that dying again counts as new. Attempts by channel and outcome, so that each channel's last
      // success and last error are found without reading every attempt.
      try db.execute(
        sql: """
          ALTER TABLE journal ADD COLUMN acknowledged_by INTEGER;
          ALTER TABLE journal ADD COLUMN acknowledged_at REAL;
          CREATE INDEX attempt_channel ON attempt (channel, outcome, id);
          """)
    }
    return migrator
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
  /// edited rule loses none of them. A fact already recorded (every field the same, whoever
  /// recorded it and when) is not recorded again: a `record` or an `import` repeated is a no-op.
  /// Returns the facts recorded now, in order.
  @discardableResult
  public func record(_ facts: [Fact], by provenance: Provenance, now: Date) throws -> [Fact] {
    try writer.write { db in
      var recorded: [Fact] = []
      for fact in facts {
        let fields: StatementArguments = [
          fact.kind.rawValue, fact.unitID, fact.ruleID, fact.period, fact.at?.timeIntervalSince1970, fact.reference,
          fact.amount, fact.due?.description, fact.decidedBy, fact.reason,
        ]
        let known = try Bool.fetchOne(
          db,
          sql: """
            SELECT EXISTS (SELECT 1 FROM fact WHERE kind = ? AND unit = ? AND rule = ? AND period = ? AND at IS ?
              AND reference IS ? AND amount IS ? AND due IS ? AND decided_by IS ? AND reason IS ?)
            """, arguments: fields)
        if known == true { continue }
        try db.execute(
          sql: """
            INSERT INTO fact (kind, unit, rule, period, at, reference, amount, due, decided_by, reason,
                              recorded_at, recorded_by_uid, source)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """,
          arguments: fields + [now.timeIntervalSince1970, provenance.uid.map { Int64($0) }, provenance.source])
        recorded.append(fact)
      }
      return recorded
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

// MARK: - For tests

@_spi(Testing) extension Store {
  /// Runs a statement as is: for tests that damage a row on purpose.
  public func execute(sql: String, arguments: [String?]) throws {
    try writer.write { db in try db.execute(sql: sql, arguments: StatementArguments(arguments)) }
  }

  public func value(sql: String, arguments: [String?]) throws -> String? {
    try writer.read { db in try String.fetchOne(db, sql: sql, arguments: StatementArguments(arguments)) }
  }

  /// A journal as nhacviec 0.1 left it: one rendered message in the old table.
  public static func writeLegacyJournal(at path: String, key: String, state: String, at: Date) throws {
    let queue = try DatabaseQueue(path: path)
    try migrator.migrate(queue, upTo: "v2-facts")
    let message = """
      {"channel":"email","html":"<p>Kính gửi</p>","key":"\(key)","payload":"{}","period":"2026",\
      "reason":"next-reminder","ruleID":"annual","scheduledAt":\(at.timeIntervalSince1970),"step":"remind-7d",\
      "subject":"[Nhắc việc] Báo cáo năm 2026","template":"reminder","text":"Kính gửi",\
      "to":[{"address":"iso@d1.example","name":"Đầu mối ISO","role":"iso-focal","unit_id":"D1",\
      "unit_name":"Sở Tư pháp"}],"unitID":"D1"}
      """
    try queue.write { db in
      try db.execute(
        sql: """
          INSERT INTO notice (key, channel, rule, unit, period, step, reason, scheduled_at, state, message,
                              created_at, updated_at)
          VALUES (?, 'email', 'annual', 'D1', '2026', 'remind-7d', 'next-reminder', ?, ?, ?, ?, ?)
          """,
        arguments: [
          key, at.timeIntervalSince1970, state, message, at.timeIntervalSince1970, at.timeIntervalSince1970,
        ])
    }
  }
}
