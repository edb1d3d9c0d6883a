import ArgumentParser
import Foundation
import NhacviecConfig
import NhacviecControl
import NhacviecCore
import NhacviecDaemon

struct Run: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Run the daemon: plan, journal, deliver, and sleep until the next thing to do.",
    discussion: """
      Answers on the control socket (see `nhacviec status`). SIGHUP re-reads the configuration \
      and keeps the running one if the new one has an error; SIGTERM lets deliveries in flight \
      finish and exits. Speaks systemd's notify protocol when NOTIFY_SOCKET is set. With a \
      `web:` section, also serves the desk, the Department's web pages, on web.listen (accounts: \
      `nhacviec user`).
      """)

  @OptionGroup var options: ConfigOptions

  @Option(help: ArgumentHelp("The control socket (default: from the configuration).", valueName: "PATH"))
  var socket: String?

  @Option(help: .hidden)
  var clockStart: String?

  func run() throws {
    let deployment = try options.load()
    let start = try clockStart.map { try instant($0, zone: deployment.zone, option: "--clock-start") }
    let status = Service.run(
      configPath: options.path, deployment: deployment, socket: socket, clock: SystemClock(startingAt: start))
    if status != 0 { throw ExitCode(status) }
  }
}

/// Options of the commands that talk to a running daemon.
struct SocketOptions: ParsableArguments {
  @Option(
    help: ArgumentHelp("The configuration file, to find the socket.", valueName: "FILE"),
    completion: Completions.configFile)
  var config: String?

  @Option(help: ArgumentHelp("The daemon's control socket.", valueName: "PATH"))
  var socket: String?

  /// The socket path: --socket, else the configuration's, without loading all of it.
  func path() throws -> String {
    if let socket { return socket }
    let configPath = ConfigLocator.path(explicit: config)
    do {
      return try DeploymentLoader().load(configPath: configPath).daemon.socket
    } catch {
      // A broken configuration on disk is exactly when the running daemon must be asked.
      let socket = DaemonSettings.socket(configPath: configPath)
      printError("warning: \(configPath) does not load (\(error.errors.first?.description ?? "")); trying \(socket)")
      return socket
    }
  }

  /// One request; exit 3 when the daemon cannot be reached.
  func call(_ method: String, _ target: String, body: [UInt8] = []) throws -> (status: Int, body: [UInt8]) {
    do {
      return try ControlClient.request(socket: try path(), method: method, target: target, body: body)
    } catch let error as ControlClient.Unreachable {
      let text = error.permissionDenied ? error.description + "\n" + accessHint() : error.description
      // On standard output too: monitoring plugins read it.
      print("UNREACHABLE: \(text)")
      printError(text)
      throw ExitCode(3)
    }
  }

  /// Why the socket refused this user, and the two ways in: the socket's folder is open to its
  /// group only (the unit's RuntimeDirectoryMode=0750), whatever `daemon.writers` says.
  func accessHint() -> String {
    let socket = (try? path()) ?? "the socket"
    var group = "nhacviec"
    var folder = stat()
    if stat((socket as NSString).deletingLastPathComponent, &folder) == 0, let entry = getgrgid(folder.st_gid) {
      group = String(cString: entry.pointee.gr_name)
    }
    let user = getpwuid(getuid()).map { String(cString: $0.pointee.pw_name) } ?? "\(getuid())"
    var hint =
      "The daemon's socket is open only to root and the members of the group \(group), and \(user) is not one "
      + "(groups joined since logging in do not count yet): run the command with sudo, or add the user to the "
      + "group (sudo adduser \(user) \(group)) and log in again."
    let configPath = ConfigLocator.path(explicit: config)
    if let writers = try? DeploymentLoader().load(configPath: configPath).daemon.writers,
      writers.contains(user) || writers.contains("\(getuid())")
    {
      hint +=
        " \(user) is listed in daemon.writers, which allows writing once the socket can be opened; it does not open it."
    }
    return hint
  }

  func decode<T: Decodable>(_ type: T.Type, _ response: (status: Int, body: [UInt8])) throws -> T {
    try JSONDecoder().decode(T.self, from: Data(try body(response)))
  }

