import CLibPQ
import Foundation
import NhacviecCore

/// Why the PostgreSQL engine refused: the server's own message, or the connection's.
public struct PostgresError: Error, CustomStringConvertible, Sendable {
  public let description: String
  /// The server's SQLSTATE, when it sent one (`40P01`, `57P01`, …).
  public let state: String?
  /// The connection itself failed: a later statement needs a new one.
  public let connectionLost: Bool
}

/// One PostgreSQL connection through libpq, used by one thread at a time. Statements are
/// prepared once per connection, by their text.
final class PostgresConnection {
  let connection: OpaquePointer
  private var prepared: [String: String] = [:]

  /// `application` names the connection in `pg_stat_activity`: `nhacviec/NODE`, and
  /// `nhacviec-leader/NODE` for the leader's lock.
  /// `stalled`: how long the server waits on this connection inside a transaction before it
  /// ends the session (`idle_in_transaction_session_timeout`); nil for the server's setting.
  init(conninfo: String, password: String?, application: String = "nhacviec", stalled: TimeInterval? = nil) throws {
    var keys = ["dbname", "fallback_application_name"]
    var values = [conninfo, application]
    if let password {
      keys.append("password")
      values.append(password)
    }
    // expand_dbname: `dbname` is the whole URL (postgresql://…) or key=value string.
    let connection: OpaquePointer? = keys.withCStrings { keys in
      values.withCStrings { values in PQconnectdbParams(keys, values, 1) }
    }
    guard let connection else { throw PostgresError(description: "out of memory", state: nil, connectionLost: true) }
    guard PQstatus(connection) == CONNECTION_OK else {
      let message = String(cString: PQerrorMessage(connection)).trimmingCharacters(in: .whitespacesAndNewlines)
      PQfinish(connection)
      throw PostgresError(description: "cannot connect to PostgreSQL: \(message)", state: nil, connectionLost: true)
    }
    self.connection = connection
    // Times are stored as seconds (double precision) and text compares byte by byte (COLLATE
    // "C" in the schema), so the session's own settings change nothing the store reads.
    _ = try run("SET client_min_messages = warning", [])
    // A daemon frozen inside a write transaction (a paused machine, a debugger) would hold the
    // write lock, and with it every node, until its connection died: the server ends such a
    // session once it has waited this long, which lets the others go on.
    if let stalled {
      _ = try run("SET idle_in_transaction_session_timeout = \(Int((stalled * 1000).rounded()))", [])
    }
  }

  deinit { PQfinish(connection) }

  var isOK: Bool { PQstatus(connection) == CONNECTION_OK }

  /// Runs one statement with parameters (prepared and kept), or a script without any.
  func run(_ sql: String, _ arguments: [SQLValue]) throws -> (rows: [SQLRow], changed: Int) {
    let result: OpaquePointer?
    if arguments.isEmpty && !sql.contains("?") {
      result = PQexec(connection, sql)
    } else {
      let name = try statement(sql)
      let texts = arguments.map(\.parameterText)
      result = texts.withOptionalCStrings { values in
        PQexecPrepared(connection, name, Int32(texts.count), values, nil, nil, 0)
      }
    }
    defer { PQclear(result) }
    try check(result)
    return (Self.rows(result!), Int(String(cString: PQcmdTuples(result))) ?? 0)
  }

  private func statement(_ sql: String) throws -> String {
    if let name = prepared[sql] { return name }
    let name = "s\(prepared.count)"
    let result = PQprepare(connection, name, Self.numbered(sql), 0, nil)
    defer { PQclear(result) }
    try check(result)
    prepared[sql] = name
    return name
  }

  private func check(_ result: OpaquePointer?) throws {
    let status = result.map { PQresultStatus($0) } ?? PGRES_FATAL_ERROR
    guard status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK else { return }
    var message = String(cString: PQerrorMessage(connection)).trimmingCharacters(in: .whitespacesAndNewlines)
    var state: String?
    if let result {
      if let text = PQresultErrorField(result, Int32(UInt8(ascii: "C"))) { state = String(cString: text) }
      let own = String(cString: PQresultErrorMessage(result)).trimmingCharacters(in: .whitespacesAndNewlines)
      if !own.isEmpty { message = own }
    }
    throw PostgresError(description: "PostgreSQL: \(message)", state: state, connectionLost: !isOK)
  }

  /// Values by column type: integers and floating point as numbers, booleans as 0 and 1,
  /// everything else as its text.
  static func rows(_ result: OpaquePointer) -> [SQLRow] {
    let count = Int(PQntuples(result))
    let width = Int(PQnfields(result))
    guard width > 0 else { return [] }
    let columns = SQLRow.Columns((0..<width).map { String(cString: PQfname(result, Int32($0))) })
    let types = (0..<width).map { PQftype(result, Int32($0)) }
    var rows: [SQLRow] = []
    rows.reserveCapacity(count)
    for row in 0..<count {
      var values: [SQLValue] = []
      values.reserveCapacity(width)
      for column in 0..<width {
        let (r, c) = (Int32(row), Int32(column))
        if PQgetisnull(result, r, c) == 1 {
          values.append(.null)
          continue
        }
        let text = String(cString: PQgetvalue(result, r, c))
        switch types[column] {
        case 20, 21, 23, 26: values.append(Int64(text).map(SQLValue.integer) ?? .text(text))
        case 700, 701, 1700: values.append(Double(text).map(SQLValue.real) ?? .text(text))
        case 16: values.append(.integer(text == "t" ? 1 : 0))
        default: values.append(.text(text))
        }
      }
      rows.append(SQLRow(columns: columns, values: values))
    }
    return rows
  }

