import Foundation
import NhacviecWeb
import TestSupport
import Testing

/// An HTTP exchange with the desk over TCP, with the headers and body a browser would send.
struct DeskExchange {
  let status: Int
  let headers: [(String, String)]
  let body: String

  func header(_ name: String) -> String? { headers.first { $0.0.lowercased() == name.lowercased() }?.1 }
  func all(_ name: String) -> [String] { headers.filter { $0.0.lowercased() == name.lowercased() }.map(\.1) }

  /// The value a `Set-Cookie` gives a cookie, and the whole header line.
  func cookie(_ name: String) -> (value: String, line: String)? {
    for line in all("Set-Cookie") where line.hasPrefix("\(name)=") {
      let value = line.dropFirst(name.count + 1).prefix { $0 != ";" }
      return (String(value), line)
    }
    return nil
  }

  /// The hidden csrf field of the first form on the page.
  var csrf: String? {
    guard let range = body.range(of: "name=\"csrf\" value=\"") else { return nil }
    return String(body[range.upperBound...].prefix { $0 != "\"" })
  }

  static func send(
    port: Int, _ method: String, _ target: String, cookies: [String: String] = [:], form: [(String, String)]? = nil,
    headers extra: [String] = []
  ) throws -> DeskExchange {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = UInt16(port).bigEndian
    let connected = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
      }
    }
    guard connected == 0 else { throw DeskTestError(description: "cannot connect to port \(port)") }
    var timeout = timeval(tv_sec: 15, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    let body = form.map { $0.map { "\(Form.encode($0.0))=\(Form.encode($0.1))" }.joined(separator: "&") } ?? ""
    var head = "\(method) \(target) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\n"
    if !cookies.isEmpty {
      head +=
        "Cookie: " + cookies.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "; ")
        + "\r\n"
    }
    if form != nil { head += "Content-Type: application/x-www-form-urlencoded\r\n" }
    for line in extra { head += line + "\r\n" }
    head += "Content-Length: \(body.utf8.count)\r\n\r\n"
    let request = Array((head + body).utf8)
    _ = request.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    var received: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65_536)
    while true {
      let count = read(fd, &chunk, chunk.count)
      if count > 0 {
        received += chunk[0..<count]
      } else if count < 0 && errno == EINTR {
        continue
      } else {
        break
      }
    }
    let text = String(decoding: received, as: UTF8.self)
    guard let end = text.range(of: "\r\n\r\n") else { throw DeskTestError(description: "no answer: \(text)") }
    let lines = text[..<end.lowerBound].components(separatedBy: "\r\n")
    let status = Int(lines[0].split(separator: " ")[1]) ?? 0
    let headers = lines.dropFirst().compactMap { line -> (String, String)? in
      guard let colon = line.firstIndex(of: ":") else { return nil }
      return (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
    }
    return DeskExchange(status: status, headers: headers, body: String(text[end.upperBound...]))
  }
}

struct DeskTestError: Error, CustomStringConvertible {
  let description: String
}

/// A daemon with a `web:` section on a free port, and an officer's account.
struct DeskFixture {
  let fixture: DaemonFixture
  let port: Int
  let daemon: Process

  static let password = "mật-khẩu-đủ-dài"

  init(trustedProxy: Bool = false, channel: String? = nil) throws {
    port = closedPort()
    let keys = try secretFile("k1 AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")
    let proxy = trustedProxy ? ", trusted_proxy: { address: 127.0.0.1, header: X-Remote-User }" : ""
    fixture = try DaemonFixture(
      channel: channel,
      settings:
        "web: { listen: \"127.0.0.1:\(port)\", url: \"http://127.0.0.1:\(port)\", link_keys_file: \(keys)\(proxy) }",
      units: 3)
    daemon = try fixture.start(at: "2026-11-09T08:00:00+07:00", notify: try NotifyListener())
  }

  func stop() { kill(daemon.processIdentifier, SIGKILL) }

