import Foundation

/// What `copy(to:)` copied: each table's rows, in the order they were written.
public struct StoreCopySummary: Sendable, Equatable {
  public struct Table: Sendable, Equatable {
    public let name: String
    public let rows: Int
  }

  public let tables: [Table]

  public var rows: Int { tables.reduce(0) { $0 + $1.rows } }
}

public struct StoreCopyError: Error, CustomStringConvertible, Sendable, Equatable {
  public let description: String
}

extension Store {
  /// Every table of the store's schema, in an order that writes an account before its sessions
  /// (the one foreign key), each with the columns that order it. The migrations' own
  /// bookkeeping (`grdb_migrations`, `nhacviec_migration`, `sqlite_sequence`) is each engine's
  /// and is not copied: the destination was migrated by this same nhacviec.
  static let copiedTables: [(name: String, order: [String])] = [
    ("meta", ["name"]),
    ("journal", ["key", "channel"]),
    ("attempt", ["id"]),
    ("fact", ["id"]),
    ("silence", ["id"]),
    ("rejudge", ["id"]),
    ("digest_item", ["digest", "channel", "rung"]),
    ("account", ["name"]),
    ("session", ["id_hash"]),
    // No key: read whole, in one statement, rather than a page at a time.
    ("login_failure", []),
    ("node", ["name"]),
  ]

  /// Rows read and written per statement: a journal of a province's year is not held in memory
  /// at once, and each insert carries a few hundred parameters, well under either engine's limit.
  static let copyPage = 200

  /// Copies every row of this store into `destination`, ids kept, to move a province from one
  /// engine to the other. This store is read in one read transaction (one snapshot, whatever a
  /// daemon writes meanwhile); `destination` is written in one write transaction, which is
  /// rolled back, leaving it as it was, when it is not empty, when a row is refused, or when its
  /// counts afterwards are not this store's.
  public func copy(to destination: Store) throws -> StoreCopySummary {
    try engine.read { source in
      try Store.checkTables(source)
      return try destination.engine.write { target in
        let filled = try Store.copiedTables.map(\.name).filter {
          try target.fetchOne(sql: "SELECT 1 FROM \($0) LIMIT 1") != nil
        }
        if !filled.isEmpty {
          throw StoreCopyError(
            description:
              "the destination is not empty: \(filled.count == 1 ? "table" : "tables") "
              + "\(filled.joined(separator: ", ")) \(filled.count == 1 ? "has" : "have") rows; "
              + "store copy writes only into an empty store")
        }
        var tables: [StoreCopySummary.Table] = []
        for table in Store.copiedTables {
          let columns = try Store.columns(of: table.name, in: source)
          let theirs = try Store.columns(of: table.name, in: target)
          guard Set(columns) == Set(theirs) else {
            throw StoreCopyError(
              description:
                "table \(table.name) has columns \(columns.sorted().joined(separator: ", ")) in the source but "
                + "\(theirs.sorted().joined(separator: ", ")) in the destination")
          }
          let rows = try Store.copyRows(of: table, columns: columns, from: source, to: target)
          tables.append(StoreCopySummary.Table(name: table.name, rows: rows))
        }
        try Store.restartIdentities(target)
        for table in tables {
          let sourceCount = try source.fetchOne(Int.self, sql: "SELECT COUNT(*) FROM \(table.name)") ?? 0
          let targetCount = try target.fetchOne(Int.self, sql: "SELECT COUNT(*) FROM \(table.name)") ?? 0
          guard sourceCount == targetCount, targetCount == table.rows else {
            throw StoreCopyError(
              description:
                "table \(table.name): \(sourceCount) rows in the source, \(targetCount) in the destination "
                + "after copying \(table.rows); nothing was kept")
          }
        }
        return StoreCopySummary(tables: tables)
      }
    }
  }

  /// Refuses a source with a table this nhacviec does not know (a newer one's): it would not be
  /// copied, and the copy would lose it.
  static func checkTables(_ db: any SQLSession) throws {
    let names = try db.fetchAll(
      String.self,
      sql: db.pick(
        sqlite: "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
        postgresql: "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"))
    let bookkeeping: Set<String> = ["grdb_migrations", "nhacviec_migration"]
    let unknown = Set(names).subtracting(bookkeeping).subtracting(copiedTables.map(\.name))
    if !unknown.isEmpty {
      throw StoreCopyError(
        description: "the source has tables this nhacviec does not copy: \(unknown.sorted().joined(separator: ", "))")
    }
  }

  static func columns(of table: String, in db: any SQLSession) throws -> [String] {
    switch db.dialect {
    case .sqlite:
      try db.fetchAll(sql: "PRAGMA table_info(\(table))").map { $0["name"] }
    case .postgresql:
      try db.fetchAll(
        String.self,
        sql: """
          SELECT column_name::text FROM information_schema.columns
          WHERE table_schema = current_schema() AND table_name = ? ORDER BY ordinal_position
          """, arguments: [table])
    }
  }

  /// Copies one table a page at a time, each page after the last one's key (one snapshot, so no
  /// row is seen twice or missed); returns the rows written.
  static func copyRows(
    of table: (name: String, order: [String]), columns: [String], from source: any SQLSession,
    to target: any SQLSession
  ) throws -> Int {
    let list = columns.map { "\"\($0)\"" }.joined(separator: ", ")
    let order = table.order.map { "\"\($0)\"" }.joined(separator: ", ")
    var copied = 0
    var after: SQLArguments?
    while true {
      let rows: [SQLRow]
      if table.order.isEmpty {
        rows = try source.fetchAll(sql: "SELECT \(list) FROM \(table.name)")
      } else if let after {
        let marks = Array(repeating: "?", count: table.order.count).joined(separator: ", ")
        rows = try source.fetchAll(
          sql: "SELECT \(list) FROM \(table.name) WHERE (\(order)) > (\(marks)) ORDER BY \(order) LIMIT ?",
          arguments: after + [copyPage])
      } else {
        rows = try source.fetchAll(
          sql: "SELECT \(list) FROM \(table.name) ORDER BY \(order) LIMIT ?", arguments: [copyPage])
      }
      for page in stride(from: 0, to: rows.count, by: copyPage) {
        let slice = rows[page..<min(page + copyPage, rows.count)]
        let row = "(" + Array(repeating: "?", count: columns.count).joined(separator: ", ") + ")"
        try target.execute(
          sql: "INSERT INTO \(table.name) (\(list)) VALUES "
            + Array(repeating: row, count: slice.count).joined(separator: ", "),
          arguments: SQLArguments(slice.flatMap(\.values)))
      }
      copied += rows.count
      guard !table.order.isEmpty, rows.count == copyPage, let last = rows.last else { return copied }
      // The key columns lead the order; their values are read by name, whatever their position.
      after = SQLArguments(table.order.map { last.values[columns.firstIndex(of: $0)!] })
    }
  }

  /// PostgreSQL's identities do not move when a row is inserted with its id: set past the
  /// highest copied, so that the next fact or attempt gets a new id. (SQLite's AUTOINCREMENT
  /// keeps its highest in `sqlite_sequence` as rows are inserted, ids given or not.)
  static func restartIdentities(_ db: any SQLSession) throws {
    guard db.dialect == .postgresql else { return }
    for table in ["attempt", "fact", "silence", "rejudge"] {
      try db.execute(
        sql: """
          SELECT setval(pg_get_serial_sequence('\(table)', 'id'), MAX(id)) FROM \(table) HAVING MAX(id) IS NOT NULL
          """)
    }
  }
}
