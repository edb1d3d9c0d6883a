import Foundation
import NhacviecCore
@_spi(Testing) import NhacviecStore
import Testing

/// `nhacviec store copy` as the store does it: SQLite to PostgreSQL and back, on a real server
/// (`NHACVIEC_TEST_POSTGRESQL`, which scripts/test always sets) and real files.
@Suite(
  "Copying a store from one engine to the other",
  .enabled(if: ProcessInfo.processInfo.environment["NHACVIEC_TEST_POSTGRESQL"].map { !$0.isEmpty } ?? false))
struct StoreCopyTests {
  let t0 = Date(timeIntervalSince1970: 1_794_700_800)
  let folder = FileManager.default.temporaryDirectory.appendingPathComponent("store-copy-\(UUID().uuidString)")

  func postgres() throws -> String {
    let server = try #require(ProcessInfo.processInfo.environment["NHACVIEC_TEST_POSTGRESQL"])
    return try Store.postgresDatabase(server: server, name: "copy_\(TestStore.fresh())")
  }

  func file(_ name: String) throws -> String {
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    return folder.appendingPathComponent(name).path
  }

  /// A province's store after a few days: notices in every state a row can be in, with their
  /// attempts, facts (one retracted), a silence and what it left to judge again, an account
  /// signed in, a failed login, a node.
  func province(_ store: Store) throws -> [String] {
    let notices = ["a", "b", "c", "d", "e", "f"].map { decision($0) }
    try store.journal(due: notices, superseded: [decision("old")], now: t0)
    try store.journal(due: [decision("g", channel: "hook")], now: t0)
    let claimed = try store.claim(channel: "email", limit: 5, now: t0.addingTimeInterval(60))
    #expect(claimed.count == 5)
    func row(_ index: Int) -> JournalKey { JournalKey(key: claimed[index].key, channel: "email") }
    let later = t0.addingTimeInterval(61.25)
    try store.record([
      JournalOutcome(
        entry: row(0), change: .sent(receipt: "250 2.0.0 Ok", error: nil), attempted: true, pending: nil, at: later),
      JournalOutcome(
        entry: row(1), change: .failed(error: "SMTP 451 thử lại sau", retryAt: later.addingTimeInterval(600)),
        attempted: true, pending: nil, at: later),
      JournalOutcome(entry: row(2), change: .dead(error: "550 no such user"), attempted: true, pending: nil, at: later),
      JournalOutcome(
        entry: row(3), change: .silenced(until: t0.addingTimeInterval(86_400), reason: "silence 1"), attempted: false,
        pending: nil, at: later),
    ])
    // row(4) stays `sending`, claimed; "f" and the hook's stay planned.
    let report = Fact(
      kind: .report, unitID: "D1", ruleID: "annual", period: "2026", at: t0, reference: "123/BC-STP")
    let budget = Fact(kind: .budget, unitID: "D2", ruleID: "annual", period: "2026", amount: 1_500_000)
    let extension_ = Fact(
      kind: .extension, unitID: "D3", ruleID: "annual", period: "2026", due: LocalDate(iso: "2026-11-30"),
      decidedBy: "Giám đốc Sở", reason: "bão")
    let recorded = try store.record(
      [report, budget, extension_], by: Store.Provenance(uid: 1000, source: "socket", name: "nguyen"),
      now: t0.addingTimeInterval(0.5))
    #expect(recorded.count == 3)
    let wrong = try #require(try store.recordedFacts().last)
    _ = try store.retract(id: wrong.id, by: 1001, reason: "nhầm đơn vị", now: t0.addingTimeInterval(90))
    _ = try store.addSilence(
      rule: "annual", unit: "D4", period: nil, until: t0.addingTimeInterval(86_400), reason: "Tết", by: 1000, now: t0)
    try store.addAccount(name: "tran.thi.b", role: .writer, passwordHash: "$argon2id$v=19$x", now: t0)
    try store.createSession(
      idHash: "h1", account: "tran.thi.b", csrf: "c1", now: t0.addingTimeInterval(5), idle: 1800, lifetime: 43_200)
    try store.noteLoginFailure(
      address: "10.0.0.7", account: "tran.thi.b", now: t0.addingTimeInterval(3), forgetBefore: t0)
    return claimed.map(\.key) + ["f"].map { decision($0).key }
  }

  /// Every public read of the store, as text: two stores that read the same are the same store.
  func reads(_ store: Store, keys: [String]) throws -> [String] {
    let counts = try store.counts().sorted { $0.key.rawValue < $1.key.rawValue }
    let entries = try store.entries(limit: 100)
    let facts = try store.recordedFacts(retracted: true)
    let silences = try store.silences()
    let accounts = try store.accounts()
    let sessions = try store.sessionCount(account: "tran.thi.b")
    let rejudges = try store.rejudges()
    let histories = try keys.map { try store.history(key: $0) }
    let version = try store.inputsVersion()
    // Times as stored, to the fraction of a second (a Date prints whole seconds).
    let recordedAt = try store.value(sql: "SELECT recorded_at FROM fact WHERE id = 1", arguments: [])
    let sentAt = try store.value(sql: "SELECT updated_at FROM journal WHERE state = 'sent'", arguments: [])
    return [
      "\(counts)", "\(entries)", "\(facts)", "\(silences)", "\(accounts)", "\(sessions)", "\(rejudges)",
      "\(histories)", "\(version)", recordedAt ?? "none", sentAt ?? "none",
    ]
  }

