import Foundation
import NhacviecCore
import NhacviecDelivery
import NhacviecStore
import NhacviecTesting
import TestSupport
import Testing

/// Email against a real SMTP server (Debian's python3-aiosmtpd).
@Suite("SMTP channel against aiosmtpd", .serialized)
struct SMTPTests {
  let client = CurlClient()

  func channel(_ settings: [String: String]) throws -> any NoticeChannel {
    try ChannelFixture.make(
      type: "smtp", name: "email", settings: settings, runtime: ChannelRuntime(client: client, zone: .vietnam))
  }

  /// A running aiosmtpd and the folder where it stores what it accepts.
  struct SMTPServer {
    let process: TestServer
    let maildir: URL
    var port: Int { process.port }
    func stop() { process.stop() }

    /// The messages stored, with their envelopes, in arrival order.
    func received() throws -> [(raw: String, envelope: [String: Any])] {
      let names = ((try? FileManager.default.contentsOfDirectory(atPath: maildir.path)) ?? [])
        .filter { $0.hasSuffix(".eml") }.sorted()
      return try names.map { name in
        let raw = try String(contentsOf: maildir.appendingPathComponent(name), encoding: .utf8)
        let json = maildir.appendingPathComponent(name.replacingOccurrences(of: ".eml", with: ".json"))
        let envelope = try JSONSerialization.jsonObject(with: Data(contentsOf: json)) as? [String: Any] ?? [:]
        return (raw, envelope)
      }
    }
  }

  func server(_ extra: [String]) throws -> SMTPServer {
    let maildir = try temporaryFolder("mail")
    return SMTPServer(process: try TestServer("smtp_server.py", ["--maildir", maildir.path] + extra), maildir: maildir)
  }

  let vietnamese = ChannelFixture.message(
    channel: "email", to: ["iso@51-stp.quangngai.example"], names: ["Đầu mối ISO, Sở Tư pháp"],
    subject:
      "[Nhắc việc] Báo cáo tình hình, kết quả áp dụng HTQLCL theo TCVN ISO 9001:2015 năm 2026 — hạn trước ngày 15/11/2026",
    text:
      "Kính gửi: Đầu mối ISO, Sở Tư pháp\n\nHệ thống nhắc việc tự động xin nhắc: còn 6 ngày.\nỦy ban nhân dân tỉnh Quảng Ngãi.",
    html: "<p>Kính gửi: <strong>Sở Tư pháp</strong></p>", date: Zone.vietnam.parseInstant("2026-11-09T08:00:00+07:00")!)

  @Test("plain SMTP: a Vietnamese subject, display name and body decode exactly on arrival")
  func plain() async throws {
    let server = try server([])
    defer { server.stop() }
    let email = try channel([
      "url": "smtp://127.0.0.1:\(server.port)", "from": "Hệ thống nhắc việc <nhacviec@skhcn.quangngai.example>",
      "tls": "none",
    ])
    let outcome = await email.deliver(vietnamese)
    #expect(outcome == .sent(receipt: "accepted by smtp://127.0.0.1:\(server.port): 250 2.0.0 OK queued as 000001"))
    // The message's Date is the instant it is sent, not the one it was planned for.
    #expect(MailReader.header(try server.received()[0].raw, "Date") == "Mon, 9 Nov 2026 08:00:00 +0700")
    let mail = try server.received()
    try #require(mail.count == 1)
    let raw = mail[0].raw
    #expect(MailReader.header(raw, "Subject") == vietnamese.subject)
    #expect(MailReader.header(raw, "From") == "Hệ thống nhắc việc <nhacviec@skhcn.quangngai.example>")
    #expect(MailReader.header(raw, "To") == "Đầu mối ISO, Sở Tư pháp <iso@51-stp.quangngai.example>")
    #expect(MailReader.header(raw, "Message-ID")?.hasSuffix(".nhacviec@skhcn.quangngai.example>") == true)
    #expect(MailReader.header(raw, "Auto-Submitted") == "auto-generated")
    #expect(MailReader.bodies(raw) == [vietnamese.text, vietnamese.html])
    #expect(mail[0].envelope["rcpt_tos"] as? [String] == ["iso@51-stp.quangngai.example"])
    #expect(mail[0].envelope["mail_from"] as? String == "nhacviec@skhcn.quangngai.example")
  }

