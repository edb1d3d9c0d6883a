import ArgumentParser
import Foundation
import NhacviecConfig
import NhacviecStore

struct BackupCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "backup",
    abstract: "Copy the journal to a new file, consistent even while the daemon writes, and check the copy.",
    discussion: """
      Reads nhacviec.sqlite in the configuration's state folder (daemon.state) directly, through \
      a read-only connection, with SQLite's online backup API: the copy is the journal as it \
      stood at one instant, whether the daemon is running (it is neither stopped nor held up) \
      or not. The copy is then checked with PRAGMA integrity_check and its notices and facts \
      are counted. FILE must not exist; it is written 0600. Run it as root or as the daemon's \
      user, who may read the state folder. A configuration whose daemon.store is PostgreSQL is \
      refused: back that database up with pg_dump, or copy it with nhacviec store copy.

      Exit status: 0 copied and checked, 1 failed (nothing is left at FILE).
      """)

  @Argument(help: ArgumentHelp("The copy to write: a new file.", valueName: "FILE"), completion: .file()) var file:
    String
  @Option(
    help: ArgumentHelp("The configuration file, to find the state folder.", valueName: "FILE"),
    completion: Completions.configFile)
  var config: String?
  @Option(
    help: ArgumentHelp("The journal to copy (default: nhacviec.sqlite in the state folder).", valueName: "FILE"),
    completion: .file())
  var database: String?

  func run() throws {
    let source: String
    if let database {
      source = database
    } else {
      let configPath = ConfigLocator.path(explicit: config)
      let deployment = try? DeploymentLoader().load(configPath: configPath)
      // A shared store is the database server's to back up: there is no file here to copy.
      if deployment?.daemon.store != nil || DaemonSettings.store(configPath: configPath) != nil {
        printError(
          "backup failed: the journal is in PostgreSQL (daemon.store): back it up with pg_dump, "
            + "or copy it with nhacviec store copy")
        throw ExitCode(1)
      }
      // The loaded configuration's state folder; from a broken one, its daemon.state as written.
      let state = deployment?.daemon.state ?? DaemonSettings.state(configPath: configPath)
      source = (state as NSString).appendingPathComponent("nhacviec.sqlite")
    }
    do {
      let summary = try Store.backup(database: source, to: file)
      let states = summary.noticesByState.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }
      print("copied \(source) to \(file): \(summary.bytes) bytes, integrity ok")
      print(
        "notices: \(summary.notices)\(states.isEmpty ? "" : " (\(states.joined(separator: ", ")))"); "
          + "facts: \(summary.facts)")
    } catch let error as BackupError {
      printError("backup failed: \(error.description)")
      throw ExitCode(1)
    }
  }
}