  /// The body of a successful answer; for any other, the daemon's reason and exit 1.
  func body(_ response: (status: Int, body: [UInt8])) throws -> [UInt8] {
    guard (200..<300).contains(response.status) else {
      let message = (try? JSONDecoder().decode(ControlAPI.Failure.self, from: Data(response.body)))?.error
      printError("the daemon answered \(response.status): \(message ?? String(decoding: response.body, as: UTF8.self))")
      throw ExitCode(1)
    }
    return response.body
  }
}

func printJSON(_ bytes: [UInt8]) { FileHandle.standardOutput.write(Data(bytes)) }

struct Status: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "How the running daemon stands.",
    discussion: """
      Shows the configuration, the last pass, the journal's counts, and each channel: notices \
      sent, failed (waiting for another attempt) and dead, its last error and since when its \
      attempts have been failing.

      Exit status: 0 fine, 1 the daemon reports a problem (a failed reload, failing passes or \
      delivery, failing channels, dead notices not acknowledged with `nhacviec ack`, an external \
      rule's program failing), 3 unreachable (with `UNREACHABLE: why` on standard output; with \
      --json, `{"error": why, "reachable": false}`).

      --plugin prints one line as the Monitoring Plugins guidelines ask (Nagios, Icinga, \
      Naemon): `NHACVIEC OK|WARNING|CRITICAL|UNKNOWN - summary | perfdata`, exit 0, 1, 2 or 3. \
      CRITICAL: passes, delivery, a channel or an external rule failing; WARNING: a refused \
      reload or dead notices not acknowledged; UNKNOWN: the daemon cannot be reached.
      """
  )

  @OptionGroup var options: SocketOptions
  @Flag(help: "Print the daemon's JSON (when it cannot be reached: {\"error\": …, \"reachable\": false}).")
  var json = false
  @Flag(help: "One line for a monitoring system: NHACVIEC OK|WARNING|CRITICAL|UNKNOWN - summary | perfdata.")
  var plugin = false

  func validate() throws {
    if json && plugin { throw ValidationError("--json and --plugin go alone") }
  }

  func run() throws {
    let response: (status: Int, body: [UInt8])
    if json || plugin {
      // Machine-read output stays in its format when the daemon cannot be reached.
      do {
        response = try ControlClient.request(socket: try options.path(), method: "GET", target: "/v1/status")
      } catch let error as ControlClient.Unreachable {
        if json {
          let encoder = JSONEncoder()
          encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
          printJSON(Array(try encoder.encode(Unreachable(error: error.description, reachable: false))) + [0x0a])
        } else {
          print(
            "NHACVIEC UNKNOWN - cannot reach the daemon: \(error.description.replacingOccurrences(of: "|", with: "/"))")
        }
        printError(error.permissionDenied ? error.description + "\n" + options.accessHint() : error.description)
        throw ExitCode(3)
      }
    } else {
      response = try options.call("GET", "/v1/status")
    }
    let status: ControlAPI.Status
    do {
      status = try options.decode(ControlAPI.Status.self, response)
    } catch  where plugin {
      print("NHACVIEC UNKNOWN - the daemon answered \(response.status)")
      throw ExitCode(3)
    }
    if json {
      printJSON(response.body)
    } else if plugin {
      let (line, code) = Status.pluginLine(status)
      print(line)
      throw ExitCode(code)
    } else {
      printText(status)
    }
    if !status.isHealthy { throw ExitCode(1) }
  }

  struct Unreachable: Encodable {
    let error: String
    let reachable: Bool
  }

  /// The channels failing: those with notices waiting for another attempt (what makes `status`
  /// fail), as the daemon lists them.
  static func failing(_ status: ControlAPI.Status) -> Set<String> { Set(status.channelsFailing) }

  /// The plugin's line and exit status.
  static func pluginLine(_ status: ControlAPI.Status) -> (String, Int32) {
    var critical: [String] = []
    var warning: [String] = []
    if let failing = status.lastPassError { critical.append("passes failing since \(failing.since): \(failing.error)") }
    if let failing = status.deliveryError {
      critical.append("delivery failing since \(failing.since): \(failing.error)")
    }
    if let error = status.storeError { critical.append(error) }
    if let failing = status.cluster?.error {
      critical.append("store unreachable since \(failing.since): \(failing.error)")
    }
    if !status.channelsFailing.isEmpty {
      critical.append("channels failing: \(status.channelsFailing.joined(separator: ", "))")
    }
    for failure in status.rulesFailing { critical.append("rule failing: \(failure.rule) period \(failure.period)") }
    if !status.lastReload.ok { warning.append("last reload refused at \(status.lastReload.at)") }
    if status.deadUnacknowledged > 0 { warning.append("\(status.deadUnacknowledged) dead notices not acknowledged") }
    let (word, code): (String, Int32) =
      !critical.isEmpty ? ("CRITICAL", 2) : !warning.isEmpty ? ("WARNING", 1) : ("OK", 0)
    let journal = { (state: String) in status.journal[state] ?? 0 }
    let summary =
      (critical + warning).isEmpty
      ? "\(status.rules.count) rules; sent \(journal("sent")), planned \(journal("planned")); last pass \(status.lastPass ?? "none yet")"
      : (critical + warning).joined(separator: "; ")
    // Performance data: 'label'=value;warn;crit;min, as the guidelines spell it.
    let perfdata = [
      "sent=\(journal("sent"));;;0", "planned=\(journal("planned"));;;0", "failed=\(journal("failed"));;;0",
      "dead=\(journal("dead"));;;0", "dead_unacknowledged=\(status.deadUnacknowledged);1;;0",
      "channels_failing=\(status.channelsFailing.count);;1;0", "rules_failing=\(status.rulesFailing.count);;1;0",
      "uptime=\(status.uptimeSeconds)s;;;0",
    ].joined(separator: " ")
    // A "|" in the summary would start the performance data.
    return ("NHACVIEC \(word) - \(summary.replacingOccurrences(of: "|", with: "/")) | \(perfdata)", code)
  }

  func printText(_ status: ControlAPI.Status) {
    print("nhacviec \(status.version), up \(status.uptimeSeconds) s, now \(status.now)")
    print("configuration: \(status.config); \(status.rules.count) rules, hash \(status.rules.hash.prefix(12))")
    print(
      "last reload: \(status.lastReload.at) \(status.lastReload.ok ? "ok" : "FAILED: \(status.lastReload.error ?? "")")"
    )
    print("last pass: \(status.lastPass ?? "none yet"); next wake-up: \(status.nextWakeup ?? "none scheduled")")
    if let failing = status.lastPassError {
      print("passes FAILING since \(failing.since): \(failing.error)")
    }
    if let failing = status.deliveryError {
      print("delivery FAILING since \(failing.since): \(failing.error)")
    }
    if let error = status.storeError { print("store FAILING: \(error)") }
    if let cluster = status.cluster {
      print(
        "cluster: node \(cluster.node), \(cluster.role)\(cluster.epoch.map { " (epoch \($0))" } ?? "")"
          + (cluster.error.map { "; store unreachable since \($0.since): \($0.error)" } ?? ""))
      for node in cluster.nodes {
        print("  \(node.node): \(node.role), \(node.host) pid \(node.pid), seen \(node.secondsAgo) s ago")
      }
    }
    let journal = NoticeState.allCases.map { "\($0.rawValue) \(status.journal[$0.rawValue] ?? 0)" }
    print("journal: \(journal.joined(separator: ", "))")
    if let conflicts = status.journalConflicts {
      print(
        "journal conflicts: \(conflicts)\(conflicts > 0 ? " (decided again differently; the log says which)" : "")")
    }
    // FAILING, here and on a channel's line, means one thing: notices waiting for another
    // attempt. A channel whose latest attempts failed without leaving any (they died at once)
    // says so in other words, and its dead notices fail `status` on their own line.
    let failing = Status.failing(status)
    print("channels failing: \(failing.isEmpty ? "none" : failing.sorted().joined(separator: ", "))")
    for channel in status.channels ?? [] {
      let acknowledged = channel.dead - channel.deadUnacknowledged
      var line =
        "channel \(channel.name): sent \(channel.sent), failed \(channel.failed), dead \(channel.dead)"
        + (acknowledged > 0 ? " (\(acknowledged) acknowledged)" : "")
      if failing.contains(channel.name) {
        line += "; FAILING" + (channel.failingSince.map { " since \($0)" } ?? "")
      } else if let since = channel.failingSince {
        line += "; its attempts fail since \(since), none waiting to be tried again"
      }
      if let error = channel.lastError { line += "; last error at \(channel.lastErrorAt ?? "?"): \(error)" }
      print(line)
    }
    if status.deadUnacknowledged > 0 {
      print(
        "dead notices not acknowledged: \(status.deadUnacknowledged) (see `nhacviec notices --state dead`; then `nhacviec retry` or `nhacviec ack`, with KEY or --channel NAME)"
      )
    }
    for failure in status.rulesFailing {
      print(
        "rule failing: \(failure.rule) period \(failure.period), notices held since \(failure.since ?? "the first start"): \(failure.error)"
      )
    }
    for warning in status.warnings { print("warning: \(warning)") }
    for silence in status.silences {
      print("silence \(silence.id): \(describe(silence)) until \(silence.ends): \(silence.reason)")
    }
  }
}

