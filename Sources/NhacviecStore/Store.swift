public import Foundation
import GRDB
public import NhacviecCore

/// nhacviec's durable state: the journal of notices, the facts, and small bookkeeping, in
/// SQLite (embedded, the default) or PostgreSQL (shared by several daemons). Each function is
/// written once against `SQLSession`; the engine runs it.
///
/// Every write is named after what it means (`journal`, `claimDue`, `recordSent`). A notice is
/// journaled before anything is sent and claimed by a conditional update, so that two processes
/// sharing the database can never both send it.
public final class Store: Sendable {
  let engine: any SQLEngine
  /// This daemon's name among those sharing the database: the rows it claims carry it.
  public let node: String
  /// How long a claim holds a notice for its node without being renewed: after it, another
  /// node may send it (`expireLeases`).
  public let lease: TimeInterval
  /// On a database several daemons may share, the epoch of leadership this node holds, if any:
  /// planning writes only under it. Nil for SQLite, where the state folder's lock makes one
  /// daemon the only one.
  let fence: Locked<Int64?>?
  /// For a database in a file: copies the log into it beside the writer, not in its commits.
  let checkpointer: Checkpointer?

  /// Which engine holds this store.
  public var dialect: SQLDialect { engine.dialect }

  /// Opens (creating if needed) the database at `path` in WAL mode and migrates it forward.
  public convenience init(path: String, node: String = Store.defaultNode) throws {
    try self.init(path: path, checkpoints: CheckpointPolicy(), node: node)
  }

  /// The same, with the log copied into the file when `checkpoints` says.
  @_spi(Testing) public init(path: String, checkpoints: CheckpointPolicy, node: String = Store.defaultNode) throws {
    self.node = node
    lease = Store.defaultLease
    fence = nil
    var configuration = Configuration()
    configuration.busyMode = .timeout(10)
    // More readers than the control socket's expensive reads run at once (4), so that `status`
    // and delivery never wait for a connection behind them.
    configuration.maximumReaderCount = 8
    let checkpointer = Checkpointer(path: path, policy: checkpoints)
    // WAL with synchronous=NORMAL: a commit survives the process being killed; only a power
    // loss can undo the last few, and then a `sent` comes back as `planned` (sent again under
    // the same key and Message-ID) and a journaled notice is planned again (its key is the
    // same). Nothing is lost, and each outcome costs no fsync of its own.
    configuration.prepareDatabase { db in
      try db.execute(sql: "PRAGMA synchronous = NORMAL")
      if !db.configuration.readonly {
        checkpointer.install(on: db.sqliteConnection)
        // A burst's log (about 10 KB a notice) is cut back to SQLite's usual 4 MiB at the
        // first write after it has been copied, not kept on disk at its largest.
        try db.execute(sql: "PRAGMA journal_size_limit = 4194304")
      }
    }
    self.checkpointer = checkpointer
    do {
      let pool = try DatabasePool(path: path, configuration: configuration)
      try Store.migrator.migrate(pool)
      engine = SQLiteEngine(pool)
    } catch {
      checkpointer.stop()
      throw error
    }
  }

  /// A private database in memory, for tests and `simulate`.
  public init() throws {
    node = Store.defaultNode
    lease = Store.defaultLease
    fence = nil
    let queue = try DatabaseQueue()
    try Store.migrator.migrate(queue)
    engine = SQLiteEngine(queue)
    checkpointer = nil
  }

  /// A PostgreSQL database (`postgresql://USER@HOST:PORT/DB?sslmode=…`, libpq's own syntax,
  /// TLS settings by libpq's names), migrated forward; `password` from the deployment's
  /// credentials file, or nil for libpq's own (a `.pgpass`, peer authentication).
  public init(
    postgresql url: String, password: String?, node: String = Store.defaultNode,
    lease: TimeInterval = Store.defaultLease
  ) throws {
    self.node = node
    self.lease = lease
    // Several daemons may share it: only the leader of the moment may plan (`Fence`).
    fence = Locked(nil)
    let engine = try PostgresEngine(url: url, password: password, node: node, lease: lease)
    try Store.migratePostgres(engine)
    self.engine = engine
    checkpointer = nil
  }

