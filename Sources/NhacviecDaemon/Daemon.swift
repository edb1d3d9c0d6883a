public import Foundation
public import NhacviecConfig
public import NhacviecControl
public import NhacviecCore
import NhacviecDelivery
public import NhacviecLinks
import NhacviecRender
import NhacviecStore

/// One line per event on standard error, with the priority prefix journald reads (`<6>`).
public enum Log {
  public enum Priority: Int, Comparable, Sendable {
    case error = 3, warning = 4, notice = 5, info = 6, debug = 7
    public static func < (a: Priority, b: Priority) -> Bool { a.rawValue < b.rawValue }
  }

  /// The least urgent priority written (`daemon.log_level`): info by default.
  static let threshold = Locked(Priority.info)

  public static func setLevel(_ level: LogLevel) {
    let priority: Priority =
      switch level {
      case .error: .error
      case .warning: .warning
      case .notice: .notice
      case .info: .info
      case .debug: .debug
      }
    threshold.withLock { $0 = priority }
  }

  /// One event, one line. `fields` (NOTICE_KEY, RULE, UNIT, CHANNEL) go to the journal as fields
  /// of their own when standard error is journald's, so that `journalctl NOTICE_KEY=…` finds every
  /// line about a notice; elsewhere the message alone is written, with journald's priority prefix.
  public static func write(_ priority: Priority, _ message: String, _ fields: [String: String] = [:]) {
    guard priority <= threshold.withLock({ $0 }) else { return }
    let text = message.oneLine
    if let journal = Journald.shared, journal.send(priority: priority, message: text, fields: fields) { return }
    FileHandle.standardError.write(Data(("<\(priority.rawValue)>" + text + "\n").utf8))
  }
}

/// journald's native protocol: a datagram of `KEY=value` lines to its socket, used when standard
/// error is a journal stream (systemd sets `JOURNAL_STREAM` to its device and inode), as
/// sd_journal_send does without linking libsystemd.
public final class Journald: Sendable {
  static let shared: Journald? = Journald(environment: ProcessInfo.processInfo.environment)

  /// Whether standard error is journald's stream (`JOURNAL_STREAM` names it).
  public static let standardErrorIsJournal: Bool =
    ProcessInfo.processInfo.environment["JOURNAL_STREAM"].map(
      isStandardError) ?? false

  private let path: String

  init?(environment: [String: String]) {
    guard let stream = environment["JOURNAL_STREAM"], Journald.isStandardError(stream) else { return nil }
    // Tests give a socket of their own; under systemd it is always this one.
    path = environment["NHACVIEC_JOURNAL_SOCKET"] ?? "/run/systemd/journal/socket"
  }

  /// Whether `DEVICE:INODE` is standard error's: a daemon whose standard error was redirected
  /// (a file, a pipe) writes there, not to the journal it inherited the variable from.
  static func isStandardError(_ stream: String) -> Bool {
    let parts = stream.split(separator: ":")
    guard parts.count == 2, let device = UInt64(parts[0]), let inode = UInt64(parts[1]) else { return false }
    var status = stat()
    guard fstat(2, &status) == 0 else { return false }
    return UInt64(status.st_dev) == device && UInt64(status.st_ino) == inode
  }