struct Findings: ParsableCommand {
  static let configuration = CommandConfiguration(abstract: "Obligations as the daemon sees them now.")
  @OptionGroup var options: SocketOptions
  @Option(
    help: "upcoming, due-soon, overdue, met-on-time, met-late, extended or exempt.",
    completion: Completions.findingStates) var state: String?
  @Option(completion: Completions.rules) var rule: String?
  @Option(completion: Completions.units) var unit: String?
  @Option var period: String?
  @Flag(help: "Print the daemon's JSON.") var json = false

  func run() throws {
    var query: [String] = []
    for (name, value) in [("state", state), ("rule", rule), ("unit", unit), ("period", period)] {
      if let value {
        query.append("\(name)=\(queryValue(value))")
      }
    }
    let response = try options.call("GET", "/v1/findings" + (query.isEmpty ? "" : "?" + query.joined(separator: "&")))
    let findings = try options.decode([ControlAPI.Finding].self, response)
    if json { return printJSON(response.body) }
    for f in findings {
      let missing = f.missing.map { $0.isEmpty ? "" : "  missing: \($0.joined(separator: ", "))" } ?? ""
      let silenced = f.silenced.map { "  SILENCED by \($0.id) until \($0.ends)" } ?? ""
      print(
        "\(f.state.rawValue.padding(toLength: 12, withPad: " ", startingAt: 0)) \(f.rule) \(f.unit) \(f.period)  due \(f.deadline)  \(f.unitName)\(missing)\(silenced)"
      )
    }
  }
}

