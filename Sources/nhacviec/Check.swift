import ArgumentParser
import Foundation
import NhacviecConfig
import NhacviecCore
import NhacviecDelivery

struct Check: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Validate the configuration, directory, calendar, rules, templates and channels.",
    discussion: """
      Prints a summary: units per kind, channels, and each rule's resolved deadline for the
      current period. The program of each external rule (kind: exec) is run once for that
      period, and its answer checked. Errors are printed as FILE:LINE:COL: message. Exit status
      0 when valid, 1 when not.
      """)

  @OptionGroup var options: ConfigOptions

  @Option(help: ArgumentHelp("Summarise as of this date or instant instead of now.", valueName: "INSTANT"))
  var now: String?

  @Option(help: ArgumentHelp("Also check a facts file (CSV or YAML).", valueName: "FILE"))
  var facts: String?

  func run() throws {
    let deployment = try options.load()
    let zone = deployment.zone
    // Channels are built as the daemon would build them: secret files read, settings checked.
    let client = CurlClient()
    defer { client.shutdown() }
    let factory = ChannelFactory(client: client, zone: zone, stateDirectory: deployment.daemon.state)
    var channelErrors: [String] = []
    for (name, config) in deployment.channels.sorted(by: { $0.key < $1.key }) {
      do {
        _ = try factory.make(name: name, type: config.spec.type, settings: config.settings)
      } catch {
        channelErrors.append("\(config.location): \(error)")
      }
    }
    if !channelErrors.isEmpty {
      for e in channelErrors { printError(e) }
      printError(
        "configuration has \(channelErrors.count) error\(channelErrors.count == 1 ? "" : "s"): \(options.path)")
      throw ExitCode(1)
    }
    let at = try now.map { try instant($0, zone: zone, option: "--now") } ?? Date()
    var book = FactBook()
    if let facts {
      let loaded = try loadFacts(facts, for: deployment)
      book = FactBook(loaded)
      print("facts: \(loaded.count) in \(facts)")
    }
    let today = zone.localDate(of: at)
    let calendar = deployment.calendar
    let weekdays = Weekday.allCases.filter { calendar.workingWeekdays.contains($0) }.map { "\($0)".prefix(3) }
    print("configuration OK: \(deployment.configPath)")
    print(
      "time: \(zone.identifier); working days \(weekdays.joined(separator: " ")); holidays \(calendar.holidayRules.name)"
    )
    if let warning = calendar.overrideWarning(today: today) { print("warning: \(warning)") }
    let units = deployment.directory.units(on: today)
    let byKind = Dictionary(grouping: units, by: \.kind).map { "\($0.value.count) \($0.key)" }.sorted()
    print(
      "directory: \(deployment.directory.units.count) unit records; as of \(today): \(units.count) units (\(byKind.joined(separator: ", ")))"
    )
    let channels = deployment.channels.values.sorted { $0.spec.name < $1.spec.name }
      .map { "\($0.spec.name) (\($0.spec.type))" }
    print("channels: \(channels.joined(separator: ", "))")
    print("rules: \(deployment.ruleset.rules.count)")
    let engine = deployment.engine(facts: book)
    var failures = 0
    for rule in deployment.ruleset.rules {
      let period = Period.containing(today, kind: rule.period)
      let deadline = rule.due.deadline(for: period, calendar: calendar)
      let named = rule.due.namedDate(for: period, calendar: calendar)
      let owing = engine.roster(of: rule, deadline: deadline).count
      print(
        "  \(rule.id) [\(rule.kindName), \(rule.period.rawValue)] period \(period): due \(rule.due.convention) \(named.vietnamese) → \(zone.rfc3339(deadline)); \(owing) unit\(owing == 1 ? "" : "s") \(rule.kind.isObligation ? (owing == 1 ? "owes" : "owe") : (owing == 1 ? "receives" : "receive")) it"
      )
      let gaps = engine.routingGaps(rule: rule, period: period)
      for gap in gaps.prefix(5) {
        let to = gap.selectors.map(\.description).joined(separator: ", ")
        print("    warning: \(gap.rung) of \(gap.unitID) reaches nobody through \(gap.channel) (to: \(to))")
      }
      if gaps.count > 5 { print("    warning: … and \(gaps.count - 5) more rungs that reach nobody") }
      // An external rule's program is run once, as the daemon would run it, so that a broken
      // plugin shows here rather than as silence in the season.
      guard rule.kind is ExecKind else { continue }
      let trial = engine.evaluate(rule: rule, period: period, at: at)
      if let failure = trial.failure {
        printError("\(rule.location.map { "\($0): " } ?? "")rule \(rule.id): \(failure.message)")
        failures += 1
      } else {
        let met = trial.findings.filter { $0.state.isClosed }.count
        print("    program answered for \(trial.findings.count) units: \(met) done, \(trial.findings.count - met) not")
      }
    }
    if failures > 0 {
      printError("\(failures) external rule\(failures == 1 ? "" : "s") could not be judged: \(options.path)")
      throw ExitCode(1)
    }
  }
}
