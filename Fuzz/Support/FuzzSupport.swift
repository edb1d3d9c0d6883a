import Foundation
public import NhacviecConfig
public import NhacviecCore
import NhacviecDelivery
import NhacviecRender

/// The checkout this was built from, so that a target finds `Rules/` and its corpus wherever it is
/// run from (libFuzzer, the replay tests, a developer's shell).
public enum FuzzTree {
  public static let root: String = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url.path
  }()

  public static func path(_ relative: String) -> String { (root as NSString).appendingPathComponent(relative) }
}

/// The shipped deployment (`Rules/nhacviec.yaml`), loaded once per process: the directory,
/// calendar and channels every target checks its inputs against.
public enum Shipped {
  public static let configPath = FuzzTree.path("Rules/nhacviec.yaml")

  public static let deployment: Deployment = {
    do {
      return try DeploymentLoader().load(configPath: configPath)
    } catch {
      // Every input would be judged against nothing: stop at once rather than fuzz in vain.
      fatalError("the shipped configuration does not load: \(error)")
    }
  }()
}

/// A private folder for the files a target must write (a loader that reads only paths), made once
/// per process and removed at exit.
public enum Scratch {
  public static let folder: String = {
    let template = (NSTemporaryDirectory() as NSString).appendingPathComponent("nhacviec-fuzz-XXXXXX")
    var bytes = Array(template.utf8CString)
    guard let made = mkdtemp(&bytes) else { fatalError("mkdtemp: \(String(cString: strerror(errno)))") }
    let path = String(cString: made)
    atexit { try? FileManager.default.removeItem(atPath: Scratch.folder) }
    return path
  }()

  public static func path(_ name: String) -> String { (folder as NSString).appendingPathComponent(name) }

  /// Replaces `name` with `bytes`, as the next input's file.
  public static func write(_ bytes: [UInt8], to name: String) -> String {
    let target = path(name)
    guard FileManager.default.createFile(atPath: target, contents: Data(bytes)) else {
      fatalError("cannot write \(target)")
    }
    return target
  }

  /// Links `name` in the scratch folder to `Rules/name`, so that a configuration written there
  /// finds the shipped directory, calendar and rules by the same relative paths.
  public static func linkRules(_ names: [String]) {
    for name in names {
      let link = path(name)
      try? FileManager.default.removeItem(atPath: link)
      do {
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: FuzzTree.path("Rules/\(name)"))
      } catch {
        fatalError("cannot link \(link): \(error)")
      }
    }
  }
}

/// Configuration that loaded is run the way the daemon and the commands run it: every rule's
/// deadline and ladder, a simulated stretch of the season with each notice rendered as the
/// channels would send it, the findings, the report in every format, and `explain`.
///
/// The engine gets no program runner: an `exec` rule from an input must never start a program.
/// Its obligations are then "not judged", the path a failing plugin takes.
public struct Exercise {
  public let ruleset: Ruleset
  public let directory: Directory
  public let calendar: WorkingCalendar
  public let facts: FactBook

  /// A date in the shipped letter's season (reports due 15/11), so that the shipped rules'
  /// ladders are under way.
  public static let seasonDate = LocalDate(year: 2026, month: 10, day: 20)!

  /// More notices than this in one run add time, not coverage.
  static let renderedNotices = 120

  public init(ruleset: Ruleset, directory: Directory, calendar: WorkingCalendar, facts: FactBook = FactBook()) {
    self.ruleset = ruleset
    self.directory = directory
    self.calendar = calendar
    self.facts = facts
  }

  public init(_ deployment: Deployment, facts: FactBook = FactBook()) {
    self.init(
      ruleset: deployment.ruleset, directory: deployment.directory, calendar: deployment.calendar, facts: facts)
  }

  var zone: Zone { calendar.zone }

  var engine: Engine {
    Engine(
      ruleset: ruleset,
      context: EvaluationContext(directory: directory, calendar: calendar, facts: facts, external: nil))
  }

  /// Runs it all around `date` (by default in the season); a window of `days` either side of the
  /// earliest deadline is simulated.
  public func run(around date: LocalDate = Exercise.seasonDate, days: Int = 3) {
    let engine = self.engine
    let renderer = MessageRenderer(ruleset: ruleset, calendar: calendar)
    let now = zone.instant(date, TimeOfDay(minutes: 9 * 60))
    var deadlines: [Date] = []
    var someUnit: String?
    // What `check` prints for each rule.
    for rule in ruleset.rules {
      let period = Period.containing(date, kind: rule.period)
      let deadline = rule.due.deadline(for: period, calendar: calendar)
      deadlines.append(deadline)
      consume(rule.due.namedDate(for: period, calendar: calendar).vietnamese)
      consume(zone.rfc3339(deadline))
      let roster = engine.roster(of: rule, deadline: deadline)
      someUnit = someUnit ?? roster.first?.id
      consume(engine.steps(for: rule, deadline: deadline).map(\.id))
      consume(engine.routingGaps(rule: rule, period: period).map(\.rung))
    }
    // What the daemon plans and sends.
    let center = deadlines.min() ?? now
    let window = Double(days) * 86_400
    let simulation = engine.simulation(from: center.addingTimeInterval(-window), to: center.addingTimeInterval(window))
    consume(simulation.failures.map(\.message))
    note(
      "ran: \(ruleset.rules.count) rules, \(simulation.notices.count) notices, \(simulation.failures.count) not judged")
    for decision in simulation.notices.prefix(Exercise.renderedNotices) {
      if case .send(let evaluated) = engine.check(decision, at: decision.scheduledAt, window: false) {
        send(renderer.render(evaluated))
      }
    }
    consume(engine.plan(since: nil, now: now).due.map(\.key))
    // What `findings`, `report` and `explain` answer.
    let evaluation = engine.evaluate(at: center.addingTimeInterval(86_400))
    consume(evaluation.findings.map(\.state))
    var periods: [Period] = []
    for kind in PeriodKind.allCases where ruleset.rules.contains(where: { $0.period == kind }) {
      periods.append(Period.containing(date, kind: kind))
    }
    for fact in facts.facts.prefix(8) {
      if let period = Period(fact.period), !periods.contains(period) { periods.append(period) }
    }
    for period in periods.prefix(4) {
      let report = engine.report(period: period, at: center.addingTimeInterval(86_400))
      for format in ReportFormat.allCases { consume(ReportDocument(report, zone: zone).rendered(as: format)) }
    }
    for unit in Set([someUnit, facts.facts.first?.unitID].compactMap { $0 }).sorted() {
      if let explanation = engine.explain(unitID: unit, at: now) {
        consume(explanation.obligations.map(\.state))
      }
    }
  }