  @Test("STARTTLS with a test CA, and AUTH with a password from a file")
  func startTLSAndAuth() async throws {
    let server = try server([
      "--tls-cert", TestCA.cert, "--tls-key", TestCA.key, "--require-tls", "--auth", "nhacviec:mật-khẩu-1",
    ])
    defer { server.stop() }
    let email = try channel([
      "url": "smtp://localhost:\(server.port)", "from": "nhacviec@skhcn.quangngai.example", "ca_file": TestCA.ca,
      "username": "nhacviec", "password_file": try secretFile("mật-khẩu-1"),
    ])
    #expect(
      await email.deliver(vietnamese)
        == .sent(receipt: "accepted by smtp://localhost:\(server.port): 250 2.0.0 OK queued as 000001"))
    let mail = try server.received()
    #expect(mail.first?.envelope["tls"] as? Bool == true)
    #expect(mail.first?.envelope["auth_user"] as? String == "nhacviec")
    #expect(MailReader.header(mail.first?.raw ?? "", "Subject") == vietnamese.subject)
  }

  @Test("a wrong password is permanent, and the password appears in no error")
  func wrongPassword() async throws {
    let server = try server(["--tls-cert", TestCA.cert, "--tls-key", TestCA.key, "--auth", "nhacviec:right-password"])
    defer { server.stop() }
    let email = try channel([
      "url": "smtp://localhost:\(server.port)", "from": "nhacviec@skhcn.quangngai.example", "ca_file": TestCA.ca,
      "username": "nhacviec", "password_file": try secretFile("wrong-password"),
    ])
    let outcome = await email.deliver(vietnamese)
    guard case .permanent(let reason) = outcome else {
      Issue.record("expected a permanent failure, got \(outcome)")
      return
    }
    #expect(!reason.contains("wrong-password"))
    #expect(try server.received().isEmpty)
  }

  @Test("credentials are never sent in clear")
  func noCredentialsInClear() async throws {
    // Refused by configuration...
    #expect(throws: ConfigError.self) {
      try channel([
        "url": "smtp://127.0.0.1:25", "from": "a@b.example", "username": "u", "password_file": try secretFile("p"),
        "tls": "opportunistic",
      ])
    }
    // ...and at run time: a server without STARTTLS gets no AUTH, and nothing is sent.
    let server = try server(["--auth", "u:secret-word"])
    defer { server.stop() }
    let email = try channel([
      "url": "smtp://127.0.0.1:\(server.port)", "from": "a@b.example", "username": "u",
      "password_file": try secretFile("secret-word"),
    ])
    let outcome = await email.deliver(vietnamese)
    guard case .permanent = outcome else {
      Issue.record("expected a permanent failure, got \(outcome)")
      return
    }
    #expect(try server.received().isEmpty)
  }

  @Test("smtps:// (TLS from the first byte)")
  func implicitTLS() async throws {
    let server = try server(["--tls-cert", TestCA.cert, "--tls-key", TestCA.key, "--implicit-tls"])
    defer { server.stop() }
    let email = try channel(["url": "smtps://localhost:\(server.port)", "from": "a@b.example", "ca_file": TestCA.ca])
    guard case .sent = await email.deliver(vietnamese) else {
      Issue.record("not sent over smtps")
      return
    }
    #expect(try server.received().first?.envelope["tls"] as? Bool == true)
  }

  @Test("a unit name with CR/LF does not inject a header or a recipient")
  func injection() async throws {
    let server = try server([])
    defer { server.stop() }
    let email = try channel(["url": "smtp://127.0.0.1:\(server.port)", "from": "a@b.example", "tls": "none"])
    let hostile = ChannelFixture.message(
      channel: "email", to: ["iso@u.example"], names: ["Sở X\r\nBcc: victim@evil.example"],
      subject: "Chào\r\nBcc: victim@evil.example\r\n\r\nbody")
    guard case .sent = await email.deliver(hostile) else {
      Issue.record("not sent")
      return
    }
    let mail = try server.received()
    #expect(!MailReader.headers(mail[0].raw).contains { $0.0.lowercased() == "bcc" })
    #expect(mail[0].envelope["rcpt_tos"] as? [String] == ["iso@u.example"])
  }

  @Test("a refused recipient loses only itself: 5xx is dead, 4xx is tried again, the others receive it")
  func refusedRecipients() async throws {
    let server = try server([])
    defer { server.stop() }
    let email = try channel(["url": "smtp://127.0.0.1:\(server.port)", "from": "a@b.example", "tls": "none"])
    let message = ChannelFixture.message(
      channel: "email", to: ["head@u.example", "fail5xx-stale@u.example", "fail4xx-full@u.example"])
    guard case .partial(let receipt, let refused) = await email.deliver(message) else {
      Issue.record("expected a partial delivery")
      return
    }
    #expect(receipt.contains("queued as"))
    #expect(refused.map(\.address) == ["fail5xx-stale@u.example", "fail4xx-full@u.example"])
    #expect(refused.map(\.permanent) == [true, false])
    #expect(refused[0].reason.contains("550"))
    #expect(refused[1].reason.contains("451"))
    let mail = try server.received()
    #expect(mail.count == 1)
    #expect(mail[0].envelope["rcpt_tos"] as? [String] == ["head@u.example"])
    // Every recipient refused for good: permanent, with each reason.
    let none = ChannelFixture.message(channel: "email", to: ["fail5xx-a@u.example", "fail5xx-b@u.example"])
    guard case .permanent(let reason) = await email.deliver(none) else {
      Issue.record("all refused is permanent")
      return
    }
    #expect(reason.contains("fail5xx-a@u.example") && reason.contains("fail5xx-b@u.example"))
  }

  @Test("one connection carries several messages")
  func reuse() async throws {
    let server = try server([])
    defer { server.stop() }
    let email = try channel(["url": "smtp://127.0.0.1:\(server.port)", "from": "a@b.example", "tls": "none"])
    for _ in 0..<3 { _ = await email.deliver(vietnamese) }
    let peers = try server.received().compactMap { $0.envelope["peer"] as? String }
    #expect(peers.count == 3)
    #expect(Set(peers).count == 1)
  }

  @Test("EHLO gives the configured `helo`, else the machine's own name")
  func helo() async throws {
    let server = try server([])
    defer { server.stop() }
    let url = "smtp://127.0.0.1:\(server.port)"
    for (helo, expected) in [
      ("mail.skhcn.quangngai.example", "mail.skhcn.quangngai.example"), ("[127.0.0.1]", "[127.0.0.1]"),
      (nil, SMTPChannel.localName),
    ] {
      var settings = ["url": url, "from": "a@b.example", "tls": "none"]
      settings["helo"] = helo
      guard case .sent = try await channel(settings).deliver(vietnamese) else {
        Issue.record("not sent with helo \(helo ?? "by default")")
        continue
      }
      let seen = try server.received().map { $0.envelope["helo"] as? String ?? "" }
      #expect(seen.last == expected, "\(seen)")
    }
    #expect(!SMTPChannel.localName.isEmpty)
    // A name that is not one, or a URL path that would override it, is refused by check.
    #expect(throws: ConfigError.self) { try channel(["url": url, "from": "a@b.example", "helo": "vm me"]) }
    #expect(throws: ConfigError.self) { try channel(["url": url + "/other.name", "from": "a@b.example"]) }
  }

  @Test("a 550 reply to the message keeps its code and text as the server wrote them, and is permanent")
  func rejectedMessage() async throws {
    let server = try server([])
    defer { server.stop() }
    let email = try channel(["url": "smtp://127.0.0.1:\(server.port)", "from": "a@b.example", "tls": "none"])
    let outcome = await email.deliver(ChannelFixture.message(channel: "email", to: ["rejectdata-iso@u.example"]))
    guard case .permanent(let reason) = outcome else {
      Issue.record("expected a permanent failure, got \(outcome)")
      return
    }
    #expect(reason.hasPrefix("SMTP 550 5.7.1 Message refused: content rejected by policy"), "\(reason)")
    #expect(try server.received().isEmpty)
  }

  @Test("a certificate that does not verify reads as libcurl's error, with the server's last reply apart")
  func certificateError() async throws {
    let server = try server(["--tls-cert", TestCA.cert, "--tls-key", TestCA.key, "--require-tls"])
    defer { server.stop() }
    let email = try channel(["url": "smtp://localhost:\(server.port)", "from": "a@b.example", "tls": "required"])
    let outcome = await email.deliver(vietnamese)
    guard case .permanent(let reason) = outcome else {
      Issue.record("expected a permanent failure, got \(outcome)")
      return
    }
    #expect(reason.hasPrefix("SSL certificate problem"), "\(reason)")
    #expect(!reason.hasPrefix("SMTP 220"), "\(reason)")
    #expect(reason.contains("; the server's last reply: 220 "), "\(reason)")
  }

  @Test("smtps:// to a plain port is dead after one attempt, and says why")
  func implicitTLSToPlainPort() throws {
    let server = try server([])
    defer { server.stop() }
    let email = try channel(["url": "smtps://127.0.0.1:\(server.port)", "from": "a@b.example"])
    let start = Zone.vietnam.parseInstant("2026-11-09T08:00:00+07:00")!
    let h = try DeliveryHarness(
      deployment: try ConfigurationFixture().load(), channels: ["email": email], clock: ManualClock(start))
    try h.plan(since: start.addingTimeInterval(-60))
    try h.settle()
    let entry = try #require(try h.store.entry(key: "annual/D1/2026/remind-7d@2026-11-15", channel: "email"))
    #expect(entry.state == .dead)
    #expect(entry.attempts == 1)
    #expect(
      entry.lastError?.hasPrefix(
        "smtps://127.0.0.1:\(server.port) does not speak TLS from the first byte: for a plain or STARTTLS port (25, 587) use smtp://"
      ) == true, "\(entry.lastError ?? "")")
    #expect(try server.received().isEmpty)
  }

  @Test("smtp:// to a TLS port never gets a greeting: transient, with a hint")
  func plainToImplicitTLSPort() async throws {
    let server = try server(["--tls-cert", TestCA.cert, "--tls-key", TestCA.key, "--implicit-tls"])
    defer { server.stop() }
    let email = try channel([
      "url": "smtp://localhost:\(server.port)", "from": "a@b.example", "tls": "required", "timeout": "1s",
    ])
    let outcome = await email.deliver(vietnamese)
    guard case .transient(let reason, _) = outcome else {
      Issue.record("expected a transient failure, got \(outcome)")
      return
    }
    #expect(
      reason.hasSuffix("; the server never greeted: if this is a TLS port such as 465, use smtps://"), "\(reason)")
  }

  @Test("the server's own reply, with its queue id, is the receipt in the journal and in the attempt's history")
  func queueIDInJournal() throws {
    let server = try server([])
    defer { server.stop() }
    let email = try channel(["url": "smtp://127.0.0.1:\(server.port)", "from": "a@b.example", "tls": "none"])
    let start = Zone.vietnam.parseInstant("2026-11-09T08:00:00+07:00")!
    let h = try DeliveryHarness(
      deployment: try ConfigurationFixture().load(), channels: ["email": email], clock: ManualClock(start))
    try h.plan(since: start.addingTimeInterval(-60))
    try h.settle()
    let key = "annual/D1/2026/remind-7d@2026-11-15"
    let entry = try #require(try h.store.entry(key: key, channel: "email"))
    #expect(entry.state == .sent)
    let receipt = try #require(entry.receipt)
    #expect(receipt.hasPrefix("accepted by smtp://127.0.0.1:\(server.port): 250 2.0.0 OK queued as 0000"), "\(receipt)")
    // The queue id the server gave is the one it stored the message under.
    let id = String(receipt.suffix(6))
    #expect(FileManager.default.fileExists(atPath: server.maildir.appendingPathComponent("\(id).eml").path))
    #expect(try h.store.history(key: key).map(\.detail) == [receipt])
  }

  @Test(
    "a server that repeats the failed login in its reply: the password, as it is or in base64, is in no outcome, journal row, log line or channel status"
  )
  func echoedLogin() throws {
    let password = "Zq-mật-khẩu-9"
    let server = try server([
      "--tls-cert", TestCA.cert, "--tls-key", TestCA.key, "--auth", "nhacviec:right-password", "--echo-auth",
    ])
    defer { server.stop() }
    let email = try channel([
      "url": "smtp://localhost:\(server.port)", "from": "nhacviec@skhcn.quangngai.example", "ca_file": TestCA.ca,
      "username": "nhacviec", "password_file": try secretFile(password),
    ])
    let start = Zone.vietnam.parseInstant("2026-11-09T08:00:00+07:00")!
    let h = try DeliveryHarness(
      deployment: try ConfigurationFixture().load(), channels: ["email": email], clock: ManualClock(start))
    try h.plan(since: start.addingTimeInterval(-60))
    try h.settle()
    let key = "annual/D1/2026/remind-7d@2026-11-15"
    let entry = try #require(try h.store.entry(key: key, channel: "email"))
    // Refused for good, by its reply code: the rest of the reply is the login's echo.
    #expect(entry.state == .dead)
    let error = try #require(entry.lastError)
    #expect(error.hasPrefix("SMTP 535 (a reply to the login: its text is not kept)"), "\(error)")
    let attempts = try h.store.history(key: key)
    let health = try h.store.channelHealth(channels: ["email"])
    let texts =
      [error] + attempts.map(\.detail) + attempts.flatMap { $0.reached.map { "\($0.key) \($0.value)" } }
      + h.logged.map(\.line) + health.compactMap(\.lastError?.error)
    #expect(leaks(of: [password], in: texts, user: "nhacviec").isEmpty, "\(leaks(of: [password], in: texts))")
    #expect(try server.received().isEmpty)
  }

  @Test(
    "a first start on 20/11 with the mail server down kills no catch-up notice: max_age counts from when each was queued, and all go once it is up"
  )
  func outageAtFirstStart() throws {
    // The server's port, refusing connections until the server starts on it.
    let port = closedPort()
    let email = try channel(["url": "smtp://127.0.0.1:\(port)", "from": "a@b.example", "tls": "none"])
    let start = Zone.vietnam.parseInstant("2026-11-20T08:00:00+07:00")!
    // The defaults: 3d, counted from when each notice was queued, not from its due date (the
    // catch-up notices were due days ago).
    let h = try DeliveryHarness(
      deployment: try ConfigurationFixture().load(), channels: ["email": email], clock: ManualClock(start))
    let plan = try h.plan(since: nil)
    let keys = plan.due.filter { $0.channel == "email" }.map(\.key)
    #expect(keys.count >= 3, "\(keys)")
    #expect(
      plan.due.contains { $0.scheduledAt < start.addingTimeInterval(-3 * 86_400) }, "\(plan.due.map(\.scheduledAt))")
    try h.settle()
    for key in keys {
      let entry = try #require(try h.store.entry(key: key, channel: "email"))
      #expect(entry.state == .failed, "\(key): \(entry.state) \(entry.lastError ?? "")")
    }
    // Still down a minute later: the second attempt fails too, and nothing is dead.
    h.clock.advance(by: 60)
    try h.settle()
    for key in keys { #expect(try h.store.entry(key: key, channel: "email")?.state == .failed) }
    // The server comes up; the next retry (two minutes after the second failure) delivers all.
    let server = try server(["--port", "\(port)"])
    defer { server.stop() }
    h.clock.advance(by: 120)
    try h.settle()
    for key in keys {
      let entry = try #require(try h.store.entry(key: key, channel: "email"))
      #expect(entry.state == .sent, "\(key): \(entry.state) \(entry.lastError ?? "")")
      #expect(entry.attempts == 3)
    }
    #expect(try server.received().count == keys.count)
  }

  @Test("a refused connection is transient")
  func refused() async throws {
    let email = try channel(["url": "smtp://127.0.0.1:\(closedPort())", "from": "a@b.example", "tls": "none"])
    guard case .transient = await email.deliver(vietnamese) else {
      Issue.record("a refused connection should be retried")
      return
    }
  }
}

extension MailReader {
  /// The decoded bodies of a multipart/alternative message, in order.
  static func bodies(_ raw: String) -> [String] {
    raw.components(separatedBy: "Content-Transfer-Encoding: base64\r\n\r\n").dropFirst().map { part in
      let base64 = part.components(separatedBy: "\r\n--")[0].replacingOccurrences(of: "\r\n", with: "")
      return String(decoding: Data(base64Encoded: base64) ?? Data(), as: UTF8.self)
    }
  }
}
