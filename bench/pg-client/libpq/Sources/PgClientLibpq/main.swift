// The journal's claim as a delivery worker would run it, over Debian's libpq called synchronously
// (as the store calls SQLite), so that bench/pg-client.sh can set it beside the same over
// postgres-nio (PgClientNIO): one connection over a Unix socket, the statements sent with
// PQexecParams (the extended protocol, unnamed statement, as postgres-nio sends any query with
// binds), each timed from before it is sent to after its last row is read into Swift strings.
//
// Usage: PgClientLibpq claim SOCKET_DIR PORT DATABASE USER CHANNEL SAMPLES_FILE
//        PgClientLibpq idle SOCKET_DIR PORT DATABASE USER
// `claim` claims 64 rows at a time until none is left, writing each claimed row's outcome, and
// writes one line a statement to SAMPLES_FILE ("claim NANOSECONDS ROWS", "outcome NANOSECONDS").
// `idle` holds one open connection and does nothing until the server closes it (it waits in
// poll(2) on the connection's socket, as a daemon would to notice the server going away); it
// prints "ready" once connected.
import CLibpq
import Foundation

let claimLimit = 64
let arguments = CommandLine.arguments
guard arguments.count >= 6 else {
  FileHandle.standardError.write(Data("usage: PgClientLibpq MODE SOCKET_DIR PORT DATABASE USER [CHANNEL FILE]\n".utf8))
  exit(2)
}

func fail(_ message: String) -> Never {
  FileHandle.standardError.write(Data("PgClientLibpq: \(message)\n".utf8))
  exit(1)
}

func connect() -> OpaquePointer {
  let info = "host=\(arguments[2]) port=\(arguments[3]) dbname=\(arguments[4]) user=\(arguments[5])"
  guard let connection = PQconnectdb(info), PQstatus(connection) == CONNECTION_OK else {
    fail("cannot connect: \(info)")
  }
  return connection
}

/// Runs `sql` with its parameters as text, the server inferring their types; a result that is
/// neither rows nor a command's completion ends the program.
func execute(_ connection: OpaquePointer, _ sql: String, _ parameters: [String]) -> OpaquePointer {
  let values = parameters.map { UnsafePointer(strdup($0)) }
  defer { values.forEach { free(UnsafeMutableRawPointer(mutating: $0)) } }
  guard let result = PQexecParams(connection, sql, Int32(values.count), nil, values, nil, nil, 0) else {
    fail("out of memory")
  }
  let status = PQresultStatus(result)
  guard status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK else {
    fail(String(cString: PQresultErrorMessage(result)))
  }
  return result
}

func value(_ result: OpaquePointer, _ row: Int32, _ column: Int32) -> String? {
  PQgetisnull(result, row, column) == 1 ? nil : String(cString: PQgetvalue(result, row, column))
}

func nanoseconds(_ duration: Duration) -> Int64 {
  duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000
}

switch arguments[1] {
case "claim":
  guard arguments.count == 8 else { exit(2) }
  let channel = arguments[6]
  let connection = connect()
  let clock = ContinuousClock()
  var samples = ""
  var claimed = 0
  while true {
    let lease = String(Date().timeIntervalSince1970 + 300)
    let start = clock.now
    let result = execute(
      connection,
      """
      UPDATE journal SET state='sending', lease_until=$1 WHERE (key, channel) IN (SELECT key, channel FROM journal WHERE channel=$2 AND state='planned' ORDER BY scheduled_at, key LIMIT $3 FOR UPDATE SKIP LOCKED) RETURNING key, channel, decision
      """,
      [lease, channel, String(claimLimit)]
    )
    var batch: [(String, String, String?)] = []
    for row in 0..<PQntuples(result) {
      batch.append((value(result, row, 0) ?? "", value(result, row, 1) ?? "", value(result, row, 2)))
    }
    PQclear(result)
    samples += "claim \(nanoseconds(clock.now - start)) \(batch.count)\n"
    if batch.isEmpty { break }
    claimed += batch.count
    for (key, channel, _) in batch {
      let sentAt = String(Date().timeIntervalSince1970)
      let start = clock.now
      PQclear(
        execute(
          connection,
          """
          UPDATE journal SET state='sent', attempts=attempts+1, receipt=$3, sent_at=$4, updated_at=$4 WHERE key=$1 AND channel=$2
          """,
          [key, channel, "200 OK", sentAt]
        )
      )
      samples += "outcome \(nanoseconds(clock.now - start))\n"
    }
  }
  try Data(samples.utf8).write(to: URL(fileURLWithPath: arguments[7]))
  print("claimed \(claimed)")
  PQfinish(connection)
case "idle":
  let connection = connect()
  PQclear(execute(connection, "SELECT 1", []))
  FileHandle.standardOutput.write(Data("ready\n".utf8))
  var descriptor = pollfd(fd: PQsocket(connection), events: Int16(POLLIN), revents: 0)
  while poll(&descriptor, 1, -1) >= 0 {
    guard PQconsumeInput(connection) == 1, PQstatus(connection) == CONNECTION_OK else { break }
  }
  PQfinish(connection)
default:
  fail("unknown mode \(arguments[1])")
}
