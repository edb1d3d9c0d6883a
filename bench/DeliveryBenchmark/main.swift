// Delivers N webhooks and M emails through the real pipeline (journal in SQLite, claim, libcurl,
// record) to local receivers, and reports throughput, latency and peak memory.
//
//   bench/delivery.sh            (starts the receivers, runs this, writes bench/RESULTS-delivery.md)
import Foundation
import NhacviecCore
import NhacviecDelivery
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
      defer { durations = [] }; return durations.sorted()
    }
  }
}

func percentile(_ sorted: [Double], _ p: Double) -> Double {
  guard !sorted.isEmpty else { return 0 }
  return sorted[min(sorted.count - 1, Int(Double(sorted.count - 1) * p))]
}

func messages(_ count: Int, channel: String, address: (Int) -> String) -> [OutgoingMessage] {
  (0..<count).map { i in
    OutgoingMessage(
      key: "bench/unit-\(i)/2026/escalate-3wd", channel: channel, ruleID: "bench", unitID: "unit-\(i)",
      period: "2026", step: "escalate-3wd", reason: "escalation", template: "escalation", scheduledAt: Date(),
      to: [
        .init(
          unitID: "unit-\(i)", unitName: "Xã \(i)", role: "head", name: "Chủ tịch UBND Xã \(i)", address: address(i))
      ],
      subject: "[Báo cáo quá hạn] Xã \(i) — Báo cáo tình hình, kết quả áp dụng HTQLCL theo TCVN ISO 9001:2015 năm 2026",
      text: String(repeating: "Hệ thống nhắc việc tự động báo cáo: Xã \(i) chưa hoàn thành báo cáo. ", count: 10),
      html: "<p>" + String(repeating: "Xã \(i) chưa hoàn thành báo cáo. ", count: 10) + "</p>",
      payload: #"{"version":1,"key":"bench/unit-\#(i)/2026/escalate-3wd","text":"Xã \#(i) chưa hoàn thành báo cáo"}"#)
  }
}

struct Row {
  let name: String
  let count: Int
  let seconds: Double
  let latencies: [Double]
  let sent: Int
}

func run(
  _ name: String, channel: any NoticeChannel, messages: [OutgoingMessage], concurrency: Int
) async throws -> Row {
  let folder = FileManager.default.temporaryDirectory.appendingPathComponent("nhacviec-bench-\(UUID().uuidString)")
  try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
  defer { try? FileManager.default.removeItem(at: folder) }
  let store = try Store(path: folder.appendingPathComponent("state.sqlite").path)
  let timed = Timed(channel)
  let start = DispatchTime.now().uptimeNanoseconds
  try store.journal(messages, now: Date())
  let report = try await Deliverer(store: store, channels: [channel.name: timed], concurrency: concurrency)
    .deliverDue(now: Date())
  let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
  return Row(name: name, count: messages.count, seconds: seconds, latencies: timed.take(), sent: report.sent)
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
  let client = CurlClient(maxConnectionsPerHost: connections)
  let factory = ChannelFactory(client: client, zone: .vietnam)
  let hook = try factory.make(
    name: "hook", type: "webhook", settings: ["url": "http://127.0.0.1:\(httpPort)/hook/bench"])
  let email = try factory.make(
    name: "email", type: "smtp",
    settings: ["url": "smtp://127.0.0.1:\(smtpPort)", "from": "Nhắc việc <nhacviec@bench.example>", "tls": "none"])
  let per = connections == 1 ? "1 connection" : "\(connections) connections"
  rows.append(
    try await run(
      "webhooks, \(per)", channel: hook, messages: messages(webhooks, channel: "hook") { _ in "" }, concurrency: 256))
  let slow = try factory.make(
    name: "hook", type: "webhook", settings: ["url": "http://127.0.0.1:\(httpPort)/hook/slow?delay=0.02"])
  rows.append(
    try await run(
      "webhooks to a 20 ms receiver, \(per)", channel: slow,
      messages: messages(slowWebhooks, channel: "hook") { _ in "" }, concurrency: 256))
  rows.append(
    try await run(
      "emails, \(per)", channel: email,
      messages: messages(emails, channel: "email") { "chu-tich-\($0)@xa.bench.example" }, concurrency: 256))
  client.shutdown()
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