  /// SQLite's placeholders as PostgreSQL's: `?N` is `$N`, a bare `?` the next number. Quoted
  /// text and identifiers are left alone.
  static func numbered(_ sql: String) -> String {
    var output = ""
    var highest = 0
    var quote: Character?
    var characters = sql.makeIterator()
    var pending = characters.next()
    while let character = pending {
      pending = characters.next()
      if let open = quote {
        output.append(character)
        if character == open { quote = nil }
        continue
      }
      switch character {
      case "'", "\"":
        quote = character
        output.append(character)
      case "?":
        var digits = ""
        while let next = pending, next.isASCII, next.isNumber {
          digits.append(next)
          pending = characters.next()
        }
        let number = Int(digits) ?? highest + 1
        highest = max(highest, number)
        output += "$\(number)"
      default:
        output.append(character)
      }
    }
    return output
  }
}

/// A PostgreSQL database several daemons share. One connection writes, in transactions that
/// take the database's write lock (an advisory lock held to the commit), so that writes are one
/// at a time across every daemon as SQLite's are in one file; a few more read, each read a
/// snapshot. libpq blocks: every call runs on the caller's thread, which is the store's, never
/// the cooperative pool's, as with SQLite.
final class PostgresEngine: SQLEngine, @unchecked Sendable {
  /// The advisory lock every write transaction takes (the bytes of "nhacviec").
  static let writeLock: Int64 = 0x6E68_6163_7669_6563

  let conninfo: String
  let password: String?
  let application: String
  private let writeMutex = NSLock()
  private var writerConnection: PostgresConnection?
  private let readers = Locked<[PostgresConnection]>([])

  /// The longest a transaction of this daemon may stand waiting on it (a lease: what a frozen
  /// node may hold up, as long as its notices are held).
  let stalled: TimeInterval

  init(url: String, password: String?, node: String, lease: TimeInterval) throws {
    stalled = max(1, lease)
    conninfo = url
    self.password = password
    application = "nhacviec/\(node)"
    // Connects at once, so that a wrong address or password is said when the daemon starts.
    writerConnection = try PostgresConnection(
      conninfo: url, password: password, application: application, stalled: stalled)
  }

  var dialect: SQLDialect { .postgresql }

  func read<T>(_ body: (any SQLSession) throws -> T) throws -> T {
    let connection =
      try readers.withLock { $0.popLast() }
      ?? PostgresConnection(conninfo: conninfo, password: password, application: application, stalled: stalled)
    do {
      _ = try connection.run("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", [])
      let value = try body(PostgresSession(connection))
      _ = try connection.run("COMMIT", [])
      readers.withLock { if $0.count < 4 { $0.append(connection) } }
      return value
    } catch {
      if connection.isOK {
        _ = try? connection.run("ROLLBACK", [])
        readers.withLock { if $0.count < 4 { $0.append(connection) } }
      }
      throw error
    }
  }

  func write<T>(_ body: (any SQLSession) throws -> T) throws -> T {
    writeMutex.lock()
    defer { writeMutex.unlock() }
    let connection: PostgresConnection
    if let current = writerConnection, current.isOK {
      connection = current
    } else {
      writerConnection = nil
      connection = try PostgresConnection(
        conninfo: conninfo, password: password, application: application, stalled: stalled)
      writerConnection = connection
    }
    do {
      _ = try connection.run("BEGIN", [])
      _ = try connection.run("SELECT pg_advisory_xact_lock(\(Self.writeLock))", [])
      let value = try body(PostgresSession(connection))
      _ = try connection.run("COMMIT", [])
      return value
    } catch {
      if connection.isOK { _ = try? connection.run("ROLLBACK", []) } else { writerConnection = nil }
      throw error
    }
  }

  func close() {
    writeMutex.lock()
    writerConnection = nil
    writeMutex.unlock()
    readers.withLock { $0.removeAll() }
  }
}

final class PostgresSession: SQLSession {
  let connection: PostgresConnection
  private(set) var changesCount = 0

  init(_ connection: PostgresConnection) { self.connection = connection }

  var dialect: SQLDialect { .postgresql }

  func execute(sql: String, arguments: SQLArguments) throws {
    changesCount = try connection.run(sql, arguments.values).changed
  }

  func fetchAll(sql: String, arguments: SQLArguments) throws -> [SQLRow] {
    try connection.run(sql, arguments.values).rows
  }
}

extension Array where Element == String {
  /// The strings as a C array of C strings, ended by NULL, for as long as `body` runs.
  func withCStrings<R>(_ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
    let copies = map { strdup($0) }
    defer { copies.forEach { free($0) } }
    let pointers: [UnsafePointer<CChar>?] = copies.map { UnsafePointer($0) } + [nil]
    return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
  }
}

extension Array where Element == String? {
  /// The same, with NULL where an element is nil (a NULL parameter).
  func withOptionalCStrings<R>(_ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
    let copies: [UnsafeMutablePointer<CChar>?] = map { $0.flatMap { strdup($0) } }
    defer { copies.forEach { free($0) } }
    let pointers: [UnsafePointer<CChar>?] = copies.map { $0.map { UnsafePointer($0) } } + [nil]
    return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
  }
}
