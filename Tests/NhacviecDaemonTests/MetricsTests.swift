import Foundation
import NhacviecControl
import NhacviecCore
import NhacviecStore
import NhacviecTesting
import TestSupport
import Testing

@testable import NhacviecDaemon
@testable import NhacviecDelivery

@Suite("metrics exposition")
struct MetricsTests {
  static let start = Date(timeIntervalSince1970: 1_794_186_000)

  @Test("label values with quotes, backslashes and line feeds survive Prometheus's parser; histograms are cumulative")
  func exposition() throws {
    let metrics = Metrics(configLoadedAt: Self.start)
    let odd = "rule \"quoted\" \\ back\nslash"
    for (outcome, delay) in [
      (DeliveryService.Observation.Outcome.sent, 0.5), (.sent, 7200), (.sent, 400_000), (.failed, 0), (.dead, 0),
    ] {
      metrics.observe(
        .init(
          rule: odd, channel: "sms", outcome: outcome, scheduledAt: Self.start, attemptDuration: 0.2,
          at: Self.start.addingTimeInterval(delay)))
    }
    metrics.observe(
      .init(
        rule: "r", channel: "sms", outcome: .suppressed, scheduledAt: Self.start, attemptDuration: nil, at: Self.start))
    metrics.passEnded(duration: 0.03, ok: true, at: Self.start)
    metrics.passEnded(duration: 2, ok: false, at: Self.start.addingTimeInterval(60))
    metrics.configLoaded(ok: false, at: Self.start.addingTimeInterval(120))
    let text = metrics.exposition(
      .init(
        version: "9.9.9", configHash: "abc", rules: 3, rulesFailing: 1, channels: [], channelsFailing: [], inFlight: 2,
        nextWakeup: nil, journalConflicts: 0))
    let scraped = try Scraped(text)
    #expect(scraped.problems.isEmpty, "\(scraped.problems)")
    #expect(scraped.value("nhacviec_notices_total", ["rule": odd, "channel": "sms", "outcome": "sent"]) == 3)
    #expect(scraped.value("nhacviec_notices_total", ["rule": odd, "channel": "sms", "outcome": "dead"]) == 1)
    #expect(scraped.value("nhacviec_notices_total", ["rule": "r", "channel": "sms", "outcome": "suppressed"]) == 1)
    // Latency from the planned instant: half a second, two hours, past the last bound.
    let latency = "nhacviec_delivery_latency_seconds_bucket"
    #expect(scraped.value(latency, ["channel": "sms", "le": "1"]) == 1)
    #expect(scraped.value(latency, ["channel": "sms", "le": "3600"]) == 1)
    #expect(scraped.value(latency, ["channel": "sms", "le": "14400"]) == 2)
    #expect(scraped.value(latency, ["channel": "sms", "le": "259200"]) == 2)
    #expect(scraped.value(latency, ["channel": "sms", "le": "+Inf"]) == 3)
    #expect(scraped.value("nhacviec_delivery_latency_seconds_sum", ["channel": "sms"]) == 407_200.5)
    // Every attempt, whatever it came to; none for the suppressed one, which made no request.
    #expect(scraped.value("nhacviec_delivery_attempt_duration_seconds_count", ["channel": "sms"]) == 5)
    #expect(scraped.value("nhacviec_pass_duration_seconds_count") == 2)
    #expect(scraped.value("nhacviec_pass_failures_total") == 1)
    #expect(scraped.value("nhacviec_pass_last_success_timestamp_seconds") == 1_794_186_000)
    #expect(scraped.value("nhacviec_config_last_reload_successful") == 0)
    // A refused reload leaves the time of the load that runs.
    #expect(scraped.value("nhacviec_config_last_reload_success_timestamp_seconds") == 1_794_186_000)
    #expect(scraped.value("nhacviec_build_info", ["version": "9.9.9"]) == 1)
    #expect(scraped.value("nhacviec_delivery_in_flight") == 2)
    #expect(scraped.samples("nhacviec_next_wakeup_timestamp_seconds").isEmpty)
    #expect(scraped.type(of: "nhacviec_pass_duration_seconds") == "histogram")
    #expect(scraped.type(of: "nhacviec_config_info") == "gauge")
  }

