public import Foundation
public import NhacviecConfig
public import NhacviecCore
public import NhacviecDelivery
import NhacviecRender
public import NhacviecStore

/// A clock a test moves by hand. Whoever waits on it wakes when it is moved (and checks whether
/// its instant has come), so that a daemon's sleep, wake and delivery are tested in process
/// without waiting for real time.
public final class ManualClock: WallClock, Sendable {
  private struct State {
    var current: Date
    var waiting: [ObjectIdentifier: WakeSignal] = [:]
  }
  private let state: Locked<State>

  public init(_ start: Date) { state = Locked(State(current: start)) }

  public func now() -> Date { state.withLock { $0.current } }

  /// Moves the clock and wakes everyone waiting on it.
  public func advance(to instant: Date) {
    let signals = state.withLock { state -> [WakeSignal] in
      state.current = max(state.current, instant)
      return Array(state.waiting.values)
    }
    for signal in signals { signal.raise() }
  }

  public func advance(by seconds: TimeInterval) { advance(to: now().addingTimeInterval(seconds)) }

  public func wait(until deadline: Date?, on signal: WakeSignal) {
    state.withLock { $0.waiting[ObjectIdentifier(signal)] = signal }
    defer { _ = state.withLock { $0.waiting.removeValue(forKey: ObjectIdentifier(signal)) } }
    if let deadline, now() >= deadline { return }
    // Any raise (a wake, or the clock moving) ends the wait; the caller looks at the time again.
    signal.wait(untilReal: Date().addingTimeInterval(5))
  }
}

/// A channel that answers from a script and remembers what it was given: per call, or per
/// address when `byAddress` names one.
public final class ScriptedChannel: NoticeChannel, Sendable {
  public let name: String
  private let byAddress: [String: DeliveryOutcome]
  private struct State {
    var script: [DeliveryOutcome]
    var gate: DispatchSemaphore?
    var messages: [OutgoingMessage] = []
  }
  private let state: Locked<State>

  /// The last outcome of `script` repeats; an empty script sends.
  public init(name: String = "email", _ script: [DeliveryOutcome] = [], byAddress: [String: DeliveryOutcome] = [:]) {
    self.name = name
    self.byAddress = byAddress
    state = Locked(State(script: script))
  }

  /// Holds every delivery until `open()`: a receiver that does not answer.
  public func hold() { state.withLock { $0.gate = DispatchSemaphore(value: 0) } }

  public func open() {
    let gate = state.withLock { state -> DispatchSemaphore? in
      defer { state.gate = nil }
      return state.gate
    }
    for _ in 0..<10_000 { gate?.signal() }
  }

  public func deliver(_ message: OutgoingMessage) async -> DeliveryOutcome {
    let gate = state.withLock { state -> DispatchSemaphore? in
      state.messages.append(message)
      return state.gate
    }
    if let gate {
      await withCheckedContinuation { continuation in
        Thread.detachNewThread {
          gate.wait()
          continuation.resume()
        }
      }
    }
    let refused = message.to.compactMap { addressee -> DeliveryOutcome.Refusal? in
      switch byAddress[addressee.address] {
      case .permanent(let reason): return .init(address: addressee.address, reason: reason, permanent: true)
      case .transient(let reason, _): return .init(address: addressee.address, reason: reason, permanent: false)
      default: return nil
      }
    }
    if !refused.isEmpty {
      return refused.count == message.to.count && refused.allSatisfy(\.permanent)
        ? .permanent(reason: refused.map(\.reason).joined(separator: "; "))
        : .partial(receipt: "250 ok", refused: refused)
    }
    return state.withLock { state in
      state.script.count > 1 ? state.script.removeFirst() : state.script.first ?? .sent(receipt: "250 ok")
    }
  }

  public var delivered: [OutgoingMessage] { state.withLock { $0.messages } }
}

/// A throw-away configuration folder: nhacviec.yaml, a directory and a rule file, each given as
/// text, loaded as the daemon loads it.
public struct ConfigurationFixture: Sendable {
  public let folder: URL

  public init(
    directory: String = ConfigurationFixture.province, rules: String = ConfigurationFixture.annualRule,
    configuration: String = ConfigurationFixture.configuration
  ) throws {
    folder = FileManager.default.temporaryDirectory.appendingPathComponent("nhacviec-fixture-\(UUID().uuidString)")
    try FileManager.default.createDirectory(
      at: folder.appendingPathComponent("rules"), withIntermediateDirectories: true)
    try write("units.csv", directory)
    try write("rules/main.yaml", rules)
    try write("nhacviec.yaml", configuration)
  }

  public func write(_ name: String, _ text: String) throws {
    try text.write(to: folder.appendingPathComponent(name), atomically: true, encoding: .utf8)
  }

  public var configPath: String { folder.appendingPathComponent("nhacviec.yaml").path }