  /// Whether journald took it; a message it cannot take goes to standard error instead.
  func send(priority: Log.Priority, message: String, fields: [String: String]) -> Bool {
    var payload: [UInt8] = []
    func field(_ name: String, _ value: String) {
      let bytes = Array(value.utf8)
      if bytes.contains(0x0A) {
        // The binary form: the name, a newline, the length as 64-bit little endian, the value.
        payload += Array(name.utf8) + [0x0A]
        withUnsafeBytes(of: UInt64(bytes.count).littleEndian) { payload += $0 }
        payload += bytes + [0x0A]
      } else {
        payload += Array("\(name)=".utf8) + bytes + [0x0A]
      }
    }
    field("MESSAGE", message)
    field("PRIORITY", String(priority.rawValue))
    field("SYSLOG_IDENTIFIER", "nhacviec")
    for (name, value) in fields.sorted(by: { $0.key < $1.key }) where Journald.isFieldName(name) {
      field(name, value)
    }
    let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    guard var address = UnixAddress.make(path) else { return false }
    let length = socklen_t(MemoryLayout<sockaddr_un>.size)
    let sent = withUnsafePointer(to: &address) { pointer in
      pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sockaddrPointer in
        payload.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT), sockaddrPointer, length) }
      }
    }
    return sent == payload.count
  }

  /// journald's rule for field names: capitals, digits and underscores, not starting with one.
  static func isFieldName(_ name: String) -> Bool {
    guard let first = name.utf8.first, first != UInt8(ascii: "_"), name.utf8.count <= 64 else { return false }
    return name.utf8.allSatisfy { ($0 >= 65 && $0 <= 90) || ($0 >= 48 && $0 <= 57) || $0 == UInt8(ascii: "_") }
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

/// `nhacviec run`: a planning loop and a delivery loop, each on a thread of its own.
///
/// The planning loop runs a pass (plan the notices fallen due since the last pass, journal them,
/// wake delivery), then sleeps until the next instant anything can change, waking early for a new
/// fact, a reload or a signal. Delivery runs beside it (`DeliveryService`), so that a receiver
/// that never answers cannot hold a pass up. Reads of the control API run on the server's own
/// threads against the current configuration and facts; nothing here runs on Swift's
/// cooperative pool but the channels' transfers, which never block it.
public final class Daemon: Sendable {
  public static let version = BuildInfo.version

  let configPath: String
  let store: Store
  let clock: any WallClock
  let client: CurlClient
  let started: Date
  /// Held for the process's life: a second daemon on the same state folder stops at start.
  let stateLock: Int32
  /// The configuration everything runs with: planning, delivery and the control API each take
  /// one snapshot and use it throughout; a reload swaps it whole.
  let running: Running
  let delivery: DeliveryService
  let metrics: Metrics
  /// On a store several daemons share: this one's part (leader or follower); nil on SQLite.
  let cluster: ClusterMember?
  private let signal = WakeSignal()
  /// How the loops stand, for `status`, `/-/healthy` and the watchdog.
  private struct State {
    var lastReload: ControlAPI.Status.Reload
    var lastPass: Date?
    /// When the pass under way began (monotonic seconds); nil between passes.
    var passStarted: Double?
    var passError: (message: String, since: Date)?
    var ruleFailures: [RuleFailure] = []
    var rulesBehind: [String: Date] = [:]
    var nextWakeup: Date?
    var stopping = false
    /// systemd's notify socket, once started: every reload, by signal or through the socket, says
    /// RELOADING=1 and then READY=1.
    var notifier: SystemdNotifier?
  }
  private let state: Locked<State>
  /// Signalled once by the planning loop's thread when it has ended.
  private let planningEnded = DispatchSemaphore(value: 0)

  public init(configPath: String, deployment: Deployment, clock: any WallClock) throws {
    self.configPath = configPath
    self.clock = clock
    started = clock.now()
    let folder = deployment.daemon.state
    try StateFolder.create(folder)
    let lock = try StateFolder.lock(folder)
    stateLock = lock
    let database = (folder as NSString).appendingPathComponent("nhacviec.sqlite")
    let client = CurlClient()
    self.client = client
    let snapshot: Snapshot
    do {
      if let shared = deployment.daemon.store {
        store = try Store(
          postgresql: shared.url, password: try shared.passwordFile?.read(), node: deployment.daemon.node,
          lease: deployment.daemon.lease)
      } else {
        try StateFolder.createPrivateFile(database)
        store = try Store(path: database)
      }
      snapshot = try Snapshot(deployment, store: store, client: client, clock: clock)
    } catch {
      // A refused configuration (a secret or key file that cannot be read) lets go of the
      // folder, so that a process that goes on (a test, a supervisor in the same process) can
      // start a daemon on it once the file is fixed.
      client.shutdown()
      close(lock)
      throw error
    }
    let running = Running(snapshot)
    self.running = running
    self.state = Locked(State(lastReload: .init(at: deployment.zone.rfc3339(started), ok: true, error: nil)))
    let metrics = Metrics(configLoadedAt: started)
    self.metrics = metrics
    cluster = ClusterMember(store: store, lease: deployment.daemon.lease, started: started)
    do {
      try cluster?.checkName()
    } catch {
      client.shutdown()
      close(lock)
      throw error
    }
    delivery = DeliveryService(
      store: store, setup: { running.current.delivery }, clock: clock,
      log: { warning, line, fields in Log.write(warning ? .warning : .info, line, fields) },
      observe: { metrics.observe($0) },
      rounds: progress)
  }

  /// Raised after every pass and every delivery round.
  public let progress = Beacon()

  /// The configuration running now.
  public var deployment: Deployment { current.deployment }

  /// The links of the configuration running now, whose signer checks the tokens the desk is
  /// given (`/c/TOKEN`); nil without `web:`. Read at each request: a reload may change the keys.
  public var replyLinks: ReplyLinks? { current.links }

  /// Whether the daemon has nothing left to do as of `now`: a pass has run at `now` or later,
  /// every correction due by then has been judged, with the running configuration, and delivery
  /// has nothing in flight and nothing due. For tests on a manual clock (`DaemonHarness`).
  public func isSettled(at now: Date) throws -> Bool {
    guard let pass = state.withLock({ $0.lastPass }), pass >= now else { return false }
    guard try store.rejudges(dueBy: now).isEmpty, try store.plannedConfiguration() == current.hash else {
      return false
    }
    // The journal first, then delivery's own state: a notice goes from due to being sent to
    // sent, and whichever step it is at when each is read, one of them sees it.
    return try !store.workLeft(now: now) && delivery.isIdle
  }

  /// The configuration running now.
  var current: Snapshot { running.current }

  /// The engine over the running configuration and the recorded facts.
  func engine() throws -> Engine { try current.engine() }

  /// The facts changed: plan and deliver (each engine is made anew once the store's inputs
  /// version moves, so nothing here needs telling).
  func changed() {
    wake()
    delivery.wake()
  }

  // MARK: - The loop

  /// Starts the planning loop on a thread of its own and delivery on another, and returns at
  /// once. `stop(by:)` ends them.
  public func start(notify: SystemdNotifier) {
    // Leading or not is settled before the first pass, so that a lone daemon plans at once.
    if let cluster {
      cluster.tick(now: clock.now(), plan: {}, deliver: {})
      cluster.start(
        now: { [clock] in clock.now() }, plan: { [weak self] in self?.wake() },
        deliver: { [weak self] in self?.delivery.wake() })
    }
    let recovered = (try? store.recoverInFlight(now: clock.now())) ?? 0
    if recovered > 0 {
      Log.write(.notice, "recovered \(recovered) notices left in sending by a crash; sending them again")
    }
    rejudgeWindowWaits("start")
    delivery.start()
    state.withLock { $0.notifier = notify }
    notify.keepAliveWhile { [weak self] in self?.isResponsive() ?? true }
    notify.send("READY=1\nSTATUS=running")
    Log.write(.info, "started: \(current.deployment.ruleset.rules.count) rules from \(configPath)")
    let thread = Thread { [self] in
      while !state.withLock({ $0.stopping }) {
        let next = pass()
        let summary = next.map { "next wake-up \(current.deployment.zone.rfc3339($0))" } ?? "nothing scheduled"
        notify.send("STATUS=\(summary)")
        clock.wait(until: next, on: signal)
      }
      planningEnded.signal()
    }
    thread.name = "nhacviec-plan"
    thread.start()
  }

  /// One pass: plan from the last pass to now, journal, and wake delivery.
  @discardableResult
  func pass() -> Date? {
    let now = clock.now()
    // A follower delivers what the leader plans; it plans again once it leads (`ClusterMember`).
    if let cluster, !cluster.isLeader {
      state.withLock { $0.nextWakeup = nil }
      return nil
    }
    let began = monotonicSeconds()
    state.withLock { $0.passStarted = began }
    var ok = false
    defer {
      state.withLock { $0.passStarted = nil }
      metrics.passEnded(duration: monotonicSeconds() - began, ok: ok, at: now)
      progress.raise()
    }
    do {
      let pass = try Planner.pass(
        now: now, store: store,
        judge: {
          let snapshot = current
          return (try snapshot.engine(), snapshot.hash)
        }, hand: { delivery.hand($0) })
      let plan = pass.plan
      for conflict in pass.conflicts.prefix(20) {
        Log.write(
          .warning,
          "journal conflict: \(conflict.key) via \(conflict.channel) was decided again differently; "
            + "the journal's row (\(conflict.state)) stands")
      }
      if pass.conflicts.count > 20 { Log.write(.warning, "… and \(pass.conflicts.count - 20) more journal conflicts") }
      for failure in plan.failures {
        Log.write(.error, "rule \(failure.ruleID) period \(failure.period) not judged: \(failure.message)")
      }
      if !pass.corrections.isEmpty || pass.configurationChanged {
        let causes = pass.corrections.map(\.cause) + (pass.configurationChanged ? ["the configuration changed"] : [])
        Log.write(
          .info,
          "judged again (\(Set(causes).sorted().joined(separator: "; "))): \(plan.rejudged.count) notices owed")
      }
      let journaled = pass.journaled
      let stillBehind = pass.rulesBehind
      for notice in plan.unroutable {
        Log.write(.warning, "notice \(notice.key) via \(notice.channel) reaches nobody: no contact in the directory")
      }
      if journaled > 0 || !plan.superseded.isEmpty || !plan.silenced.isEmpty {
        Log.write(
          .info,
          "pass: \(journaled) planned, \(plan.superseded.count) superseded by a newer step, "
            + "\(plan.silenced.count) held by silences")
      }
      let askAgain = plan.failures.isEmpty ? nil : now.addingTimeInterval(Daemon.failedRuleRetry)
      let next = [plan.next, askAgain].compactMap { $0 }.min()
      state.withLock { state in
        state.lastPass = now
        state.passError = nil
        state.nextWakeup = next
        state.ruleFailures = plan.failures
        state.rulesBehind = stillBehind
      }
      ok = true
      return next
    } catch {
      state.withLock { $0.passError = ("\(error)", $0.passError?.since ?? now) }
      Log.write(.error, "pass failed: \(error); trying again in a minute")
      return now.addingTimeInterval(60)
    }
  }

  /// How long a pass may run before the watchdog is no longer told all is well. A pass takes
  /// seconds; an external rule's program is stopped at its `timeout` (600 s at most), so 30
  /// minutes leaves room for three that hang. NHACVIEC_PASS_LIMIT (seconds) shortens it for tests.
  static let passLimit: TimeInterval =
    ProcessInfo.processInfo.environment["NHACVIEC_PASS_LIMIT"].flatMap(TimeInterval.init) ?? 1800

  /// False while a pass has been running longer than `passLimit`: the planning loop is stuck.
  /// Both the watchdog and `/-/healthy` ask it.
  func isResponsive() -> Bool {
    guard let began = state.withLock({ $0.passStarted }) else { return true }
    return monotonicSeconds() - began < Daemon.passLimit
  }

  /// How soon a pass asks a failed external rule's program again.
  static let failedRuleRetry: TimeInterval = 300

  /// Ends the planning loop's wait: a new fact, a reload or a retry may change what is due.
  public func wake() { signal.raise() }

  public func stop() {
    state.withLock { $0.stopping = true }
    wake()
  }

  /// Stops the planning loop (after the pass in progress) and delivery (after what is in flight
  /// is recorded), and returns once both have, or at `deadline`: what is still in flight then
  /// stays `sending`, and goes again under the same key at the next start. True when both ended.
  @discardableResult
  public func stop(by deadline: DispatchTime) -> Bool {
    stop()
    let delivered = delivery.stop(by: deadline)
    let planned = planningEnded.wait(timeout: deadline) == .success
    if planned { planningEnded.signal() }
    return delivered && planned
  }

  // MARK: - Reload

  /// Re-reads and validates everything, channels built, and swaps it in whole; on any error the
  /// running configuration stays and the error is kept for `status`.
  @discardableResult
  public func reload() -> ControlAPI.Status.Reload {
    let notify = state.withLock { $0.notifier }
    notify?.send("RELOADING=1")
    let at = current.deployment.zone.rfc3339(clock.now())
    let result: ControlAPI.Status.Reload
    do {
      let deployment = try DeploymentLoader().load(configPath: configPath)
      try Daemon.reloadable(from: current.deployment, to: deployment)
      let fresh = try Snapshot(deployment, store: store, client: client, clock: clock)
      running.replace(fresh)
      Log.setLevel(deployment.daemon.logLevel)
      rejudgeWindowWaits("reload")
      result = .init(at: at, ok: true, error: nil)
      Log.write(.notice, "reloaded: \(deployment.ruleset.rules.count) rules, hash \(fresh.hash.prefix(12))")
    } catch let error as ConfigErrors {
      let hint = Daemon.restartHint(for: error)
      result = .init(at: at, ok: false, error: error.description + (hint.map { "\n" + $0 } ?? ""))
      Log.write(.error, "reload failed, keeping the running configuration: \(error.description)")
    } catch {
      result = .init(at: at, ok: false, error: "\(error)")
      Log.write(.error, "reload failed, keeping the running configuration: \(error)")
    }
    metrics.configLoaded(ok: result.ok, at: clock.now())
    state.withLock { $0.lastReload = result }
    notify?.send("READY=1\nSTATUS=\(result.ok ? "reloaded" : "reload failed, running the previous configuration")")
    changed()
    return result
  }

  /// Settings a running daemon cannot take without a restart: where it listens and keeps its
  /// state. A reload that changes one is refused whole, rather than answering "ok" while the
  /// old listener stays, so that the operator knows to restart.
  static func reloadable(from running: Deployment, to fresh: Deployment) throws(ConfigErrors) {
    var changed: [(String, String, String)] = []
    func compare(_ name: String, _ old: String?, _ new: String?) {
      if old != new { changed.append((name, old ?? "none", new ?? "none")) }
    }
    compare("daemon.socket", running.daemon.socket, fresh.daemon.socket)
    compare("daemon.state", running.daemon.state, fresh.daemon.state)
    compare("daemon.store", running.daemon.store?.url, fresh.daemon.store?.url)
    compare("daemon.node", running.daemon.node, fresh.daemon.node)
    compare("daemon.lease", "\(running.daemon.lease)", "\(fresh.daemon.lease)")
    compare("daemon.http_listen", running.daemon.httpListen?.description, fresh.daemon.httpListen?.description)
    compare("web.listen", running.web?.listen.description, fresh.web?.listen.description)
    guard !changed.isEmpty else { return }
    throw ConfigErrors(
      changed.map { name, old, new in
        ConfigError(
          "\(fresh.configPath): \(name) changed from \(old) to \(new): a reload cannot apply it; restart the daemon (systemctl restart nhacviec)",
          at: nil)
      })
  }

  /// A secret that a reload cannot read is, under systemd, most often one handed over by a
  /// `LoadCredential=` line added since the start: systemd reads those only when it starts the
  /// service.
  static func restartHint(for error: ConfigErrors) -> String? {
    guard error.errors.contains(where: { $0.message.contains("cannot read") }),
      ProcessInfo.processInfo.environment["CREDENTIALS_DIRECTORY"] != nil
    else { return nil }
    return
      "hint: systemd hands secrets over (LoadCredential=) only when it starts the service: after adding one, restart it (systemctl restart nhacviec)"
  }

  // MARK: - What the control API shows

  /// How the loops stand, for `/-/healthy`, `/-/ready` and `/metrics`.
  struct Liveness {
    /// A pass has ended without error since the start.
    let ready: Bool
    /// Not stopping, and no pass has been running for longer than `passLimit`.
    let alive: Bool
    let why: String?
  }

  var liveness: Liveness {
    let (pass, started, stopping) = state.withLock { ($0.lastPass, $0.passStarted, $0.stopping) }
    let running = started.map { monotonicSeconds() - $0 }
    var why: String?
    if stopping {
      why = "stopping"
    } else if let running, running > Daemon.passLimit {
      why = "a pass has been running for \(Int(running)) s"
    }
    // A follower plans nothing: it is ready once it has found its place among the nodes.
    let following = cluster.map { $0.role == .follower } ?? false
    return Liveness(ready: pass != nil || following, alive: why == nil, why: why)
  }

  /// The exposition of `/metrics`: the counters kept since start, and the journal read now.
  func metricsText() throws -> String {
    let snapshot = current
    let (next, failures) = state.withLock { ($0.nextWakeup, $0.ruleFailures) }
    let scrape = Metrics.Scrape(
      version: Daemon.version, configHash: snapshot.hash, rules: snapshot.deployment.ruleset.rules.count,
      rulesFailing: Set(failures.map(\.ruleID)).count,
      channels: try store.channelHealth(channels: Array(snapshot.deployment.channels.keys)),
      channelsFailing: Set(try store.failingChannels()), inFlight: delivery.status.inFlight, nextWakeup: next,
      journalConflicts: try store.journalConflicts(),
      cluster: cluster.map { member in
        (member.store.node, member.role.rawValue, ((try? store.nodes()) ?? []).map { ($0.name, $0.age) })
      })
    return metrics.exposition(scrape)
  }

  public func status() throws -> ControlAPI.Status {
    do {
      return try statusFromStore()
    } catch let error where cluster != nil {
      // A shared store that cannot be reached: the daemon still answers, and says why.
      let snapshot = current
      let zone = snapshot.deployment.zone
      let now = clock.now()
      let (reload, pass, next) = state.withLock { ($0.lastReload, $0.lastPass, $0.nextWakeup) }
      var status = ControlAPI.Status(
        version: Daemon.version, uptimeSeconds: Int(now.timeIntervalSince(started)), config: configPath,
        now: zone.rfc3339(now), rules: .init(count: snapshot.deployment.ruleset.rules.count, hash: snapshot.hash),
        lastReload: reload, lastPass: pass.map(zone.rfc3339), nextWakeup: next.map(zone.rfc3339), journal: [:],
        channelsFailing: [], cluster: try cluster?.status(zone: zone))
      status.storeError = "the store cannot be read: \(error)"
      return status
    }
  }

  func statusFromStore() throws -> ControlAPI.Status {
    let snapshot = current
    let zone = snapshot.deployment.zone
    let now = clock.now()
    let (reload, pass, passError, next, failures, behind) = state.withLock {
      ($0.lastReload, $0.lastPass, $0.passError, $0.nextWakeup, $0.ruleFailures, $0.rulesBehind)
    }
    let delivery = self.delivery.status
    let counts = try store.counts()
    var warnings: [String] = []
    if let warning = snapshot.deployment.calendar.overrideWarning(today: zone.localDate(of: now)) {
      warnings.append(warning)
    }
    return ControlAPI.Status(
      version: Daemon.version, uptimeSeconds: Int(now.timeIntervalSince(started)), config: configPath,
      now: zone.rfc3339(now), rules: .init(count: snapshot.deployment.ruleset.rules.count, hash: snapshot.hash),
      lastReload: reload, lastPass: pass.map(zone.rfc3339),
      lastPassError: passError.map { .init(error: $0.message, since: zone.rfc3339($0.since)) },
      deliveryError: delivery.lastError.map { .init(error: $0.message, since: zone.rfc3339($0.since)) },
      nextWakeup: next.map(zone.rfc3339),
      journal: Dictionary(uniqueKeysWithValues: counts.map { ($0.key.rawValue, $0.value) }),
      channelsFailing: try store.failingChannels(),
      channels: try store.channelHealth(channels: Array(snapshot.deployment.channels.keys)).map { health in
        .init(
          name: health.channel, sent: health.counts[.sent] ?? 0, failed: health.counts[.failed] ?? 0,
          dead: health.counts[.dead] ?? 0, deadUnacknowledged: health.deadUnacknowledged,
          lastError: health.lastError?.error, lastErrorAt: health.lastError.map { zone.rfc3339($0.at) },
          failingSince: health.failingSince.map(zone.rfc3339))
      },
      rulesFailing: failures.map {
        .init(
          rule: $0.ruleID, period: $0.period, error: $0.message,
          since: behind[$0.ruleID].flatMap { $0 == .distantPast ? nil : zone.rfc3339($0) })
      }, warnings: warnings,
      silences: try store.silences().filter { $0.isActive(at: now) }.map {
        ControlAPI.Silence($0, zone: zone, now: now)
      }, journalConflicts: try store.journalConflicts(), cluster: try cluster?.status(zone: zone))
  }

  /// The consolidated report from the recorded facts, as of now or `asOf`, in `format`.
  func report(period: Period, rules: [String]?, scope: String?, asOf: String?, format: ReportFormat) throws -> String {
    let zone = current.deployment.zone
    var now = clock.now()
    if let asOf {
      guard let instant = zone.parseInstant(asOf) else {
        throw HTTPFailure(400, "as_of: not an instant: \(asOf)")
      }
      now = instant
    }
    let report = try engine().report(period: period, ruleIDs: rules, scope: scope, at: now)
    return ReportDocument(report, zone: zone).rendered(as: format)
  }

  /// Throws a 404 for a rule or unit the running configuration does not know.
  func checkKnown(rules: [String], units: [String]) throws {
    let deployment = current.deployment
    for id in rules where deployment.ruleset.rule(id) == nil { throw HTTPFailure(404, "no rule \(id)") }
    for id in units where !deployment.directory.knows(id) { throw HTTPFailure(404, "no unit \(id) in the directory") }
  }

  public func findings(
    state: FindingState?, rule ruleID: String?, unit: String?, period: Period?
  ) throws
    -> [ControlAPI.Finding]
  {
    let zone = current.deployment.zone
    let engine = try engine()
    let now = clock.now()
    var findings: [Finding]
    if let period, let rule = ruleID.flatMap(engine.ruleset.rule) {
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
    let silences = engine.context.silences
    return findings.map { f in
      ControlAPI.Finding(
        rule: f.ruleID, unit: f.unit.id, unitName: f.unit.name, period: f.period.description, state: f.state,
        deadline: zone.rfc3339(f.deadline),
        satisfiedAt: f.assessment.satisfiedAt.flatMap { $0 == .distantPast ? nil : zone.rfc3339($0) },
        reference: f.assessment.reference,
        missing: f.assessment.childrenTotal == nil ? nil : f.assessment.missingChildren.map(\.id),
        silenced: silences.active(rule: f.ruleID, unit: f.unit.id, period: f.period.description, at: now).map {
          ControlAPI.Silence($0, zone: zone, now: now)
        })
    }
  }

  public func explain(unit: String, rule: String?) throws -> ControlAPI.Explanation? {
    let engine = try engine()
    return try engine.explain(unitID: unit, ruleID: rule, at: clock.now()).map {
      try ControlAPI.Explanation($0, zone: engine.context.calendar.zone) { try self.store.states(of: $0) }
    }
  }

  /// What goes out in the coming days, soonest first: the notices already in the queue, each with
  /// what it waits for (the send window, a retry, a silence), then those the rules will plan, each
  /// with the subject it would have.
  public func upcoming(days: Int) throws -> [ControlAPI.Notice] {
    let deployment = current.deployment
    let zone = deployment.zone
    let engine = try engine()
    let now = clock.now()
    let until = now.addingTimeInterval(Double(days) * 86_400)
    let renderer = MessageRenderer(ruleset: deployment.ruleset, calendar: deployment.calendar)
    let queued = try store.waiting(until: until).map { entry in
      var notice = ControlAPI.Notice(
        key: entry.key, channel: entry.channel, at: zone.rfc3339(max(now, entry.nextAttemptAt ?? now)),
        reason: NoticeReason(rawValue: entry.reason) ?? .nextReminder, state: entry.state, attempts: entry.attempts,
        lastError: entry.lastError, to: entry.addresses.map(SafeURL.shown), subject: entry.subject)
      let later = (entry.nextAttemptAt ?? now) > now
      notice.waits =
        switch entry.state {
        case .failed: "retry"
        case .silenced: "silence"
        default: later ? "window" : "due"
        }
      return (at: max(now, entry.nextAttemptAt ?? now), notice: notice)
    }
    let inQueue = Set(queued.map { JournalKey(key: $0.notice.key, channel: $0.notice.channel) })
    let planned = engine.simulate(from: now.addingTimeInterval(1), to: until).filter {
      !inQueue.contains(JournalKey(key: $0.key, channel: $0.channel))
    }
    .map { decision in
      var subject: String?
      if case .send(let evaluated) = engine.check(decision, at: decision.scheduledAt) {
        subject = renderer.render(evaluated).subject
      }
      let notice = ControlAPI.Notice(
        key: decision.key, channel: decision.channel, at: zone.rfc3339(decision.scheduledAt), reason: decision.reason,
        state: nil, attempts: nil, lastError: nil, to: decision.addressees.map { SafeURL.shown($0.address) },
        subject: subject)
      return (at: decision.scheduledAt, notice: notice)
    }
    return (queued + planned).sorted { ($0.at, $0.notice.key) < ($1.at, $1.notice.key) }.map(\.notice)
  }

  public func notices(
    state: NoticeState?, key: String?, unit: String? = nil, limit: Int, after: (channel: String, key: String)? = nil
  ) throws -> [ControlAPI.Notice] {
    let zone = current.deployment.zone
    let after = after.map { JournalKey(key: $0.key, channel: $0.channel) }
    return try store.entries(state: state, key: key, unit: unit, limit: limit, after: after).map { entry in
      ControlAPI.Notice(
        key: entry.key, channel: entry.channel, at: zone.rfc3339(entry.scheduledAt),
        reason: NoticeReason(rawValue: entry.reason) ?? .nextReminder, state: entry.state, attempts: entry.attempts,
        lastError: entry.lastError, to: entry.addresses.map(SafeURL.shown), subject: entry.subject,
        acknowledgedBy: entry.acknowledgedBy,
        acknowledgedAt: entry.acknowledgedAt.map(zone.rfc3339))
    }
  }

  /// One notice's history: its rows through each channel and every attempt made.
  public func history(key: String) throws -> ControlAPI.NoticeHistory? {
    let zone = current.deployment.zone
    let rows = try notices(state: nil, key: key, limit: 100)
    guard !rows.isEmpty else { return nil }
    let attempts = try store.history(key: key).map {
      ControlAPI.NoticeHistory.Attempt(
        channel: $0.channel, number: $0.number, at: zone.rfc3339($0.at), outcome: $0.outcome, detail: $0.detail,
        // Rows journaled before addresses were kept in their safe form have them raw.
        reached: Dictionary($0.reached.map { (SafeURL.shown($0.key), $0.value) }, uniquingKeysWith: { a, _ in a }))
    }
    return ControlAPI.NoticeHistory(key: key, notices: rows, attempts: attempts)
  }

  /// Checks every fact of a batch, then records them all in one transaction, or none: a refused
  /// fact is answered with where it stands (`facts.csv:7: amount: …`).
  /// `officer` names who recorded them at the desk (source `desk`); otherwise the socket's user.
  public func record(
    _ batch: ControlAPI.FactBatch, uid: UInt32, officer: String? = nil
  ) throws -> (sent: [Fact], recorded: [Fact]) {
    let deployment = current.deployment
    guard !batch.facts.isEmpty else { throw HTTPFailure(400, "no facts to record") }
    var facts: [Fact] = []
    var errors: [ConfigError] = []
    var undated: Set<Int> = []
    let now = clock.now()
    for (index, request) in batch.facts.enumerated() {
      var values: [String: String] = [
        "kind": request.kind, "unit": request.unit, "rule": request.rule, "period": request.period,
      ]
      values["at"] = request.at
      // A report or budget line sent without its time happened now, by the daemon's clock; sent
      // again, it is the same fact whenever it is sent.
      if request.at == nil, request.kind == "report" || request.kind == "budget" {
        values["at"] = deployment.zone.rfc3339(now)
        undated.insert(facts.count)
      }
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
    // An officer at the desk is named; through the socket, the Unix user is.
    let source = officer != nil ? "desk" : batch.source.map { "import \($0)" } ?? "socket"
    let recorded = try store.record(
      facts, by: .init(uid: uid, source: source, name: officer ?? Self.userName(uid: uid)), now: now,
      undated: undated)
    for fact in recorded.prefix(20) {
      Log.write(
        .notice, "fact recorded by uid \(uid): \(fact.kind.rawValue) \(fact.unitID) \(fact.ruleID) \(fact.period)")
    }
    if recorded.count > 20 { Log.write(.notice, "… and \(recorded.count - 20) more facts recorded by uid \(uid)") }
    if recorded.count < facts.count {
      Log.write(.info, "\(facts.count - recorded.count) facts sent by uid \(uid) were already recorded")
    }
    if !recorded.isEmpty { changed() }
    return (facts, recorded)
  }

  /// An operator has seen a dead notice: it stays dead, and `status` stops failing for it.
  /// Returns what became of it; throws a 404 when no dead notice has the key.
  public func acknowledge(key: String, uid: UInt32) throws -> String {
    switch try store.acknowledge(key: key, uid: uid, now: clock.now()) {
    case .acknowledged(let count):
      Log.write(.notice, "dead notice \(key) acknowledged by uid \(uid)")
      return "\(key): dead notice acknowledged (\(count) channel\(count == 1 ? "" : "s"))"
    case .already(let by, let at):
      return "\(key): already acknowledged by uid \(by) at \(current.deployment.zone.rfc3339(at))"
    case .noDeadNotice:
      throw HTTPFailure(404, "no dead notice with key \(key)")
    }
  }

  public func retry(key: String) throws -> Int {
    let count = try store.retryDead(key: key, now: clock.now())
    if count > 0 { delivery.wake() }
    return count
  }

  /// An operator's retry of many notices at once (`nhacviec retry --channel email`).
  func retry(_ selection: JournalSelection, dryRun: Bool, uid: UInt32) throws -> [SelectedRow] {
    let rows = try store.retry(selection, dryRun: dryRun, now: clock.now())
    if !dryRun && !rows.isEmpty {
      Log.write(.notice, "\(rows.count) \(selection.state.rawValue) notices planned again by uid \(uid)")
      delivery.wake()
    }
    return rows
  }

  /// An operator's acknowledgement of many dead notices at once.
  func acknowledge(_ selection: JournalSelection, dryRun: Bool, uid: UInt32) throws -> [SelectedRow] {
    let rows = try store.acknowledge(selection, uid: uid, dryRun: dryRun, now: clock.now())
    if !dryRun && !rows.isEmpty { Log.write(.notice, "\(rows.count) dead notices acknowledged by uid \(uid)") }
    return rows
  }

  /// Every waiting notice of `channel` (nil: of every channel) judged again now: failed ones
  /// waiting for their retry, and those waiting for the send window. Returns how many; throws a
  /// 404 for a channel the configuration does not have.
  public func flush(channel: String?, uid: UInt32) throws -> Int {
    if let channel, current.deployment.channels[channel] == nil {
      throw HTTPFailure(404, "no channel named \(channel) is configured")
    }
    let count = try store.flush(channel: channel, now: clock.now())
    Log.write(
      .notice,
      "flush by uid \(uid): \(count) waiting notice\(count == 1 ? "" : "s")\(channel.map { " of channel \($0)" } ?? "") judged again now"
    )
    if count > 0 { delivery.wake() }
    return count
  }

  /// Notices waiting for the send window are judged again: the window or the calendar a start or
  /// a reload brings may open it sooner (or later) than when each was told to wait for.
  func rejudgeWindowWaits(_ why: String) {
    do {
      let count = try store.flush(windowOnly: true, now: clock.now())
      if count > 0 { Log.write(.info, "\(why): \(count) notices waiting for the send window judged again") }
    } catch {
      Log.write(.warning, "\(why): the notices waiting for the send window could not be judged again: \(error)")
    }
  }

  /// Ends what the daemon holds: libcurl's thread, and the state folder's lock.
  public func shutdown() {
    cluster?.stop()
    client.shutdown()
    close(stateLock)
  }
}

/// One configuration as everything runs with it: the deployment, the hash of its files, its
/// channels and renderer as delivery uses them, and the engine over it and the store's inputs.
/// Planning, delivery (from claim to record) and each control request take one snapshot and use
/// it throughout, so nothing is ever judged by one configuration and written by another.
final class Snapshot: Sendable {
  let deployment: Deployment
  /// SHA-256 over every file the configuration read.
  let hash: String
  let delivery: DeliveryService.Setup
  /// Who may write through the control socket: a reload applies its `daemon.writers` and
  /// `daemon.writer_groups` at once.
  let writers: WriterPolicy
  /// The links in units' messages, signed with the keys of `web.link_keys_file`; nil without
  /// `web:`. The desk checks the tokens it is given with the same signer.
  let links: ReplyLinks?
  private let engines: EngineCache

  /// Builds the channels in the one place that builds them; a channel that cannot be built (an
  /// unreadable secret) refuses the configuration.
  init(_ deployment: Deployment, store: Store, client: CurlClient, clock: any WallClock) throws {
    var bytes: [UInt8] = []
    for file in deployment.files {
      bytes += Array(file.utf8) + Array(FileManager.default.contents(atPath: file) ?? Data())
    }
    self.deployment = deployment
    hash = SHA256.hex(SHA256.hash(bytes))
    writers = WriterPolicy(users: deployment.daemon.writers, groups: deployment.daemon.writerGroups)
    let runtime = ChannelRuntime(
      client: client, zone: deployment.zone, stateDirectory: deployment.daemon.state, clock: { clock.now() })
    let built = runtime.channels(deployment.channels)
    if !built.errors.isEmpty { throw ConfigErrors(built.errors) }
    let links = try ReplyLinks.load(for: deployment)
    self.links = links
    let engines = EngineCache(deployment: deployment, store: store)
    self.engines = engines
    delivery = DeliveryService.Setup(
      channels: built.channels, capacity: deployment.channels.mapValues(\.connections),
      policies: deployment.channels.mapValues(\.delivery.retry),
      rates: deployment.channels.compactMapValues(\.delivery.rate),
      renderer: MessageRenderer(deployment: deployment, links: links),
      engine: { try engines.engine() })
  }

  /// The engine over this configuration and the facts and silences recorded now.
  func engine() throws -> Engine { try engines.engine() }
}

/// The engine over one configuration and the store's inputs, made anew when the store's facts or
/// silences changed: the store's version is asked each time, so a change committed just now is
/// never judged with an engine from before it.
final class EngineCache: Sendable {
  let deployment: Deployment
  let store: Store
  private let cached = Locked<(version: Int64, engine: Engine)?>(nil)

  init(deployment: Deployment, store: Store) {
    self.deployment = deployment
    self.store = store
  }

  func engine() throws -> Engine {
    let version = try store.inputsVersion()
    if let cached = cached.withLock({ $0 }), cached.version == version { return cached.engine }
    let inputs = try store.planningInputs()
    let engine = deployment.engine(facts: FactBook(inputs.facts), silences: SilenceBook(inputs.silences))
    cached.withLock { $0 = (inputs.version, engine) }
    return engine
  }
}

/// The snapshot running now, swapped whole on reload.
final class Running: Sendable {
  private let snapshot: Locked<Snapshot>

  init(_ snapshot: Snapshot) { self.snapshot = Locked(snapshot) }

  var current: Snapshot { snapshot.withLock { $0 } }

  func replace(_ fresh: Snapshot) { snapshot.withLock { $0 = fresh } }
}