  /// `nhacviec user …` with `input` on its standard input.
  func user(_ arguments: [String], input: String) throws -> ProgramRun {
    let quoted = ([Run.binary.path, "user"] + arguments + ["--socket", fixture.socket]).map {
      "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
    let escaped = input.replacingOccurrences(of: "'", with: "'\\''")
    return try ProgramRun("/bin/sh", ["-c", "printf '%s\\n' '\(escaped)' | " + quoted.joined(separator: " ")])
  }

  func get(_ target: String, session: String? = nil) throws -> DeskExchange {
    try DeskExchange.send(port: port, "GET", target, cookies: session.map { ["nhacviec_session": $0] } ?? [:])
  }

  func post(_ target: String, session: String, _ form: [(String, String)]) throws -> DeskExchange {
    try DeskExchange.send(port: port, "POST", target, cookies: ["nhacviec_session": session], form: form)
  }

  /// Signs in through the login form as a browser would; the answer to the form's POST.
  func login(
    _ name: String, _ password: String, next: String = "/", cookies extra: [String: String] = [:]
  ) throws
    -> DeskExchange
  {
    let page = try DeskExchange.send(port: port, "GET", "/login")
    let token = try #require(page.cookie("nhacviec_login")?.value)
    #expect(page.csrf == token)
    return try DeskExchange.send(
      port: port, "POST", "/login", cookies: extra.merging(["nhacviec_login": token]) { $1 },
      form: [("csrf", token), ("next", next), ("user", name), ("password", password)])
  }

  func session(_ name: String, _ password: String = DeskFixture.password) throws -> String {
    let answer = try login(name, password)
    return try #require(answer.cookie("nhacviec_session")?.value, "\(answer.status) \(answer.body)")
  }

  func facts() throws -> String { try fixture.client(["facts"]).stdout }
}

@Suite("the desk", .serialized)
struct DeskTests {
  @Test(
    "login is needed, a wrong password is refused, the session cookie has its flags, and a form without csrf changes nothing"
  )
  func loginAndFacts() throws {
    let desk = try DeskFixture()
    defer { desk.stop() }
    #expect(try desk.user(["add", "can.bo", "--role", "writer"], input: DeskFixture.password).status == 0)

    // Not signed in: the season sends the browser to the login form, and back afterwards.
    let anonymous = try desk.get("/?period=2026")
    #expect(anonymous.status == 303)
    #expect(anonymous.header("Location") == "/login?next=%2F%3Fperiod%3D2026")

    let wrong = try desk.login("can.bo", "not-the-password")
    #expect(wrong.status == 401)
    #expect(wrong.body.contains("Tên đăng nhập hoặc mật khẩu không đúng."))
    #expect(wrong.cookie("nhacviec_session") == nil)
    let nobody = try desk.login("khong.co", DeskFixture.password)
    #expect(nobody.status == 401)

    // A session id the browser held before signing in is never the one it gets (fixation).
    let planted = String(repeating: "A", count: 43)
    let right = try desk.login("can.bo", DeskFixture.password, next: "/facts", cookies: ["nhacviec_session": planted])
    #expect(right.status == 303)
    #expect(right.header("Location") == "/facts")
    let cookie = try #require(right.cookie("nhacviec_session"))
    #expect(cookie.value != planted && cookie.value.count == 43)
    #expect(
      cookie.line.contains("HttpOnly") && cookie.line.contains("SameSite=Strict") && cookie.line.contains("Path=/"))
    #expect(!cookie.line.contains("Secure"), "the desk's url is http here: \(cookie.line)")
    // Only local paths to go back to: another site is never where a login leads.
    for next in ["//evil.example/", "https://evil.example/", "/\\evil.example"] {
      #expect(try desk.login("can.bo", DeskFixture.password, next: next).header("Location") == "/", "\(next)")
    }
    let session = cookie.value

    let season = try desk.get("/", session: session)
    #expect(season.status == 200)
    #expect(season.body.contains("Tình hình nộp báo cáo"))
    #expect(season.body.contains("Báo cáo ISO năm 2026"))
    #expect(season.body.contains("<a href=\"/units/D1\">Sở số 1</a>"))

