import Foundation
import NhacviecCore
import NhacviecDelivery
import NhacviecStore

/// What `GET /metrics` exposes, in Prometheus's text format 0.0.4.
///
/// Counters and histograms count what happened since the process started (Prometheus handles a
/// restart's reset); everything the journal knows (notices by state, dead ones not acknowledged,
/// failing channels) is read from it at scrape time, so that it is true after a restart too.
/// The planning and delivery code only report events here; nothing here touches them.
final class Metrics: Sendable {
  static let contentType = "text/plain; version=0.0.4; charset=utf-8"

  /// From the planned instant to sent: a notice held by the send window or retried counts its wait.
  static let latencyBuckets: [Double] = [1, 10, 60, 300, 900, 3600, 14_400, 43_200, 86_400, 259_200]
  /// One attempt, from its claim to the channel's answer.
  static let attemptBuckets: [Double] = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120]
  static let passBuckets: [Double] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]

  struct NoticeLabels: Hashable {
    let rule: String
    let channel: String
    let outcome: String
  }

  /// What happened since start, as counted.
  struct Counts {
    var notices: [NoticeLabels: Int] = [:]
    var latency: [String: Histogram] = [:]
    var attempts: [String: Histogram] = [:]
    var passDuration = Histogram(Metrics.passBuckets)
    var passFailures = 0
    var lastPassSuccess: Date?
    var reloadSuccessful = true
    var lastLoad: Date
    /// Control requests refused, by reason.
    var refused: [String: Int] = [:]
  }

  private let counts: Locked<Counts>

  init(configLoadedAt: Date) {
    counts = Locked(Counts(lastLoad: configLoadedAt))
  }

  // MARK: - Events

  func observe(_ observation: DeliveryService.Observation) {
    counts.withLock { counts in
      let labels = NoticeLabels(
        rule: observation.rule, channel: observation.channel, outcome: observation.outcome.rawValue)
      counts.notices[labels, default: 0] += 1
      if let duration = observation.attemptDuration {
        counts.attempts[observation.channel, default: Histogram(Metrics.attemptBuckets)].observe(max(0, duration))
      }
      if observation.outcome == .sent {
        counts.latency[observation.channel, default: Histogram(Metrics.latencyBuckets)].observe(
          max(0, observation.at.timeIntervalSince(observation.scheduledAt)))
      }
    }
  }

  /// A pass ended: how long it took (monotonic seconds), whether it succeeded, and when.
  func passEnded(duration: TimeInterval, ok: Bool, at: Date) {
    counts.withLock { counts in
      counts.passDuration.observe(max(0, duration))
      if ok { counts.lastPassSuccess = at } else { counts.passFailures += 1 }
    }
  }

  /// A control request refused: `not_a_writer`, `heavy_in_flight` (429) or `shed` (503).
  func refused(_ reason: String) {
    counts.withLock { $0.refused[reason, default: 0] += 1 }
  }

  func configLoaded(ok: Bool, at: Date) {
    counts.withLock { counts in
      counts.reloadSuccessful = ok
      if ok { counts.lastLoad = at }
    }
  }

  // MARK: - The exposition

  /// What the daemon knows at scrape time, read from the journal and the running configuration.
  struct Scrape {
    var version: String
    var configHash: String
    var rules: Int
    var rulesFailing: Int
    var channels: [ChannelHealth]
    /// Channels with notices failed and waiting for another attempt.
    var channelsFailing: Set<String>
    var inFlight: Int
    var nextWakeup: Date?
    var journalConflicts: Int
    /// On a shared store: this node's name and role.
    var cluster: (node: String, role: String, seen: [(node: String, age: TimeInterval)])?
  }

  func exposition(_ scrape: Scrape) -> String {
    var out = Exposition()
    let counts = self.counts.withLock { $0 }
    let (notices, latency, attempts, passDuration, passFailures, lastPassSuccess, reloadSuccessful, lastLoad) = (
      counts.notices, counts.latency, counts.attempts, counts.passDuration, counts.passFailures,
      counts.lastPassSuccess, counts.reloadSuccessful, counts.lastLoad
    )
    out.family("nhacviec_build_info", .gauge, "Always 1; the version of the running nhacviec.")
    out.sample("nhacviec_build_info", ["version": scrape.version], 1)

    out.family(
      "nhacviec_config_info", .gauge, "Always 1; hash is the SHA-256 over every file of the running configuration.")
    out.sample("nhacviec_config_info", ["hash": scrape.configHash], 1)
    out.family("nhacviec_config_last_reload_successful", .gauge, "1 if the last load or reload succeeded, else 0.")
    out.sample("nhacviec_config_last_reload_successful", [:], reloadSuccessful ? 1 : 0)
    out.family(
      "nhacviec_config_last_reload_success_timestamp_seconds", .gauge,
      "When the running configuration was loaded (at start or by a reload).")
    out.sample("nhacviec_config_last_reload_success_timestamp_seconds", [:], lastLoad.timeIntervalSince1970)
    out.family("nhacviec_rules", .gauge, "Rules in the running configuration.")
    out.sample("nhacviec_rules", [:], Double(scrape.rules))
    out.family("nhacviec_rules_failing", .gauge, "External rules whose program could not judge at the last pass.")
    out.sample("nhacviec_rules_failing", [:], Double(scrape.rulesFailing))

    out.family("nhacviec_pass_duration_seconds", .histogram, "How long each planning pass took.")
    out.histogram("nhacviec_pass_duration_seconds", [:], passDuration)
    out.family("nhacviec_pass_failures_total", .counter, "Planning passes that failed.")
    out.sample("nhacviec_pass_failures_total", [:], Double(passFailures))
    out.family(
      "nhacviec_pass_last_success_timestamp_seconds", .gauge,
      "When the last successful pass ran (an idle daemon passes at least hourly).")
    if let lastPassSuccess {
      out.sample("nhacviec_pass_last_success_timestamp_seconds", [:], lastPassSuccess.timeIntervalSince1970)
    }
    out.family("nhacviec_next_wakeup_timestamp_seconds", .gauge, "When the next pass is due, if anything is scheduled.")
    if let next = scrape.nextWakeup {
      out.sample("nhacviec_next_wakeup_timestamp_seconds", [:], next.timeIntervalSince1970)
    }

    out.family(
      "nhacviec_notices_total", .counter,
      "Delivery outcomes by rule, channel and outcome (sent, failed, dead, suppressed) since start.")
    for (labels, count) in notices.sorted(by: {
      ($0.key.rule, $0.key.channel, $0.key.outcome) < ($1.key.rule, $1.key.channel, $1.key.outcome)
    }) {
      out.sample(
        "nhacviec_notices_total", ["rule": labels.rule, "channel": labels.channel, "outcome": labels.outcome],
        Double(count))
    }
    out.family(
      "nhacviec_delivery_latency_seconds", .histogram,
      "From a notice's planned instant to its being sent (waits for the send window and retries included).")
    for (channel, histogram) in latency.sorted(by: { $0.key < $1.key }) {
      out.histogram("nhacviec_delivery_latency_seconds", ["channel": channel], histogram)
    }
    out.family(
      "nhacviec_delivery_attempt_duration_seconds", .histogram, "One delivery attempt, from its claim to the answer.")
    for (channel, histogram) in attempts.sorted(by: { $0.key < $1.key }) {
      out.histogram("nhacviec_delivery_attempt_duration_seconds", ["channel": channel], histogram)
    }
    out.family("nhacviec_delivery_in_flight", .gauge, "Notices being sent now.")
    out.sample("nhacviec_delivery_in_flight", [:], Double(scrape.inFlight))

    out.family("nhacviec_journal_notices", .gauge, "Notices in the journal by channel and state.")
    for channel in scrape.channels {
      for state in NoticeState.allCases {
        out.sample(
          "nhacviec_journal_notices", ["channel": channel.channel, "state": state.rawValue],
          Double(channel.counts[state] ?? 0))
      }
    }
    out.family(
      "nhacviec_journal_conflicts_total", .counter,
      "Decisions planned under a key the journal already held with something else in it (the row stood).")
    out.sample("nhacviec_journal_conflicts_total", [:], Double(scrape.journalConflicts))
    if let cluster = scrape.cluster {
      out.family(
        "nhacviec_cluster_leader", .gauge, "1 while this node leads the daemons sharing its store (and plans), else 0.")
      out.sample("nhacviec_cluster_leader", ["node": cluster.node], cluster.role == "leader" ? 1 : 0)
      out.family("nhacviec_cluster_reachable", .gauge, "1 while this node reaches its shared store, else 0.")
      out.sample("nhacviec_cluster_reachable", ["node": cluster.node], cluster.role == "cut-off" ? 0 : 1)
      out.family(
        "nhacviec_cluster_node_last_seen_seconds", .gauge,
        "Seconds since each node sharing the store last said it was alive, on the database's clock.")
      for seen in cluster.seen {
        out.sample("nhacviec_cluster_node_last_seen_seconds", ["node": seen.node], seen.age)
      }
    }
    out.family(
      "nhacviec_journal_dead_unacknowledged", .gauge, "Dead notices nobody has acknowledged (nhacviec ack), by channel."
    )
    for channel in scrape.channels {
      out.sample(
        "nhacviec_journal_dead_unacknowledged", ["channel": channel.channel], Double(channel.deadUnacknowledged))
    }
    out.family(
      "nhacviec_channel_failing", .gauge, "1 while a channel has notices failed and waiting for another attempt.")
    for channel in scrape.channels {
      out.sample(
        "nhacviec_channel_failing", ["channel": channel.channel],
        scrape.channelsFailing.contains(channel.channel) ? 1 : 0)
    }
    out.family("nhacviec_channels_failing", .gauge, "Channels with notices failed and waiting for another attempt.")
    out.sample("nhacviec_channels_failing", [:], Double(scrape.channelsFailing.count))
    out.family(
      "nhacviec_control_refused_total", .counter,
      "Control requests refused since start: not_a_writer (403), heavy_in_flight (429), shed (503).")
    for reason in ["heavy_in_flight", "not_a_writer", "shed"] {
      out.sample("nhacviec_control_refused_total", ["reason": reason], Double(counts.refused[reason] ?? 0))
    }
    return out.text
  }
}

