// The journal's claim as a delivery worker would run it, over postgres-nio, so that
// bench/pg-client.sh can set it beside the same over libpq (PgClientLibpq): one connection over a
// Unix socket, the statements sent as postgres-nio sends any query with binds (the extended
// protocol, unnamed statement), each timed from before it is sent to after its last row is
// decoded.
//
// Usage: PgClientNIO claim|claim-waiting SOCKET_DIR PORT DATABASE USER CHANNEL SAMPLES_FILE
//        PgClientNIO idle|idle-waiting|idle-client|idle-client-no-keepalive SOCKET_DIR PORT DATABASE USER
// `claim` claims 64 rows at a time until none is left, writing each claimed row's outcome, and
// writes one line a statement to SAMPLES_FILE ("claim NANOSECONDS ROWS", "outcome NANOSECONDS").
// `idle` holds one open connection and does nothing until the server closes it; `idle-client`
// does the same through a PostgresClient pool holding one connection (with its default
// keep-alive, or none), as a daemon sharing connections would use it. Each prints "ready" once
// connected. `claim` and `idle` use the async API; the `-waiting` modes the same through
// EventLoopFutures waited for by the calling thread, with no Swift concurrency at all.
import Foundation
import PostgresNIO

let claimLimit = 64
let arguments = CommandLine.arguments
guard arguments.count >= 6 else {
  FileHandle.standardError.write(Data("usage: PgClientNIO MODE SOCKET_DIR PORT DATABASE USER [CHANNEL FILE]\n".utf8))
  exit(2)
}
let mode = arguments[1]
let socketPath = "\(arguments[2])/.s.PGSQL.\(arguments[3])"
let database = arguments[4]
let user = arguments[5]
let logger = {
  var logger = Logger(label: "pg-client-nio")
  logger.logLevel = .error
  return logger
}()

func nanoseconds(_ duration: Duration) -> Int64 {
  duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000
}

func ready() {
  FileHandle.standardOutput.write(Data("ready\n".utf8))
}

/// Claims until none is left, each claimed row's outcome written, every statement timed.
func claim(channel: String, samplesFile: String) async throws {
  let connection = try await PostgresConnection.connect(
    configuration: .init(unixSocketPath: socketPath, username: user, password: nil, database: database),
    id: 1,
    logger: logger
  )
  let clock = ContinuousClock()
  var samples = ""
  var claimed = 0
  while true {
    let lease = Date().timeIntervalSince1970 + 300
    let start = clock.now
    let rows = try await connection.query(
      """
      UPDATE journal SET state='sending', lease_until=\(lease) WHERE (key, channel) IN (SELECT key, channel FROM journal WHERE channel=\(channel) AND state='planned' ORDER BY scheduled_at, key LIMIT \(claimLimit) FOR UPDATE SKIP LOCKED) RETURNING key, channel, decision
      """,
      logger: logger
    )
    var batch: [(String, String, String?)] = []
    for try await row in rows.decode((String, String, String?).self) {
      batch.append(row)
    }
    samples += "claim \(nanoseconds(clock.now - start)) \(batch.count)\n"
    if batch.isEmpty { break }
    claimed += batch.count
    for (key, channel, _) in batch {
      let sentAt = Date().timeIntervalSince1970
      let receipt = "200 OK"
      let start = clock.now
      try await connection.query(
        """
        UPDATE journal SET state='sent', attempts=attempts+1, receipt=\(receipt), sent_at=\(sentAt), updated_at=\(sentAt) WHERE key=\(key) AND channel=\(channel)
        """,
        logger: logger
      )
      samples += "outcome \(nanoseconds(clock.now - start))\n"
    }
  }
  try Data(samples.utf8).write(to: URL(fileURLWithPath: samplesFile))
  print("claimed \(claimed)")
  try await connection.close()
}

/// One connection, one query, then nothing until the server closes it.
func idleConnection() async throws {
  let connection = try await PostgresConnection.connect(
    configuration: .init(unixSocketPath: socketPath, username: user, password: nil, database: database),
    id: 1,
    logger: logger
  )
  try await connection.query("SELECT 1", logger: logger)
  ready()
  try await connection.closeFuture.get()
}

