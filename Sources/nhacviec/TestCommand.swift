import ArgumentParser
import Foundation
import NhacviecConfig
import NhacviecCore

struct TestCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "test",
    abstract: "Run rule tests: replay a season on a virtual clock and compare with what a file expects.",
    discussion: """
      Each file gives facts with their instants and checkpoints: at an instant, the expected \
      findings and the notices expected (or not) to have been sent so far. See docs/rules.md. \
      Exit status 0 when every test passes, 1 when any fails, 2 when a file is malformed.
      """)

  @Argument(help: "Test files (YAML).") var files: [String]

  @Option(
    help: ArgumentHelp("The configuration for files that name none.", valueName: "FILE"),
    completion: Completions.configFile)
  var config: String?

  func run() throws {
    var failed = 0
    var malformed = 0
    for file in files {
      let loaded: (RuleTestFile, Deployment)
      do {
        loaded = try RuleTestFile.load(path: file, defaultConfig: ConfigLocator.path(explicit: config))
      } catch let error as ConfigErrors {
        printError(error.description)
        malformed += 1
        continue
      } catch let error as ConfigError {
        printError(error.description)
        malformed += 1
        continue
      }
      let (test, deployment) = loaded
      let failures = test.run(deployment)
      if failures.isEmpty {
        print("ok   \(file) (\(test.checkpoints.count) checkpoints)")
      } else {
        failed += 1
        print("FAIL \(file)")
        for failure in failures { print("  \(failure)") }
      }
    }
    print(
      "\(files.count - failed - malformed) passed, \(failed) failed" + (malformed > 0 ? ", \(malformed) malformed" : "")
    )
    if malformed > 0 { throw ExitCode(2) }
    if failed > 0 { throw ExitCode(1) }
  }
}