  public func load() throws -> Deployment { try DeploymentLoader().load(configPath: configPath) }

  /// A province, its standing agency (S), the People's Committee's office (O) and departments
  /// D1–D3, each with a head and an ISO focal point.
  public static let province = """
    id,name,kind,parent_id,tags,head.name,head.email,iso-focal.name,iso-focal.email
    P,Tỉnh Thử,province,,,Chủ tịch UBND tỉnh,head@p.example,,
    S,Sở Khoa học và Công nghệ,dept,P,standing-agency,Giám đốc Sở Khoa học và Công nghệ,head@s.example,Đầu mối ISO,iso@s.example
    O,Văn phòng UBND tỉnh,dept,P,,Chánh Văn phòng,head@o.example,Đầu mối ISO,iso@o.example
    D1,Sở Tư pháp,dept,P,,Giám đốc Sở Tư pháp,head@d1.example,Đầu mối ISO,iso@d1.example
    D2,Sở Y tế,dept,P,,Giám đốc Sở Y tế,head@d2.example,Đầu mối ISO,iso@d2.example
    D3,Sở Xây dựng,dept,P,,Giám đốc Sở Xây dựng,head@d3.example,Đầu mối ISO,iso@d3.example
    """

  /// The letter's annual report: before 15/11, reminders, the unit's own escalation and two
  /// tiers of superiors.
  public static let annualRule = """
    - id: annual
      kind: deadline
      title: Báo cáo ISO {{period.name}}
      basis: Công văn, khoản 1
      applies_to: { kinds: [dept], except: [S] }
      period: yearly
      due: { date: "11-15", convention: before }
      remind: [30d, 14d, 7d, 1wd]
      remind_to: [unit.iso-focal]
      escalate:
        - { after: 1wd, to: [unit.head, unit.iso-focal] }
        - { after: 3wd, to: [parent.head, unit:S] }
        - { after: 7wd, to: [unit:O], repeat: 7d }
      stop_after: 60d
      channels: [email]
    """

  public static let configuration = """
    directory: [{ file: units.csv }]
    rules: rules
    digest: { minimum: 0 }
    channels:
      email: { type: file, path: outbox }
    """
}

/// A journal, a delivery service and a scripted channel over a configuration, on a manual clock:
/// the delivery stages run for real (SQLite, check, render, record) and a test reads what each
/// channel was given.
public final class DeliveryHarness: Sendable {
  public let deployment: Deployment
  public let store: Store
  public let clock: ManualClock
  public let service: DeliveryService
  private let log = LogLines()

  /// What the service logged, as the daemon would write it: warnings and the rest.
  public var logged: [(warning: Bool, line: String)] { log.lines }

  public init(
    deployment: Deployment, channels: [String: any NoticeChannel], clock: ManualClock,
    policy: RetryPolicy = RetryPolicy(jitter: 0), policies: [String: RetryPolicy] = [:],
    rates: [String: RateLimit] = [:], store: Store? = nil
  ) throws {
    self.deployment = deployment
    self.clock = clock
    let store = try store.map { $0 } ?? Store()
    self.store = store
    service = DeliveryService(
      store: store,
      setup: .init(
        channels: channels, policy: policy, policies: policies, rates: rates,
        renderer: MessageRenderer(ruleset: deployment.ruleset, calendar: deployment.calendar),
        engine: { deployment.engine(facts: FactBook(try store.facts())) }),
      clock: clock, random: { 0.5 }, log: { [log] warning, line, _ in log.append(warning, line) })
    service.start()
  }

  deinit { service.stop(grace: 5) }

  /// Plans at the clock's instant from `since` and journals what is due.
  @discardableResult
  public func plan(since: Date?) throws -> Plan {
    let plan = deployment.engine(facts: FactBook(try store.facts())).plan(since: since, now: clock.now())
    try store.journal(due: plan.due, superseded: plan.superseded, now: clock.now())
    service.wake()
    return plan
  }

  public func record(_ fact: Fact) throws {
    try store.record([fact], by: .init(uid: nil, source: "test"), now: clock.now())
    service.wake()
  }

  /// Waits (in real time, at most `seconds`) until delivery has nothing in flight and nothing
  /// left that is due at the clock's instant. With `waitingForTurn`, notices may stay due (a
  /// paced channel waits for its turn): it returns once nothing has been in flight for 0.1 s.
  public func settle(seconds: TimeInterval = 10, waitingForTurn: Bool = false) throws {
    let until = Date().addingTimeInterval(seconds)
    if !waitingForTurn {
      // Delivery says when each round ends: look then, not every few milliseconds.
      service.wake()
      let now = clock.now()
      guard try service.rounds.wait(until: until, for: { try !store.workLeft(now: now) && service.isIdle }) else {
        throw HarnessError(description: "delivery did not settle within \(seconds) s")
      }
      return
    }
    var quietSince: Date?
    while Date() < until {
      service.wake()
      usleep(20_000)
      let due = try store.dueChannels(now: clock.now())
      let sending = try store.counts()[.sending] ?? 0
      let quiet = service.isIdle && sending == 0
      if quiet && due.isEmpty { return }
      if waitingForTurn && quiet {
        if let since = quietSince, Date().timeIntervalSince(since) >= 0.1 { return }
        quietSince = quietSince ?? Date()
      } else {
        quietSince = nil
      }
    }
    throw HarnessError(description: "delivery did not settle within \(seconds) s")
  }

