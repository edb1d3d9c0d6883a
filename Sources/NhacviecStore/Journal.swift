public import Foundation
public import NhacviecCore

/// One notice through one channel, as the journal holds it.
public struct JournalEntry: Sendable {
  /// What was decided: a typed decision, rendered when it is sent; or, for a notice journaled by
  /// nhacviec 0.1 before the journal held decisions, the message it rendered then.
  public enum Payload: Sendable {
    case decided(NoticeDecision)
    case rendered(OutgoingMessage)
  }

  public let key: String
  public let channel: String
  public let payload: Payload
  public let rule: String
  public let unit: String
  public let period: String
  public let step: String
  public let reason: String
  public let scheduledAt: Date
  public let state: NoticeState
  /// Attempts made: requests that reached a channel, not claims.
  public let attempts: Int
  public let nextAttemptAt: Date?
  public let lastError: String?
  public let receipt: String?
  /// Addresses not reached yet; nil for all of them.
  public let pending: [String]?
  /// The subject of the last message sent for it; nil before any.
  public let subject: String?
  public let createdAt: Date
  public let sentAt: Date?
  /// Who acknowledged it dead (uid) and when; nil while nobody has.
  public var acknowledgedBy: UInt32? = nil
  public var acknowledgedAt: Date? = nil
  /// How long it was held for the send window or a silence before the hold running now, if any.
  public var waited: TimeInterval = 0
  /// When the hold running now (for the window or a silence) began; nil when none is.
  public var heldSince: Date? = nil

  /// How long the notice has been in the queue at `now`, as its retry policy's `max_age` counts:
  /// from when it was journaled, less the time it was held for the send window or a silence.
  public func age(at now: Date) -> TimeInterval {
    let held = waited + (heldSince.map { max(0, now.timeIntervalSince($0)) } ?? 0)
    return max(0, now.timeIntervalSince(createdAt) - held)
  }

  /// Every address the notice is for.
  public var addresses: [String] {
    switch payload {
    case .decided(let decision): return decision.addressees.map(\.address)
    case .rendered(let message): return message.to.map(\.address)
    }
  }
}

/// A journal row's identity: its key through one channel.
public struct JournalKey: Hashable, Sendable {
  public let key: String
  public let channel: String

  public init(key: String, channel: String) {
    self.key = key
    self.channel = channel
  }
}

/// What the delivery stage decided for a claimed notice, recorded as it comes.
public struct JournalOutcome: Sendable {
  public enum Change: Sendable {
    /// Reached every address still pending (those refused for good are in `error`).
    case sent(receipt: String, error: String?)
    /// Some addresses still to reach (or all): another attempt at `retryAt`.
    case failed(error: String, retryAt: Date)
    case dead(error: String)
    /// Not tried now: outside the send window, or its rule could not be judged.
    case deferred(until: Date, reason: String)
    /// No longer owed.
    case suppressed(reason: String)
    /// Held by a silence until `until`, then judged again.
    case silenced(until: Date, reason: String)
  }

  public let entry: JournalKey
  public let change: Change
  /// Whether a request was made: only then does it count as an attempt.
  public let attempted: Bool
  /// Addresses still to reach after this attempt; nil for all.
  public let pending: [String]?
  /// The attempt's record for the notice's history: each address and what it came to.
  public let reached: [String: String]
  /// The subject of the message the attempt sent.
  public let subject: String?
  /// For a digest, the rungs its message carried (those still owed when it went): the others
  /// were not told, and a correction that reopens them sends them again.
  public let carried: [NoticeKey]?
  public let at: Date

  public init(
    entry: JournalKey, change: Change, attempted: Bool, pending: [String]?, reached: [String: String] = [:],
    subject: String? = nil, carried: [NoticeKey]? = nil, at: Date
  ) {
    self.entry = entry
    self.change = change
    self.attempted = attempted
    self.pending = pending
    self.reached = reached
    self.subject = subject
    self.carried = carried
    self.at = at
  }
}

/// One attempt in a notice's history.
public struct JournalAttempt: Sendable, Hashable, Codable {
  public let channel: String
  public let number: Int
  public let at: Date
  /// `sent`, `failed`, `dead`.
  public let outcome: String
  public let detail: String
  /// Each address and what became of it.
  public let reached: [String: String]
}

extension Store {
  static let decisionDecoder: JSONDecoder = {
    let decoder = JSONDecoder()
    decoder.dateDecodingStrategy = .secondsSince1970
    return decoder
  }()