/// A cumulative histogram with fixed upper bounds.
struct Histogram {
  let bounds: [Double]
  private(set) var counts: [Int]
  private(set) var sum = 0.0
  private(set) var count = 0

  init(_ bounds: [Double]) {
    self.bounds = bounds
    counts = Array(repeating: 0, count: bounds.count)
  }

  mutating func observe(_ value: Double) {
    for (index, bound) in bounds.enumerated() where value <= bound { counts[index] += 1 }
    sum += value
    count += 1
  }
}

/// Prometheus's text exposition format, version 0.0.4.
struct Exposition {
  enum Kind: String { case counter, gauge, histogram }

  private(set) var text = ""

  mutating func family(_ name: String, _ kind: Kind, _ help: String) {
    let escaped = help.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\n", with: "\\n")
    text += "# HELP \(name) \(escaped)\n# TYPE \(name) \(kind.rawValue)\n"
  }

  mutating func sample(_ name: String, _ labels: KeyValuePairs<String, String>, _ value: Double) {
    sample(name, labels.map { ($0.key, $0.value) }, value)
  }

  mutating func sample(_ name: String, _ labels: [(String, String)], _ value: Double) {
    text += name
    if !labels.isEmpty {
      text += "{" + labels.map { "\($0.0)=\"\(Self.escape($0.1))\"" }.joined(separator: ",") + "}"
    }
    text += " \(Self.format(value))\n"
  }

  mutating func histogram(_ name: String, _ labels: KeyValuePairs<String, String>, _ histogram: Histogram) {
    let base = labels.map { ($0.key, $0.value) }
    for (bound, count) in zip(histogram.bounds, histogram.counts) {
      sample(name + "_bucket", base + [("le", Self.format(bound))], Double(count))
    }
    sample(name + "_bucket", base + [("le", "+Inf")], Double(histogram.count))
    sample(name + "_sum", base, histogram.sum)
    sample(name + "_count", base, Double(histogram.count))
  }

  /// A label value: backslash, double quote and line feed escaped, as the format asks.
  static func escape(_ value: String) -> String {
    var out = ""
    for character in value {
      switch character {
      case "\\": out += "\\\\"
      case "\"": out += "\\\""
      case "\n": out += "\\n"
      default: out.append(character)
      }
    }
    return out
  }

  /// Integers without a fraction (counts, bounds like 60), others as Swift prints a Double.
  static func format(_ value: Double) -> String {
    if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
    if value.isNaN { return "NaN" }
    if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
    return "\(value)"
  }
}