    // A form posted without its csrf field, or with another one, is refused and records nothing.
    let fact: [(String, String)] = [
      ("kind", "report"), ("unit", "D1"), ("rule", "annual"), ("period", "2026"), ("reference", "12/BC-STP"),
    ]
    let forged = try desk.post("/facts", session: session, fact)
    #expect(forged.status == 403)
    #expect(forged.body.contains("thiếu mã xác thực"))
    #expect(try desk.post("/facts", session: session, fact + [("csrf", "x")]).status == 403)
    #expect(try desk.facts().contains("no facts recorded"))

    let csrf = try #require(season.csrf)
    let recorded = try desk.post("/facts", session: session, fact + [("csrf", csrf)])
    #expect(recorded.status == 201, "\(recorded.body)")
    #expect(recorded.body.contains("Đã ghi nhận"))
    let listed = try desk.facts()
    #expect(listed.contains("report D1 annual 2026"), "\(listed)")
    #expect(listed.contains("by can.bo via desk"), "\(listed)")
    #expect(try desk.get("/units/D1", session: session).body.contains("12/BC-STP"))

    // Retracted through the desk, with the officer's name beside the reason.
    let id = try #require(listed.split(separator: "\t").first.map(String.init))
    let retracted = try desk.post(
      "/facts/retract", session: session, [("csrf", csrf), ("id", id), ("reason", "nhầm đơn vị")])
    #expect(retracted.status == 200, "\(retracted.body)")
    let after = try desk.fixture.client(["facts", "--retracted"]).stdout
    #expect(after.contains("RETRACTED"), "\(after)")
    #expect(after.contains("nhầm đơn vị [desk: can.bo]"), "\(after)")

    // Signing out ends the session in the store: the cookie opens nothing afterwards.
    #expect(try desk.post("/logout", session: session, [("csrf", csrf)]).status == 303)
    #expect(try desk.get("/", session: session).status == 303)
  }

