public import Foundation
public import NhacviecConfig
public import NhacviecControl
import NhacviecCore
import NhacviecDelivery
import NhacviecStore

/// The daemon's clock: the wall clock, or for tests a clock that starts at a chosen instant and
/// runs at the wall clock's speed.
public struct DaemonClock: Sendable {
  let offset: TimeInterval

  public init(startingAt start: Date? = nil) { offset = start.map { $0.timeIntervalSinceNow } ?? 0 }

  public func now() -> Date { Date().addingTimeInterval(offset) }
}

/// One line per event on standard error, with the priority prefix journald reads (`<6>`).
public enum Log {
  public enum Priority: Int { case error = 3, warning = 4, notice = 5, info = 6 }

  public static func write(_ priority: Priority, _ message: String) {
    let line = "<\(priority.rawValue)>" + message.split(whereSeparator: \.isNewline).joined(separator: " ") + "\n"
    FileHandle.standardError.write(Data(line.utf8))
  }
}

/// The daemon's state folder: private to its user, and to one daemon at a time.
enum StateFolder {
  struct Busy: Error, CustomStringConvertible {
    let description: String
  }

  /// Creates the folder (and missing parents) as 0700 whatever the umask: it holds every message.
  /// A folder that exists keeps its mode (systemd's StateDirectoryMode= made it).
  static func create(_ path: String) throws {
    var isDirectory: ObjCBool = false
    if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
      guard isDirectory.boolValue else { throw Busy(description: "\(path) exists and is not a folder") }
      return
    }
    try FileManager.default.createDirectory(
      atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    chmod(path, 0o700)
  }

  /// Creates an empty file with mode 0600 if there is none, so that SQLite (which gives its WAL
  /// and shared-memory files the database's mode) never makes a readable journal.
  static func createPrivateFile(_ path: String) throws {
    let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
    guard fd >= 0 else { throw Busy(description: "cannot create \(path): \(String(cString: strerror(errno)))") }
    close(fd)
  }

  /// An exclusive lock on `nhacviec.lock` in the folder, holding the owner's pid.
  static func lock(_ path: String) throws -> Int32 {
    let file = (path as NSString).appendingPathComponent("nhacviec.lock")
    let fd = open(file, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
    guard fd >= 0 else { throw Busy(description: "cannot open \(file): \(String(cString: strerror(errno)))") }
    guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
      var buffer = [UInt8](repeating: 0, count: 32)
      let count = pread(fd, &buffer, buffer.count, 0)
      close(fd)
      let pid = String(decoding: buffer.prefix(max(0, count)), as: UTF8.self).trimmingCharacters(
        in: .whitespacesAndNewlines)
      throw Busy(
        description: "another nhacviec daemon\(pid.isEmpty ? "" : " (pid \(pid))") is running on \(path); stop it first"
      )
    }
    let pid = Array("\(getpid())\n".utf8)
    _ = ftruncate(fd, 0)
    _ = pwrite(fd, pid, pid.count, 0)
    return fd
  }
}

/// `nhacviec run`: plans, journals, delivers, then sleeps until the next instant anything can
/// change, waking early for a new fact, a reload or a signal.
public final class Daemon: @unchecked Sendable {
  public static let version = "0.1.0"

  struct Snapshot {
    let deployment: Deployment
    let deliverer: Deliverer
    let hash: String
  }

  let configPath: String
  let store: Store
  let clock: DaemonClock
  let client: CurlClient
  let started: Date
  /// Held for the process's life: a second daemon on the same state folder stops at start.
  let stateLock: Int32
  private let lock = NSLock()
  // Guarded by `lock`.
  private var snapshot: Snapshot
  private var lastReload: ControlAPI.Status.Reload
  private var lastPass: Date?
  private var ruleFailures: [RuleFailure] = []
  private var rulesBehind: [String: Date] = [:]
  private var nextWakeup: Date?
  private var stopping = false
  private var wakeups: [Int: CheckedContinuation<Void, Never>] = [:]
  private var nextToken = 0
  private var pendingWake = false

  public init(configPath: String, deployment: Deployment, clock: DaemonClock) throws {
    self.configPath = configPath
    self.clock = clock
    started = clock.now()
    let state = deployment.daemon.state
    try StateFolder.create(state)
    stateLock = try StateFolder.lock(state)
    let database = (state as NSString).appendingPathComponent("nhacviec.sqlite")
    try StateFolder.createPrivateFile(database)
    store = try Store(path: database)
    client = CurlClient()
    snapshot = try Daemon.snapshot(deployment, client: client, store: store, clock: clock)
    lastReload = .init(at: deployment.zone.rfc3339(started), ok: true, error: nil)
  }

