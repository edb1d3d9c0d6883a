import ArgumentParser
import Foundation
import NhacviecConfig
import NhacviecControl
import NhacviecCore
import NhacviecDaemon

struct Explain: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Why a unit is where it is: each obligation, its deadline, the facts that count, its ladder.",
    discussion: """
      Asks the running daemon (its recorded facts, its clock) when its socket answers; with \
      --offline, --at or --facts, computes from the configuration files instead.
      """)

  @Option(help: "The unit's id.", completion: Completions.units) var unit: String
  @Option(help: "Only this rule.", completion: Completions.rules) var rule: String?
  @Option(help: ArgumentHelp("Explain as of this instant (offline).", valueName: "INSTANT")) var at: String?
  @Option(help: ArgumentHelp("Facts to take into account (offline).", valueName: "FILE"), completion: .file())
  var facts: String?
  @Flag(help: "Compute from the files even if the daemon runs.") var offline = false
  @Flag(help: "Print JSON.") var json = false
  @OptionGroup var options: SocketOptions

  func run() throws {
    var explanation: ControlAPI.Explanation?
    var source = "the running daemon"
    if !offline && at == nil && facts == nil,
      let response = try? ControlClient.request(
        socket: try options.path(), method: "GET",
        target: "/v1/explain?unit=\(queryValue(unit))" + (rule.map { "&rule=\(queryValue($0))" } ?? ""))
    {
      explanation = try options.decode(ControlAPI.Explanation.self, response)
    } else {
      source = "the configuration files"
      let deployment = try loadDeployment(ConfigLocator.path(explicit: options.config))
      let book = FactBook(try facts.map { try loadFacts($0, for: deployment) } ?? [])
      if let facts { source += " and \(facts)" }
      let moment = try at.map { try instant($0, zone: deployment.zone, option: "--at") } ?? Date()
      explanation = deployment.engine(facts: book).explain(unitID: unit, ruleID: rule, at: moment).map {
        ControlAPI.Explanation($0, zone: deployment.zone)
      }
    }
    guard let explanation else {
      printError("no unit \(unit) in the directory")
      throw ExitCode(1)
    }
    if json {
      let encoder = JSONEncoder()
      encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
      print(String(decoding: try encoder.encode(explanation), as: UTF8.self))
      return
    }
    print("\(explanation.unit) \(explanation.unitName), as of \(explanation.at) (from \(source))")
    if explanation.obligations.isEmpty { print("  owes nothing under way now") }
    for o in explanation.obligations {
      print("\n\(o.rule) \(o.period): \(o.state)")
      print("  \(o.title)")
      print("  due \(o.due) → \(o.deadline)")
      print("  basis: \(o.basis)")
      for fact in o.facts { print("  fact: \(fact)") }
      for detail in o.details { print("  \(detail)") }
      for step in o.ladder {
        let status = step.status.rawValue.padding(toLength: 5, withPad: " ", startingAt: 0)
        print("  \(status) \(step.at)  \(step.step)  \(step.to.joined(separator: ", "))")
        for line in step.journal ?? [] { print("          journal: \(line)") }
      }
      print("  stops it: \(o.stops)")
    }
  }

}
