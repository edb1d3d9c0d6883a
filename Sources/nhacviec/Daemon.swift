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
      finish and exits. Speaks systemd's notify protocol when NOTIFY_SOCKET is set.
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
  @Option(help: ArgumentHelp("The configuration file, to find the socket.", valueName: "FILE"))
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
      sent, failed (waiting for another attempt) and dead, its last error and since when it has \
      been failing.

      Exit status: 0 fine, 1 the daemon reports a problem (a failed reload, failing passes or \
      delivery, failing channels, dead notices not acknowledged with `nhacviec ack`, an external \
      rule's program failing), 3 unreachable (with `UNREACHABLE: why` on standard output).
      """
  )

  @OptionGroup var options: SocketOptions
  @Flag(help: "Print the daemon's JSON.") var json = false

  func run() throws {
    let response = try options.call("GET", "/v1/status")
    let status = try options.decode(ControlAPI.Status.self, response)
    if json {
      printJSON(response.body)
    } else {
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
      let journal = NoticeState.allCases.map { "\($0.rawValue) \(status.journal[$0.rawValue] ?? 0)" }
      print("journal: \(journal.joined(separator: ", "))")
      if let conflicts = status.journalConflicts {
        print(
          "journal conflicts: \(conflicts)\(conflicts > 0 ? " (decided again differently; the log says which)" : "")")
      }
      print(
        "channels failing: \(status.channelsFailing.isEmpty ? "none" : status.channelsFailing.joined(separator: ", "))")
      for channel in status.channels ?? [] {
        let acknowledged = channel.dead - channel.deadUnacknowledged
        var line =
          "channel \(channel.name): sent \(channel.sent), failed \(channel.failed), dead \(channel.dead)"
          + (acknowledged > 0 ? " (\(acknowledged) acknowledged)" : "")
        if let since = channel.failingSince { line += "; FAILING since \(since)" }
        if let error = channel.lastError { line += "; last error at \(channel.lastErrorAt ?? "?"): \(error)" }
        print(line)
      }
      if status.deadUnacknowledged > 0 {
        print(
          "dead notices not acknowledged: \(status.deadUnacknowledged) (see `nhacviec notices --state dead`; then `nhacviec retry KEY` or `nhacviec ack KEY`)"
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
    if !status.isHealthy { throw ExitCode(1) }
  }
}

struct Findings: ParsableCommand {
  static let configuration = CommandConfiguration(abstract: "Obligations as the daemon sees them now.")
  @OptionGroup var options: SocketOptions
  @Option(help: "upcoming, due-soon, overdue, met-on-time, met-late, extended or exempt.") var state: String?
  @Option var rule: String?
  @Option var unit: String?
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
  static let configuration = CommandConfiguration(abstract: "Notices the daemon will send in the coming days.")
  @OptionGroup var options: SocketOptions
  @Option(help: "How many days ahead.") var days = 14
  @Flag(help: "Print the daemon's JSON.") var json = false

  func run() throws {
    let response = try options.call("GET", "/v1/upcoming?days=\(days)")
    let notices = try options.decode([ControlAPI.Notice].self, response)
    if json { return printJSON(response.body) }
    for n in notices { print("\(n.at)  \(n.key)  \(n.reason)  \(n.channel) → \(n.to.joined(separator: ", "))") }
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
  @Option(help: "planned, sending, sent, failed, dead, suppressed or superseded.") var state: String?
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
  @Option var unit: String
  @Option var rule: String
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

struct Retry: ParsableCommand {
  static let configuration = CommandConfiguration(abstract: "Give a dead notice another chance.")
  @Argument(help: "The notice key.") var key: String
  @OptionGroup var options: SocketOptions

  func run() throws {
    let response = try options.call(
      "POST", "/v1/notices/retry", body: Array(try JSONEncoder().encode(ControlAPI.Retry(key: key))))
    print(try options.decode(ControlAPI.Message.self, response).message)
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
  @Option(help: "Only the notices of this channel.") var channel: String?
  @OptionGroup var options: SocketOptions

  func run() throws {
    let response = try options.call(
      "POST", "/v1/notices/flush", body: Array(try JSONEncoder().encode(ControlAPI.Flush(channel: channel))))
    print(try options.decode(ControlAPI.Message.self, response).message)
  }
}

struct Ack: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Acknowledge a dead notice, so that `status` no longer fails for it.",
    discussion: """
      The notice stays dead and in the journal, marked with who acknowledged it (uid) and when \
      (`nhacviec notices --state dead --json`). `status` exits 0 again once every dead notice is \
      acknowledged; a notice that dies later, or again after `nhacviec retry`, makes it fail \
      again. Needs a writer (daemon.writers, daemon.writer_groups).
      """)
  @Argument(help: "The notice key (as `nhacviec notices --state dead` shows it).") var key: String
  @OptionGroup var options: SocketOptions

  func run() throws {
    let response = try options.call(
      "POST", "/v1/notices/ack", body: Array(try JSONEncoder().encode(ControlAPI.Acknowledge(key: key))))
    print(try options.decode(ControlAPI.Message.self, response).message)
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
