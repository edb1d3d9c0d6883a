import ArgumentParser
import Foundation
import NhacviecConfig
import NhacviecCore
import NhacviecDaemon

@main
struct Nhacviec: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "nhacviec",
    abstract: "Reminds a hierarchy of agencies of what they owe, before and after the deadline.",
    discussion: """
      Run from a checkout, every command reads the shipped configuration in \
      Rules/nhacviec.yaml; installed, it reads /etc/nhacviec/nhacviec.yaml. \
      --config FILE overrides both.
      """,
    version: NhacviecVersion.current,
    subcommands: [
      Init.self, Run.self, Check.self, TestCommand.self, Explain.self, CalendarCommand.self, Simulate.self,
      SendTest.self,
      Status.self,
      Findings.self,
      Upcoming.self, Notices.self, Record.self, Import.self, FactsCommand.self, Retract.self, SilenceCommand.self,
      ClaimsCommand.self,
      Retry.self, Flush.self, Ack.self, Reload.self, ReportCommand.self, BackupCommand.self, StoreCommand.self,
      LinkKey.self,
      UserCommand.self,
    ]
  )
}

extension Nhacviec {
  /// ArgumentParser's own entry point, except that a usage error exits 2, as the client
  /// commands promise (ArgumentParser's default is 64).
  static func main() async {
    do {
      var command = try parseAsRoot()
      if var asyncCommand = command as? any AsyncParsableCommand {
        try await asyncCommand.run()
      } else {
        try command.run()
      }
    } catch {
      if exitCode(for: error) == .validationFailure {
        FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
        Foundation.exit(2)
      }
      exit(withError: error)
    }
  }
}

enum NhacviecVersion {
  static let current = BuildInfo.summary
}

/// Options every command that reads the configuration shares.
struct ConfigOptions: ParsableArguments {
  @Option(
    name: .long, help: ArgumentHelp("The configuration file.", valueName: "FILE"), completion: Completions.configFile)
  var config: String?

  var path: String { ConfigLocator.path(explicit: config) }

  func load() throws -> Deployment { try loadDeployment(path) }
}

/// Loads a configuration, printing every error as FILE:LINE:COL and exiting 1 when it has any.
/// Secrets named by file name are read from `credentials` when given, else as the daemon reads
/// them ($CREDENTIALS_DIRECTORY, else beside the configuration).
func loadDeployment(_ path: String, credentials: String? = nil) throws -> Deployment {
  var loader = DeploymentLoader()
  if let credentials { loader.credentials = credentials }
  do {
    return try loader.load(configPath: path)
  } catch {
    printError(error.description)
    printError("configuration has \(error.errors.count) error\(error.errors.count == 1 ? "" : "s"): \(path)")
    throw ExitCode(1)
  }
}

/// Loads a facts file and checks it against the deployment (known units and rules, periods that
/// fit), printing every error as FILE:LINE and exiting 1 when it has any.
func loadFacts(_ file: String, for deployment: Deployment) throws -> [Fact] {
  let facts: [Fact]
  do {
    facts = try FactsLoader.load(file: file, zone: deployment.zone)
  } catch {
    printError(error.description)
    throw ExitCode(1)
  }
  let problems = FactsLoader.check(facts, against: deployment)
  guard problems.isEmpty else {
    printError(ConfigErrors(problems).description)
    throw ExitCode(1)
  }
  return facts
}

/// A value as it goes in a control API query string.
func queryValue(_ text: String) -> String {
  text.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? text
}

func printError(_ text: String) {
  FileHandle.standardError.write(Data((errorLines(text) + "\n").utf8))
}

/// Under systemd (`ExecStartPre=nhacviec check`, `ExecReload=nhacviec reload`), standard error
/// is a journal stream: each line of an error carries the error priority, so that
/// `journalctl -p err` shows why the unit failed to start, not only systemd's "Failed to start".
func errorLines(_ text: String) -> String {
  guard Journald.standardErrorIsJournal else { return text }
  return text.split(separator: "\n", omittingEmptySubsequences: false).map { "<3>" + $0 }.joined(separator: "\n")
}

/// Parses `--now`, `--from` and `--to` values: a date or an instant, in the deployment's zone.
func instant(_ text: String, zone: Zone, option: String) throws -> Date {
  guard let value = zone.parseInstant(text) else {
    throw ValidationError("\(option): expected 2026-11-15 or 2026-11-15T08:00:00+07:00, not \(text)")
  }
  return value
}