struct Upcoming: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Notices the daemon will send in the coming days.",
    discussion: """
      Soonest first: the notices already in the queue, each marked with what it waits for \
      ([in the queue, due now], [waiting for the send window], [waiting to retry], [held by a \
      silence]), then those the rules will plan as things stand.
      """)
  static let why = [
    "due": "in the queue, due now", "window": "waiting for the send window", "retry": "waiting to retry",
    "silence": "held by a silence",
  ]
  @OptionGroup var options: SocketOptions
  @Option(help: "How many days ahead.") var days = 14
  @Flag(help: "Print the daemon's JSON.") var json = false

  func run() throws {
    let response = try options.call("GET", "/v1/upcoming?days=\(days)")
    let notices = try options.decode([ControlAPI.Notice].self, response)
    if json { return printJSON(response.body) }
    for n in notices {
      let waits = n.waits.map { "  [\(Upcoming.why[$0] ?? $0)]" } ?? ""
      print("\(n.at)  \(n.key)  \(n.reason.rawValue)  \(n.channel) → \(n.to.joined(separator: ", "))\(waits)")
    }
  }
}

struct Notices: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "The journal of notices, or the history of one.",
    discussion: """
      With --key, one notice's rows through each channel and every attempt made: when, what it \
      came to, and who it reached.
      """)
  @OptionGroup var options: SocketOptions
  @Option(help: "planned, sending, sent, failed, dead, suppressed or superseded.", completion: Completions.noticeStates)
  var state: String?
  @Option(help: "At most this many, oldest first (read from the daemon 1000 at a time).") var limit = 1000
  @Option(help: "One notice's history.") var key: String?
  @Flag(help: "Print the daemon's JSON.") var json = false

  func run() throws {
    if let key {
      let response = try options.call("GET", "/v1/notices?key=\(queryValue(key))")
      let history = try options.decode(ControlAPI.NoticeHistory.self, response)
      if json { return printJSON(response.body) }
      for n in history.notices {
        let error = (n.lastError.map { "  (\($0))" } ?? "") + acknowledgement(n)
        print("\(n.state?.rawValue ?? "") \(n.at)  \(n.key)  \(n.channel) attempts \(n.attempts ?? 0)\(error)")
        if let subject = n.subject { print("    \(subject)") }
      }
      for attempt in history.attempts {
        print(
          "  attempt \(attempt.number) via \(attempt.channel) at \(attempt.at): \(attempt.outcome) \(attempt.detail)")
        for (address, result) in attempt.reached.sorted(by: { $0.key < $1.key }) { print("    \(address): \(result)") }
      }
      return
    }
    guard limit > 0 else { throw ValidationError("--limit must be at least 1") }
    // The daemon answers a page of at most 1000 at a time; the next page starts after the last
    // notice of the one before.
    var notices: [ControlAPI.Notice] = []
    while notices.count < limit {
      let page = min(1000, limit - notices.count)
      let after = notices.last.map { "&after=\(queryValue($0.channel + ":" + $0.key))" } ?? ""
      let response = try options.call(
        "GET", "/v1/notices?limit=\(page)" + (state.map { "&state=\(queryValue($0))" } ?? "") + after)
      let more = try options.decode([ControlAPI.Notice].self, response)
      notices += more
      if more.count < page { break }
    }
    if json {
      let encoder = JSONEncoder()
      encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
      return printJSON(Array(try encoder.encode(notices)) + [0x0a])
    }
    for n in notices {
      let error = (n.lastError.map { "  (\($0))" } ?? "") + acknowledgement(n)
      print("\(n.state?.rawValue ?? "") \(n.at)  \(n.key)  \(n.channel) attempts \(n.attempts ?? 0)\(error)")
    }
    // Say so when the list is cut short, rather than let it pass for the whole journal.
    guard notices.count == limit else { return }
    let status = try options.decode(ControlAPI.Status.self, try options.call("GET", "/v1/status"))
    let total = state.map { status.journal[$0] ?? 0 } ?? status.journal.values.reduce(0, +)
    // After the list, wherever both streams go: standard output is buffered when piped.
    fflush(nil)
    if total > limit { printError("… and \(total - limit) more not shown; raise --limit") }
  }
}