  @Test(
    "every page sends the security headers, parses as strict HTML5 with a label for every field, and /v1 is not served")
  func pages() throws {
    let desk = try DeskFixture()
    defer { desk.stop() }
    #expect(try desk.user(["add", "doc.gia", "--role", "reader"], input: DeskFixture.password).status == 0)
    #expect(try desk.user(["add", "ghi.chep", "--role", "writer"], input: DeskFixture.password).status == 0)
    let reader = try desk.session("doc.gia")
    let writer = try desk.session("ghi.chep")
    let folder = try temporaryFolder("desk-pages")
    var files: [String] = []
    let answers: [(String, DeskExchange)] = [
      ("login", try desk.get("/login")),
      ("season", try desk.get("/", session: writer)),
      ("season-filtered", try desk.get("/?period=2026&rule=annual&state=pending&kind=dept", session: reader)),
      ("unit", try desk.get("/units/D2", session: writer)),
      ("facts-writer", try desk.get("/facts", session: writer)),
      ("facts-reader", try desk.get("/facts", session: reader)),
      ("not-found", try desk.get("/khong-co", session: writer)),
      ("unknown-unit", try desk.get("/units/ZZ", session: writer)),
      ("bad-period", try desk.get("/?period=2026-13", session: writer)),
    ]
    for (name, answer) in answers {
      #expect(
        answer.header("Content-Security-Policy")
          == "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        "\(name)")
      #expect(answer.header("Referrer-Policy") == "no-referrer", "\(name)")
      #expect(answer.header("X-Content-Type-Options") == "nosniff", "\(name)")
      #expect(answer.header("Cache-Control") == "no-store", "\(name)")
      #expect(answer.header("Content-Type") == "text/html; charset=utf-8", "\(name)")
      let file = folder.appendingPathComponent("\(name).html")
      try answer.body.write(to: file, atomically: true, encoding: .utf8)
      files.append(file.path)
    }
    #expect(answers.map(\.1.status) == [200, 200, 200, 200, 200, 200, 404, 404, 400])
    // By default the current period of each kind the rules use; another period on asking.
    #expect(answers[1].1.body.contains("Báo cáo ISO năm 2026"))
    #expect(
      try desk.get("/?period=2026-Q4", session: reader).body.contains("Không có nghĩa vụ báo cáo nào cho quý IV/2026"))
    let pending = answers[2].1.body
    #expect(pending.contains("Chi tiết (3/3 đơn vị)"), "\(pending)")
    let check = try ProgramRun("/usr/bin/python3", [serversPath("check_desk_html.py")] + files)
    #expect(check.status == 0, "\(check.stdout)\(check.stderr)")
    // A reader sees the facts but no form to change them, and a POST is refused.
    #expect(!answers[5].1.body.contains("method=\"post\" action=\"/facts\""))
    #expect(answers[4].1.body.contains("method=\"post\" action=\"/facts\""))
    let csrf = try #require(answers[5].1.csrf)
    let refused = try desk.post(
      "/facts", session: reader,
      [("csrf", csrf), ("kind", "report"), ("unit", "D1"), ("rule", "annual"), ("period", "2026")])
    #expect(refused.status == 403)
    #expect(try desk.facts().contains("no facts recorded"))
    // An oversized form is refused by the server before any handler, with a page, not JSON.
    let huge = try DeskExchange.send(
      port: desk.port, "POST", "/facts", cookies: ["nhacviec_session": writer],
      form: [("csrf", csrf), ("reason", String(repeating: "x", count: 70_000))])
    #expect(huge.status == 413)
    #expect(huge.header("Content-Type") == "text/html; charset=utf-8")
    #expect(huge.body.contains("quá lớn"))
    #expect(huge.header("Content-Security-Policy") != nil)
    // The stylesheet is the desk's own, at its fixed path.
    let css = try desk.get("/desk.css")
    #expect(css.status == 200 && css.header("Content-Type") == "text/css; charset=utf-8")
    // Never the control API over TCP, signed in or not.
    for (method, target) in [("GET", "/v1/status"), ("POST", "/v1/reload"), ("GET", "/v1/facts")] {
      #expect(try DeskExchange.send(port: desk.port, method, target).status == 404, "\(target)")
      #expect(
        try DeskExchange.send(port: desk.port, method, target, cookies: ["nhacviec_session": writer]).status == 404)
    }
  }

  @Test("five failed logins in 15 minutes refuse the next, even with the right password")
  func throttle() throws {
    let desk = try DeskFixture()
    defer { desk.stop() }
    #expect(try desk.user(["add", "can.bo"], input: DeskFixture.password).status == 0)
    for _ in 1...5 { #expect(try desk.login("can.bo", "sai-mat-khau-roi").status == 401) }
    let refused = try desk.login("can.bo", DeskFixture.password)
    #expect(refused.status == 429)
    #expect(refused.body.contains("Đăng nhập sai quá nhiều lần"))
    #expect(refused.cookie("nhacviec_session") == nil)
    #expect(Int(refused.header("Retry-After") ?? "") ?? 0 > 0)
  }

  @Test("nhacviec user add, list, passwd and remove; a changed password or a removed account ends its sessions")
  func users() throws {
    let desk = try DeskFixture()
    defer { desk.stop() }
    let short = try desk.user(["add", "a"], input: "ngan")
    #expect(short.status == 2)
    #expect(short.stderr.contains("at least 10 characters"))
    #expect(try desk.user(["add", "a"], input: "").status == 2)
    let added = try desk.user(["add", "nguyen.van.a", "--role", "writer"], input: DeskFixture.password)
    #expect(added.status == 0, "\(added.stderr)")
    #expect(added.stdout.contains("account nguyen.van.a added (writer)"))
    #expect(try desk.user(["add", "nguyen.van.a"], input: DeskFixture.password).status != 0)
    let listed = try ProgramRun(Run.binary.path, ["user", "list", "--socket", desk.fixture.socket])
    #expect(listed.stdout.hasPrefix("nguyen.van.a\twriter\t"), "\(listed.stdout)")
    #expect(!listed.stdout.contains("argon2"))

    let first = try desk.session("nguyen.van.a")
    let changed = try desk.user(["passwd", "nguyen.van.a", "--role", "reader"], input: "mot-mat-khau-moi")
    #expect(changed.status == 0, "\(changed.stderr)")
    #expect(try desk.get("/", session: first).status == 303)
    #expect(try desk.login("nguyen.van.a", DeskFixture.password).status == 401)
    let second = try desk.session("nguyen.van.a", "mot-mat-khau-moi")
    #expect(try desk.get("/facts", session: second).body.contains("(chỉ xem)"))

    let removed = try desk.user(["remove", "nguyen.van.a"], input: "")
    #expect(removed.status == 0, "\(removed.stderr)")
    #expect(try desk.get("/", session: second).status == 303)
    #expect(try desk.user(["remove", "nguyen.van.a"], input: "").status != 0)
    #expect(
      try ProgramRun(Run.binary.path, ["user", "list", "--socket", desk.fixture.socket]).stdout.contains("no accounts"))
  }

  @Test("a trusted proxy's header signs in an officer with an account, from its address only")
  func trustedProxy() throws {
    let desk = try DeskFixture(trustedProxy: true)
    defer { desk.stop() }
    #expect(try desk.user(["add", "sso.user"], input: DeskFixture.password).status == 0)
    let signed = try DeskExchange.send(port: desk.port, "GET", "/", headers: ["X-Remote-User: sso.user"])
    #expect(signed.status == 200)
    #expect(signed.body.contains("sso.user"))
    #expect(signed.cookie("nhacviec_session") != nil)
    let unknown = try DeskExchange.send(port: desk.port, "GET", "/", headers: ["X-Remote-User: ai.do"])
    #expect(unknown.status == 403)
  }
}

