import ArgumentParser
import Foundation
import NhacviecConfig
import NhacviecCore
import NhacviecDelivery
import NhacviecLinks

struct Check: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Validate the configuration, directory, calendar, rules, templates and channels.",
    discussion: """
      Prints a summary: units per kind, channels, how the rules cite the letter, and each \
      rule's resolved deadline for the current period (and, when its last day is a day off and \
      calendar.deadline_on_day_off is next-working-day, when it ends). The program of each external rule (kind: exec) is run once for that \
      period, and its answer checked. Errors are printed as FILE:LINE:COL: message. Exit status \
      0 when valid, 1 when not.

      With a web: section, its link_keys_file is read and checked too; a mistake in it is \
      printed as FILE:LINE: message.

      Secrets a channel names by file name (password_file: smtp-password) are read as the \
      daemon reads them: from $CREDENTIALS_DIRECTORY under systemd (LoadCredential=), else \
      beside the configuration. --credentials DIR reads them from DIR instead: the folder the \
      unit's LoadCredential= lines read from, such as /etc/nhacviec/secrets.
      """)

  @OptionGroup var options: ConfigOptions

  @Option(
    help: ArgumentHelp(
      "Read secrets named by file name from this folder, as the daemon reads them from $CREDENTIALS_DIRECTORY.",
      valueName: "DIR"))
  var credentials: String?

  @Option(help: ArgumentHelp("Summarise as of this date or instant instead of now.", valueName: "INSTANT"))
  var now: String?

  @Option(help: ArgumentHelp("Also check a facts file (CSV or YAML).", valueName: "FILE"), completion: .file())
  var facts: String?

  @Flag(help: "Print only warnings, errors and one line when the configuration passes (the unit's ExecStartPre=).")
  var quiet = false

  func validate() throws {
    var isFolder: ObjCBool = false
    if let credentials,
      !FileManager.default.fileExists(atPath: credentials, isDirectory: &isFolder) || !isFolder.boolValue
    {
      throw ValidationError("--credentials: no folder \(credentials)")
    }
  }

  func run() throws {
    // Quiet, as the unit's ExecStartPre= runs it: only what needs attention (warnings, errors)
    // and one line to say the configuration passed, not the summary on every start.
    func say(_ line: String) {
      if !quiet || line.trimmingCharacters(in: .whitespaces).hasPrefix("warning:") { print(line) }
    }
    let deployment = try loadDeployment(options.path, credentials: credentials)
    let zone = deployment.zone
    // Channels are built as the daemon builds them: secret files read, settings checked.
    let client = CurlClient()
    defer { client.shutdown() }
    let runtime = ChannelRuntime(client: client, zone: zone, stateDirectory: deployment.daemon.state)
    var channelErrors = runtime.channels(deployment.channels).errors
    // The keys of units' links are read as the daemon reads them at start and reload.
    var links: ReplyLinks?
    do throws(ConfigErrors) {
      links = try ReplyLinks.load(for: deployment)
    } catch {
      channelErrors += error.errors
    }
    if !channelErrors.isEmpty {
      printError(ConfigErrors(channelErrors).description)
      // A secret that cannot be read outside systemd is most often one LoadCredential= hands over.
      if credentials == nil, ProcessInfo.processInfo.environment["CREDENTIALS_DIRECTORY"] == nil,
        channelErrors.contains(where: { $0.message.contains("cannot read") })
      {
        printError(
          "hint: the daemon reads secrets named by file name from LoadCredential= ($CREDENTIALS_DIRECTORY); to check those, pass --credentials DIR (such as /etc/nhacviec/secrets)"
        )
      }
      printError(
        "configuration has \(channelErrors.count) error\(channelErrors.count == 1 ? "" : "s"): \(options.path)")
      throw ExitCode(1)
    }
    let at = try now.map { try instant($0, zone: zone, option: "--now") } ?? Date()
    var book = FactBook()
    if let facts {
      let loaded = try loadFacts(facts, for: deployment)
      book = FactBook(loaded)
      say("facts: \(loaded.count) in \(facts)")
    }
    let today = zone.localDate(of: at)
    let calendar = deployment.calendar
    let weekdays = Weekday.allCases.filter { calendar.workingWeekdays.contains($0) }.map { "\($0)".prefix(3) }
    say("configuration OK: \(deployment.configPath)")
    say(
      "time: \(zone.identifier); working days \(weekdays.joined(separator: " ")); holidays \(calendar.holidayRules.name)"
    )
    if let warning = calendar.overrideWarning(today: today) { say("warning: \(warning)") }
    let units = deployment.directory.units(on: today)
    let byKind = Dictionary(grouping: units, by: \.kind).map { "\($0.value.count) \($0.key)" }.sorted()
    say(
      "directory: \(deployment.directory.units.count) unit records; as of \(today): \(units.count) units (\(byKind.joined(separator: ", ")))"
    )
    let textWarnings = deployment.directory.textWarnings
    for warning in textWarnings.prefix(20) { say("warning: \(warning)") }
    if textWarnings.count > 20 { say("warning: … and \(textWarnings.count - 20) more names to tidy") }
    let channels = deployment.channels.values.sorted { $0.spec.name < $1.spec.name }
      .map { "\($0.spec.name) (\($0.spec.type))" }
    say("channels: \(channels.joined(separator: ", "))")
    say(
      deployment.letter == "Công văn"
        ? "letter: cited without number or date (set letter.number and letter.date once known)"
        : "letter: cited as \(deployment.letter)")
    if let web = deployment.web, let links {
      let keys = links.signer.keys.keys.map(\.id)
      say(
        "web: \(web.url), listening on \(web.listen); links signed with key \(keys[0])\(keys.count > 1 ? ", also verifying \(keys.dropFirst().joined(separator: ", "))" : "")"
      )
    }
    say("rules: \(deployment.ruleset.rules.count)")
    let engine = deployment.engine(facts: book)
    var failures = 0
    for rule in deployment.ruleset.rules {
      let period = Period.containing(today, kind: rule.period)
      let deadline = rule.due.deadline(for: period, calendar: calendar)
      let named = rule.due.namedDate(for: period, calendar: calendar)
      let owing = engine.roster(of: rule, deadline: deadline).count
      let ends = rule.due.ends(ofDeadline: deadline, calendar: calendar)
      // The letter's day is what everyone cites; when a day off moves the end, say to when.
      let moved = ends == deadline ? "" : "; its last day is a day off: it ends \(zone.rfc3339(ends))"
      say(
        "  \(rule.id) [\(rule.kindName), \(rule.period.rawValue)] period \(period): due \(rule.due.convention) \(named.vietnamese) → \(zone.rfc3339(deadline)); \(owing) unit\(owing == 1 ? "" : "s") \(rule.kind.isObligation ? (owing == 1 ? "owes" : "owe") : (owing == 1 ? "receives" : "receive")) it\(moved)"
      )
      let gaps = engine.routingGaps(rule: rule, period: period)
      for gap in gaps.prefix(5) {
        let to = gap.selectors.map(\.description).joined(separator: ", ")
        say("    warning: \(gap.rung) of \(gap.unitID) reaches nobody through \(gap.channel) (to: \(to))")
      }
      if gaps.count > 5 { say("    warning: … and \(gaps.count - 5) more rungs that reach nobody") }
      // An external rule's program is run once, as the daemon would run it, so that a broken
      // plugin shows here rather than as silence in the season.
      guard rule.kind is ExecKind else { continue }
      let trial = engine.evaluate(rule: rule, period: period, at: at)
      if let failure = trial.failure {
        printError("\(rule.location.map { "\($0): " } ?? "")rule \(rule.id): \(failure.message)")
        failures += 1
      } else {
        let met = trial.findings.filter { $0.state.isClosed }.count
        say("    program answered for \(trial.findings.count) units: \(met) done, \(trial.findings.count - met) not")
      }
    }
    if failures > 0 {
      printError("\(failures) external rule\(failures == 1 ? "" : "s") could not be judged: \(options.path)")
      throw ExitCode(1)
    }
    if quiet {
      print(
        "configuration OK: \(deployment.configPath) (\(deployment.ruleset.rules.count) rules, \(units.count) units)")
    }
  }
}