  struct UnreadableRow: Error, CustomStringConvertible {
    let description: String
  }

  /// The columns `entry(_:)` reads, in the order it reads them: by position, since a row is read
  /// for every notice claimed and a lookup by name folds the name's case each time.
  static let entryColumns = """
    key, channel, schema, decision, message, state, pending, rule, unit, period, step, reason, scheduled_at, attempts,
    next_attempt_at, last_error, receipt, subject, created_at, sent_at, acknowledged_by, acknowledged_at, waited,
    held_since
    """

  /// A row of `entryColumns` as a `JournalEntry`; a row that cannot be read throws, and is dealt
  /// with alone.
  static func entry(_ row: SQLRow, known: (JournalKey) -> NoticeDecision? = { _ in nil }) throws -> JournalEntry {
    let schema: Int = row[2]
    let payload: JournalEntry.Payload
    switch schema {
    case NoticeDecision.schema:
      if let decision = known(JournalKey(key: row[0], channel: row[1])) {
        payload = .decided(decision)
        break
      }
      guard let text: String = row[3] else { throw UnreadableRow(description: "no decision") }
      payload = .decided(try decisionDecoder.decode(NoticeDecision.self, from: Data(text.utf8)))
    case 1:
      guard let text: String = row[4] else { throw UnreadableRow(description: "no message") }
      payload = .rendered(try decisionDecoder.decode(LegacyMessage.self, from: Data(text.utf8)).message)
    default:
      throw UnreadableRow(description: "journal row of schema \(schema), which this nhacviec does not read")
    }
    let stateName: String = row[5]
    guard let state = NoticeState(rawValue: stateName) else { throw UnreadableRow(description: "state \(stateName)") }
    let pending = (row[6] as String?).flatMap { try? JSONDecoder().decode([String].self, from: Data($0.utf8)) }
    return JournalEntry(
      key: row[0], channel: row[1], payload: payload, rule: row[7], unit: row[8], period: row[9], step: row[10],
      reason: row[11], scheduledAt: Date(timeIntervalSince1970: row[12]), state: state, attempts: row[13],
      nextAttemptAt: (row[14] as Double?).map { Date(timeIntervalSince1970: $0) }, lastError: row[15],
      receipt: row[16], pending: pending, subject: row[17], createdAt: Date(timeIntervalSince1970: row[18]),
      sentAt: (row[19] as Double?).map { Date(timeIntervalSince1970: $0) },
      acknowledgedBy: (row[20] as Int64?).map { UInt32(truncatingIfNeeded: $0) },
      acknowledgedAt: (row[21] as Double?).map { Date(timeIntervalSince1970: $0) }, waited: row[22],
      heldSince: (row[23] as Double?).map { Date(timeIntervalSince1970: $0) })
  }

  // MARK: - Writing decisions

  /// What journaling a pass's decisions came to.
  public struct Journaled: Sendable {
    /// The due decisions that were new: those delivery may be handed as they are
    /// (`claim(known:)`).
    public var inserted: [NoticeDecision] = []
    /// Decisions whose key the journal already held with something else in it (other addressees,
    /// other content): the journal's row stands, and each is counted (`journalConflicts`) and
    /// said in the log. The very same decision again is no conflict: re-planning after a crash
    /// decides it again, by design.
    public var conflicts: [Conflict] = []
  }

  public struct Conflict: Sendable, Hashable {
    public let key: String
    public let channel: String
    /// What the journal's row is: its state.
    public let state: String
  }

  /// Writes decisions that are not in the journal yet, `due` as planned, `superseded` as such and
  /// `silenced` as held until their silence ends; returns how many due ones were new. A key
  /// already there, in whatever state, is left alone: re-planning never sends a notice twice.
  @discardableResult
  public func journal(
    due: [NoticeDecision], superseded: [NoticeDecision] = [], silenced: [Plan.Held] = [], now: Date
  ) throws -> Int {
    try journalNew(due: due, superseded: superseded, silenced: silenced, now: now).inserted.count
  }