  @Test("in process: a notice held by the send window counts its wait as latency; one no longer owed counts suppressed")
  func heldAndSuppressed() throws {
    let fixture = try ConfigurationFixture()
    // Tuesday before the window opens at 08:00: the catch-up's reminders (the seven-day one, due
    // Monday) wait for it, and no newer step falls due meanwhile to take their place.
    let daemon = try InProcessDaemon(
      configPath: fixture.configPath, folder: fixture.folder, at: "2026-11-10T06:00:00+07:00")
    defer { daemon.stop() }
    try daemon.settle()
    #expect(try daemon.daemon.status().journal["planned"] == 4)
    // D1 reports before the window opens: its reminder is no longer owed when it would go.
    var report = ControlAPI.FactRequest(kind: "report", unit: "D1", rule: "annual", period: "2026")
    report.at = "2026-11-10T06:30:00+07:00"
    daemon.clock.advance(by: 3600)
    _ = try daemon.daemon.record(ControlAPI.FactBatch(source: nil, facts: [report]), uid: 0)
    daemon.clock.advance(to: Zone.vietnam.parseInstant("2026-11-10T08:00:00+07:00")!)
    try daemon.settle()
    // The three held reminders (none for D1) went when the window opened.
    #expect(try daemon.daemon.status().journal["sent"] == 3)
    let metrics = try Scraped(try daemon.daemon.metricsText())
    #expect(metrics.problems.isEmpty, "\(metrics.problems)")
    #expect(metrics.value("nhacviec_notices_total", ["rule": "annual", "channel": "email", "outcome": "sent"]) == 3)
    #expect(
      metrics.value("nhacviec_notices_total", ["rule": "annual", "channel": "email", "outcome": "suppressed"]) == 1)
    #expect(metrics.value("nhacviec_journal_notices", ["channel": "email", "state": "suppressed"]) == 1)
    // Latency counts from the instant each was due (Monday 08:00) to the window's opening on
    // Tuesday: a day, not the moment of the send.
    let latency = "nhacviec_delivery_latency_seconds_bucket"
    #expect(metrics.value(latency, ["channel": "email", "le": "3600"]) == 0)
    #expect(metrics.value(latency, ["channel": "email", "le": "+Inf"]) == 3)
    #expect((metrics.value("nhacviec_delivery_latency_seconds_sum", ["channel": "email"]) ?? 0) >= 3 * 7200)
    // No request takes time on a manual clock.
    #expect(metrics.value("nhacviec_delivery_attempt_duration_seconds_sum", ["channel": "email"]) == 0)
  }

  @Test("docs/daemon.md's metrics table names every metric the exposition has, and no other")
  func documented() throws {
    let text = Metrics(configLoadedAt: Self.start).exposition(
      .init(
        version: "1", configHash: "h", rules: 0, rulesFailing: 0, channels: [], channelsFailing: [], inFlight: 0,
        nextWakeup: nil, journalConflicts: 0))
    let exposed = Set(
      text.split(separator: "\n").filter { $0.hasPrefix("# HELP ") }.compactMap {
        $0.split(separator: " ").dropFirst(2).first.map(String.init)
      })
    let docs = try String(contentsOf: repositoryRoot.appendingPathComponent("docs/daemon.md"), encoding: .utf8)
    let documented = Set(
      docs.split(separator: "\n").filter { $0.hasPrefix("| `nhacviec_") }.compactMap {
        $0.split(separator: "`").dropFirst().first.map(String.init)
      })
    #expect(exposed.count >= 18)
    #expect(
      exposed == documented,
      "undocumented: \(exposed.subtracting(documented)); gone: \(documented.subtracting(exposed))")
  }
}