/// A dead notice's acknowledgement, for a listing line.
private func acknowledgement(_ notice: ControlAPI.Notice) -> String {
  guard let uid = notice.acknowledgedBy else { return "" }
  return "  acknowledged by uid \(uid) at \(notice.acknowledgedAt ?? "?")"
}

struct Record: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Record a fact with the daemon: a report received, a budget line, an extension or an exemption.",
    discussion: """
      nhacviec record report --unit 51-STP --rule iso-annual-report --period 2026 \\
        --at 2026-10-20T09:00:00+07:00 --reference 123/BC-STP
      """)

  @Argument(help: "report, budget, extension or exemption.") var kind: String
  @OptionGroup var options: SocketOptions
  @Option(completion: Completions.units) var unit: String
  @Option(completion: Completions.rules) var rule: String
  @Option var period: String
  @Option(help: "When it happened (default for a report or budget line: now, by the daemon's clock).")
  var at: String?
  @Option(help: "Document number.") var reference: String?
  @Option(help: "Budget line in đồng.") var amount: String?
  @Option(help: "An extension's new due date, YYYY-MM-DD.") var due: String?
  @Option(help: "Who decided an extension or exemption.") var by: String?
  @Option var reason: String?

  func validate() throws {
    guard ["report", "budget", "extension", "exemption"].contains(kind) else {
      throw ValidationError("kind must be report, budget, extension or exemption")
    }
  }

  func run() throws {
    var request = ControlAPI.FactRequest(kind: kind, unit: unit, rule: rule, period: period)
    // Without --at, the daemon stamps a report or budget line with its own clock; the same
    // record repeated is then the same fact, not a second one.
    request.at = at
    request.reference = reference
    request.amount = amount
    request.due = due
    request.by = by
    request.reason = reason
    let response = try options.call("POST", "/v1/facts", body: Array(try JSONEncoder().encode(request)))
    print(try options.decode(ControlAPI.Message.self, response).message)
  }
}

/// The notices a `retry` or `ack` is about: keys, filters, and --dry-run.
struct NoticeSelectionOptions: ParsableArguments {
  @Argument(help: "Notice keys (as `nhacviec notices --state dead` shows them).") var keys: [String] = []
  @Option(help: "Only the notices through this channel.", completion: Completions.channels) var channel: String?
  @Option(help: "Only the notices of this rule.", completion: Completions.rules) var rule: String?
  @Option(help: "Only the notices about this unit.", completion: Completions.units) var unit: String?
  @Option(help: "Only the notices of this period (2026, 2026-Q4, 2026-11).") var period: String?
  @Flag(help: "Count and list the notices it would change, and change nothing.") var dryRun = false

