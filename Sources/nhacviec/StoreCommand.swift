import ArgumentParser
import Foundation
import NhacviecStore

/// `nhacviec store`: the journal's engine itself, as opposed to what it holds.
struct StoreCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "store",
    abstract: "Work on the store itself: copy it from one engine to the other.",
    subcommands: [StoreCopyCommand.self])
}

struct StoreCopyCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "copy",
    abstract: "Copy a whole store, row for row, from SQLite to PostgreSQL or back, and verify the counts.",
    discussion: """
      SOURCE and DESTINATION are each sqlite:PATH (a journal file, as nhacviec.sqlite in the \
      state folder) or a PostgreSQL URL (postgresql://USER@HOST:PORT/DATABASE, TLS settings by \
      libpq's names). Every table is copied with its ids: the journal, attempts, facts \
      (retracted ones too), silences, rejudges, digests, accounts and their sessions, login \
      failures, nodes and the daemon's bookkeeping (meta). Both stores are first brought to this \
      version's schema; the destination must then be empty (a new SQLite file is created; a \
      PostgreSQL database must exist, with nothing in it but what nhacviec's migrations make).

      The source is read in one snapshot, so a daemon may be running on it, but what it does \
      after the snapshot is not in the copy: stop it first (docs/daemon.md, Moving to \
      PostgreSQL). The destination is written in one transaction: when a row is refused or the \
      counts per table differ afterwards, nothing is kept (and a SQLite file the command \
      created is removed).

      A PostgreSQL password is read from --password-file, or libpq's own way (~/.pgpass, \
      PGPASSWORD); never put it in the URL.

      Exit status: 0 copied and verified, 1 refused or failed.
        nhacviec store copy --from sqlite:/var/lib/nhacviec/nhacviec.sqlite \\
          --to postgresql://nhacviec@db.example:5432/nhacviec \\
          --password-file /etc/nhacviec/pg-password
      """)

  @Option(
    help: ArgumentHelp("The store to copy: sqlite:PATH or postgresql://…", valueName: "SOURCE"),
    completion: Completions.stores)
  var from: String
  @Option(
    help: ArgumentHelp(
      "The empty store to copy into: sqlite:PATH (a new file) or postgresql://…", valueName: "DESTINATION"),
    completion: Completions.stores)
  var to: String
  @Option(
    help: ArgumentHelp("A file holding the PostgreSQL password (for either side).", valueName: "FILE"),
    completion: .file())
  var passwordFile: String?

  struct Refusal: Error, CustomStringConvertible {
    let description: String
  }

  /// Where a store is, as the command line names it.
  enum Address: Equatable {
    case sqlite(String)
    case postgresql(String)

    init(_ text: String, option: String) throws {
      if text.hasPrefix("sqlite:") {
        let path = String(text.dropFirst("sqlite:".count))
        guard !path.isEmpty else { throw ValidationError("\(option) sqlite: needs a path (sqlite:PATH)") }
        self = .sqlite(path)
      } else if text.hasPrefix("postgresql://") || text.hasPrefix("postgres://") {
        self = .postgresql(text)
      } else {
        throw ValidationError("\(option) must be sqlite:PATH or a PostgreSQL URL (postgresql://…), not `\(text)`")
      }
    }
  }

  func validate() throws {
    let source = try Address(from, option: "--from")
    let destination = try Address(to, option: "--to")
    guard source != destination else { throw ValidationError("--from and --to name the same store") }
  }

  func run() throws {
    let source = try Address(from, option: "--from")
    let destination = try Address(to, option: "--to")
    do {
      let password = try passwordFile.map(readPassword)
      if case .sqlite(let path) = source, !FileManager.default.fileExists(atPath: path) {
        throw Refusal(description: "no store at \(path)")
      }
      var created: String?
      if case .sqlite(let path) = destination, !FileManager.default.fileExists(atPath: path) {
        // Made here, 0600 whatever the umask, as the daemon makes its journal: it holds every
        // message. SQLite gives its log files beside it the same mode.
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw Refusal(description: "cannot create \(path): \(String(cString: strerror(errno)))") }
        fchmod(fd, 0o600)
        close(fd)
        created = path
      }
      do {
        let summary = try store(at: source, password: password).copy(to: store(at: destination, password: password))
        func line(_ name: String, _ rows: String) -> String {
          name.padding(toLength: 14, withPad: " ", startingAt: 0)
            + String(repeating: " ", count: max(0, 9 - rows.count))
            + rows
        }
        print(line("TABLE", "ROWS"))
        for table in summary.tables { print(line(table.name, String(table.rows))) }
        print("copied \(summary.rows) rows, counts verified")
      } catch {
        if let created { for suffix in ["", "-wal", "-shm"] { unlink(created + suffix) } }
        throw error
      }
    } catch {
      printError("store copy failed: \(error)")
      throw ExitCode(1)
    }
  }

  func store(at address: Address, password: String?) throws -> Store {
    switch address {
    case .sqlite(let path): try Store(path: path)
    case .postgresql(let url): try Store(postgresql: url, password: password)
    }
  }

  func readPassword(_ path: String) throws -> String {
    do {
      return try String(contentsOfFile: path, encoding: .utf8).trimmingCharacters(in: .newlines)
    } catch {
      throw Refusal(description: "cannot read the password file \(path)")
    }
  }
}