  /// `journal`, saying which due decisions were new and which met a conflict.
  public func journalNew(
    due: [NoticeDecision], superseded: [NoticeDecision] = [], silenced: [Plan.Held] = [], now: Date
  ) throws -> Journaled {
    try engine.write { db in
      try checkFence(db)
      let insert = """
        INSERT INTO journal
          (key, channel, schema, rule, unit, period, step, reason, scheduled_at, state, decision,
           next_attempt_at, last_error, created_at, updated_at, held_since)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT DO NOTHING
        """
      var result = Journaled()
      let rows: [(NoticeDecision, NoticeState, Plan.Held?)] =
        due.map { ($0, .planned, nil) } + superseded.map { ($0, .superseded, nil) }
        + silenced.map { ($0.decision, .silenced, $0) }
      for (decision, state, held) in rows {
        let json = try decision.json()
        let key = decision.noticeKey
        try db.execute(
          sql: insert,
          arguments: [
            decision.key, decision.channel, NoticeDecision.schema, key?.rule ?? "", key?.unit.description ?? "",
            key?.period.description ?? "", key?.step.description ?? "digest", decision.reason.rawValue,
            decision.scheduledAt.timeIntervalSince1970, state.rawValue, json, held?.silence.ends.timeIntervalSince1970,
            held?.reason, now.timeIntervalSince1970, now.timeIntervalSince1970,
            held == nil ? nil : now.timeIntervalSince1970,
          ])
        guard db.changesCount > 0 else {
          if let conflict = try Store.conflict(decision, in: db) { result.conflicts.append(conflict) }
          continue
        }
        if state == .planned { result.inserted.append(decision) }
        if case .digest(let items) = decision.content { try Store.writeItems(of: decision, items, in: db) }
      }
      if !result.conflicts.isEmpty {
        try db.execute(
          sql: """
            INSERT INTO meta (name, value) VALUES ('journal_conflicts', CAST(CAST(?1 AS INTEGER) AS TEXT))
            ON CONFLICT(name) DO UPDATE SET value = CAST(CAST(meta.value AS INTEGER) + CAST(?1 AS INTEGER) AS TEXT)
            """, arguments: [result.conflicts.count])
      }
      return result
    }
  }

  /// A decision whose key the journal holds: nil when the row says the same to the same people.
  static func conflict(_ decision: NoticeDecision, in db: any SQLSession) throws -> Conflict? {
    guard
      let row = try db.fetchOne(
        sql: "SELECT schema, decision, state FROM journal WHERE key = ? AND channel = ?",
        arguments: [decision.key, decision.channel])
    else { return nil }
    if (row[0] as Int) == NoticeDecision.schema, let text: String = row[1],
      let held = try? decisionDecoder.decode(NoticeDecision.self, from: Data(text.utf8)), held.saysTheSame(as: decision)
    {
      return nil
    }
    return Conflict(key: decision.key, channel: decision.channel, state: row[2])
  }

  /// Which rungs a digest carries, to whom: what `coverage` reads.
  static func writeItems(of digest: NoticeDecision, _ items: [NoticeContent.DigestItem], in db: any SQLSession) throws {
    let insert = """
      INSERT INTO digest_item (digest, channel, rung, revision, address) VALUES (?, ?, ?, ?, ?)
      ON CONFLICT DO NOTHING
      """
    let address = digest.addressees.first?.address ?? ""
    for item in items {
      for rung in item.rungs {
        try db.execute(
          sql: insert, arguments: [digest.key, digest.channel, rung.key.description, rung.revision, address])
      }
    }
  }

  /// Conflicts met since the journal was made (`journalNew`).
  public func journalConflicts() throws -> Int {
    try engine.read { db in
      try db.fetchOne(String.self, sql: "SELECT value FROM meta WHERE name = 'journal_conflicts'").flatMap { Int($0) }
        ?? 0
    }
  }

