// Delivers N webhooks and M emails through the real pipeline to local receivers, and reports
// throughput, latency and peak memory. A throw-away deployment of N communes owes one report;
// a first start after its deadline plans one escalation per commune (catch-up), which is
// journaled in SQLite and delivered by the delivery service: claim, check, render at the send
// instant, libcurl, record.
//
//   bench/delivery.sh            (starts the receivers, runs this, writes bench/RESULTS-delivery.md)
import Foundation
import NhacviecConfig
import NhacviecCore
import NhacviecDelivery
import NhacviecRender
import NhacviecStore

#if canImport(Glibc)
  import Glibc
#endif

func argument(_ name: String, default value: String) -> String {
  let arguments = CommandLine.arguments
  guard let index = arguments.firstIndex(of: name), index + 1 < arguments.count else { return value }
  return arguments[index + 1]
}

func peakResidentMiB() -> Double {
  var usage = rusage()
  getrusage(RUSAGE_SELF.rawValue, &usage)
  return Double(usage.ru_maxrss) / 1024
}

/// Wraps a channel to time each delivery.
final class Timed: NoticeChannel, @unchecked Sendable {
  let inner: any NoticeChannel
  private let lock = NSLock()
  private var durations: [Double] = []
  var name: String { inner.name }
  var parts: MessageParts { inner.parts }
  var queuesForConnections: Bool { inner.queuesForConnections }

  init(_ inner: any NoticeChannel) { self.inner = inner }

  func deliver(_ message: OutgoingMessage) async -> DeliveryOutcome {
    let start = DispatchTime.now().uptimeNanoseconds
    let outcome = await inner.deliver(message)
    let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1_000_000
    lock.withLock { durations.append(elapsed) }
    return outcome
  }

  func take() -> [Double] {
    lock.withLock {
      defer { durations = [] }
      return durations.sorted()
    }
  }
}

func percentile(_ sorted: [Double], _ p: Double) -> Double {
  guard !sorted.isEmpty else { return 0 }
  return sorted[min(sorted.count - 1, Int(Double(sorted.count - 1) * p))]
}

struct Row {
  let name: String
  let count: Int
  let seconds: Double
  let latencies: [Double]
  let sent: Int
}

/// A deployment of `count` communes whose head is reached through `channel`.
func deployment(count: Int, channel: String, webhook: Bool) throws -> (Deployment, URL) {
  let folder = FileManager.default.temporaryDirectory.appendingPathComponent("nhacviec-bench-\(UUID().uuidString)")
  try FileManager.default.createDirectory(at: folder.appendingPathComponent("rules"), withIntermediateDirectories: true)
  var units =
    "id,name,kind,parent_id,head.name,head.email\nP,Tỉnh Thử,province,,Chủ tịch UBND tỉnh,head@p.bench.example\n"
  for i in 0..<count { units += "C\(i),Xã \(i),commune,P,Chủ tịch UBND Xã \(i),chu-tich-\(i)@xa.bench.example\n" }
  try units.write(to: folder.appendingPathComponent("units.csv"), atomically: true, encoding: .utf8)
  try """
  - id: bench
    kind: deadline
    title: Báo cáo tình hình, kết quả áp dụng HTQLCL theo TCVN ISO 9001:2015 {{period.name}}
    basis: Công văn, khoản 1
    applies_to: { kinds: [commune] }
    period: yearly
    due: { date: "11-15", convention: before }
    escalate:
      - { after: 1wd, to: [unit.head] }
    channels: [\(webhook ? "hook" : "email")]
  """.write(to: folder.appendingPathComponent("rules/bench.yaml"), atomically: true, encoding: .utf8)
  try """
  directory: [{ file: units.csv }]
  rules: rules
  digest: { minimum: 0 }
  send_window: { opens: "00:00", closes: "23:59" }
  calendar: { working_days: [mon, tue, wed, thu, fri, sat, sun], holidays: none }
  channels:
    \(channel)
  """.write(to: folder.appendingPathComponent("nhacviec.yaml"), atomically: true, encoding: .utf8)
  return (try DeploymentLoader().load(configPath: folder.appendingPathComponent("nhacviec.yaml").path), folder)
}

