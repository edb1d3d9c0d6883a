import Foundation
import TestSupport
import Testing

/// What a reader of the control socket sees, what the daemon logs and what its journal says of
/// an attempt never hold a secret: a real `nhacviec run` against real servers that repeat what
/// they were sent.
@Suite("Secrets stay out of status, notices, explain, the log and the journal", .serialized)
struct SecretsTests {
  /// GET `target` over the daemon's socket, as any reader may.
  func get(_ fixture: DaemonFixture, _ target: String) throws -> String {
    try ProgramRun("/usr/bin/curl", ["-s", "--unix-socket", fixture.socket, "http://localhost\(target)"]).stdout
  }

  /// Asks `status` until the journal counts `wanted` notices failed or dead (their attempts
  /// recorded), or 30 s have passed; returns the last count.
  func waitForAttempts(_ fixture: DaemonFixture, _ wanted: Int) throws -> Int {
    let until = Date().addingTimeInterval(30)
    while true {
      let status = try? JSONSerialization.jsonObject(with: Data(try get(fixture, "/v1/status").utf8)) as? [String: Any]
      let journal = status?["journal"] as? [String: Int] ?? [:]
      let count = journal["failed", default: 0] + journal["dead", default: 0]
      guard count < wanted, Date() < until else { return count }
      usleep(50_000)
    }
  }

  /// Everything a reader, the log and the journal's texts hold after the attempts.
  func everythingShown(_ fixture: DaemonFixture, log: URL, units: [String]) throws -> [String] {
    var texts = [
      try get(fixture, "/v1/status"), try get(fixture, "/v1/notices"), try get(fixture, "/v1/upcoming?days=30"),
    ]
    let notices = try JSONSerialization.jsonObject(with: Data(texts[1].utf8)) as? [[String: Any]] ?? []
    for key in Set(notices.compactMap { $0["key"] as? String }) {
      texts.append(
        try get(fixture, "/v1/notices?key=" + (key.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? key))
      )
    }
    for unit in units { texts.append(try get(fixture, "/v1/explain?unit=\(unit)")) }
    texts.append(try String(contentsOf: log, encoding: .utf8))
    // The journal's own texts: what became of each notice and of each attempt.
    let database = fixture.folder.appendingPathComponent("state/nhacviec.sqlite").path
    let journal = try ProgramRun(
      "/usr/bin/sqlite3",
      [database, "SELECT last_error, receipt FROM journal; SELECT outcome, detail, reached FROM attempt;"])
    texts.append(journal.stdout)
    return texts
  }

  @Test(
    "webhooks with a token in their URL, a bearer token and a two-letter header value, to servers that repeat them in a 500: none reaches a reader, the log or the journal's texts"
  )
  func webhookSecrets() throws {
    let http = try TestServer("http_server.py", [])
    defer { http.stop() }
    let base = "http://127.0.0.1:\(http.port)/hook"
    let tokens = ["tok-unit-D1-5150", "tok-channel-6160"]
    let bearer = "bearer-Kx-7170"
    let short = "Zq"
    let fixture = try DaemonFixture(
      channel: """
        { type: webhook, url: "\(base)/channel?statuses=500&echo=1&token=\(tokens[1])", \
        bearer_token_file: \(try secretFile(bearer)), header.X-Api-Key: \(short) }
        """)
    // D1's focal point has a webhook of its own; D2's uses the channel's.
    try """
    id,name,kind,parent_id,head.name,head.webhook,iso-focal.name,iso-focal.webhook
    P,Tỉnh Thử,province,,Chủ tịch,,,
    D1,Sở số 1,dept,P,Giám đốc,,Đầu mối ISO,\(base)/d1?statuses=500&echo=1&token=\(tokens[0])
    D2,Sở số 2,dept,P,Giám đốc,,Đầu mối ISO,
    """.write(to: fixture.folder.appendingPathComponent("units.csv"), atomically: true, encoding: .utf8)
    let log = fixture.folder.appendingPathComponent("daemon.log")
    let notify = try NotifyListener()
    let daemon = try fixture.start(at: "2026-11-09T08:00:00+07:00", notify: notify, log: log)
    defer { kill(daemon.processIdentifier, SIGKILL) }
    #expect(try waitForAttempts(fixture, 2) == 2)
    let texts = try everythingShown(fixture, log: log, units: ["D1", "D2"])
    #expect(
      leaks(of: tokens + [bearer, short], in: texts).isEmpty, "\(leaks(of: tokens + [bearer, short], in: texts))")
    // What is shown instead: each URL without its query, and the answer's status.
    let notices = try JSONSerialization.jsonObject(with: Data(texts[1].utf8)) as? [[String: Any]] ?? []
    #expect(Set(notices.compactMap { ($0["to"] as? [String])?.first }) == ["\(base)/d1", "\(base)/channel"])
    #expect(notices.allSatisfy { ($0["last_error"] as? String)?.hasPrefix("HTTP 500") == true }, "\(notices)")
  }

  @Test(
    "an SMTP server that repeats the failed login in its reply: the password, as it is or in base64, reaches no reader, the log or the journal's texts"
  )
  func smtpPassword() throws {
    let password = "mật-khẩu-Zq-8180"
    let smtp = try TestServer(
      "smtp_server.py",
      ["--tls-cert", TestCA.cert, "--tls-key", TestCA.key, "--auth", "nhacviec:right-password", "--echo-auth"])
    defer { smtp.stop() }
    let fixture = try DaemonFixture(
      channel: """
        { type: smtp, url: "smtp://localhost:\(smtp.port)", from: nhacviec@p.example, ca_file: \(TestCA.ca), \
        username: nhacviec, password_file: \(try secretFile(password)) }
        """)
    let log = fixture.folder.appendingPathComponent("daemon.log")
    let notify = try NotifyListener()
    let daemon = try fixture.start(at: "2026-11-09T08:00:00+07:00", notify: notify, log: log)
    defer { kill(daemon.processIdentifier, SIGKILL) }
    // The seven-day reminder to all twenty departments, each refused at the login.
    #expect(try waitForAttempts(fixture, 20) == 20)
    let texts = try everythingShown(fixture, log: log, units: ["D1"])
    #expect(
      leaks(of: [password], in: texts, user: "nhacviec").isEmpty,
      "\(leaks(of: [password], in: texts, user: "nhacviec"))")
    let notices = try JSONSerialization.jsonObject(with: Data(texts[1].utf8)) as? [[String: Any]] ?? []
    #expect(notices.count == 20)
    #expect(notices.allSatisfy { ($0["last_error"] as? String)?.hasPrefix("SMTP 535") == true }, "\(notices)")
  }
}