  /// The message as the file channel writes it (`.eml` and JSON).
  func send(_ message: OutgoingMessage) {
    var email = EmailMessage(
      from: Mailbox(name: "Hệ thống nhắc việc", address: "nhacviec@localhost.invalid"),
      to: message.to.map { Mailbox(name: $0.name ?? $0.unitName, address: $0.address) },
      subject: message.subject, text: message.text, html: message.html,
      messageID: EmailMessage.messageID(key: message.key, channel: message.channel, domain: "localhost.invalid"),
      date: message.date)
    email.extraHeaders = [("X-Nhacviec-Key", message.key)]
    email.attachments = message.attachments
    consume(email.rendered(zone: zone).count + message.payload.utf8.count)
  }
}

/// What became of an input, on standard error, when NHACVIEC_FUZZ_VERBOSE is set: for looking
/// at how far the seeds of a corpus get.
public func note(_ text: @autoclosure () -> String) {
  guard verbose else { return }
  FileHandle.standardError.write(Data("  \(text().split(separator: "\n").joined(separator: "\n  "))\n".utf8))
}

let verbose = ProcessInfo.processInfo.environment["NHACVIEC_FUZZ_VERBOSE"] != nil

/// Keeps a result alive, so that no work is optimised away as unused.
@inline(never)
public func consume<T>(_ value: T) {
  withExtendedLifetime(value) {}
}

extension ConfigErrors {
  /// What `check` would print: the messages are part of what an input can reach.
  public func printed() -> Int {
    let text = errors.map(\.description).joined(separator: "\n")
    note("refused: \(text)")
    return text.utf8.count
  }
}

/// In an ordinary build each fuzz target is this: a program that runs the files (or every file of
/// the folders) named on its command line through the target's function, one after the other,
/// as libFuzzer would. A crash stops it with the file named; an input that runs longer than the
/// time limit is a hang and stops it too.
public enum Replay {
  /// Seconds an input may take (NHACVIEC_FUZZ_TIMEOUT): more than libFuzzer's 10 s, since the
  /// replay is a debug build.
  static var limit: UInt32 {
    ProcessInfo.processInfo.environment["NHACVIEC_FUZZ_TIMEOUT"].flatMap { UInt32($0) } ?? 60
  }

  public static func main(_ body: ([UInt8]) -> Void) -> Never {
    let arguments = CommandLine.arguments.dropFirst()
    let name = (CommandLine.arguments.first.map { ($0 as NSString).lastPathComponent }) ?? "fuzz"
    guard !arguments.isEmpty, !arguments.contains(where: { $0 == "-h" || $0 == "--help" }) else {
      let usage = """
        usage: \(name) FILE|FOLDER…
        Runs each input through the target, as libFuzzer would (scripts/fuzz builds the fuzzing
        binary). Exits 0 when every input ran; a crash or a hang names the input.

        """
      FileHandle.standardError.write(Data(usage.utf8))
      exit(arguments.isEmpty ? 2 : 0)
    }
    var files: [String] = []
    for argument in arguments {
      var isFolder: ObjCBool = false
      guard FileManager.default.fileExists(atPath: argument, isDirectory: &isFolder) else {
        FileHandle.standardError.write(Data("\(name): no such file: \(argument)\n".utf8))
        exit(2)
      }
      if isFolder.boolValue {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: argument)) ?? []
        files += names.filter { !$0.hasPrefix(".") && $0 != "README.md" }.sorted()
          .map { (argument as NSString).appendingPathComponent($0) }
      } else {
        files.append(argument)
      }
    }
    let limit = self.limit
    signal(SIGALRM) { _ in
      let message = "hang: the input above ran for longer than the time limit\n"
      _ = message.withCString { write(2, $0, strlen($0)) }
      _exit(70)
    }
    var slowest = (file: "", seconds: 0.0)
    for file in files {
      guard let data = FileManager.default.contents(atPath: file) else {
        FileHandle.standardError.write(Data("\(name): cannot read \(file)\n".utf8))
        exit(2)
      }
      // Named before it runs: if it crashes, this is the last line.
      FileHandle.standardError.write(Data("\(name): \(file)\n".utf8))
      let start = Date()
      alarm(limit)
      body(Array(data))
      alarm(0)
      let seconds = Date().timeIntervalSince(start)
      if seconds > slowest.seconds { slowest = (file, seconds) }
    }
    let slowestTime = String(format: "%.3f", slowest.seconds)
    let summary = "\(name): \(files.count) inputs ran; slowest \(slowestTime) s (\(slowest.file))\n"
    FileHandle.standardError.write(Data(summary.utf8))
    exit(0)
  }
}
