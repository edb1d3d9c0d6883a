import Foundation
import GRDB

/// The embedded engine: a SQLite file through GRDB (a pool: one writer, readers beside it in
/// WAL mode), or a private database in memory.
final class SQLiteEngine: SQLEngine {
  let writer: any DatabaseWriter

  init(_ writer: any DatabaseWriter) { self.writer = writer }

  var dialect: SQLDialect { .sqlite }

  func read<T>(_ body: (any SQLSession) throws -> T) throws -> T {
    try writer.read { db in try body(SQLiteSession(db)) }
  }

  func write<T>(_ body: (any SQLSession) throws -> T) throws -> T {
    try writer.write { db in try body(SQLiteSession(db)) }
  }

  func close() {}
}

/// A GRDB connection inside one of its transactions. Every statement is compiled once per
/// connection (GRDB's cache): delivery runs the same few many times a second.
final class SQLiteSession: SQLSession {
  let db: Database

  init(_ db: Database) { self.db = db }

  var dialect: SQLDialect { .sqlite }

  var changesCount: Int { db.changesCount }

  func execute(sql: String, arguments: SQLArguments) throws {
    if arguments.values.isEmpty {
      // May hold several statements (a migration's); they are run in turn.
      try db.execute(sql: sql)
    } else {
      try db.cachedStatement(sql: sql).execute(arguments: Self.arguments(arguments))
    }
  }

  func fetchAll(sql: String, arguments: SQLArguments) throws -> [SQLRow] {
    let statement = try db.cachedStatement(sql: sql)
    let columns = SQLRow.Columns(statement.columnNames)
    let cursor = try Row.fetchCursor(statement, arguments: Self.arguments(arguments))
    var rows: [SQLRow] = []
    while let row = try cursor.next() {
      rows.append(SQLRow(columns: columns, values: row.databaseValues.map(Self.value)))
    }
    return rows
  }

  static func arguments(_ arguments: SQLArguments) -> StatementArguments {
    StatementArguments(
      arguments.values.map { value -> (any DatabaseValueConvertible)? in
        switch value {
        case .null: nil
        case .integer(let value): value
        case .real(let value): value
        case .text(let value): value
        }
      })
  }

  static func value(_ value: DatabaseValue) -> SQLValue {
    switch value.storage {
    case .null: .null
    case .int64(let value): .integer(value)
    case .double(let value): .real(value)
    case .string(let value): .text(value)
    case .blob(let data): .text(String(decoding: data, as: UTF8.self))
    }
  }
}