  /// Who has heard each of `rungs`, as the journal holds them: its own rows (every revision) and
  /// the digests that carried it. A notice sent or still under way (planned, being sent, failed
  /// and retrying, held by a silence) counts for its addressees; one suppressed, superseded or dead
  /// for nobody; a digest sent counts for a rung only if the rung was still in it when it went.
  public func coverage(of rungs: [Coverage.Rung]) throws -> Coverage {
    guard !rungs.isEmpty else { return Coverage() }
    return try engine.read { db in
      // The key and its revisions (`KEY#N`) are the range [KEY, KEY + "$"): `$` follows `#`, and
      // nothing else can follow a key's text. Read through the key's own index (`+channel` keeps
      // the planner from scanning the whole channel by the claim index instead).
      // What each row says of its revision and addressees, read by SQLite's JSON functions: a
      // configuration edited at 10,000 units asks of 80,000 rungs, and decoding each row's whole
      // decision took most of the time (bench/RESULTS-plan.md). A row of nhacviec 0.1 has no
      // decision: its rendered message's addressees, and no revision.
      // PostgreSQL reads the same with its own JSON functions.
      let own = db.pick(
        sqlite: """
          SELECT state, COALESCE(json_extract(decision, '$.revision'), 0),
            (SELECT group_concat(json_extract(value, '$.address'), char(10))
             FROM json_each(COALESCE(json_extract(decision, '$.addressees'), json_extract(message, '$.to'))))
          FROM journal WHERE key >= ?1 AND key < ?3 AND +channel = ?2
          """,
        postgresql: """
          SELECT state, COALESCE((decision::jsonb ->> 'revision')::bigint, 0),
            (SELECT string_agg(a ->> 'address', chr(10))
             FROM jsonb_array_elements(COALESCE(decision::jsonb -> 'addressees', message::jsonb -> 'to')) a)
          FROM journal WHERE key >= ?1 AND key < ?3 AND channel = ?2
          """)
      let carried = """
        SELECT i.revision, i.address, i.included, j.state FROM digest_item i
        JOIN journal j ON j.key = i.digest AND j.channel = i.channel
        WHERE i.rung = ? AND i.channel = ?
        """
      var result = Coverage()
      let live: Set<String> = ["planned", "sending", "failed", "silenced"]
      for rung in Set(rungs) {
        let text = rung.key.description
        var heard = Coverage.Heard(lastRevision: nil, addresses: [])
        func saw(_ revision: Int) { heard.lastRevision = max(heard.lastRevision ?? revision, revision) }
        for row in try db.fetchAll(sql: own, arguments: [text, rung.channel, text + "$"]) {
          let state: String = row[0]
          saw(row[1])
          guard live.contains(state) || state == "sent", let addresses: String = row[2] else { continue }
          for address in addresses.split(separator: "\n") { heard.addresses.insert(String(address)) }
        }
        for row in try db.fetchAll(sql: carried, arguments: [text, rung.channel]) {
          saw(row[0])
          let state: String = row[3]
          if live.contains(state) || (state == "sent" && (row[2] as Int?) == 1) { heard.addresses.insert(row[1]) }
        }
        result.rungs[rung] = heard
      }
      return result
    }
  }

  // MARK: - Delivery

  /// One write transaction of delivery's: `outcomes` recorded, then up to each claim's limit of
  /// its channel's notices claimed, so that the pages both touch are written once, and a claim
  /// never runs ahead of what has been recorded. Returns each channel's claimed notices.
  public func settle(
    _ outcomes: [JournalOutcome], claims: [(channel: String, limit: Int)] = [], now: Date,
    known: (JournalKey) -> NoticeDecision? = { _ in nil }
  ) throws -> [String: [JournalEntry]] {
    guard !outcomes.isEmpty || claims.contains(where: { $0.limit > 0 }) else { return [:] }
    return try engine.write { db in
      try Store.record(outcomes, node: node, in: db)
      var claimed: [String: [JournalEntry]] = [:]
      for (channel, limit) in claims where limit > 0 {
        let entries = try Store.claim(
          channel: channel, limit: limit, now: now, node: node, lease: lease, known: known, in: db)
        if !entries.isEmpty { claimed[channel] = entries }
      }
      return claimed
    }
  }

  /// Claims up to `limit` notices of one channel that may be attempted at `now`: see `settle`.
  public func claim(
    channel: String, limit: Int, now: Date, known: (JournalKey) -> NoticeDecision? = { _ in nil }
  ) throws -> [JournalEntry] {
    try settle([], claims: [(channel, limit)], now: now, known: known)[channel] ?? []
  }

  /// Records what became of claimed notices, many in one transaction: see `settle`.
  public func record(_ outcomes: [JournalOutcome]) throws {
    guard !outcomes.isEmpty else { return }
    try engine.write { try Store.record(outcomes, node: node, in: $0) }
  }

