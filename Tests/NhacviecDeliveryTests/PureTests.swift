import Foundation
import NhacviecCore
import NhacviecDelivery
import NhacviecTesting
import TestSupport
import Testing

@Suite("SHA-256 and HMAC")
struct DigestTests {
  @Test("FIPS 180-4 test vectors")
  func sha256() {
    #expect(SHA256.hex(SHA256.hash([])) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    #expect(
      SHA256.hex(SHA256.hash(Array("abc".utf8))) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    let long = Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)
    #expect(SHA256.hex(SHA256.hash(long)) == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    let million = [UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)
    #expect(SHA256.hex(SHA256.hash(million)) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
  }

  @Test("RFC 4231 HMAC-SHA256 test cases 1, 2 and 6")
  func hmac() {
    #expect(
      SHA256.hex(SHA256.hmac(key: [UInt8](repeating: 0x0b, count: 20), message: Array("Hi There".utf8)))
        == "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7")
    #expect(
      SHA256.hex(SHA256.hmac(key: Array("Jefe".utf8), message: Array("what do ya want for nothing?".utf8)))
        == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    #expect(
      SHA256.hex(
        SHA256.hmac(
          key: [UInt8](repeating: 0xaa, count: 131),
          message: Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8)))
        == "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54")
  }
}

@Suite("Email messages")
struct EmailMessageTests {
  @Test("base64 bodies are lines of 76 characters, each ended by CRLF, as the line splitter before wrote them")
  func base64Lines() {
    var generator = SplitMix(seed: 0x6236_34)
    for size in [0, 1, 2, 3, 56, 57, 58, 114, 500] + (0..<300).map({ _ in Int(generator.next() % 3000) }) {
      let data = Data((0..<size).map { _ in UInt8(truncatingIfNeeded: generator.next()) })
      let encoded = data.base64EncodedString()
      var expected = ""
      var index = encoded.startIndex
      while index < encoded.endIndex {
        let end = encoded.index(index, offsetBy: 76, limitedBy: encoded.endIndex) ?? encoded.endIndex
        expected += encoded[index..<end] + "\r\n"
        index = end
      }
      #expect(EmailMessage.base64Lines(data) == expected, "\(size) bytes")
    }
  }

  func message(subject: String, name: String) -> String {
    var email = EmailMessage(
      from: .init(name: "Hệ thống nhắc việc", address: "nhacviec@skhcn.quangngai.example"),
      to: [.init(name: name, address: "iso@51-stp.quangngai.example")], subject: subject,
      text: "Kính gửi: Sở Tư pháp\nHạn trước ngày 15/11/2026.", html: "<p>Sở Tư pháp</p>",
      messageID: EmailMessage.messageID(
        key: "iso-annual-report/51-STP/2026/remind-7d", channel: "email", domain: "x.example"),
      date: Zone.vietnam.parseInstant("2026-11-09T08:00:00+07:00")!)
    email.replyTo = .init(name: nil, address: "vanphong@skhcn.quangngai.example")
    return String(decoding: email.rendered(zone: .vietnam), as: UTF8.self)
  }

  @Test("a Vietnamese subject and display name decode exactly, and lines stay short")
  func encoding() {
    let subject =
      "[Nhắc việc] Báo cáo tình hình, kết quả áp dụng, duy trì, cải tiến HTQLCL theo TCVN ISO 9001:2015 năm 2026 — hạn trước ngày 15/11/2026"
    let raw = message(subject: subject, name: "Đầu mối ISO, Sở Tư pháp")
    #expect(MailReader.header(raw, "Subject") == subject)
    #expect(MailReader.header(raw, "To") == "Đầu mối ISO, Sở Tư pháp <iso@51-stp.quangngai.example>")
    #expect(MailReader.header(raw, "Date") == "Mon, 9 Nov 2026 08:00:00 +0700")
    #expect(MailReader.header(raw, "Auto-Submitted") == "auto-generated")
    #expect(MailReader.header(raw, "Reply-To") == "<vanphong@skhcn.quangngai.example>")
    #expect(raw.components(separatedBy: "\r\n").allSatisfy { $0.utf8.count <= 78 })
    #expect(raw.utf8.allSatisfy { $0 < 0x80 }, "the message is 7-bit clean")
  }

