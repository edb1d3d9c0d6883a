/// The engine a store keeps its state in. One store's functions are written once against a
/// session (`SQLSession`); each engine runs them with its own connections, and the few
/// statements that cannot be said the same way in both are chosen by `dialect`.
public enum SQLDialect: String, Sendable {
  /// Embedded, one file: the default.
  case sqlite
  /// A server several daemons share (`daemon.store: postgresql://…`).
  case postgresql
}

/// A value as it goes into or comes out of a statement. PostgreSQL's results arrive as text and
/// are read back into these by column type, so that a row reads the same from either engine.
enum SQLValue: Sendable, Equatable {
  case null
  case integer(Int64)
  case real(Double)
  case text(String)

  /// As PostgreSQL's text protocol takes a parameter: nil for NULL.
  var parameterText: String? {
    switch self {
    case .null: nil
    case .integer(let value): String(value)
    case .real(let value): "\(value)"
    case .text(let value): value
    }
  }
}

/// What can be bound to a statement's parameter.
protocol SQLBindable {
  var sqlValue: SQLValue { get }
}

extension String: SQLBindable { var sqlValue: SQLValue { .text(self) } }
extension Substring: SQLBindable { var sqlValue: SQLValue { .text(String(self)) } }
extension Int: SQLBindable { var sqlValue: SQLValue { .integer(Int64(self)) } }
extension Int64: SQLBindable { var sqlValue: SQLValue { .integer(self) } }
extension Int32: SQLBindable { var sqlValue: SQLValue { .integer(Int64(self)) } }
extension Double: SQLBindable { var sqlValue: SQLValue { .real(self) } }
extension Bool: SQLBindable { var sqlValue: SQLValue { .integer(self ? 1 : 0) } }
extension SQLValue: SQLBindable { var sqlValue: SQLValue { self } }

/// A statement's parameters, in order; written as an array literal with `nil` for NULL.
struct SQLArguments: ExpressibleByArrayLiteral, Sendable {
  var values: [SQLValue]

  init(_ values: [SQLValue] = []) { self.values = values }

  init(arrayLiteral elements: (any SQLBindable)?...) {
    values = elements.map { $0?.sqlValue ?? .null }
  }

  init(_ elements: [(any SQLBindable)?]) {
    values = elements.map { $0?.sqlValue ?? .null }
  }

  static func + (lhs: SQLArguments, rhs: SQLArguments) -> SQLArguments { SQLArguments(lhs.values + rhs.values) }
  static func += (lhs: inout SQLArguments, rhs: SQLArguments) { lhs.values += rhs.values }
}

/// What a column's value can be read as.
protocol SQLColumnValue {
  /// nil when the value is not one of these (a NULL for a type that is not optional).
  static func read(_ value: SQLValue) -> Self?
}

extension String: SQLColumnValue {
  static func read(_ value: SQLValue) -> String? {
    switch value {
    case .text(let text): text
    case .integer(let value): String(value)
    case .real(let value): "\(value)"
    case .null: nil
    }
  }
}

extension Int64: SQLColumnValue {
  static func read(_ value: SQLValue) -> Int64? {
    switch value {
    case .integer(let value): value
    case .real(let value): Int64(exactly: value)
    case .text(let text): Int64(text)
    case .null: nil
    }
  }
}

extension Int: SQLColumnValue {
  static func read(_ value: SQLValue) -> Int? { Int64.read(value).map { Int($0) } }
}

extension Double: SQLColumnValue {
  static func read(_ value: SQLValue) -> Double? {
    switch value {
    case .integer(let value): Double(value)
    case .real(let value): value
    case .text(let text): Double(text)
    case .null: nil
    }
  }
}

extension Bool: SQLColumnValue {
  static func read(_ value: SQLValue) -> Bool? {
    switch value {
    case .integer(let value): value != 0
    case .real(let value): value != 0
    case .text(let text): ["t", "true", "1"].contains(text)
    case .null: nil
    }
  }
}

extension Optional: SQLColumnValue where Wrapped: SQLColumnValue {
  static func read(_ value: SQLValue) -> Wrapped?? {
    if case .null = value { return .some(nil) }
    return Wrapped.read(value).map { .some($0) }
  }
}

/// One row of a result, read by position or by column name, as the engine returned it.
struct SQLRow: Sendable {
  /// Column names to positions, shared by every row of one result.
  final class Columns: Sendable {
    let names: [String]
    let positions: [String: Int]

    init(_ names: [String]) {
      self.names = names
      var positions: [String: Int] = [:]
      for (index, name) in names.enumerated() where positions[name] == nil { positions[name] = index }
      self.positions = positions
    }
  }

  let columns: Columns
  let values: [SQLValue]

  init(columns: Columns, values: [SQLValue]) {
    self.columns = columns
    self.values = values
  }

  /// The value at `index`, as `T`; a value that is not a `T` is a programming error, as a column
  /// of the wrong type in a statement of the store's own is.
  subscript<T: SQLColumnValue>(index: Int) -> T {
    guard let value = T.read(values[index]) else {
      preconditionFailure("column \(index) (\(columns.names[index])) holds \(values[index]), not \(T.self)")
    }
    return value
  }

  subscript<T: SQLColumnValue>(name: String) -> T {
    guard let index = columns.positions[name] else { preconditionFailure("no column \(name)") }
    return self[index]
  }
}

/// One connection inside a transaction of the store's: what every store function is written
/// against. Placeholders are SQLite's (`?`, `?1`); the PostgreSQL session numbers them as its own.
protocol SQLSession: AnyObject {
  var dialect: SQLDialect { get }
  /// Rows the last `execute` inserted, changed or deleted.
  var changesCount: Int { get }
  func execute(sql: String, arguments: SQLArguments) throws
  func fetchAll(sql: String, arguments: SQLArguments) throws -> [SQLRow]
}

extension SQLSession {
  func execute(sql: String) throws { try execute(sql: sql, arguments: []) }

  func fetchAll(sql: String) throws -> [SQLRow] { try fetchAll(sql: sql, arguments: []) }

  func fetchOne(sql: String, arguments: SQLArguments = []) throws -> SQLRow? {
    try fetchAll(sql: sql, arguments: arguments).first
  }

  /// The first column of the first row, nil when there is no row or it is NULL.
  func fetchOne<T: SQLColumnValue>(_ type: T.Type, sql: String, arguments: SQLArguments = []) throws -> T? {
    guard let row = try fetchOne(sql: sql, arguments: arguments) else { return nil }
    return row[0] as T?
  }

  /// The first column of every row where it is not NULL.
  func fetchAll<T: SQLColumnValue>(_ type: T.Type, sql: String, arguments: SQLArguments = []) throws -> [T] {
    try fetchAll(sql: sql, arguments: arguments).compactMap { $0[0] as T? }
  }

  /// `sqlite` or `postgresql`, whichever this session's engine speaks.
  func pick(sqlite: String, postgresql: String) -> String {
    dialect == .sqlite ? sqlite : postgresql
  }
}

/// Where a store's sessions come from: reads see one snapshot each; writes are transactions,
/// one at a time in the whole database (SQLite's rule, kept on PostgreSQL across every daemon
/// that shares it, so that the store's read-then-write functions mean the same on both).
protocol SQLEngine: Sendable {
  var dialect: SQLDialect { get }
  func read<T>(_ body: (any SQLSession) throws -> T) throws -> T
  func write<T>(_ body: (any SQLSession) throws -> T) throws -> T
  /// Lets go of every connection.
  func close()
}