  /// Claims up to `limit` notices of one channel that may be attempted at `now` (planned and
  /// due, failed or silenced and due for another attempt), oldest first, in one statement (each
  /// claimable state read in claim order from `journal_claim`, so a claim never sorts the
  /// queue): each moves to `sending`, so that no other claim can take it. A row that cannot be
  /// read goes dead alone, with why.
  ///
  /// `known` may give a row's decision as it was journaled, which then is not decoded again.
  static func claim(
    channel: String, limit: Int, now: Date, node: String, lease: TimeInterval,
    known: (JournalKey) -> NoticeDecision?, in db: any SQLSession
  ) throws -> [JournalEntry] {
    let rows = try db.fetchAll(
      sql: db.pick(
        sqlite: """
          UPDATE journal SET state = 'sending', updated_at = ?1, claimed_by = ?4,
            lease_until = \(Store.databaseNow(.sqlite)) + ?5,
            waited = waited + COALESCE(MAX(0, ?1 - held_since), 0), held_since = NULL
          WHERE rowid IN (
            SELECT rowid FROM (
              SELECT * FROM (
                SELECT rowid, scheduled_at, key FROM journal
                WHERE channel = ?2 AND state = 'planned' AND (next_attempt_at IS NULL OR next_attempt_at <= ?1)
                ORDER BY scheduled_at, key LIMIT ?3)
              UNION ALL
              SELECT * FROM (
                SELECT rowid, scheduled_at, key FROM journal
                WHERE channel = ?2 AND state = 'failed' AND next_attempt_at <= ?1
                ORDER BY scheduled_at, key LIMIT ?3)
              UNION ALL
              SELECT * FROM (
                SELECT rowid, scheduled_at, key FROM journal
                WHERE channel = ?2 AND state = 'silenced' AND next_attempt_at <= ?1
                ORDER BY scheduled_at, key LIMIT ?3))
            ORDER BY scheduled_at, key LIMIT ?3)
          RETURNING \(Store.entryColumns)
          """,
        // Rows another daemon is claiming at this instant are passed over, not waited for.
        postgresql: """
          UPDATE journal SET state = 'sending', updated_at = ?1, claimed_by = ?4,
            lease_until = \(Store.databaseNow(.postgresql)) + ?5,
            waited = waited + COALESCE(GREATEST(0, ?1 - held_since), 0), held_since = NULL
          WHERE (key, channel) IN (
            SELECT key, channel FROM journal
            WHERE channel = ?2 AND ((state = 'planned' AND (next_attempt_at IS NULL OR next_attempt_at <= ?1))
              OR (state IN ('failed', 'silenced') AND next_attempt_at <= ?1))
            ORDER BY scheduled_at, key LIMIT ?3 FOR UPDATE SKIP LOCKED)
          RETURNING \(Store.entryColumns)
          """), arguments: [now.timeIntervalSince1970, channel, limit, node, lease])
    var claimed: [JournalEntry] = []
    var unreadable: [(key: String, error: any Error)] = []
    for row in rows {
      do {
        claimed.append(try Store.entry(row, known: known))
      } catch {
        unreadable.append((row[0], error))
      }
    }
    for (key, error) in unreadable {
      try db.execute(
        sql: "UPDATE journal SET state = 'dead', last_error = ?, updated_at = ? WHERE key = ? AND channel = ?",
        arguments: ["cannot read this journal row: \(error)", now.timeIntervalSince1970, key, channel])
    }
    return claimed.sorted { ($0.scheduledAt, $0.key) < ($1.scheduledAt, $1.key) }
  }

