public import Foundation
import GRDB

/// The desk's accounts, sessions and failed logins. They live in the store, beside the journal,
/// so that several daemons on one database know the same officers and the same sessions.
extension Store {
  static func createAccounts(_ db: Database) throws {
    // A session is found by a hash of its id: a copy of the database does not let anyone in.
    // The failed logins are kept per address and per account, and only for as long as they count.
    try db.execute(
      sql: """
        CREATE TABLE account (
          name TEXT PRIMARY KEY NOT NULL,
          role TEXT NOT NULL CHECK (role IN ('reader', 'writer')),
          password_hash TEXT NOT NULL,
          created_at REAL NOT NULL,
          changed_at REAL NOT NULL
        );
        CREATE TABLE session (
          id_hash TEXT PRIMARY KEY NOT NULL,
          account TEXT NOT NULL REFERENCES account(name) ON DELETE CASCADE,
          csrf TEXT NOT NULL,
          created_at REAL NOT NULL,
          last_used REAL NOT NULL,
          idle_until REAL NOT NULL,
          expires REAL NOT NULL
        );
        CREATE INDEX session_account ON session(account);
        CREATE TABLE login_failure (
          at REAL NOT NULL,
          address TEXT NOT NULL,
          account TEXT NOT NULL
        );
        CREATE INDEX login_failure_address ON login_failure(address, at);
        CREATE INDEX login_failure_account ON login_failure(account, at);
        """)
  }

  public enum Role: String, Sendable, CaseIterable, Codable {
    case reader, writer
  }

  /// An officer's account; `passwordHash` is libsodium's argon2id string (`$argon2id$…`).
  public struct Account: Sendable {
    public let name: String
    public let role: Role
    public let passwordHash: String
    public let createdAt: Date
    public let changedAt: Date
  }

  public enum AccountError: Error, Equatable {
    case exists
    case noSuchAccount
  }

  public func accounts() throws -> [Account] {
    try engine.read { db in try db.fetchAll(sql: "SELECT * FROM account ORDER BY name").map(Store.account) }
  }

  public func account(named name: String) throws -> Account? {
    try engine.read { db in
      try db.fetchOne(sql: "SELECT * FROM account WHERE name = ?", arguments: [name]).map(Store.account)
    }
  }

  static func account(_ row: SQLRow) -> Account {
    Account(
      name: row["name"], role: Role(rawValue: row["role"]) ?? .reader, passwordHash: row["password_hash"],
      createdAt: Date(timeIntervalSince1970: row["created_at"]),
      changedAt: Date(timeIntervalSince1970: row["changed_at"]))
  }

  public func addAccount(name: String, role: Role, passwordHash: String, now: Date) throws {
    try engine.write { db in
      guard
        try db.fetchOne(Bool.self, sql: "SELECT EXISTS (SELECT 1 FROM account WHERE name = ?)", arguments: [name])
          != true
      else { throw AccountError.exists }
      try db.execute(
        sql: "INSERT INTO account (name, role, password_hash, created_at, changed_at) VALUES (?, ?, ?, ?, ?)",
        arguments: [name, role.rawValue, passwordHash, now.timeIntervalSince1970, now.timeIntervalSince1970])
    }
  }

  /// A new password, and a new role if given; every session of the account ends, since a
  /// password is changed when it may be known to someone else.
  public func changeAccount(name: String, passwordHash: String, role: Role?, now: Date) throws {
    try engine.write { db in
      try db.execute(
        sql: "UPDATE account SET password_hash = ?, role = COALESCE(?, role), changed_at = ? WHERE name = ?",
        arguments: [passwordHash, role?.rawValue, now.timeIntervalSince1970, name])
      guard db.changesCount > 0 else { throw AccountError.noSuchAccount }
      try db.execute(sql: "DELETE FROM session WHERE account = ?", arguments: [name])
    }
  }

  /// Removes an account and ends its sessions at once.
  public func removeAccount(name: String) throws {
    try engine.write { db in
      try db.execute(sql: "DELETE FROM session WHERE account = ?", arguments: [name])
      try db.execute(sql: "DELETE FROM account WHERE name = ?", arguments: [name])
      guard db.changesCount > 0 else { throw AccountError.noSuchAccount }
    }
  }