@Suite("the desk's queue and silences", .serialized)
struct DeskQueueTests {
  @Test("a dead notice is listed on the queue, acknowledged and retried in bulk; a silence is added and expired")
  func queueAndSilences() throws {
    let setup = try temporaryFolder("program")
    let desk = try DeskFixture(channel: "{ type: exec, command: \(try refusingD1(in: setup)), timeout: 30s }")
    defer { desk.stop() }
    _ = try desk.fixture.waitForChannel("email") { $0["dead"] as? Int == 1 }
    #expect(try desk.user(["add", "can.bo", "--role", "writer"], input: DeskFixture.password).status == 0)
    let session = try desk.session("can.bo")
    let queue = try desk.get("/queue", session: session)
    #expect(queue.status == 200)
    #expect(queue.body.contains("annual/D1/2026/remind-7d@2026-11-15"))
    #expect(queue.body.contains("gateway refused"))
    #expect(!queue.body.contains("annual/D2/"))
    let csrf = try #require(queue.csrf)
    let key = "annual/D1/2026/remind-7d@2026-11-15"
    let acknowledged = try desk.post("/queue", session: session, [("csrf", csrf), ("key", key), ("action", "ack")])
    #expect(acknowledged.status == 200)
    #expect(acknowledged.body.contains("Đã xác nhận 1 thông báo"))
    let notices = try desk.fixture.client(["notices", "--state", "dead", "--json"]).stdout
    #expect(notices.contains("acknowledged_by"), "\(notices)")
    let retried = try desk.post("/queue", session: session, [("csrf", csrf), ("key", key), ("action", "retry")])
    #expect(retried.body.contains("Đã lên lịch gửi lại 1 thông báo"), "\(retried.body)")

    let added = try desk.post(
      "/silences", session: session,
      [("csrf", csrf), ("unit", "D2"), ("until", "2026-11-20"), ("reason", "đang thay người phụ trách")])
    #expect(added.status == 201, "\(added.body)")
    let listed = try desk.fixture.client(["silence", "list"]).stdout
    #expect(listed.contains("unit=D2"), "\(listed)")
    #expect(listed.contains("đang thay người phụ trách [desk: can.bo]"), "\(listed)")
    let id = try #require(listed.split(separator: "\t").first.map(String.init))
    let expired = try desk.post("/silences/expire", session: session, [("csrf", csrf), ("id", id)])
    #expect(expired.status == 200, "\(expired.body)")
    #expect(try desk.fixture.client(["silence", "list"]).stdout.contains("no silences in force"))
    // Both pages parse as strict HTML5 with a label for every field.
    let folder = try temporaryFolder("desk-queue")
    var files: [String] = []
    for (name, target) in [("queue", "/queue"), ("silences", "/silences?all=true")] {
      let file = folder.appendingPathComponent("\(name).html")
      try (try desk.get(target, session: session)).body.write(to: file, atomically: true, encoding: .utf8)
      files.append(file.path)
    }
    let check = try ProgramRun("/usr/bin/python3", [serversPath("check_desk_html.py")] + files)
    #expect(check.status == 0, "\(check.stdout)\(check.stderr)")
  }
}

