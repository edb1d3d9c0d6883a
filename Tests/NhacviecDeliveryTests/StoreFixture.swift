import Foundation
import NhacviecCore
@_spi(Testing) import NhacviecStore
import Testing

/// The store conformance suites (Tests/store-conformance-suites) run on either engine: SQLite
/// (the default), or PostgreSQL with `NHACVIEC_TEST_STORE=postgresql`, on the server
/// `NHACVIEC_TEST_POSTGRESQL` names (libpq's key=value form). scripts/test starts one with
/// scripts/postgres and runs the suites a second time on it.
enum TestStore {
  static let postgresServer: String? = {
    let environment = ProcessInfo.processInfo.environment
    guard environment["NHACVIEC_TEST_STORE"] == "postgresql" else { return nil }
    guard let server = environment["NHACVIEC_TEST_POSTGRESQL"], !server.isEmpty else {
      preconditionFailure("NHACVIEC_TEST_STORE=postgresql needs NHACVIEC_TEST_POSTGRESQL (scripts/postgres start DIR)")
    }
    return server
  }()

  static var onPostgres: Bool { postgresServer != nil }

  /// A new empty store: SQLite in memory, or a database of its own on the PostgreSQL server.
  static func make() throws -> Store {
    guard let server = postgresServer else { return try Store() }
    let store = try Store(postgresql: Store.postgresDatabase(server: server, name: "t_\(fresh())"), password: nil)
    // The one daemon of its database: it leads, so that it may plan.
    try store.becomeLeader()
    return store
  }

  /// The store at `path`, opened again by every call with the same path (two daemons on one
  /// database, a restart): a SQLite file, or the PostgreSQL database named after the path.
  static func open(path: String) throws -> Store {
    guard let server = postgresServer else { return try Store(path: path) }
    let name =
      "p_"
      + String(
        UInt64(
          truncatingIfNeeded: path.utf8.reduce(14_695_981_039_346_656_037) { ($0 ^ UInt64($1)) &* 1_099_511_628_211 }),
        radix: 36)
    let store = try Store(postgresql: Store.postgresDatabase(server: server, name: name), password: nil)
    // The first to open the database leads; the others (a second daemon, the same one restarted)
    // deliver.
    if opened.withLock({ $0.insert(name).inserted }) { try store.becomeLeader() }
    return store
  }

  static let opened = Locked<Set<String>>([])

  static func fresh() -> String { UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "") }
}