  func validate() throws {
    guard !keys.isEmpty || [channel, rule, unit, period].contains(where: { $0 != nil }) else {
      throw ValidationError("name the notices: one or more keys, or --channel, --rule, --unit or --period")
    }
  }

  func request(state: String?) -> ControlAPI.NoticeSelection? {
    if keys.count == 1, [channel, rule, unit, period, state].allSatisfy({ $0 == nil }), !dryRun { return nil }
    var request = ControlAPI.NoticeSelection()
    request.keys = keys.isEmpty ? nil : keys
    request.channel = channel
    request.rule = rule
    request.unit = unit
    request.period = period
    request.state = state
    request.dryRun = dryRun
    return request
  }
}

/// Posts a selection and prints the answer: the count, then each notice.
private func postSelection(
  _ options: SocketOptions, _ target: String, _ request: ControlAPI.NoticeSelection, json: Bool
) throws {
  let response = try options.call("POST", target, body: Array(try JSONEncoder().encode(request)))
  let answer = try options.decode(ControlAPI.Selected.self, response)
  if json { return printJSON(response.body) }
  print(answer.message)
  for row in answer.notices {
    print("  \(row.key)  \(row.channel)\(row.lastError.map { "  (\($0))" } ?? "")")
  }
  if answer.count > answer.notices.count { print("  … and \(answer.count - answer.notices.count) more") }
}

struct Retry: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Give dead notices another chance: one by its key, or all those a filter selects.",
    discussion: """
      nhacviec retry KEY plans one dead notice again. With filters, every dead notice (or, with \
      --state failed, every notice waiting for another attempt) that matches all of them is \
      planned again at once, from its first attempt: after a mail outage, \
      `nhacviec retry --channel email --dry-run` lists them, `nhacviec retry --channel email` \
      sends them. Prints how many, and each. Needs a writer (daemon.writers, daemon.writer_groups).
      """)
  @OptionGroup var selection: NoticeSelectionOptions
  @Option(
    help: "dead (the default), or failed: waiting for another attempt, tried now instead.",
    completion: Completions.noticeStates) var state: String?
  @Flag(help: "Print the daemon's JSON (for a selection).") var json = false
  @OptionGroup var options: SocketOptions

  func run() throws {
    guard let request = selection.request(state: state) else {
      let response = try options.call(
        "POST", "/v1/notices/retry", body: Array(try JSONEncoder().encode(ControlAPI.Retry(key: selection.keys[0]))))
      return print(try options.decode(ControlAPI.Message.self, response).message)
    }
    try postSelection(options, "/v1/notices/retry", request, json: json)
  }
}

struct Flush: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Judge every waiting notice again now (like `postqueue -f`).",
    discussion: """
      Every notice waiting for its next retry, or for the send window, is due at once: it is sent \
      if it may be now, and waits again (for the window, or a retry after a failure) if not. \
      Silenced notices stay held; dead ones stay dead (see `nhacviec retry`). A flush costs no \
      attempt. Needs a writer (daemon.writers, daemon.writer_groups).
      """)
  @Option(help: "Only the notices of this channel.", completion: Completions.channels) var channel: String?
  @OptionGroup var options: SocketOptions

  func run() throws {
    let response = try options.call(
      "POST", "/v1/notices/flush", body: Array(try JSONEncoder().encode(ControlAPI.Flush(channel: channel))))
    print(try options.decode(ControlAPI.Message.self, response).message)
  }
}

struct Ack: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Acknowledge dead notices, so that `status` no longer fails for them.",
    discussion: """
      One by its key, or every dead notice not yet acknowledged that matches all the filters \
      given (--channel, --rule, --unit, --period); --dry-run lists them and changes nothing. \
      A notice stays dead and in the journal, marked with who acknowledged it (uid) and when \
      (`nhacviec notices --state dead --json`). `status` exits 0 again once every dead notice is \
      acknowledged; a notice that dies later, or again after `nhacviec retry`, makes it fail \
      again. Needs a writer (daemon.writers, daemon.writer_groups).
      """)
  @OptionGroup var selection: NoticeSelectionOptions
  @Option(help: "dead: the only state acknowledged (the default).", completion: Completions.noticeStates) var state:
    String?
  @Flag(help: "Print the daemon's JSON (for a selection).") var json = false
  @OptionGroup var options: SocketOptions

  func run() throws {
    guard let request = selection.request(state: state) else {
      let response = try options.call(
        "POST", "/v1/notices/ack",
        body: Array(try JSONEncoder().encode(ControlAPI.Acknowledge(key: selection.keys[0]))))
      return print(try options.decode(ControlAPI.Message.self, response).message)
    }
    try postSelection(options, "/v1/notices/ack", request, json: json)
  }
}