  @Test(
    "encoded words hold whole words and lines stay within 76, as Python's two decoders read them",
    arguments: [
      "[Nhắc việc] Báo cáo tình hình, kết quả áp dụng, duy trì, cải tiến HTQLCL theo TCVN ISO 9001:2015 năm 2026 — Quảng Ngãi",
      "Quảng Ngãi Quảng Ngãi Quảng Ngãi Quảng Ngãi Quảng Ngãi Quảng Ngãi Quảng Ngãi Quảng Ngãi Quảng Ngãi",
      "Ủy ban nhân dân xã Bình Sơn, tỉnh Quảng Ngãi: Quảngngãiquảngngãiquảngngãiquảngngãiquảngngãiquảngngãi",
      "A plain ASCII subject that is long enough to be folded before a space somewhere past the margin",
    ])
  func wholeWords(subject: String) throws {
    let name = "Đầu mối ISO, Ủy ban nhân dân xã Bình Sơn, tỉnh Quảng Ngãi, Sở Khoa học và Công nghệ"
    let raw = message(subject: subject, name: name)
    #expect(raw.components(separatedBy: "\r\n").allSatisfy { $0.utf8.count <= 76 })
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("nhacviec-words-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    let file = folder.appendingPathComponent("m.eml")
    try Data(raw.utf8).write(to: file)
    // Two decoders give the whole header back: policy.default's and compat32's decode_header.
    // Then each encoded word alone, which must end at a word's end (the next one then starts
    // with its space).
    let script = """
      import sys, re, base64, email, email.policy, email.header
      raw = open(sys.argv[1], 'rb').read()
      m = email.message_from_bytes(raw, policy=email.policy.default)
      print(m['subject'])
      print(m['to'].addresses[0].display_name)
      old = email.message_from_bytes(raw)
      unfolded = re.sub(r'\\r?\\n(?=[ \\t])', '', old['Subject'])
      print(''.join(p.decode(c or 'ascii') if isinstance(p, bytes) else p for p, c in email.header.decode_header(unfolded)))
      for name in ('Subject', 'To'):
          words = re.findall(r'=\\?UTF-8\\?B\\?([A-Za-z0-9+/=]*)\\?=', old[name])
          print('|'.join(base64.b64decode(w).decode('utf-8') for w in words))
      """
    let run = try ProgramRun("/usr/bin/python3", ["-c", script, file.path])
    #expect(run.status == 0, "\(run.stderr)")
    let lines = run.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    #expect(lines.count >= 5)
    #expect(lines.first == subject)
    // Python's address parser puts a space between adjacent encoded words where RFC 2047 (6.2)
    // drops the whitespace, so it doubles the space a word carries (its own output fails this
    // round trip too, and cuts words besides); the words themselves must come back whole.
    #expect(lines.dropFirst().first?.split(separator: " ").joined(separator: " ") == name)
    #expect(lines.dropFirst(2).first == subject)
    for line in lines.dropFirst(3).prefix(2) {
      let pieces = line.split(separator: "|").map(String.init)
      for (piece, next) in zip(pieces, pieces.dropFirst()) {
        // A cut inside a word only where the word itself is longer than a line.
        let word =
          (piece.split(separator: " ").last.map(String.init) ?? "")
          + (next.split(separator: " ").first.map(String.init) ?? "")
        #expect(
          next.hasPrefix(" ") || piece.hasSuffix(" ") || word.utf8.count > 39, "cut inside a word: \(piece)|\(next)")
      }
    }
  }

  @Test("CR and LF in data never start a header")
  func injection() {
    let raw = message(subject: "Xin chào\r\nBcc: victim@evil.example", name: "Sở X\r\nBcc: victim@evil.example")
    let names = MailReader.headers(raw).map { $0.0.lowercased() }
    #expect(!names.contains("bcc"))
    #expect(names.filter { $0 == "subject" }.count == 1)
  }

  @Test("the Message-ID is derived from the notice key and channel")
  func messageID() {
    let a = EmailMessage.messageID(key: "k/1", channel: "email", domain: "d.example")
    #expect(a == EmailMessage.messageID(key: "k/1", channel: "email", domain: "d.example"))
    #expect(a != EmailMessage.messageID(key: "k/2", channel: "email", domain: "d.example"))
    #expect(a.hasPrefix("<") && a.hasSuffix(".nhacviec@d.example>"))
  }
}

@Suite("Retry policy")
struct RetryPolicyTests {
  let policy = RetryPolicy(
    firstDelay: 60, multiplier: 2, maximumDelay: 3600, maximumAttempts: 5, maximumAge: 86_400, jitter: 0.2)
  let scheduled = Date(timeIntervalSince1970: 1_800_000_000)