/// A pool that keeps one connection open, with its default keep-alive or none.
func idleClient(keepAlive: Bool) async {
  var configuration = PostgresClient.Configuration(
    unixSocketPath: socketPath,
    username: user,
    password: nil,
    database: database
  )
  configuration.options.minimumConnections = 1
  if !keepAlive {
    configuration.options.keepAliveBehavior = nil
  }
  let client = PostgresClient(configuration: configuration)
  await withDiscardingTaskGroup { group in
    group.addTask { await client.run() }
    do {
      try await client.query("SELECT 1", logger: logger)
      ready()
    } catch {
      FileHandle.standardError.write(Data("\(error)\n".utf8))
      exit(1)
    }
  }
}

/// The same claim over postgres-nio's EventLoopFuture API, each statement waited for by the
/// calling thread, as the store would call a client from its own threads: Swift concurrency's
/// pool (and libdispatch's worker threads under it) never starts.
func claimWaiting(channel: String, samplesFile: String) throws {
  let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
  defer { try? group.syncShutdownGracefully() }
  let connection = try PostgresConnection.connect(
    on: group.next(),
    configuration: .init(unixSocketPath: socketPath, username: user, password: nil, database: database),
    id: 1,
    logger: logger
  ).wait()
  let clock = ContinuousClock()
  var samples = ""
  var claimed = 0
  while true {
    let lease = Date().timeIntervalSince1970 + 300
    let start = clock.now
    let result = try connection.query(
      """
      UPDATE journal SET state='sending', lease_until=\(lease) WHERE (key, channel) IN (SELECT key, channel FROM journal WHERE channel=\(channel) AND state='planned' ORDER BY scheduled_at, key LIMIT \(claimLimit) FOR UPDATE SKIP LOCKED) RETURNING key, channel, decision
      """,
      logger: logger
    ).wait()
    let batch = try result.rows.map { try $0.decode((String, String, String?).self) }
    samples += "claim \(nanoseconds(clock.now - start)) \(batch.count)\n"
    if batch.isEmpty { break }
    claimed += batch.count
    for (key, channel, _) in batch {
      let sentAt = Date().timeIntervalSince1970
      let receipt = "200 OK"
      let start = clock.now
      _ = try connection.query(
        """
        UPDATE journal SET state='sent', attempts=attempts+1, receipt=\(receipt), sent_at=\(sentAt), updated_at=\(sentAt) WHERE key=\(key) AND channel=\(channel)
        """,
        logger: logger
      ).wait()
      samples += "outcome \(nanoseconds(clock.now - start))\n"
    }
  }
  try Data(samples.utf8).write(to: URL(fileURLWithPath: samplesFile))
  print("claimed \(claimed)")
  try connection.close().wait()
}

/// One connection, one query, then nothing until the server closes it, waited for by the main
/// thread over the EventLoopFuture API.
func idleWaiting() throws {
  let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
  let connection = try PostgresConnection.connect(
    on: group.next(),
    configuration: .init(unixSocketPath: socketPath, username: user, password: nil, database: database),
    id: 1,
    logger: logger
  ).wait()
  _ = try connection.query("SELECT 1", logger: logger).wait()
  ready()
  try connection.closeFuture.wait()
}

switch mode {
case "claim":
  guard arguments.count == 8 else { exit(2) }
  try await claim(channel: arguments[6], samplesFile: arguments[7])
case "claim-waiting":
  guard arguments.count == 8 else { exit(2) }
  try claimWaiting(channel: arguments[6], samplesFile: arguments[7])
case "idle":
  try await idleConnection()
case "idle-waiting":
  try idleWaiting()
case "idle-client":
  await idleClient(keepAlive: true)
case "idle-client-no-keepalive":
  await idleClient(keepAlive: false)
default:
  FileHandle.standardError.write(Data("unknown mode \(mode)\n".utf8))
  exit(2)
}