  @Test("SQLite to PostgreSQL and back: every read is the same and ids go on")
  func roundTrip() throws {
    defer { try? FileManager.default.removeItem(at: folder) }
    let sqlite = try Store(path: try file("nhacviec.sqlite"))
    let keys = try province(sqlite)
    let expected = try reads(sqlite, keys: keys)

    let url = try postgres()
    let shared = try Store(postgresql: url, password: nil)
    let summary = try sqlite.copy(to: shared)
    #expect(
      summary.tables.map(\.name) == [
        "meta", "journal", "attempt", "fact", "silence", "rejudge", "digest_item", "account", "session",
        "login_failure", "node",
      ])
    #expect(summary.tables.first { $0.name == "journal" }?.rows == 8)
    #expect(summary.tables.first { $0.name == "fact" }?.rows == 3)
    #expect(summary.tables.first { $0.name == "attempt" }?.rows == 3)
    #expect(summary.tables.first { $0.name == "session" }?.rows == 1)
    #expect(summary.rows == summary.tables.reduce(0) { $0 + $1.rows })
    #expect(try reads(shared, keys: keys) == expected)

    // Past the highest id copied: a new fact is not refused, nor given an old one's id.
    try shared.record(
      [Fact(kind: .report, unitID: "D9", ruleID: "annual", period: "2026", at: t0)],
      by: Store.Provenance(uid: nil, source: "socket"), now: t0)
    #expect(try shared.recordedFacts(retracted: true).map(\.id) == [1, 2, 3, 4])

    let back = try Store(path: try file("back.sqlite"))
    let again = try shared.copy(to: back)
    // The new fact, and the obligation it asks to judge again.
    #expect(again.rows == summary.rows + 2)
    #expect(again.tables.first { $0.name == "fact" }?.rows == 4)
    #expect(try reads(back, keys: keys) == reads(shared, keys: keys))
    // Through both engines and back, a time is still a REAL, an absent error NULL, a count an INTEGER.
    #expect(
      try back.value(
        sql:
          "SELECT typeof(sent_at) || ' ' || typeof(last_error) || ' ' || typeof(attempts) FROM journal WHERE state = 'sent'",
        arguments: []) == "real null integer")
    try back.record(
      [Fact(kind: .report, unitID: "D8", ruleID: "annual", period: "2026", at: t0)],
      by: Store.Provenance(uid: nil, source: "socket"), now: t0)
    #expect(try back.recordedFacts(retracted: true).map(\.id) == [1, 2, 3, 4, 5])
  }

  @Test("a destination that has rows is refused, says which table, and is left as it was")
  func nonEmptyDestination() throws {
    defer { try? FileManager.default.removeItem(at: folder) }
    let sqlite = try Store(path: try file("nhacviec.sqlite"))
    _ = try province(sqlite)
    let shared = try Store(postgresql: try postgres(), password: nil)
    try shared.addAccount(name: "someone", role: .reader, passwordHash: "x", now: t0)
    #expect(throws: StoreCopyError.self) { try sqlite.copy(to: shared) }
    do {
      _ = try sqlite.copy(to: shared)
    } catch let error as StoreCopyError {
      #expect(error.description.contains("table account has rows"), "\(error)")
    }
    #expect(try shared.accounts().map(\.name) == ["someone"])
    #expect(try shared.entries().isEmpty)
    #expect(try shared.recordedFacts(retracted: true).isEmpty)

    // And the other way: a SQLite store with a journal.
    let other = try Store(path: try file("other.sqlite"))
    try other.journal(due: [decision("z")], now: t0)
    #expect(throws: StoreCopyError.self) { try sqlite.copy(to: other) }
    #expect(try other.entries().map(\.rule) == ["z"])
  }

  @Test("a row the destination refuses fails the copy and leaves nothing of it there")
  func refusedRow() throws {
    defer { try? FileManager.default.removeItem(at: folder) }
    let sqlite = try Store(path: try file("nhacviec.sqlite"))
    _ = try province(sqlite)
    // SQLite keeps a text where a number belongs; PostgreSQL will not, late in the copy.
    try sqlite.execute(sql: "UPDATE login_failure SET at = 'hôm qua'", arguments: [])
    let shared = try Store(postgresql: try postgres(), password: nil)
    #expect(throws: PostgresError.self) { try sqlite.copy(to: shared) }
    #expect(try shared.entries().isEmpty)
    #expect(try shared.accounts().isEmpty)
    #expect(try shared.recordedFacts(retracted: true).isEmpty)
    #expect(try shared.value(sql: "SELECT COUNT(*) FROM attempt", arguments: []) == "0")
  }
}