func run(_ name: String, count: Int, channel: String, webhook: Bool, connections: Int) throws -> Row {
  let (deployment, folder) = try deployment(count: count, channel: channel, webhook: webhook)
  defer { try? FileManager.default.removeItem(at: folder) }
  let store = try Store(path: folder.appendingPathComponent("state.sqlite").path)
  let client = CurlClient(maxConnectionsPerHost: connections)
  defer { client.shutdown() }
  let runtime = ChannelRuntime(client: client, zone: deployment.zone)
  let built = runtime.channels(deployment.channels)
  guard let (channelName, inner) = built.channels.first else { throw ConfigErrors(built.errors) }
  let timed = Timed(inner)
  let engine = deployment.engine()
  let clock = SystemClock(startingAt: deployment.zone.parseInstant("2026-11-20T09:00:00+07:00"))
  let start = DispatchTime.now().uptimeNanoseconds
  let plan = engine.plan(since: nil, now: clock.now())
  try store.journal(due: plan.due, now: clock.now())
  let service = DeliveryService(
    store: store,
    setup: .init(
      channels: [channelName: timed], capacity: [channelName: connections],
      renderer: MessageRenderer(ruleset: deployment.ruleset, calendar: deployment.calendar), engine: { engine }),
    clock: clock)
  service.start()
  while (try store.counts()[.sent] ?? 0) + (try store.counts()[.dead] ?? 0) < plan.due.count { usleep(20_000) }
  let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
  service.stop(grace: 5)
  return Row(
    name: name, count: plan.due.count, seconds: seconds, latencies: timed.take(),
    sent: try store.counts()[.sent] ?? 0)
}

let httpPort = argument("--http-port", default: "0")
let smtpPort = argument("--smtp-port", default: "0")
let webhooks = Int(argument("--webhooks", default: "10000"))!
let emails = Int(argument("--emails", default: "1000"))!
/// Webhooks to a receiver that takes 20 ms to answer, as a real e-office system over a network
/// would: where running transfers at once pays.
let slowWebhooks = Int(argument("--slow-webhooks", default: "1000"))!
let connectionCounts = argument("--connections", default: "1,16").split(separator: ",").compactMap { Int($0) }

var rows: [Row] = []
for connections in connectionCounts {
  let per = connections == 1 ? "1 connection" : "\(connections) connections"
  let limit = "connections: \(connections)"
  rows.append(
    try run(
      "webhooks, \(per)", count: webhooks,
      channel: "hook: { type: webhook, url: \"http://127.0.0.1:\(httpPort)/hook/bench\", address: email, \(limit) }",
      webhook: true, connections: connections))
  rows.append(
    try run(
      "webhooks to a 20 ms receiver, \(per)", count: slowWebhooks,
      channel:
        "hook: { type: webhook, url: \"http://127.0.0.1:\(httpPort)/hook/slow?delay=0.02\", address: email, \(limit) }",
      webhook: true, connections: connections))
  rows.append(
    try run(
      "emails, \(per)", count: emails,
      channel:
        "email: { type: smtp, url: \"smtp://127.0.0.1:\(smtpPort)\", from: \"Nhắc việc <nhacviec@bench.example>\", tls: none, \(limit) }",
      webhook: false, connections: connections))
}

print("| run | messages | sent | seconds | messages/s | p50 ms | p90 ms | p99 ms | max ms |")
print("|---|---|---|---|---|---|---|---|---|")
for row in rows {
  let l = row.latencies
  print(
    String(
      format: "| %@ | %d | %d | %.2f | %.0f | %.1f | %.1f | %.1f | %.1f |", row.name, row.count, row.sent, row.seconds,
      Double(row.sent) / row.seconds, percentile(l, 0.5), percentile(l, 0.9), percentile(l, 0.99), l.last ?? 0))
}
print(String(format: "\nPeak resident memory of the process: %.0f MiB.", peakResidentMiB()))