  /// Records what became of claimed notices. Only a notice still being sent is changed: an
  /// outcome for one an operator retried meanwhile changes nothing.
  static func record(_ outcomes: [JournalOutcome], node: String, in db: any SQLSession) throws {
    guard !outcomes.isEmpty else { return }
    let update = """
      UPDATE journal SET state = ?, attempts = attempts + ?, next_attempt_at = ?, last_error = ?,
        receipt = COALESCE(?, receipt), pending = ?, sent_at = COALESCE(?, sent_at), subject = COALESCE(?, subject),
        updated_at = ?, held_since = ?, claimed_by = NULL, lease_until = NULL
      WHERE key = ? AND channel = ? AND state = 'sending' AND claimed_by = ?
      """
    let history = """
      INSERT INTO attempt (key, channel, number, at, outcome, detail, reached)
      SELECT key, channel, attempts, ?, ?, ?, ? FROM journal WHERE key = ? AND channel = ?
      """
    for outcome in outcomes {
      let state: NoticeState
      var next: Date?
      var error: String?
      var receipt: String?
      var sentAt: Date?
      switch outcome.change {
      case .sent(let r, let e):
        (state, receipt, error, sentAt) = (.sent, r, e, outcome.at)
      case .failed(let e, let at):
        (state, error, next) = (.failed, e, at)
      case .dead(let e):
        (state, error) = (.dead, e)
      case .deferred(let until, let why):
        // Back to where it was, with its next chance; nothing was tried.
        (state, next, error) = (.planned, until, why)
      case .suppressed(let why):
        (state, error) = (.suppressed, why)
      case .silenced(let until, let why):
        (state, next, error) = (.silenced, until, why)
      }
      let pending = outcome.pending.map { JSONBytes.text($0) }
      // Held for the window or a silence, or not tried: the wait does not age it (see `age(at:)`).
      var held: Double?
      switch outcome.change {
      case .deferred, .silenced: held = outcome.at.timeIntervalSince1970
      default: held = nil
      }
      try db.execute(
        sql: update,
        arguments: [
          state.rawValue, outcome.attempted ? 1 : 0, next?.timeIntervalSince1970, error, receipt, pending,
          sentAt?.timeIntervalSince1970, outcome.subject, outcome.at.timeIntervalSince1970, held, outcome.entry.key,
          outcome.entry.channel, node,
        ])
      guard outcome.attempted, db.changesCount == 1 else { continue }
      if case .sent = outcome.change, let carried = outcome.carried {
        try db.execute(
          sql: "UPDATE digest_item SET included = 0 WHERE digest = ? AND channel = ?",
          arguments: [outcome.entry.key, outcome.entry.channel])
        for key in carried {
          try db.execute(
            sql: "UPDATE digest_item SET included = 1 WHERE digest = ? AND channel = ? AND rung = ?",
            arguments: [outcome.entry.key, outcome.entry.channel, key.description])
        }
      }
      let detail = receipt ?? error ?? ""
      let reached = JSONBytes.text(outcome.reached)
      try db.execute(
        sql: history,
        arguments: [
          outcome.at.timeIntervalSince1970, state.rawValue, detail, reached, outcome.entry.key, outcome.entry.channel,
        ])
    }
  }

  /// Rows left in `sending` that no delivery holds (a crash, a recording that failed): back to
  /// `planned`, to be checked and sent again under the same key. Returns how many.
  @discardableResult
  public func reclaim(except inFlight: Set<JournalKey> = [], now: Date) throws -> Int {
    try engine.write { db in
      // Only this node's: another daemon's rows come back when its lease ends (`expireLeases`).
      let rows = try db.fetchAll(
        sql: "SELECT key, channel FROM journal WHERE state = 'sending' AND (claimed_by = ? OR claimed_by IS NULL)",
        arguments: [node])
      var count = 0
      for row in rows {
        let entry = JournalKey(key: row["key"], channel: row["channel"])
        guard !inFlight.contains(entry) else { continue }
        try db.execute(
          sql: """
            UPDATE journal SET state = 'planned', updated_at = ?, claimed_by = NULL, lease_until = NULL
            WHERE key = ? AND channel = ? AND state = 'sending'
            """,
          arguments: [now.timeIntervalSince1970, entry.key, entry.channel])
        count += db.changesCount
      }
      return count
    }
  }

  /// After a crash, what was `sending`: see `reclaim`. In a SQLite file, every such row (the
  /// state folder's lock makes this daemon the only one); on a shared database, this node's,
  /// and those whose lease has ended.
  @discardableResult
  public func recoverInFlight(now: Date) throws -> Int {
    if fence == nil {
      try engine.write { db in
        try db.execute(
          sql: """
            UPDATE journal SET state = 'planned', updated_at = ?, claimed_by = NULL, lease_until = NULL
            WHERE state = 'sending'
            """, arguments: [now.timeIntervalSince1970])
        return db.changesCount
      }
    } else {
      try reclaim(now: now) + expireLeases(now: now)
    }
  }

  /// An operator's second chance for a dead notice: every address it has not reached is tried
  /// again. Returns how many channels it covered.
  @discardableResult
  public func retryDead(key: String, now: Date) throws -> Int {
    try engine.write { db in
      try db.execute(
        sql: """
          UPDATE journal SET state = 'planned', attempts = 0, next_attempt_at = NULL, acknowledged_by = NULL,
            acknowledged_at = NULL, updated_at = ?1, waited = ?1 - created_at, held_since = NULL
          WHERE key = ?2 AND state = 'dead'
          """, arguments: [now.timeIntervalSince1970, key])
      return db.changesCount
    }
  }

