import ArgumentParser
import Foundation
import NhacviecConfig
import NhacviecControl
import NhacviecCore
import NhacviecDaemon
import NhacviecRender

struct ReportCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "report",
    abstract: "The consolidated report of a period: who is in, late or missing, per unit, parent and kind.",
    discussion: """
      Per unit: the state (on time, late by N days, missing, extended, exempt), when the report \
      arrived and its number, a budget line's amount, a roll-up's children. Per parent unit: \
      how many children are in. Per kind of unit and in total: the shares on time, late and \
      missing. Asks the running daemon (its recorded facts) when its socket answers; with \
      --offline or --facts, computes from the files instead. Formats: html (self-contained, \
      prints on A4, with a chart), csv (UTF-8 with BOM, for spreadsheets), md, json. Without \
      --format, the --output file's extension decides, else md.
      """)

  @Option(help: ArgumentHelp("The period: 2026, 2026-Q4 or 2026-11.", valueName: "PERIOD")) var period: String
  @Option(
    help: ArgumentHelp("Only this rule (repeatable). Default: every rule of the period's kind.", valueName: "ID"),
    completion: Completions.rules)
  var rule: [String] = []
  @Option(
    help: ArgumentHelp("Only the units under this parent unit (a district's communes).", valueName: "UNIT"),
    completion: Completions.units)
  var scope: String?
  @Option(help: ArgumentHelp("As of this instant instead of now.", valueName: "INSTANT")) var asOf: String?
  @Option(help: "html, csv, md or json.", completion: Completions.formats) var format: String?
  @Option(help: ArgumentHelp("Write to this file instead of standard output.", valueName: "FILE"), completion: .file())
  var output: String?
  @Option(help: ArgumentHelp("Facts to take into account (offline).", valueName: "FILE"), completion: .file())
  var facts: String?
  @Flag(help: "Compute from the files even if the daemon runs.") var offline = false
  @OptionGroup var options: SocketOptions

  func validate() throws {
    guard Period(period) != nil else { throw ValidationError("--period must be 2026, 2026-Q4 or 2026-11") }
    if let format, ReportFormat(rawValue: format) == nil {
      throw ValidationError("--format must be html, csv, md or json, not \(format)")
    }
    if format == nil, let output, ReportFormat(rawValue: (output as NSString).pathExtension.lowercased()) == nil,
      (output as NSString).pathExtension.lowercased() != "markdown"
    {
      throw ValidationError("give --format: the extension of \(output) names no format (html, csv, md, json)")
    }
  }

  var chosenFormat: ReportFormat {
    if let format, let chosen = ReportFormat(rawValue: format) { return chosen }
    if let output { return ReportFormat(rawValue: (output as NSString).pathExtension.lowercased()) ?? .md }
    return .md
  }

  func run() throws {
    let format = chosenFormat
    var text: String?
    if !offline && facts == nil {
      var query = ["period=\(queryValue(period))", "format=\(format.rawValue)"]
      if !rule.isEmpty { query.append("rules=\(queryValue(rule.joined(separator: ",")))") }
      if let scope { query.append("scope=\(queryValue(scope))") }
      if let asOf { query.append("as_of=\(queryValue(asOf))") }
      if let response = try? ControlClient.request(
        socket: try options.path(), method: "GET", target: "/v1/report?" + query.joined(separator: "&"))
      {
        text = String(decoding: try options.body(response), as: UTF8.self)
      }
    }
    if text == nil { text = try offlineReport(format: format) }
    let body = text ?? ""
    if let output {
      do {
        try Data(body.utf8).write(to: URL(fileURLWithPath: output), options: .atomic)
      } catch {
        printError("cannot write \(output): \(error.localizedDescription)")
        throw ExitCode(1)
      }
    } else {
      FileHandle.standardOutput.write(Data(body.utf8))
    }
  }

  func offlineReport(format: ReportFormat) throws -> String {
    let deployment = try loadDeployment(ConfigLocator.path(explicit: options.config))
    let book = FactBook(try facts.map { try loadFacts($0, for: deployment) } ?? [])
    for id in rule where deployment.ruleset.rule(id) == nil {
      printError("unknown rule \(id)")
      throw ExitCode(1)
    }
    if let scope, !deployment.directory.knows(scope) {
      printError("unknown unit \(scope)")
      throw ExitCode(1)
    }
    let moment = try asOf.map { try instant($0, zone: deployment.zone, option: "--as-of") } ?? Date()
    let report = deployment.engine(facts: book).report(
      period: Period(period)!, ruleIDs: rule.isEmpty ? nil : rule, scope: scope, at: moment)
    return ReportDocument(report, zone: deployment.zone).rendered(as: format)
  }

}