@Suite("the desk's parsing")
struct DeskParsingTests {
  @Test("forms: UTF-8, plus, escapes, repeated fields; broken ones refused whole")
  func forms() throws {
    let form = try Form.parse(Array("a=1&b=x+y%C4%90&a=2&empty=&flag&=skip".utf8))
    #expect(form.values("a") == ["1", "2"])
    #expect(form["b"] == "x yĐ")
    #expect(form["empty"] == "")
    #expect(form["flag"] == "")
    #expect(form.given("empty") == nil)
    #expect(throws: Form.Failure.badEncoding) { try Form.parse(Array("a=%zz".utf8)) }
    #expect(throws: Form.Failure.badEncoding) { try Form.parse(Array("a=%C4".utf8)) }
    #expect(throws: Form.Failure.tooLarge) { try Form.parse([UInt8](repeating: 97, count: 70_000)) }
    #expect(throws: Form.Failure.tooManyFields) {
      try Form.parse(Array(String(repeating: "a=1&", count: 600).utf8))
    }
    #expect(Form.encode("Sở số 1/&=") == "S%E1%BB%9F%20s%E1%BB%91%201%2F%26%3D")
  }

  @Test("a file input's form (multipart): fields, the file's text and name; a broken one refused whole")
  func multipart() throws {
    let body =
      "--XyZ\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\nabc\r\n"
      + "--XyZ\r\nContent-Disposition: form-data; name=\"csv\"; filename=\"nộp.csv\"\r\n"
      + "Content-Type: text/csv\r\n\r\nkind,unit\r\nreport,Sở\r\n--XyZ--\r\n"
    let form = try Form.parseMultipart(Array(body.utf8), boundary: "XyZ")
    #expect(form["csrf"] == "abc")
    #expect(form["csv"] == "kind,unit\r\nreport,Sở")
    #expect(form["csv.filename"] == "nộp.csv")
    #expect(throws: Form.Failure.badEncoding) {
      try Form.parseMultipart(Array(body.dropLast(12).utf8), boundary: "XyZ")
    }
    #expect(throws: Form.Failure.badEncoding) { try Form.parseMultipart(Array(body.utf8), boundary: "other") }
    #expect(throws: Form.Failure.tooLarge) {
      try Form.parseMultipart([UInt8](repeating: 45, count: 70_000), boundary: "XyZ")
    }
  }

  @Test("cookies, local paths and escaping")
  func cookiesPathsAndEscaping() {
    #expect(Cookies.parse("a=1; b=\"2\"; a=3; junk; c=") == ["a": "1", "b": "2", "c": ""])
    #expect(Desk.localPath("/facts?unit=D1") == "/facts?unit=D1")
    for bad in ["//evil.example", "/\\evil.example", "https://evil.example", "evil", "/a b", nil] {
      #expect(Desk.localPath(bad) == nil, "\(bad ?? "nil")")
    }
    let name = "<script>alert(1)</script> & \"x\""
    let html: HTML = "<td>\(name)</td>"
    #expect(html.markup == "<td>&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;x&quot;</td>")
  }
}
