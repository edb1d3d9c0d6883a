public import Foundation
import NhacviecConfig
public import NhacviecControl
public import NhacviecCore
public import NhacviecDaemon

/// A daemon in this process on a manual clock, over a configuration folder of its own: its
/// passes, sleep, corrections, reloads and delivery run as in `nhacviec run`, and a test moves
/// the clock, makes corrections and reads the messages the file channel wrote, as their
/// recipients would. A deployment tests its own rules with it (examples/deployment-tests).
///
/// `settle()` waits for events, not for time: it returns once the daemon has passed at the
/// clock's instant, judged every correction and delivered everything due, which the daemon says
/// after each pass and delivery round.
public final class DaemonHarness: Sendable {
  /// The folder of the copied configuration.
  public let folder: URL
  public let configPath: String
  public let clock: ManualClock
  public let daemon: Daemon

  /// A daemon over the configuration at `configPath`, its clock at `start` (`2026-11-18T08:00:00+07:00`),
  /// started at once.
  public init(configPath: String, folder: URL, at start: String) throws {
    self.folder = folder
    self.configPath = configPath
    let deployment = try DeploymentLoader().load(configPath: configPath)
    guard let instant = deployment.zone.parseInstant(start) else {
      throw HarnessError(description: "not an instant: \(start)")
    }
    clock = ManualClock(instant)
    daemon = try Daemon(configPath: configPath, deployment: deployment, clock: clock)
    daemon.start(notify: SystemdNotifier(environment: [:]))
  }

  /// A daemon over a copy of the configuration folder `source` (`nhacviec.yaml` in it, or
  /// `config`), so that its state, outbox and any edit a test makes stay in a folder of its own.
  public static func copying(_ source: URL, config: String = "nhacviec.yaml", at start: String) throws -> DaemonHarness
  {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("nhacviec-harness-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    let copy = folder.appendingPathComponent(source.lastPathComponent)
    try FileManager.default.copyItem(at: source, to: copy)
    // A state folder left in the source by a run of the daemon is not the copy's.
    try? FileManager.default.removeItem(at: copy.appendingPathComponent(".nhacviec"))
    return try DaemonHarness(configPath: copy.appendingPathComponent(config).path, folder: copy, at: start)
  }

  /// Stops the daemon, as SIGTERM would, and lets go of its state folder.
  public func stop() {
    daemon.stop(by: .now() + 10)
    daemon.shutdown()
  }

  /// Moves the clock to `instant` (in the deployment's time zone unless it says otherwise).
  public func advance(to instant: String) throws {
    guard let date = daemon.deployment.zone.parseInstant(instant) else {
      throw HarnessError(description: "not an instant: \(instant)")
    }
    clock.advance(to: date)
  }

  /// Waits (at most `seconds` of real time) until the daemon has passed at the clock's instant,
  /// judged every correction and delivered everything due.
  public func settle(seconds: TimeInterval = 20) throws {
    let now = clock.now()
    daemon.wake()
    guard try daemon.progress.wait(until: Date().addingTimeInterval(seconds), for: { try daemon.isSettled(at: now) })
    else {
      throw HarnessError(description: "the daemon did not settle within \(seconds) s")
    }
  }

  /// Records facts as `nhacviec record` would, by `uid`.
  @discardableResult
  public func record(_ facts: [ControlAPI.FactRequest], uid: UInt32 = 0) throws -> [Fact] {
    try daemon.record(ControlAPI.FactBatch(source: nil, facts: facts), uid: uid).recorded
  }

  /// Records one fact as `nhacviec record KIND --unit … --rule … --period …` would: a report or a
  /// budget line happens now unless `at` says when, an extension needs `due` and `by`.
  @discardableResult
  public func record(
    _ kind: String, unit: String, rule: String, period: String, at: String? = nil, reference: String? = nil,
    amount: String? = nil, due: String? = nil, by: String? = nil, reason: String? = nil, uid: UInt32 = 0
  ) throws -> [Fact] {
    var fact = ControlAPI.FactRequest(kind: kind, unit: unit, rule: rule, period: period)
    (fact.at, fact.reference, fact.amount, fact.due, fact.by, fact.reason) = (at, reference, amount, due, by, reason)
    return try record([fact], uid: uid)
  }

  /// Takes back every fact in force for the obligation, as `nhacviec retract ID --reason …` would
  /// one by one; returns how many.
  @discardableResult
  public func retract(unit: String, rule: String, period: String, reason: String, uid: UInt32 = 0) throws -> Int {
    let facts = try daemon.recordedFacts(unit: unit, rule: rule, period: period, retracted: false)
    for fact in facts { _ = try daemon.retract(id: fact.id, reason: reason, uid: uid) }
    return facts.count
  }

  /// Re-reads the configuration from its folder, as `nhacviec reload` would; throws with the
  /// reason when the new one is refused (the running one stays).
  public func reload() throws {
    let result = daemon.reload()
    if !result.ok { throw HarnessError(description: result.error ?? "reload refused") }
  }

  /// Where the file channel writes: its `path`, or the state folder's outbox.
  public var outbox: URL {
    let deployment = daemon.deployment
    let configured = deployment.channels.values.compactMap { ($0 as? FileConfiguration)?.path }.first
    return configured.map(URL.init(fileURLWithPath:))
      ?? URL(fileURLWithPath: deployment.daemon.state).appendingPathComponent("outbox")
  }

  /// The e-mails written so far, by file name (`KEY--CHANNEL.eml`, `/`, `@` and `#` as `_`).
  public func messages() throws -> [String: Mail] {
    var result: [String: Mail] = [:]
    let names = (try? FileManager.default.contentsOfDirectory(atPath: outbox.path)) ?? []
    for name in names where name.hasSuffix(".eml") {
      result[name] = Mail(try String(contentsOf: outbox.appendingPathComponent(name), encoding: .utf8))
    }
    return result
  }

  public struct HarnessError: Error, CustomStringConvertible {
    public let description: String
  }
}

/// An e-mail as its recipient reads it: headers unfolded and decoded, the text part decoded.
public struct Mail: Sendable {
  public let raw: String

  public init(_ raw: String) { self.raw = raw }

  public func header(_ name: String) -> String? { MailReader.header(raw, name) }

  /// The text/plain part, decoded from base64.
  public var text: String {
    let part = raw.components(separatedBy: "Content-Transfer-Encoding: base64\r\n\r\n").dropFirst().first ?? ""
    let base64 = part.components(separatedBy: "\r\n--")[0].replacingOccurrences(of: "\r\n", with: "")
    return String(decoding: Data(base64Encoded: base64) ?? Data(), as: UTF8.self)
  }
}