  /// Every waiting row judged again at `now`, like `postqueue -f`: each failed one waiting for
  /// its retry, and each planned one waiting for a later chance (the send window, a channel that
  /// made no attempt), of `channel` or of every channel, is due now; with `windowOnly`, only the
  /// planned ones. A silenced row stays held. Costs no attempt, and a row still outside the
  /// window when it is judged waits again. Returns how many rows it made due.
  @discardableResult
  public func flush(channel: String? = nil, windowOnly: Bool = false, now: Date) throws -> Int {
    try engine.write { db in
      let states = windowOnly ? "state = 'planned'" : "state IN ('planned', 'failed')"
      try db.execute(
        sql: """
          UPDATE journal SET next_attempt_at = ?1, updated_at = ?1
          WHERE \(states) AND next_attempt_at > ?1 AND (CAST(?2 AS TEXT) IS NULL OR channel = ?2)
          """, arguments: [now.timeIntervalSince1970, channel])
      return db.changesCount
    }
  }

  // MARK: - Reading

  public func counts() throws -> [NoticeState: Int] {
    try engine.read { db in
      var counts = Dictionary(uniqueKeysWithValues: NoticeState.allCases.map { ($0, 0) })
      for row in try db.fetchAll(sql: "SELECT state, COUNT(*) AS n FROM journal GROUP BY state") {
        if let state = NoticeState(rawValue: row["state"]) { counts[state] = row["n"] }
      }
      return counts
    }
  }

  /// Channels with notices failed and waiting for another attempt.
  public func failingChannels() throws -> [String] {
    try engine.read { db in
      try db.fetchAll(String.self, sql: "SELECT DISTINCT channel FROM journal WHERE state = 'failed' ORDER BY channel")
    }
  }

  /// Rows, oldest first; a row that cannot be read is left out of a listing (it goes dead when
  /// it is next claimed).
  /// The journal's rows in order (when due, then key and channel), at most `limit`, from after the
  /// row `after` names (its key and channel), so that a long journal is read a page at a time.
  public func entries(
    state: NoticeState? = nil, key: String? = nil, unit: String? = nil, limit: Int = 1000, after: JournalKey? = nil
  ) throws -> [JournalEntry] {
    try engine.read { db in
      var conditions: [String] = []
      var arguments: SQLArguments = []
      if let after {
        conditions.append(
          "(scheduled_at, key, channel) > (SELECT scheduled_at, key, channel FROM journal WHERE key = ? AND channel = ?)"
        )
        arguments += [after.key, after.channel]
      }
      if let state {
        conditions.append("state = ?")
        arguments += [state.rawValue]
      }
      if let key {
        conditions.append("key = ?")
        arguments += [key]
      }
      if let unit {
        conditions.append("unit = ?")
        arguments += [unit]
      }
      let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
      let rows = try db.fetchAll(
        sql: "SELECT \(Store.entryColumns) FROM journal \(filter) ORDER BY scheduled_at, key, channel LIMIT ?",
        arguments: arguments + [limit])
      return rows.compactMap { try? Store.entry($0) }
    }
  }

  /// Rows in the queue that go out by `until`: planned (now, or when the send window opens),
  /// failed (at their retry) and held by a silence (when it ends), soonest first.
  public func waiting(until: Date, limit: Int = 10_000) throws -> [JournalEntry] {
    try engine.read { db in
      let rows = try db.fetchAll(
        sql: """
          SELECT \(Store.entryColumns) FROM journal
          WHERE state IN ('planned', 'failed', 'silenced') AND COALESCE(next_attempt_at, 0) <= ?
          ORDER BY COALESCE(next_attempt_at, 0), key, channel LIMIT ?
          """, arguments: [until.timeIntervalSince1970, limit])
      return rows.compactMap { try? Store.entry($0) }
    }
  }

  public func entry(key: String, channel: String) throws -> JournalEntry? {
    try engine.read { db in
      try db.fetchOne(
        sql: "SELECT \(Store.entryColumns) FROM journal WHERE key = ? AND channel = ?", arguments: [key, channel]
      )
      .map { try Store.entry($0) }
    }
  }

  /// Every attempt made for a key, through every channel, oldest first.
  public func history(key: String) throws -> [JournalAttempt] {
    try engine.read { db in
      try db.fetchAll(
        sql: "SELECT * FROM attempt WHERE key = ? ORDER BY id", arguments: [key]
      ).map { row in
        let reached =
          (try? JSONDecoder().decode([String: String].self, from: Data((row["reached"] as String).utf8))) ?? [:]
        return JournalAttempt(
          channel: row["channel"], number: row["number"], at: Date(timeIntervalSince1970: row["at"]),
          outcome: row["outcome"], detail: row["detail"], reached: reached)
      }
    }
  }