  deinit {
    checkpointer?.stop()
    engine.close()
  }

  /// How many times the log has been copied into the file after the writer paused.
  @_spi(Testing) public var checkpointsAfterPause: Int { checkpointer?.completed ?? 0 }

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
    migrator.registerMigration("v4-retractions-silences") { db in
      // A retracted fact stays, marked, for the audit; a silence is kept after it ends. The
      // journal's states gain `silenced` (SQLite cannot change a CHECK in place: the table is
      // copied). `replan` holds the obligations a retraction reopened until a pass plans them.
      let columns = """
        key, channel, schema, rule, unit, period, step, reason, scheduled_at, state, attempts, next_attempt_at,
        last_error, receipt, decision, message, pending, subject, created_at, updated_at, sent_at
        """
      try db.execute(
        sql: """
          ALTER TABLE fact ADD COLUMN retracted_at REAL;
          ALTER TABLE fact ADD COLUMN retracted_by_uid INTEGER;
          ALTER TABLE fact ADD COLUMN retraction_reason TEXT;
          CREATE TABLE silence (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            rule TEXT,
            unit TEXT,
            period TEXT,
            starts_at REAL NOT NULL,
            until REAL NOT NULL,
            reason TEXT NOT NULL,
            created_at REAL NOT NULL,
            created_by_uid INTEGER,
            expired_at REAL,
            expired_by_uid INTEGER,
            CHECK (rule IS NOT NULL OR unit IS NOT NULL)
          );
          CREATE TABLE replan (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            rule TEXT NOT NULL,
            unit TEXT NOT NULL,
            period TEXT NOT NULL,
            since REAL NOT NULL
          );
          CREATE TABLE journal_v4 (
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
              CHECK (state IN ('planned', 'sending', 'sent', 'failed', 'dead', 'suppressed', 'superseded', 'silenced')),
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
          INSERT INTO journal_v4 (\(columns)) SELECT \(columns) FROM journal;
          DROP TABLE journal;
          ALTER TABLE journal_v4 RENAME TO journal;
          CREATE INDEX journal_due ON journal (channel, state, next_attempt_at);
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
    migrator.registerMigration("v5-ready-index") { db in
      // The rows delivery may claim, in the order it claims them, with what decides whether one is
      // due: a claim reads the first few entries of this index and no row it does not take, and
      // "when is the next one due" reads the index alone, however large the journal of sent
      // notices grows.
      try db.execute(
        sql: """
          CREATE INDEX journal_ready ON journal (channel, scheduled_at, key, state, next_attempt_at)
            WHERE state IN ('planned', 'failed', 'silenced');
          """)
    }
    migrator.registerMigration("v6-claim-index") { db in
      // One index for delivery, led by state: a claim reads each claimable state's rows in claim
      // order and stops at its limit, and the state counts and channel health read it too. The
      // partial index it replaces cost every outcome 60–80 µs, its update changing the state the
      // index's condition names (bench/PROFILE-delivery.md); journal_due is its prefix.
      try db.execute(
        sql: """
          DROP INDEX journal_ready;
          DROP INDEX journal_due;
          CREATE INDEX journal_claim ON journal (channel, state, scheduled_at, key, next_attempt_at);
          """)
    }
    migrator.registerMigration("v7-rejudge") { db in
      // One mechanism for every correction: `rejudge` holds what a correction asks to judge again
      // (a rule, a unit with the units above it, a period, any of them) from its instant on, until
      // a pass has; a silence's end is one, written when the silence is. It replaces `replan`,
      // which only retractions wrote. `digest_item` says which rungs each digest carries, to whom,
      // and, once sent, whether each was still in it: who has heard a rung is read from here and
      // from the rung's own rows.
      try db.execute(
        sql: """
          CREATE TABLE rejudge (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            rule TEXT,
            unit TEXT,
            period TEXT,
            at REAL NOT NULL,
            cause TEXT NOT NULL
          );
          INSERT INTO rejudge (rule, unit, period, at, cause)
            SELECT rule, unit, period, since, 'a fact retracted' FROM replan ORDER BY id;
          DROP TABLE replan;
          CREATE TABLE digest_item (
            digest TEXT NOT NULL,
            channel TEXT NOT NULL,
            rung TEXT NOT NULL,
            revision INTEGER NOT NULL,
            address TEXT NOT NULL,
            included INTEGER,
            PRIMARY KEY (digest, channel, rung)
          );
          CREATE INDEX digest_item_rung ON digest_item (rung, channel);
          """)
      // Silences still to end end as one: their end is judged again like any correction. One that
      // has ended was judged when it did.
      try db.execute(
        sql: """
          INSERT INTO rejudge (rule, unit, period, at, cause)
            SELECT rule, unit, period, MIN(until, COALESCE(expired_at, until)), 'silence ' || id || ' ended'
            FROM silence WHERE MIN(until, COALESCE(expired_at, until)) > CAST(strftime('%s', 'now') AS REAL)
            ORDER BY id
          """)
    }
    migrator.registerMigration("v8-queue-age") { db in
      // A notice's age, which bounds its retries, counts from when it was journaled, less the time
      // it was held for the send window or a silence: `waited` is that time so far, `held_since`
      // when the hold now running began (NULL when none is). A row waiting now has waited since
      // it was last written; every other row has waited nothing.
      try db.execute(
        sql: """
          ALTER TABLE journal ADD COLUMN waited REAL NOT NULL DEFAULT 0;
          ALTER TABLE journal ADD COLUMN held_since REAL;
          UPDATE journal SET held_since = updated_at
            WHERE state = 'silenced' OR (state = 'planned' AND next_attempt_at IS NOT NULL);
          """)
    }
    migrator.registerMigration("v9-claims") { db in
      // A unit's own word (`claim`, `request`) and the verdict on it (`returned`) are facts: the
      // kind's CHECK is widened, which SQLite does only by building the table again. Who
      // recorded a fact is kept as a name too (an officer's account, `unit` for a link, the Unix
      // user through the socket); the rows before it keep their uid and no name.
      try db.execute(
        sql: """
          CREATE TABLE fact_v9 (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            kind TEXT NOT NULL CHECK (kind IN ('report', 'budget', 'extension', 'exemption', 'claim', 'request',
                                               'returned')),
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
            source TEXT NOT NULL,
            retracted_at REAL,
            retracted_by_uid INTEGER,
            retraction_reason TEXT,
            recorded_by TEXT
          );
          INSERT INTO fact_v9 (id, kind, unit, rule, period, at, reference, amount, due, decided_by, reason,
                               recorded_at, recorded_by_uid, source, retracted_at, retracted_by_uid,
                               retraction_reason)
            SELECT id, kind, unit, rule, period, at, reference, amount, due, decided_by, reason, recorded_at,
                   recorded_by_uid, source, retracted_at, retracted_by_uid, retraction_reason
            FROM fact ORDER BY id;
          DROP TABLE fact;
          ALTER TABLE fact_v9 RENAME TO fact;
          CREATE INDEX fact_obligation ON fact (rule, period, unit);
          """)
    }
    migrator.registerMigration("v10-accounts", migrate: Store.createAccounts)
    migrator.registerMigration("v11-cluster") { db in try db.execute(sql: Store.clusterMigration) }
    return migrator
  }

  // MARK: - Facts

  /// Who recorded a fact and how: kept beside it for the audit.
  public struct Provenance: Sendable, Hashable {
    public let uid: UInt32?
    /// `socket`, `import FILE`, `link` (a unit through its signed link), `desk` (an officer).
    public let source: String
    /// Who, by name: the officer's account, `unit` for a link, the Unix user through the socket.
    public let name: String?

    public init(uid: UInt32?, source: String, name: String? = nil) {
      self.uid = uid
      self.source = source
      self.name = name
    }
  }

  /// Records facts; they are never rewritten or removed, so a reorganised directory or an
  /// edited rule loses none of them. A fact already recorded (every field the same, whoever
  /// recorded it and when) is not recorded again: a `record` or an `import` repeated is a no-op.
  /// Returns the facts recorded now, in order. The facts at the indices in `undated` were
  /// stamped with the time they were sent: one already recorded with every other field the
  /// same, at whatever time, is the same fact.
  @discardableResult
  public func record(
    _ facts: [Fact], by provenance: Provenance, now: Date, undated: Set<Int> = []
  ) throws -> [Fact] {
    try engine.write { db in
      var recorded: [Fact] = []
      for (index, fact) in facts.enumerated() {
        let fields: SQLArguments = [
          fact.kind.rawValue, fact.unitID, fact.ruleID, fact.period, fact.at?.timeIntervalSince1970, fact.reference,
          fact.amount, fact.due?.description, fact.decidedBy, fact.reason,
        ]
        let anyTime = undated.contains(index)
        let known = try db.fetchOne(
          Bool.self,
          sql: """
            SELECT EXISTS (SELECT 1 FROM fact WHERE kind = ?1 AND unit = ?2 AND rule = ?3 AND period = ?4
              AND (?11 OR at IS NOT DISTINCT FROM ?5) AND reference IS NOT DISTINCT FROM ?6
              AND amount IS NOT DISTINCT FROM ?7 AND due IS NOT DISTINCT FROM ?8 AND decided_by IS NOT DISTINCT FROM ?9
              AND reason IS NOT DISTINCT FROM ?10 AND retracted_at IS NULL)
            """, arguments: fields + [anyTime])
        if known == true { continue }
        try db.execute(
          sql: """
            INSERT INTO fact (kind, unit, rule, period, at, reference, amount, due, decided_by, reason,
                              recorded_at, recorded_by_uid, source, recorded_by)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """,
          arguments: fields + [
            now.timeIntervalSince1970, provenance.uid.map { Int64($0) }, provenance.source, provenance.name,
          ])
        recorded.append(fact)
      }
      try Store.factsRecorded(recorded, now: now, in: db)
      return recorded
    }
  }

  /// What recording facts writes besides them, in their transaction: the inputs' version, and
  /// the obligations to judge again.
  static func factsRecorded(_ recorded: [Fact], now: Date, in db: any SQLSession) throws {
    if !recorded.isEmpty {
      try Store.inputsChanged(db)
      // Every obligation of the unit for the period is judged again, and those above it: an
      // extension moves a ladder, a report closes one, a child's report counts for its parent.
      var scopes: [RejudgeScope] = []
      for fact in recorded {
        let scope = RejudgeScope(rule: nil, unit: fact.unitID, period: fact.period)
        if !scopes.contains(scope) { scopes.append(scope) }
      }
      for scope in scopes { try Store.rejudge(scope, at: now, cause: "a fact recorded", in: db) }
    }
  }

  /// Records the unit's word (a `claim` or a `request`) unless the same is already waiting: one
  /// with the same reference, document date, asked day and reason, recorded after the latest
  /// `returned` of the obligation. A form submitted twice is one claim; the same claim made again
  /// after the Department returned it is a new one. Returns the fact waiting, and whether it was
  /// recorded now.
  public func recordUnitsWord(
    _ fact: Fact, by provenance: Provenance, now: Date
  ) throws -> (
    fact: RecordedFact, recorded: Bool
  ) {
    precondition(fact.kind == .claim || fact.kind == .request, "only a unit's claim or request")
    return try engine.write { db in
      let existing = try db.fetchOne(
        sql: """
          SELECT * FROM fact WHERE kind = ?1 AND unit = ?2 AND rule = ?3 AND period = ?4 AND reference IS NOT DISTINCT FROM ?5
            AND due IS NOT DISTINCT FROM ?6 AND reason IS NOT DISTINCT FROM ?7 AND retracted_at IS NULL
            AND id > COALESCE((SELECT MAX(id) FROM fact WHERE kind = 'returned' AND unit = ?2 AND rule = ?3
                                AND period = ?4 AND retracted_at IS NULL), 0)
          ORDER BY id DESC LIMIT 1
          """,
        arguments: [
          fact.kind.rawValue, fact.unitID, fact.ruleID, fact.period, fact.reference, fact.due?.description,
          fact.reason,
        ])
      if let existing { return (Store.recordedFact(existing), false) }
      return (try Store.insertWord(fact, by: provenance, now: now, in: db), true)
    }
  }

  /// One fact of the unit's word or of a verdict on it, inserted with its re-judge rows in the
  /// caller's transaction, read back as listed.
  static func insertWord(
    _ fact: Fact, by provenance: Provenance, now: Date, in db: any SQLSession
  ) throws -> RecordedFact {
    let id = try db.fetchOne(
      Int64.self,
      sql: """
        INSERT INTO fact (kind, unit, rule, period, at, reference, amount, due, decided_by, reason,
                          recorded_at, recorded_by_uid, source, recorded_by)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id
        """,
      arguments: [
        fact.kind.rawValue, fact.unitID, fact.ruleID, fact.period, fact.at?.timeIntervalSince1970, fact.reference,
        fact.amount, fact.due?.description, fact.decidedBy, fact.reason, now.timeIntervalSince1970,
        provenance.uid.map { Int64($0) }, provenance.source, provenance.name,
      ])!
    try Store.factsRecorded([fact], now: now, in: db)
    return Store.recordedFact(try db.fetchOne(sql: "SELECT * FROM fact WHERE id = ?", arguments: [id])!)
  }

  public enum VerdictError: Error, Equatable {
    /// A verdict (or a report, extension or exemption) was recorded for the obligation after the
    /// claim or request: another officer answered it first.
    case alreadyAnswered
  }

  /// Records the Department's verdict on the unit's word (fact `answering`): the `report` or
  /// `extension` that accepts it, or the `returned` that refuses it. Refused when something
  /// that settles the obligation's word was recorded after it, so that two officers deciding at
  /// once record one verdict, and the unit hears of one.
  public func recordVerdict(
    _ fact: Fact, answering id: Int64, by provenance: Provenance, now: Date
  ) throws -> RecordedFact {
    try engine.write { db in
      let answered = try db.fetchOne(
        Bool.self,
        sql: """
          SELECT EXISTS (SELECT 1 FROM fact WHERE unit = ?1 AND rule = ?2 AND period = ?3 AND id > ?4
            AND kind IN ('returned', 'report', 'extension', 'exemption') AND retracted_at IS NULL)
          """, arguments: [fact.unitID, fact.ruleID, fact.period, id])
      if answered == true { throw VerdictError.alreadyAnswered }
      return try Store.insertWord(fact, by: provenance, now: now, in: db)
    }
  }

  /// The facts in force: every one recorded and not retracted, in the order they were recorded.
  public func facts() throws -> [Fact] {
    try engine.read { db in
      try db.fetchAll(sql: "SELECT * FROM fact WHERE retracted_at IS NULL ORDER BY id").map(Store.fact)
    }
  }

  static func fact(_ row: SQLRow) -> Fact {
    Fact(
      kind: Fact.Kind(rawValue: row["kind"]) ?? .report, unitID: row["unit"], ruleID: row["rule"],
      period: row["period"], at: (row["at"] as Double?).map { Date(timeIntervalSince1970: $0) },
      reference: row["reference"], amount: row["amount"],
      due: (row["due"] as String?).flatMap { LocalDate(iso: $0) },
      decidedBy: row["decided_by"], reason: row["reason"])
  }

  /// A fact as the audit shows it: with its id, who recorded it, and its retraction if any.
  public struct RecordedFact: Sendable {
    public let id: Int64
    public let fact: Fact
    public let recordedAt: Date
    public let recordedBy: UInt32?
    public let source: String
    /// Who recorded it, by name; nil for a fact recorded before names were kept.
    public let recordedByName: String?
    public let retraction: Retraction?

    public struct Retraction: Sendable {
      public let at: Date
      public let by: UInt32?
      public let reason: String
    }
  }

  /// Recorded facts, oldest first, filtered by whichever of unit, rule and period are given;
  /// retracted ones too when `retracted` is true.
  public func recordedFacts(
    unit: String? = nil, rule: String? = nil, period: String? = nil, retracted: Bool = false
  ) throws -> [RecordedFact] {
    try engine.read { db in
      try db.fetchAll(
        sql: """
          SELECT * FROM fact WHERE (CAST(?1 AS TEXT) IS NULL OR unit = ?1) AND (CAST(?2 AS TEXT) IS NULL OR rule = ?2)
            AND (CAST(?3 AS TEXT) IS NULL OR period = ?3)
            AND (?4 OR retracted_at IS NULL)
          ORDER BY id
          """, arguments: [unit, rule, period, retracted]
      ).map(Store.recordedFact)
    }
  }

  static func recordedFact(_ row: SQLRow) -> RecordedFact {
    let uid = (row["recorded_by_uid"] as Int64?).flatMap { UInt32(exactly: $0) }
    let retraction = (row["retracted_at"] as Double?).map {
      RecordedFact.Retraction(
        at: Date(timeIntervalSince1970: $0), by: (row["retracted_by_uid"] as Int64?).flatMap { UInt32(exactly: $0) },
        reason: row["retraction_reason"] ?? "")
    }
    return RecordedFact(
      id: row["id"], fact: fact(row), recordedAt: Date(timeIntervalSince1970: row["recorded_at"]), recordedBy: uid,
      source: row["source"], recordedByName: row["recorded_by"], retraction: retraction)
  }

  public enum RetractionError: Error, Equatable {
    case noSuchFact
    case alreadyRetracted(at: Date)
  }

  /// Takes a fact back: it stays in the audit trail, marked, and stops counting. The obligations it
  /// spoke of are judged again at once (`rejudge`): the rungs it had stopped are sent as of now to
  /// whoever has not heard them. Returns the fact as it now stands.
  @discardableResult
  public func retract(id: Int64, by uid: UInt32?, reason: String, now: Date) throws -> RecordedFact {
    try retract(ids: [id], by: uid, reason: reason, now: now)[0]
  }

  /// Takes several facts back in one transaction, all or none: one pass judges them together.
  @discardableResult
  public func retract(ids: [Int64], by uid: UInt32?, reason: String, now: Date) throws -> [RecordedFact] {
    try engine.write { db in
      var retracted: [RecordedFact] = []
      for id in ids {
        guard let row = try db.fetchOne(sql: "SELECT * FROM fact WHERE id = ?", arguments: [id]) else {
          throw RetractionError.noSuchFact
        }
        if let at = row["retracted_at"] as Double? {
          throw RetractionError.alreadyRetracted(at: Date(timeIntervalSince1970: at))
        }
        try db.execute(
          sql: "UPDATE fact SET retracted_at = ?, retracted_by_uid = ?, retraction_reason = ? WHERE id = ?",
          arguments: [now.timeIntervalSince1970, uid.map { Int64($0) }, reason, id])
        try Store.rejudge(
          RejudgeScope(rule: nil, unit: row["unit"] as String, period: row["period"] as String), at: now,
          cause: "fact \(id) retracted", in: db)
        retracted.append(
          Store.recordedFact(try db.fetchOne(sql: "SELECT * FROM fact WHERE id = ?", arguments: [id])!))
      }
      if !retracted.isEmpty { try Store.inputsChanged(db) }
      return retracted
    }
  }

  /// What an engine is made from, read at one instant so that they agree: the facts in force and
  /// the silences.
  public struct PlanningInputs: Sendable {
    public let facts: [Fact]
    public let silences: [Silence]
    /// Changes whenever either does: a cached engine is stale once it differs.
    public let version: Int64
  }

  /// A correction waiting to be judged again.
  public struct Rejudge: Sendable, Hashable {
    public let id: Int64
    public let scope: RejudgeScope
    public let at: Date
    /// Why: `a fact recorded`, `fact 12 retracted`, `silence 3 ended`.
    public let cause: String
  }

  public func planningInputs() throws -> PlanningInputs {
    try engine.read { db in
      PlanningInputs(
        facts: try db.fetchAll(sql: "SELECT * FROM fact WHERE retracted_at IS NULL ORDER BY id").map(Store.fact),
        silences: try db.fetchAll(sql: "SELECT * FROM silence ORDER BY id").map(Store.silence),
        version: try Store.inputsVersion(db))
    }
  }

  /// The corrections due to be judged again by `now` that no pass has judged yet, oldest first,
  /// with the ids `recordPass` clears. Read afresh by every pass: one falls due with time (a
  /// silence's end) without any other input changing.
  public func rejudges(dueBy now: Date = .distantFuture) throws -> [Rejudge] {
    try engine.read { try Store.rejudges(dueBy: now, in: $0) }
  }

  static func rejudges(dueBy now: Date, in db: any SQLSession) throws -> [Rejudge] {
    try db.fetchAll(sql: "SELECT * FROM rejudge WHERE at <= ? ORDER BY id", arguments: [now.timeIntervalSince1970])
      .map { row in
        Rejudge(
          id: row["id"], scope: RejudgeScope(rule: row["rule"], unit: row["unit"], period: row["period"]),
          at: Date(timeIntervalSince1970: row["at"]), cause: row["cause"])
      }
  }

  /// Asks for the obligations in `scope` to be judged again at `at` (now, or a silence's end).
  static func rejudge(_ scope: RejudgeScope, at: Date, cause: String, in db: any SQLSession) throws {
    try db.execute(
      sql: "INSERT INTO rejudge (rule, unit, period, at, cause) VALUES (?, ?, ?, ?, ?)",
      arguments: [scope.rule, scope.unit, scope.period, at.timeIntervalSince1970, cause])
  }

  /// See `PlanningInputs.version`.
  public func inputsVersion() throws -> Int64 { try engine.read { try Store.inputsVersion($0) } }

  static func inputsVersion(_ db: any SQLSession) throws -> Int64 {
    // Asked before every judgement at the send instant: the statement is compiled once.
    try db.fetchOne(String.self, sql: "SELECT value FROM meta WHERE name = 'inputs_version'").flatMap { Int64($0) } ?? 0
  }

  static func inputsChanged(_ db: any SQLSession) throws {
    try db.execute(
      sql: """
        INSERT INTO meta (name, value) VALUES ('inputs_version', '1')
        ON CONFLICT(name) DO UPDATE SET value = CAST(CAST(meta.value AS INTEGER) + 1 AS TEXT)
        """)
  }

  // MARK: - Silences

  /// Every silence, ended ones too, oldest first.
  public func silences() throws -> [Silence] {
    try engine.read { db in try db.fetchAll(sql: "SELECT * FROM silence ORDER BY id").map(Store.silence) }
  }

  static func silence(_ row: SQLRow) -> Silence {
    Silence(
      id: row["id"], ruleID: row["rule"], unitID: row["unit"], period: row["period"],
      starts: Date(timeIntervalSince1970: row["starts_at"]), until: Date(timeIntervalSince1970: row["until"]),
      expiredAt: (row["expired_at"] as Double?).map { Date(timeIntervalSince1970: $0) }, reason: row["reason"],
      createdBy: (row["created_by_uid"] as Int64?).flatMap { UInt32(exactly: $0) })
  }

  /// Adds a silence from `now` to `until`; returns it with its id.
  public func addSilence(
    rule: String?, unit: String?, period: String?, until: Date, reason: String, by uid: UInt32?, now: Date
  ) throws -> Silence {
    try engine.write { db in
      let id = try db.fetchOne(
        Int64.self,
        sql: """
          INSERT INTO silence (rule, unit, period, starts_at, until, reason, created_at, created_by_uid)
          VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id
          """,
        arguments: [
          rule, unit, period, now.timeIntervalSince1970, until.timeIntervalSince1970, reason, now.timeIntervalSince1970,
          uid.map { Int64($0) },
        ])!
      try Store.inputsChanged(db)
      // Its end is a correction like any other: what it held is judged again then.
      try Store.rejudge(
        RejudgeScope(rule: rule, unit: unit, period: period), at: until, cause: "silence \(id) ended", in: db)
      return Silence(
        id: id, ruleID: rule, unitID: unit, period: period, starts: now, until: until, reason: reason, createdBy: uid)
    }
  }

  public enum SilenceError: Error, Equatable {
    case noSuchSilence
    case alreadyEnded(at: Date)
  }

  /// Ends a silence now. What it held is judged again at once: notices still owed go out.
  @discardableResult
  public func expireSilence(id: Int64, by uid: UInt32?, now: Date) throws -> Silence {
    try engine.write { db in
      guard let row = try db.fetchOne(sql: "SELECT * FROM silence WHERE id = ?", arguments: [id]) else {
        throw SilenceError.noSuchSilence
      }
      let silence = Store.silence(row)
      guard silence.ends > now else { throw SilenceError.alreadyEnded(at: silence.ends) }
      try db.execute(
        sql: "UPDATE silence SET expired_at = ?, expired_by_uid = ? WHERE id = ?",
        arguments: [now.timeIntervalSince1970, uid.map { Int64($0) }, id])
      try Store.inputsChanged(db)
      try Store.rejudge(
        RejudgeScope(rule: silence.ruleID, unit: silence.unitID, period: silence.period), at: now,
        cause: "silence \(id) expired", in: db)
      // Held notices wait for the end the silence had; they are due now.
      try db.execute(
        sql:
          "UPDATE journal SET next_attempt_at = ?1, updated_at = ?1 WHERE state = 'silenced' AND next_attempt_at > ?1",
        arguments: [now.timeIntervalSince1970])
      return Store.silence(try db.fetchOne(sql: "SELECT * FROM silence WHERE id = ?", arguments: [id])!)
    }
  }

  // MARK: - Bookkeeping

  /// The instant of the last completed planning pass: the `since` of the next one.
  public func lastPass() throws -> Date? {
    try engine.read { db in
      try db.fetchOne(String.self, sql: "SELECT value FROM meta WHERE name = 'last_pass'").flatMap(Double.init)
        .map { Date(timeIntervalSince1970: $0) }
    }
  }

  /// Records a completed pass. `rulesBehind` holds, for each rule that could not be judged, the
  /// `since` its next pass must plan from (so that a failing program delays its notices but does
  /// not lose them). `rejudged` are the corrections the pass judged again (`PlanningInputs`),
  /// cleared now; `configuration` is the hash of the configuration it planned with.
  public func recordPass(
    at instant: Date, rulesBehind: [String: Date] = [:], rejudged: [Int64] = [], configuration: String? = nil
  ) throws {
    let behind = rulesBehind.mapValues(\.timeIntervalSince1970)
    let json = String(decoding: try JSONEncoder().encode(behind), as: UTF8.self)
    try engine.write { db in
      try checkFence(db)
      for id in rejudged { try db.execute(sql: "DELETE FROM rejudge WHERE id = ?", arguments: [id]) }
      let upsert =
        "INSERT INTO meta (name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value"
      try db.execute(sql: upsert, arguments: ["last_pass", String(instant.timeIntervalSince1970)])
      try db.execute(sql: upsert, arguments: ["rules_behind", json])
      if let configuration { try db.execute(sql: upsert, arguments: ["planned_configuration", configuration]) }
    }
  }

  /// The hash of the configuration the last pass planned with; nil before any pass recorded one.
  public func plannedConfiguration() throws -> String? {
    try engine.read { db in
      try db.fetchOne(String.self, sql: "SELECT value FROM meta WHERE name = 'planned_configuration'")
    }
  }

  /// What the last pass recorded as `rulesBehind`.
  public func rulesBehind() throws -> [String: Date] {
    try engine.read { db in
      guard let json = try db.fetchOne(String.self, sql: "SELECT value FROM meta WHERE name = 'rules_behind'") else {
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
    try engine.write { db in try db.execute(sql: sql, arguments: SQLArguments(arguments.map { $0 })) }
  }

  public func value(sql: String, arguments: [String?]) throws -> String? {
    try engine.read { db in try db.fetchOne(String.self, sql: sql, arguments: SQLArguments(arguments.map { $0 })) }
  }

  /// A store as the release before claims left it (migrated up to `v8-queue-age`), holding a
  /// report recorded through the socket and an extension retracted since.
  public static func writeV8Store(at path: String) throws {
    let queue = try DatabaseQueue(path: path)
    try migrator.migrate(queue, upTo: "v8-queue-age")
    try queue.write { db in
      try db.execute(
        sql: """
          INSERT INTO fact (kind, unit, rule, period, at, reference, recorded_at, recorded_by_uid, source)
            VALUES ('report', '51-STP', 'iso-annual-report', '2026', 1794800000, '123/BC-STP', 1794800100, 1000,
                    'socket');
          INSERT INTO fact (kind, unit, rule, period, due, decided_by, reason, recorded_at, recorded_by_uid, source,
                            retracted_at, retracted_by_uid, retraction_reason)
            VALUES ('extension', '51-SNV', 'iso-annual-report', '2026', '2026-11-30', 'Giám đốc Sở', 'bão',
                    1794800200, 1000, 'import facts.csv', 1794800300, 1001, 'wrong unit');
          """)
    }
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