  static func snapshot(
    _ deployment: Deployment, client: CurlClient, store: Store, clock: DaemonClock
  ) throws
    -> Snapshot
  {
    let factory = ChannelFactory(
      client: client, zone: deployment.zone, stateDirectory: deployment.daemon.state, clock: { clock.now() })
    var channels: [String: any NoticeChannel] = [:]
    for (name, config) in deployment.channels {
      channels[name] = try factory.make(name: name, type: config.spec.type, settings: config.settings)
    }
    var bytes: [UInt8] = []
    for file in deployment.files {
      bytes += Array(file.utf8) + Array(FileManager.default.contents(atPath: file) ?? Data())
    }
    return Snapshot(
      deployment: deployment, deliverer: Deliverer(store: store, channels: channels),
      hash: SHA256.hex(SHA256.hash(bytes)))
  }

  var current: Snapshot { lock.withLock { snapshot } }

  // MARK: - The loop

  /// Runs until `stop()`. Returns once the pass in progress has finished.
  public func run(notify: SystemdNotifier) async {
    let recovered = (try? store.recoverInFlight(now: clock.now())) ?? 0
    if recovered > 0 {
      Log.write(.notice, "recovered \(recovered) notices left in sending by a crash; sending them again")
    }
    notify.send("READY=1\nSTATUS=running")
    Log.write(.info, "started: \(current.deployment.ruleset.rules.count) rules from \(configPath)")
    while !lock.withLock({ stopping }) {
      let next = await pass()
      let summary = next.map { "next wake-up \(current.deployment.zone.rfc3339($0))" } ?? "nothing scheduled"
      notify.send("STATUS=\(summary)")
      await sleep(until: next)
    }
  }

  /// One pass: plan from the last pass to now, journal, deliver what is due.
  func pass() async -> Date? {
    let snapshot = current
    let now = clock.now()
    do {
      let facts = FactBook(try store.facts())
      let engine = snapshot.deployment.engine(facts: facts)
      let since = try store.lastPass()
      let behind = try store.rulesBehind()
      // Planning may run the programs of external rules: off the cooperative pool.
      let plan = await Daemon.onThreadOfItsOwn { engine.plan(since: since, now: now, sinceByRule: behind) }
      let journaled = try snapshot.deliverer.journal(plan.due, renderer: snapshot.deployment.renderer, now: now)
      // A rule that could not be judged plans again from where it stood: late, never lost.
      var stillBehind: [String: Date] = [:]
      for failure in plan.failures {
        stillBehind[failure.ruleID] = behind[failure.ruleID] ?? since ?? .distantPast
        Log.write(.error, "rule \(failure.ruleID) period \(failure.period) not judged: \(failure.message)")
      }
      try store.recordPass(at: now, rulesBehind: stillBehind)
      for notice in plan.unroutable {
        Log.write(.warning, "notice \(notice.key) via \(notice.channel) reaches nobody: no contact in the directory")
      }
      let report = try await snapshot.deliverer.deliverDue(now: now, clock: { self.clock.now() })
      if journaled + report.sent + report.retrying + report.dead > 0 {
        Log.write(
          .info,
          "pass: \(journaled) planned, \(report.sent) sent, \(report.retrying) to retry, \(report.dead) dead")
      }
      let retry = try store.nextAttempt(now: clock.now())
      let askAgain = plan.failures.isEmpty ? nil : now.addingTimeInterval(Daemon.failedRuleRetry)
      let next = [plan.next, retry, askAgain].compactMap { $0 }.min()
      lock.withLock {
        lastPass = now
        nextWakeup = next
        ruleFailures = plan.failures
        rulesBehind = stillBehind
      }
      return next
    } catch {
      Log.write(.error, "pass failed: \(error); trying again in a minute")
      return now.addingTimeInterval(60)
    }
  }

  /// How soon a pass asks a failed external rule's program again.
  static let failedRuleRetry: TimeInterval = 300