  /// A signed-in officer's session, as a request finds it.
  public struct Session: Sendable {
    public let account: String
    public let role: Role
    public let csrf: String
    public let expires: Date
  }

  public func createSession(
    idHash: String, account: String, csrf: String, now: Date, idle: TimeInterval, lifetime: TimeInterval
  ) throws {
    try engine.write { db in
      // Ended sessions are swept here, at each login, rather than by a timer that would wake an idle daemon.
      try db.execute(
        sql: "DELETE FROM session WHERE idle_until <= ?1 OR expires <= ?1", arguments: [now.timeIntervalSince1970])
      try db.execute(
        sql: """
          INSERT INTO session (id_hash, account, csrf, created_at, last_used, idle_until, expires)
          VALUES (?, ?, ?, ?, ?, ?, ?)
          """,
        arguments: [
          idHash, account, csrf, now.timeIntervalSince1970, now.timeIntervalSince1970,
          now.addingTimeInterval(idle).timeIntervalSince1970, now.addingTimeInterval(lifetime).timeIntervalSince1970,
        ])
    }
  }

  /// The session with this id's hash if it is still alive, its idle time started again.
  public func useSession(idHash: String, now: Date, idle: TimeInterval) throws -> Session? {
    try engine.write { db in
      let t = now.timeIntervalSince1970
      guard
        let row = try db.fetchOne(
          sql: """
            SELECT session.account, session.csrf, session.expires, account.role FROM session
              JOIN account ON account.name = session.account
            WHERE id_hash = ?1 AND idle_until > ?2 AND expires > ?2
            """, arguments: [idHash, t])
      else { return nil }
      try db.execute(
        sql: db.pick(
          sqlite: "UPDATE session SET last_used = ?, idle_until = MIN(expires, ?) WHERE id_hash = ?",
          postgresql: "UPDATE session SET last_used = ?, idle_until = LEAST(expires, ?) WHERE id_hash = ?"),
        arguments: [t, t + idle, idHash])
      return Session(
        account: row["account"], role: Role(rawValue: row["role"]) ?? .reader, csrf: row["csrf"],
        expires: Date(timeIntervalSince1970: row["expires"]))
    }
  }

  public func endSession(idHash: String) throws {
    try engine.write { db in try db.execute(sql: "DELETE FROM session WHERE id_hash = ?", arguments: [idHash]) }
  }

  public func sessionCount(account: String) throws -> Int {
    try engine.read { db in
      try db.fetchOne(Int.self, sql: "SELECT COUNT(*) FROM session WHERE account = ?", arguments: [account]) ?? 0
    }
  }

  /// Failed logins since `since`: from this address, and against this account.
  public struct LoginFailures: Sendable {
    public let byAddress: Int
    public let byAccount: Int
    /// The oldest failure that counts, of the side over the limit: when it ages out, a login may be tried again.
    public let oldestAddress: Date?
    public let oldestAccount: Date?
  }

  public func loginFailures(address: String, account: String, since: Date) throws -> LoginFailures {
    try engine.read { db in
      let t = since.timeIntervalSince1970
      let byAddress = try db.fetchOne(
        sql: "SELECT COUNT(*) AS n, MIN(at) AS oldest FROM login_failure WHERE address = ? AND at > ?",
        arguments: [address, t])
      let byAccount = try db.fetchOne(
        sql: "SELECT COUNT(*) AS n, MIN(at) AS oldest FROM login_failure WHERE account = ? AND at > ?",
        arguments: [account, t])
      return LoginFailures(
        byAddress: byAddress?["n"] ?? 0, byAccount: byAccount?["n"] ?? 0,
        oldestAddress: (byAddress?["oldest"] as Double?).map { Date(timeIntervalSince1970: $0) },
        oldestAccount: (byAccount?["oldest"] as Double?).map { Date(timeIntervalSince1970: $0) })
    }
  }

  /// Notes a failed login, and forgets those older than `forgetBefore`.
  public func noteLoginFailure(address: String, account: String, now: Date, forgetBefore: Date) throws {
    try engine.write { db in
      try db.execute(sql: "DELETE FROM login_failure WHERE at < ?", arguments: [forgetBefore.timeIntervalSince1970])
      try db.execute(
        sql: "INSERT INTO login_failure (at, address, account) VALUES (?, ?, ?)",
        arguments: [now.timeIntervalSince1970, address, account])
    }
  }
}