  /// What the journal holds of a rung, for `explain`: each notice of it (every revision, through
  /// every channel) and each digest that carried it, with its state, oldest first.
  public func states(of key: NoticeKey) throws -> [String] {
    try engine.read { db in
      let text = key.description
      var result: [String] = []
      for row in try db.fetchAll(
        sql: """
          SELECT key, channel, state, last_error FROM journal WHERE key >= ?1 AND key < ?2
          ORDER BY created_at, key, channel
          """, arguments: [text, text + "$"])
      {
        let rowKey: String = row[0]
        let state: String = row[2]
        let revision = rowKey.dropFirst(text.count)
        var line = (revision.isEmpty ? "" : "\(revision) ") + state
        if let error: String = row[3], ["suppressed", "dead", "failed", "silenced", "planned"].contains(state) {
          line += ": \(error)"
        }
        result.append(line)
      }
      for row in try db.fetchAll(
        sql: """
          SELECT j.state, i.included FROM digest_item i JOIN journal j ON j.key = i.digest AND j.channel = i.channel
          WHERE i.rung = ? ORDER BY j.created_at
          """, arguments: [text])
      {
        let state: String = row[0]
        result.append(
          "in a digest: " + (state == "sent" && (row[1] as Int?) == 0 ? "sent, without it (settled by then)" : state))
      }
      return result
    }
  }

  /// Whether anything is being sent, or may be attempted at `now`: read in one transaction, so
  /// that a notice claimed between two reads is not missed by both.
  public func workLeft(now: Date) throws -> Bool {
    try engine.read { db in
      try db.fetchOne(
        Bool.self,
        sql: """
          SELECT EXISTS (SELECT 1 FROM journal WHERE state = 'sending')
            OR EXISTS (SELECT 1 FROM journal WHERE state = 'planned' AND (next_attempt_at IS NULL OR next_attempt_at <= ?1))
            OR EXISTS (SELECT 1 FROM journal WHERE state IN ('failed', 'silenced') AND next_attempt_at <= ?1)
          """, arguments: [now.timeIntervalSince1970]) ?? false
    }
  }

  /// Channels with notices that may be attempted at `now`.
  public func dueChannels(now: Date) throws -> [String] {
    try readiness().filter { $0.value <= now }.keys.sorted()
  }

  /// For each channel with notices to attempt, the earliest instant one may be: a notice planned
  /// without a later chance is due at once (the epoch). Reads only the index of claimable rows.
  public func readiness() throws -> [String: Date] {
    try engine.read { db in
      var due: [String: Date] = [:]
      let rows = try db.fetchAll(
        sql: """
          SELECT channel, MIN(CASE WHEN state = 'planned' THEN COALESCE(next_attempt_at, 0) ELSE next_attempt_at END)
          FROM journal WHERE state IN ('planned', 'failed', 'silenced') GROUP BY channel
          """)
      for row in rows {
        if let at = row[1] as Double? { due[row[0]] = Date(timeIntervalSince1970: at) }
      }
      return due
    }
  }
}

/// A message as nhacviec 0.1 journaled it: rendered when planned. Read only to send what such a
/// journal still holds.
struct LegacyMessage: Decodable {
  struct Addressee: Decodable {
    let unitID: String
    let unitName: String
    let role: String
    let name: String?
    let address: String

    enum CodingKeys: String, CodingKey {
      case role, name, address
      case unitID = "unit_id"
      case unitName = "unit_name"
    }
  }

  let key: String
  let channel: String
  let ruleID: String
  let unitID: String
  let period: String
  let step: String
  let reason: String
  let scheduledAt: Date
  let to: [Addressee]
  let subject: String
  let text: String
  let html: String
  let payload: String
  let attachments: [OutgoingMessage.Attachment]?

  var message: OutgoingMessage {
    OutgoingMessage(
      key: key, channel: channel, rule: ruleID, unit: UnitRef(id: unitID, validFrom: nil), period: period, step: step,
      reason: NoticeReason(rawValue: reason) ?? .nextReminder, date: scheduledAt,
      to: to.map {
        NhacviecCore.Addressee(
          unit: UnitRef(id: $0.unitID, validFrom: nil), unitName: $0.unitName, role: $0.role, name: $0.name,
          address: $0.address)
      }, subject: subject, text: text, html: html, payload: payload, attachments: attachments ?? [])
  }
}