  static func onThreadOfItsOwn<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
      Thread.detachNewThread { continuation.resume(returning: work()) }
    }
  }

  /// Sleeps until `instant` (at most an hour, so that a clock set backwards cannot make it
  /// oversleep for long) or until `wake()`, whichever comes first.
  func sleep(until instant: Date?) async {
    let seconds = min(3600, max(0, (instant ?? .distantFuture).timeIntervalSince(clock.now())))
    await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
      let token = lock.withLock { () -> Int? in
        if pendingWake || stopping {
          pendingWake = false
          return nil
        }
        nextToken += 1
        wakeups[nextToken] = continuation
        return nextToken
      }
      guard let token else { return continuation.resume() }
      DispatchQueue.global().asyncAfter(deadline: .now() + seconds) { [self] in
        // Resumed at most once: whoever takes it out of `wakeups` first resumes it.
        lock.withLock { wakeups.removeValue(forKey: token) }?.resume()
      }
    }
  }

  /// Ends the current sleep: a new fact, a reload or a retry may change what is due. A wake with
  /// no one asleep is remembered, so that the next sleep returns at once.
  public func wake() {
    let waiting = lock.withLock { () -> [CheckedContinuation<Void, Never>] in
      let list = Array(wakeups.values)
      wakeups = [:]
      if list.isEmpty { pendingWake = true }
      return list
    }
    for continuation in waiting { continuation.resume() }
  }

  public func stop() {
    lock.withLock { stopping = true }
    wake()
  }

  // MARK: - Reload

  /// Re-reads and validates everything and swaps it in whole; on any error the running ruleset
  /// stays and the error is kept for `status`.
  @discardableResult
  public func reload() -> ControlAPI.Status.Reload {
    let at = current.deployment.zone.rfc3339(clock.now())
    let result: ControlAPI.Status.Reload
    do {
      let deployment = try DeploymentLoader().load(configPath: configPath)
      let fresh = try Daemon.snapshot(deployment, client: client, store: store, clock: clock)
      lock.withLock { snapshot = fresh }
      result = .init(at: at, ok: true, error: nil)
      Log.write(.notice, "reloaded: \(deployment.ruleset.rules.count) rules, hash \(fresh.hash.prefix(12))")
    } catch let error as ConfigErrors {
      result = .init(at: at, ok: false, error: error.description)
      Log.write(.error, "reload failed, keeping the running configuration: \(error.description)")
    } catch {
      result = .init(at: at, ok: false, error: "\(error)")
      Log.write(.error, "reload failed, keeping the running configuration: \(error)")
    }
    lock.withLock { lastReload = result }
    wake()
    return result
  }

  // MARK: - What the control API shows

  func status() throws -> ControlAPI.Status {
    let snapshot = current
    let zone = snapshot.deployment.zone
    let now = clock.now()
    let (reload, pass, next, failures, behind) = lock.withLock {
      (lastReload, lastPass, nextWakeup, ruleFailures, rulesBehind)
    }
    let counts = try store.counts()
    let failing = Set(try store.entries(state: .failed).map(\.message.channel)).sorted()
    return ControlAPI.Status(
      version: Daemon.version, uptimeSeconds: Int(now.timeIntervalSince(started)), config: configPath,
      now: zone.rfc3339(now), rules: .init(count: snapshot.deployment.ruleset.rules.count, hash: snapshot.hash),
      lastReload: reload, lastPass: pass.map(zone.rfc3339), nextWakeup: next.map(zone.rfc3339),
      journal: Dictionary(uniqueKeysWithValues: counts.map { ($0.key.rawValue, $0.value) }), channelsFailing: failing,
      rulesFailing: failures.map {
        .init(
          rule: $0.ruleID, period: $0.period, error: $0.message,
          since: behind[$0.ruleID].flatMap { $0 == .distantPast ? nil : zone.rfc3339($0) })
      })
  }

  /// The consolidated report from the recorded facts, as of now or `asOf`, in `format`.
  func report(period: Period, rules: [String]?, scope: String?, asOf: String?, format: ReportFormat) throws -> String {
    let snapshot = current
    let deployment = snapshot.deployment
    let zone = deployment.zone
    var now = clock.now()
    if let asOf {
      guard let instant = zone.parseInstant(asOf) else {
        throw HTTPFailure(400, "as_of: not an instant: \(asOf)")
      }
      now = instant
    }
    let engine = deployment.engine(facts: FactBook(try store.facts()))
    return engine.report(period: period, ruleIDs: rules, scope: scope, at: now).rendered(as: format, zone: zone)
  }

  /// Throws a 404 for a rule or unit the running configuration does not know.
  func checkKnown(rules: [String], units: [String]) throws {
    let deployment = current.deployment
    for id in rules where deployment.ruleset.rule(id) == nil { throw HTTPFailure(404, "no rule \(id)") }
    for id in units where !deployment.directory.knows(id) { throw HTTPFailure(404, "no unit \(id) in the directory") }
  }

  func findings(
    state: FindingState?, rule ruleID: String?, unit: String?, period: Period?
  ) throws
    -> [ControlAPI.Finding]
  {
    let snapshot = current
    let zone = snapshot.deployment.zone
    let engine = snapshot.deployment.engine(facts: FactBook(try store.facts()))
    let now = clock.now()
    var findings: [Finding]
    if let period, let rule = ruleID.flatMap(snapshot.deployment.ruleset.rule) {
      findings = engine.findings(rule: rule, period: period, at: now)
    } else {
      findings = engine.findings(at: now)
    }
    findings = findings.filter { finding in
      (state.map { $0 == finding.state } ?? true)
        && (ruleID.map { $0 == finding.ruleID } ?? true)
        && (unit.map { $0 == finding.unit.id } ?? true)
        && (period.map { $0 == finding.period } ?? true)
    }
    return findings.map { f in
      ControlAPI.Finding(
        rule: f.ruleID, unit: f.unit.id, unitName: f.unit.name, period: f.period.description, state: f.state.rawValue,
        deadline: zone.rfc3339(f.deadline),
        satisfiedAt: f.assessment.satisfiedAt.flatMap { $0 == .distantPast ? nil : zone.rfc3339($0) },
        reference: f.assessment.reference,
        missing: f.assessment.childrenTotal == nil ? nil : f.assessment.missingChildren.map(\.id))
    }
  }

  func explain(unit: String, rule: String?) throws -> Explanation? {
    let snapshot = current
    return snapshot.deployment.engine(facts: FactBook(try store.facts())).explain(
      unitID: unit, ruleID: rule, at: clock.now(), renderer: snapshot.deployment.renderer)
  }

  func upcoming(days: Int) throws -> [ControlAPI.Notice] {
    let snapshot = current
    let zone = snapshot.deployment.zone
    let engine = snapshot.deployment.engine(facts: FactBook(try store.facts()))
    let now = clock.now()
    let renderer = snapshot.deployment.renderer
    return engine.simulate(from: now.addingTimeInterval(1), to: now.addingTimeInterval(Double(days) * 86_400)).map {
      ControlAPI.Notice(
        key: $0.key, channel: $0.channel, at: zone.rfc3339($0.at), reason: $0.reason.rawValue, state: nil,
        attempts: nil,
        lastError: nil, to: $0.to, subject: renderer.render($0).subject)
    }
  }

  func notices(state: NoticeState?, limit: Int) throws -> [ControlAPI.Notice] {
    let zone = current.deployment.zone
    return try store.entries(state: state, limit: limit).map {
      ControlAPI.Notice(
        key: $0.message.key, channel: $0.message.channel, at: zone.rfc3339($0.message.scheduledAt),
        reason: $0.message.reason, state: $0.state.rawValue, attempts: $0.attempts, lastError: $0.lastError,
        to: $0.message.to.map(\.address), subject: $0.message.subject)
    }
  }

  /// Checks every fact of a batch, then records them all in one transaction, or none: a refused
  /// fact is answered with where it stands (`facts.csv:7: amount: …`).
  func record(_ batch: ControlAPI.FactBatch, uid: UInt32) throws -> [Fact] {
    let deployment = current.deployment
    guard !batch.facts.isEmpty else { throw HTTPFailure(400, "no facts to record") }
    var facts: [Fact] = []
    var errors: [ConfigError] = []
    for (index, request) in batch.facts.enumerated() {
      var values: [String: String] = [
        "kind": request.kind, "unit": request.unit, "rule": request.rule, "period": request.period,
      ]
      values["at"] = request.at
      values["reference"] = request.reference
      values["amount"] = request.amount
      values["due"] = request.due
      values["by"] = request.by
      values["reason"] = request.reason
      let location =
        batch.source.map { SourceLocation(file: $0, line: request.line ?? index + 1) }
        ?? (batch.facts.count > 1 ? SourceLocation(file: "facts", line: request.line ?? index + 1) : nil)
      do {
        facts.append(try FactsLoader.fact(values, zone: deployment.zone, at: location))
      } catch {
        errors.append(error)
      }
    }
    errors += FactsLoader.check(facts, against: deployment)
    if !errors.isEmpty { throw ConfigErrors(errors) }
    let source = batch.source.map { "import \($0)" } ?? "socket"
    try store.record(facts, by: .init(uid: uid, source: source), now: clock.now())
    for fact in facts.prefix(20) {
      Log.write(
        .notice, "fact recorded by uid \(uid): \(fact.kind.rawValue) \(fact.unitID) \(fact.ruleID) \(fact.period)")
    }
    if facts.count > 20 { Log.write(.notice, "… and \(facts.count - 20) more facts recorded by uid \(uid)") }
    wake()
    return facts
  }

  func retry(key: String) throws -> Int {
    let count = try store.retryDead(key: key, now: clock.now())
    if count > 0 { wake() }
    return count
  }

  public func shutdown() { client.shutdown() }
}