  public struct HarnessError: Error, CustomStringConvertible {
    public let description: String
  }
}

/// What every channel must do, whatever it is: checked by each channel's tests.
public enum ChannelConformance {
  /// A message whose data tries to break out of its fields.
  public static func hostileMessage(
    key: String = "annual/D1/2026/remind-7d@2026-11-15", to address: String
  )
    -> OutgoingMessage
  {
    OutgoingMessage(
      key: key, channel: "conformance", rule: "annual", unit: UnitRef(id: "D1", validFrom: nil), period: "2026",
      step: "remind-7d", reason: .firstReminder, date: Date(timeIntervalSince1970: 1_794_700_800),
      to: [
        Addressee(
          unit: UnitRef(id: "D1", validFrom: nil), unitName: "Sở Tư pháp\r\nBcc: spy@evil.example",
          role: "iso-focal", name: "Đầu mối ISO\nX-Injected: 1", address: address)
      ],
      subject: "[Nhắc việc] Báo cáo\r\nBcc: spy@evil.example", text: "Kính gửi", html: "<p>Kính gửi</p>",
      payload: #"{"version":1}"#)
  }

  /// Returns a description of every way `outcome` leaks `secret`; empty when it leaks nothing.
  public static func leaks(_ outcome: DeliveryOutcome, secret: String) -> [String] {
    var texts: [String] = []
    switch outcome {
    case .sent(let receipt): texts = [receipt]
    case .partial(let receipt, let refused): texts = [receipt] + refused.map(\.reason)
    case .transient(let reason, _), .permanent(let reason), .notAttempted(let reason): texts = [reason]
    }
    return texts.filter { $0.contains(secret) }.map { "the secret appears in: \($0)" }
  }
}

/// Channels and messages for channel tests, built as `run` builds them.
public enum ChannelFixture {
  /// A channel of `type` from settings as a configuration file gives them (`url`, `from`, …),
  /// parsed and built by the same code as the daemon's; relative paths are taken as they are.
  public static func make(
    type: String, name: String = "channel", settings: [String: String], runtime: ChannelRuntime
  ) throws -> any NoticeChannel {
    var fields = ["\"type\": \(json(type))"]
    for (key, value) in settings.sorted(by: { $0.key < $1.key }) { fields.append("\(json(key)): \(json(value))") }
    let node = try YAMLReader.parse("{" + fields.joined(separator: ", ") + "}", file: "test.yaml")
    let context = ChannelContext(
      resolve: { $0 }, credentials: ProcessInfo.processInfo.environment["CREDENTIALS_DIRECTORY"])
    let config = try DeploymentLoader().channel(name: name, at: node.location, node: node, context)
    return try runtime.make(config)
  }

  static func json(_ text: String) -> String {
    String(decoding: (try? JSONEncoder().encode(text)) ?? Data(), as: UTF8.self)
  }

  /// A message for one unit's reminder, to `addresses`.
  public static func message(
    key: String = "iso-annual-report/51-STP/2026/remind-7d@2026-11-15", channel: String = "channel",
    to addresses: [String], names: [String?]? = nil, unitName: String = "Sở Tư pháp", subject: String = "s",
    text: String = "t", html: String = "h", payload: String = "{}",
    date: Date = Date(timeIntervalSince1970: 1_794_700_800)
  ) -> OutgoingMessage {
    let unit = UnitRef(id: "51-STP", validFrom: nil)
    return OutgoingMessage(
      key: key, channel: channel, rule: "iso-annual-report", unit: unit, period: "2026", step: "remind-7d",
      reason: .nextReminder, date: date,
      to: addresses.enumerated().map { index, address in
        Addressee(
          unit: unit, unitName: unitName, role: "iso-focal", name: names?[index] ?? nil, address: address)
      }, subject: subject, text: text, html: html, payload: payload)
  }
}

/// Lines a service logged, kept for a test to read.
final class LogLines: Sendable {
  private let kept = Locked<[(warning: Bool, line: String)]>([])

  var lines: [(warning: Bool, line: String)] { kept.withLock { $0 } }

  func append(_ warning: Bool, _ line: String) { kept.withLock { $0.append((warning, line)) } }
}
