import Foundation
import NhacviecCore
import NhacviecDelivery
import NhacviecTesting
import TestSupport
import Testing

/// What every channel must do, whatever it is: no secret in any error or receipt, no way for data
/// to start a header or a recipient of its own, and an outcome for every attempt.
@Suite("Every channel", .serialized)
struct ChannelConformanceTests {
  let client = CurlClient()
  var runtime: ChannelRuntime { ChannelRuntime(client: client, zone: .vietnam) }

  @Test("no secret appears in any error or receipt, whatever the failure")
  func noSecretLeaks() async throws {
    let smtp = try TestServer(
      "smtp_server.py", ["--tls-cert", TestCA.cert, "--tls-key", TestCA.key, "--auth", "u:right"])
    defer { smtp.stop() }
    let http = try TestServer("http_server.py", [])
    defer { http.stop() }
    let password = "mật-khẩu-sai-987"
    let secret = "bí-mật-webhook-654"
    let token = "token-abc-321"
    let cases: [(String, [String: String], String)] = [
      (
        "smtp",
        [
          "url": "smtp://localhost:\(smtp.port)", "from": "a@b.example", "ca_file": TestCA.ca, "username": "u",
          "password_file": try secretFile(password),
        ], password
      ),
      (
        "smtp",
        [
          "url": "smtp://localhost:\(closedPort())", "from": "a@b.example", "tls": "required", "username": "u",
          "password_file": try secretFile(password),
        ], password
      ),
      (
        "webhook",
        [
          "url": "http://127.0.0.1:\(http.port)/hook/leak?statuses=500", "secret_file": try secretFile(secret),
          "bearer_token_file": try secretFile(token),
        ], secret
      ),
      (
        "webhook",
        ["url": "http://127.0.0.1:\(closedPort())/hook/x", "bearer_token_file": try secretFile(token)], token
      ),
      (
        "webhook",
        ["url": "http://127.0.0.1:\(http.port)/hook/ok", "bearer_token_file": try secretFile(token)], token
      ),
    ]
    for (type, settings, hidden) in cases {
      let channel = try ChannelFixture.make(type: type, settings: settings, runtime: runtime)
      let outcome = await channel.deliver(ChannelConformance.hostileMessage(to: "iso@d1.example"))
      #expect(ChannelConformance.leaks(outcome, secret: hidden).isEmpty, "\(type): \(outcome)")
    }
  }

  @Test("data cannot start a header or a recipient: CR and LF in names and subjects")
  func noInjection() async throws {
    let smtp = try TestServer("smtp_server.py", ["--maildir", try temporaryFolder("mail").path])
    defer { smtp.stop() }
    let folder = try temporaryFolder("outbox")
    let channels = [
      try ChannelFixture.make(
        type: "smtp", settings: ["url": "smtp://127.0.0.1:\(smtp.port)", "from": "a@b.example", "tls": "none"],
        runtime: runtime),
      try ChannelFixture.make(type: "file", settings: ["path": folder.path], runtime: runtime),
    ]
    for channel in channels {
      let outcome = await channel.deliver(ChannelConformance.hostileMessage(to: "iso@d1.example"))
      guard case .sent = outcome else {
        Issue.record("\(channel.name): \(outcome)")
        continue
      }
    }
    let written = try FileManager.default.contentsOfDirectory(atPath: folder.path)
    let raw = try String(contentsOf: folder.appendingPathComponent(written[0]), encoding: .utf8)
    let headers = MailReader.headers(raw).map { $0.0.lowercased() }
    #expect(!headers.contains("bcc") && !headers.contains("x-injected"), "\(headers)")
  }

  @Test("every attempt has an outcome, even for a receiver that is gone")
  func alwaysAnOutcome() async throws {
    let cases: [(String, [String: String])] = [
      ("smtp", ["url": "smtp://127.0.0.1:\(closedPort())", "from": "a@b.example", "tls": "none"]),
      ("webhook", ["url": "http://127.0.0.1:\(closedPort())/x"]),
      ("file", ["path": "/proc/nowhere/outbox"]),
      ("exec", ["command": "/nonexistent/program"]),
    ]
    for (type, settings) in cases {
      let channel = try ChannelFixture.make(type: type, settings: settings, runtime: runtime)
      switch await channel.deliver(ChannelFixture.message(to: ["iso@d1.example"])) {
      case .sent, .partial: Issue.record("\(type) sent to a receiver that is gone")
      case .transient(let reason, _), .permanent(let reason), .notAttempted(let reason):
        #expect(!reason.isEmpty, "\(type)")
      }
    }
  }
}