struct Reload: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Make the daemon re-read its configuration (as SIGHUP does), and say whether it took it.",
    discussion: """
      Exit status: 0 when the daemon runs the new configuration, 1 when it refused it (the \
      reason is printed; it keeps the running one) or refused the request (a user who may not \
      write), 3 unreachable. The unit's ExecReload= runs this, so that `systemctl reload \
      nhacviec` fails when the configuration is refused.
      """)
  @OptionGroup var options: SocketOptions

  func run() throws {
    let response = try options.call("POST", "/v1/reload")
    // Only a reload's own answer (200 done, 422 refused) is about the configuration; anything else,
    // such as 403 for a user who may not write, is reported as the daemon said it, and the daemon
    // did not try to reload at all.
    guard response.status == 200 || response.status == 422,
      let result = try? JSONDecoder().decode(ControlAPI.Status.Reload.self, from: Data(response.body))
    else {
      _ = try options.body(response)
      printError("the daemon answered \(response.status) without reloading")
      throw ExitCode(1)
    }
    if result.ok {
      print("reloaded at \(result.at)")
    } else {
      printError("reload failed; the daemon keeps its running configuration:\n\(result.error ?? "")")
      throw ExitCode(1)
    }
  }
}

struct Import: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "import", abstract: "Bring records into the running daemon.", subcommands: [ImportFacts.self])
}

struct ImportFacts: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "facts",
    abstract: "Record every fact of a file (CSV or YAML, as for simulate --facts) with the daemon.",
    discussion: """
      The whole file is checked, here and then by the daemon, and recorded in one transaction: \
      nothing is recorded if any line is wrong, and the error names the file and line. A big \
      file goes in parts under one import id; the daemon records them when the last arrives.
      """)

  /// A part's facts, encoded, stay under this; the daemon takes 64 KiB a request.
  static let partBytes = 48 * 1024

  @Argument(help: "The facts file.") var file: String
  @OptionGroup var options: SocketOptions

  func run() throws {
    let deployment = try loadDeployment(ConfigLocator.path(explicit: options.config))
    let facts = try loadFacts(file, for: deployment)
    guard !facts.isEmpty else { return print("no facts in \(file); nothing recorded") }
    let requests = facts.map { fact in
      var request = ControlAPI.FactRequest(
        kind: fact.kind.rawValue, unit: fact.unitID, rule: fact.ruleID, period: fact.period)
      request.at = fact.at.map { deployment.zone.rfc3339($0) }
      request.reference = fact.reference
      request.amount = fact.amount.map(String.init)
      request.due = fact.due?.description
      request.by = fact.decidedBy
      request.reason = fact.reason
      request.line = fact.location?.line
      return request
    }
    // In parts that fit the daemon's request limit (64 KiB), under one import id: the daemon
    // keeps them and records every fact in one transaction when the last arrives, or none.
    let encoder = JSONEncoder()
    var parts: [[ControlAPI.FactRequest]] = [[]]
    var size = 0
    for request in requests {
      let length = try encoder.encode(request).count + 1
      if size + length > ImportFacts.partBytes, !parts[parts.count - 1].isEmpty {
        parts.append([])
        size = 0
      }
      parts[parts.count - 1].append(request)
      size += length
    }
    let id = UUID().uuidString.lowercased()
    var response: (status: Int, body: [UInt8])?
    for (index, facts) in parts.enumerated() {
      let part =
        parts.count == 1
        ? nil : ControlAPI.FactBatch.Part(importID: id, number: index + 1, last: index == parts.count - 1)
      let batch = ControlAPI.FactBatch(source: file, facts: facts, part: part)
      let answer = try options.call("POST", "/v1/facts", body: Array(try encoder.encode(batch)))
      // A part kept is 202; anything else ends the import here, the daemon's answer said.
      if answer.status != 202 { response = answer }
      if response != nil { break }
    }
    guard let response else { throw ValidationError("the daemon kept every part but answered none as the last") }
    print("\(try options.decode(ControlAPI.Message.self, response).message) from \(file)")
  }
}