  @Test("delays grow exponentially, spread by jitter, capped")
  func backoff() {
    let now = scheduled
    #expect(
      policy.afterTransientFailure(attempts: 1, age: 0, now: now, retryAfter: nil, random: 0.5)
        == .retry(at: now + 60))
    #expect(
      policy.afterTransientFailure(attempts: 3, age: 0, now: now, retryAfter: nil, random: 0.5)
        == .retry(at: now + 240))
    #expect(
      policy.afterTransientFailure(attempts: 1, age: 0, now: now, retryAfter: nil, random: 0)
        == .retry(at: now + 48))
    #expect(
      policy.afterTransientFailure(attempts: 1, age: 0, now: now, retryAfter: nil, random: 0.999_999)
        .retryDelay(from: now)! < 72.001)
    let capped = RetryPolicy(firstDelay: 60, maximumDelay: 300, maximumAttempts: 50, maximumAge: 86_400 * 30, jitter: 0)
    #expect(
      capped.afterTransientFailure(attempts: 20, age: 0, now: now, retryAfter: nil, random: 0.5)
        == .retry(at: now + 300))
  }

  @Test("Retry-After is honoured when it asks for longer")
  func retryAfter() {
    #expect(
      policy.afterTransientFailure(attempts: 1, age: 0, now: scheduled, retryAfter: 600, random: 0.5)
        == .retry(at: scheduled + 600))
    #expect(
      policy.afterTransientFailure(attempts: 1, age: 0, now: scheduled, retryAfter: 1, random: 0.5)
        == .retry(at: scheduled + 60))
  }

  @Test("attempts and age are bounded")
  func bounds() {
    guard
      case .dead = policy.afterTransientFailure(
        attempts: 5, age: 0, now: scheduled, retryAfter: nil, random: 0.5)
    else {
      Issue.record("the fifth failure should be final")
      return
    }
    guard
      case .dead = policy.afterTransientFailure(
        attempts: 2, age: 86_300, now: scheduled + 86_300, retryAfter: nil, random: 0.5)
    else {
      Issue.record("a notice a day old should not be retried")
      return
    }
  }
}

extension RetryPolicy.Decision {
  func retryDelay(from now: Date) -> TimeInterval? {
    if case .retry(let at) = self { return at.timeIntervalSince(now) }
    return nil
  }
}

@Suite("What may be shown of a request")
struct ShownTests {
  @Test("a URL is shown with its scheme, host, port and path: no userinfo, query or fragment")
  func safeURL() {
    #expect(
      SafeURL("https://chat.example:8443/hooks/abc?token=T0K&x=1#frag").description
        == "https://chat.example:8443/hooks/abc")
    #expect(SafeURL("http://user:pass@h.example/p").description == "http://h.example/p")
    #expect(SafeURL("http://h.example?token=T").description == "http://h.example")
    #expect(SafeURL.shown("iso@d1.example") == "iso@d1.example")
    #expect(SafeURL.shown("http://h.example/hook?token=T") == "http://h.example/hook")
    #expect(
      SafeURL.inText("Failed to reach 'http://h.example/a?token=T0K': no; then https://x.example/b#s.")
        == "Failed to reach 'http://h.example/a': no; then https://x.example/b")
  }

  @Test("a server's text is kept only if it repeats no secret, however short and in whatever form")
  func secrets() {
    let secrets = Secrets(["Zq", "pass-word-1"] + Secrets.ofURL("http://h.example/hook?token=T%2B0K&v=a+b#frag"))
    #expect(secrets.cleared("HTTP 500: internal error") == "HTTP 500: internal error")
    for echo in [
      "bad key Zq", "bad key WnE=", "login pass-word-1 refused", Data("pass-word-1".utf8).base64EncodedString(),
      "535 " + Data("\0nhacviec\0pass-word-1".utf8).base64EncodedString(), "token T%2B0K", "token T+0K", "v=a b",
      "see #frag",
    ] {
      #expect(secrets.cleared(echo) == nil, "\(echo)")
    }
    var request = CurlRequest(url: "smtp://h.example")
    request.username = "nhacviec"
    request.password = "pw"
    #expect(request.secrets.appear(in: "535 " + Data("\0nhacviec\0pw".utf8).base64EncodedString()))
    #expect(!request.secrets.appear(in: "535 5.7.8 Authentication credentials invalid"))
  }
}
