public import Foundation
public import NhacviecConfig
public import NhacviecControl
import NhacviecCore
import NhacviecLinks
public import NhacviecStore

/// The desk: the Department's web pages, served by the daemon's own HTTP server on the
/// `web.listen` address. Officers sign in with an account kept in the store; every page is
/// rendered here, with text escaped by construction (`HTML`), and sent with a policy that lets
/// it load nothing but its own stylesheet.
///
/// Never the control API: `/v1/…` is not a route here, whatever the request.
public final class Desk: Sendable {
  public let settings: WebSettings
  let store: Store
  let backend: any DeskBackend
  let log: @Sendable (String) -> Void

  /// The session cookie, and the login form's own token before any session exists.
  static let sessionCookie = "nhacviec_session"
  static let loginCookie = "nhacviec_login"
  /// However busy an officer is, a login ends after this long.
  public static let sessionLifetime: TimeInterval = 12 * 3600
  /// Five failures within a quarter of an hour, from one address or against one account, and
  /// logins from there or to it are refused until the oldest of them is a quarter of an hour old.
  public static let failureWindow: TimeInterval = 15 * 60
  public static let maxFailures = 5

  public init(
    settings: WebSettings, store: Store, backend: any DeskBackend, log: @escaping @Sendable (String) -> Void = { _ in }
  ) {
    self.settings = settings
    self.store = store
    self.backend = backend
    // Names typed into the login form reach the log: one line each, whatever they hold.
    self.log = { line in
      log(String(line.unicodeScalars.map { $0.properties.generalCategory == .control ? "?" : Character($0) }))
    }
  }

  /// The security headers every answer carries: nothing loads but the desk's stylesheet and
  /// images, no page can be framed, and no address (a unit's link) leaks through Referer.
  static let securityHeaders: [HTTPRequest.Header] = [
    .init(
      name: "Content-Security-Policy",
      value:
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    .init(name: "Referrer-Policy", value: "no-referrer"),
    .init(name: "X-Content-Type-Options", value: "nosniff"),
    .init(name: "X-Frame-Options", value: "DENY"),
  ]

  public func handle(_ request: HTTPRequest, peer: String?) -> HTTPResponse {
    var response: HTTPResponse
    do {
      response = try route(request, peer: peer)
    } catch let failure as DeskFailure {
      response = page(status: failure.status, title: failure.title, officer: nil, body: "<p>\(failure.message)</p>")
      response.headers += failure.headers
    } catch {
      log("desk: \(request.method) \(request.path): \(error)")
      response = page(
        status: 500, title: "Lỗi hệ thống", officer: nil,
        body: "<p>Hệ thống gặp lỗi khi xử lý yêu cầu. Vui lòng thử lại sau hoặc báo cho quản trị viên.</p>")
    }
    response.headers += Self.securityHeaders
    if !response.headers.contains(where: { $0.name == "Cache-Control" }) {
      response.headers.append(.init(name: "Cache-Control", value: "no-store"))
    }
    return response
  }

  /// A request the server refused before the desk saw it: a Vietnamese page, with the headers
  /// every answer has. Said in the page's words, not the parser's.
  public func refusal(_ failure: HTTPFailure) -> HTTPResponse {
    let message: String
    switch failure.status {
    case 413: message = "Biểu mẫu hoặc tệp gửi lên quá lớn."
    case 408: message = "Yêu cầu gửi đến quá chậm. Vui lòng thử lại."
    case 503: message = "Hệ thống đang bận. Vui lòng thử lại sau ít phút."
    case 431: message = "Yêu cầu có phần đầu quá lớn. Vui lòng xoá cookie của trang rồi thử lại."
    default: message = "Trình duyệt đã gửi một yêu cầu không hợp lệ."
    }
    var response = page(
      status: failure.status, title: "Yêu cầu không được xử lý", officer: nil, body: "<p>\(message)</p>\n")
    response.headers += Self.securityHeaders
    response.headers.append(.init(name: "Cache-Control", value: "no-store"))
    return response
  }

  // MARK: - Routing

  private func route(_ request: HTTPRequest, peer: String?) throws -> HTTPResponse {
    let method = request.method == "HEAD" ? "GET" : request.method
    let path = request.path
    if path == "/desk.css" {
      guard method == "GET" else { throw DeskFailure.method }
      var response = HTTPResponse(
        status: 200, body: Array(Self.stylesheet.utf8), contentType: "text/css; charset=utf-8")
      response.headers.append(.init(name: "Cache-Control", value: "max-age=3600"))
      return response
    }
    if path == "/login" {
      switch method {
      case "GET": return loginPage(next: Self.localPath(request.query["next"]), message: nil, status: 200)
      case "POST": return try login(request, peer: peer)
      default: throw DeskFailure.method
      }
    }
    // A unit's link: its own key, no account; it opens that obligation's page and nothing else.
    if let token = ReplyLinks.token(inPath: path) {
      guard method == "GET" || method == "POST" else { throw DeskFailure.method }
      return try linkPage(token: token, method: method, request: request, peer: peer)
    }
    let pages = [
      "/", "/facts", "/facts/retract", "/facts/import", "/logout", "/queue", "/silences", "/silences/expire", "/claims",
      "/claims/accept", "/claims/return",
    ]
    guard pages.contains(path) || path.hasPrefix("/units/") else { throw DeskFailure.notFound }
    guard let officer = try signedIn(request, peer: peer) else {
      guard method == "GET" else {
        throw DeskFailure(
          status: 403, title: "Chưa đăng nhập",
          message: "Phiên đăng nhập đã hết hạn hoặc chưa đăng nhập. Vui lòng đăng nhập lại rồi gửi lại biểu mẫu.")
      }
      let target = path + (request.query.isEmpty ? "" : "?" + Self.queryString(request.query))
      return Self.redirect("/login?next=" + Form.encode(target))
    }
    var form = Form(fields: [])
    if method == "POST" {
      form = try Self.form(request)
      // The session's own token, in a hidden field of every form: a page on another site
      // cannot read it, so cannot post in an officer's name.
      guard let sent = form["csrf"], Tokens.same(sent, officer.csrf) else {
        log("desk: refused POST \(path) from \(officer.name): no valid csrf field")
        throw DeskFailure(
          status: 403, title: "Yêu cầu bị từ chối",
          message: "Biểu mẫu không hợp lệ hoặc đã cũ (thiếu mã xác thực). Vui lòng tải lại trang rồi gửi lại.")
      }
    }
    var response: HTTPResponse
    switch (method, path) {
    case ("POST", "/logout"):
      try store.endSession(idHash: officer.sessionHash)
      log("desk: \(officer.name) signed out")
      response = Self.redirect("/login")
      response.headers.append(.init(name: "Set-Cookie", value: cookie(Self.sessionCookie, "", maxAge: 0)))
      return response
    case ("GET", "/"):
      response = try seasonPage(request.query, officer: officer)
    case ("GET", _) where path.hasPrefix("/units/"):
      response = try unitPage(String(path.dropFirst("/units/".count)), officer: officer)
    case ("GET", "/facts"):
      response = try factsPage(officer: officer, query: request.query)
    case ("POST", "/facts"):
      response = try recordFact(form, officer: officer)
    case ("POST", "/facts/retract"):
      response = try retractFact(form, officer: officer)
    case ("POST", "/facts/import"):
      response = try importFacts(form, officer: officer)
    case ("GET", "/queue"):
      response = try queuePage(officer: officer)
    case ("POST", "/queue"):
      response = try queueAction(form, officer: officer)
    case ("GET", "/silences"):
      response = try silencesPage(officer: officer, all: request.query["all"] == "true")
    case ("POST", "/silences"):
      response = try addSilence(form, officer: officer)
    case ("POST", "/silences/expire"):
      response = try expireSilence(form, officer: officer)
    case ("GET", "/claims"):
      response = try claimsPage(officer: officer)
    case ("POST", "/claims/accept"):
      response = try verdict(form, accept: true, officer: officer)
    case ("POST", "/claims/return"):
      response = try verdict(form, accept: false, officer: officer)
    default:
      throw DeskFailure.method
    }
    if let setCookie = officer.setCookie { response.headers.append(.init(name: "Set-Cookie", value: setCookie)) }
    return response
  }

  static func form(_ request: HTTPRequest) throws -> Form {
    let type = request.headers.first { $0.name == "content-type" }?.value ?? ""
    if type.lowercased().hasPrefix("multipart/form-data") {
      // A file input's form (the facts CSV): its boundary is a parameter of the type.
      let boundary = type.split(separator: ";").dropFirst().map { $0.trimmingCharacters(in: .whitespaces) }
        .first { $0.lowercased().hasPrefix("boundary=") }
        .map { String($0.dropFirst("boundary=".count)).trimmingCharacters(in: CharacterSet(charactersIn: "\"")) }
      do {
        return try Form.parseMultipart(request.body, boundary: boundary ?? "")
      } catch {
        throw DeskFailure(status: 400, title: "Biểu mẫu không hợp lệ", message: "Biểu mẫu không đọc được (\(error)).")
      }
    }
    guard type.lowercased().hasPrefix("application/x-www-form-urlencoded") else {
      throw DeskFailure(
        status: 415, title: "Biểu mẫu không hợp lệ", message: "Biểu mẫu phải được gửi từ trang của hệ thống.")
    }
    do {
      return try Form.parse(request.body)
    } catch {
      throw DeskFailure(status: 400, title: "Biểu mẫu không hợp lệ", message: "Biểu mẫu không đọc được (\(error)).")
    }
  }

  // MARK: - Sessions

  /// Who is signed in, from the session cookie, or from the trusted proxy's header.
  struct Officer {
    let name: String
    let role: Store.Role
    let csrf: String
    let sessionHash: String
    /// A cookie to set with the answer: a session the proxy's header has just opened.
    var setCookie: String? = nil

    var canWrite: Bool { role == .writer }
  }

  func signedIn(_ request: HTTPRequest, peer: String?) throws -> Officer? {
    let now = backend.now()
    let cookies = Cookies.parse(request.headers.filter { $0.name == "cookie" }.map(\.value).joined(separator: "; "))
    var current: Officer?
    if let token = cookies[Self.sessionCookie], Tokens.wellFormed(token) {
      let hash = Tokens.digest(token)
      if let session = try store.useSession(idHash: hash, now: now, idle: settings.sessionIdle) {
        current = Officer(name: session.account, role: session.role, csrf: session.csrf, sessionHash: hash)
      }
    }
    // A province's single sign-on: the proxy at exactly this address names the officer, who
    // must have an account here (for the role, and so that removing it shuts them out).
    if let proxy = settings.trustedProxy, peer == proxy.address,
      let name = request.headers.first(where: { $0.name == proxy.header.lowercased() })?.value, !name.isEmpty
    {
      if let current, current.name == name { return current }
      if let current { try store.endSession(idHash: current.sessionHash) }
      guard let account = try store.account(named: name) else {
        log("desk: the proxy named \(name), who has no account")
        throw DeskFailure(
          status: 403, title: "Không có quyền truy cập",
          message: "Tài khoản \(name) chưa được cấp quyền sử dụng hệ thống nhắc việc.")
      }
      return try openSession(account.name, role: account.role, now: now)
    }
    return current
  }

  /// A new session with a new id: never one the browser presented before signing in.
  func openSession(_ name: String, role: Store.Role, now: Date) throws -> Officer {
    let token = Tokens.random()
    let csrf = Tokens.random()
    let hash = Tokens.digest(token)
    try store.createSession(
      idHash: hash, account: name, csrf: csrf, now: now, idle: settings.sessionIdle, lifetime: Self.sessionLifetime)
    return Officer(
      name: name, role: role, csrf: csrf, sessionHash: hash, setCookie: cookie(Self.sessionCookie, token, maxAge: nil))
  }

  func cookie(_ name: String, _ value: String, maxAge: Int?) -> String {
    var text = "\(name)=\(value); Path=/; HttpOnly; SameSite=Strict"
    if let maxAge { text += "; Max-Age=\(maxAge)" }
    if settings.isHTTPS { text += "; Secure" }
    return text
  }

  /// The address failed logins are counted against: the peer's, or behind a proxy on this
  /// machine (or the trusted one) the client's as the proxy appended it to X-Forwarded-For.
  func clientAddress(_ request: HTTPRequest, peer: String?) -> String {
    let peer = peer ?? "unknown"
    let proxied = peer == "127.0.0.1" || peer == "::1" || peer == settings.trustedProxy?.address
    if proxied, let forwarded = request.headers.last(where: { $0.name == "x-forwarded-for" })?.value,
      let last = forwarded.split(separator: ",").last?.trimmingCharacters(in: .whitespaces), !last.isEmpty,
      last.utf8.count <= 64
    {
      return last
    }
    return peer
  }

  // MARK: - Login

  func loginPage(next: String?, message: String?, status: Int, user: String = "") -> HTTPResponse {
    let token = Tokens.random()
    var body: HTML = ""
    if let message { body += "<p class=\"error\" role=\"alert\">\(message)</p>\n" }
    body += """
      <form method="post" action="/login" class="login">
      <input type="hidden" name="csrf" value="\(token)">
      <input type="hidden" name="next" value="\(next ?? "/")">
      <p><label for="user">Tên đăng nhập</label>
      <input id="user" name="user" type="text" autocomplete="username" required value="\(user)"></p>
      <p><label for="password">Mật khẩu</label>
      <input id="password" name="password" type="password" autocomplete="current-password" required></p>
      <p><button type="submit">Đăng nhập</button></p>
      </form>

      """
    var response = page(status: status, title: "Đăng nhập", officer: nil, body: body)
    // The login form's token, before any session: the form must come back with the cookie's value.
    response.headers.append(.init(name: "Set-Cookie", value: cookie(Self.loginCookie, token, maxAge: 3600)))
    return response
  }

  func login(_ request: HTTPRequest, peer: String?) throws -> HTTPResponse {
    let form = try Self.form(request)
    let cookies = Cookies.parse(request.headers.filter { $0.name == "cookie" }.map(\.value).joined(separator: "; "))
    let next = Self.localPath(form["next"])
    guard let sent = form["csrf"], let expected = cookies[Self.loginCookie], Tokens.same(sent, expected) else {
      throw DeskFailure(
        status: 403, title: "Yêu cầu bị từ chối",
        message: "Biểu mẫu đăng nhập không hợp lệ hoặc đã cũ. Vui lòng tải lại trang đăng nhập rồi thử lại.")
    }
    let user = (form["user"] ?? "").trimmingCharacters(in: .whitespaces)
    let password = form["password"] ?? ""
    guard !user.isEmpty, user.utf8.count <= 64, !password.isEmpty else {
      return loginPage(next: next, message: "Vui lòng nhập tên đăng nhập và mật khẩu.", status: 400, user: user)
    }
    let now = backend.now()
    let address = clientAddress(request, peer: peer)
    let failures = try store.loginFailures(address: address, account: user, since: now - Self.failureWindow)
    if failures.byAddress >= Self.maxFailures || failures.byAccount >= Self.maxFailures {
      let oldest =
        [
          failures.byAddress >= Self.maxFailures ? failures.oldestAddress : nil,
          failures.byAccount >= Self.maxFailures ? failures.oldestAccount : nil,
        ].compactMap { $0 }.max() ?? now
      let until = oldest + Self.failureWindow
      log("desk: login for \(user) from \(address) refused: \(Self.maxFailures) failures in 15 minutes")
      var refusal = loginPage(
        next: next,
        message:
          "Đăng nhập sai quá nhiều lần. Vui lòng thử lại sau \(backend.zone.vietnamese(until)).",
        status: 429, user: user)
      refusal.headers.append(.init(name: "Retry-After", value: String(max(1, Int(until.timeIntervalSince(now))))))
      return refusal
    }
    let account = try store.account(named: user)
    // A name nobody has costs what a wrong password costs: the time does not tell which exist.
    let good = Passwords.verify(password, hash: account?.passwordHash ?? Passwords.decoy) && account != nil
    guard good, let account else {
      try store.noteLoginFailure(address: address, account: user, now: now, forgetBefore: now - Self.failureWindow)
      log("desk: failed login for \(user) from \(address)")
      return loginPage(next: next, message: "Tên đăng nhập hoặc mật khẩu không đúng.", status: 401, user: user)
    }
    let officer = try openSession(account.name, role: account.role, now: now)
    log("desk: \(account.name) (\(account.role.rawValue)) signed in from \(address)")
    var response = Self.redirect(next ?? "/")
    if let setCookie = officer.setCookie { response.headers.append(.init(name: "Set-Cookie", value: setCookie)) }
    response.headers.append(.init(name: "Set-Cookie", value: cookie(Self.loginCookie, "", maxAge: 0)))
    return response
  }

  /// A path on this site to go back to after signing in, or nil: one slash then not a slash or
  /// a backslash (`//evil.example` and `/\evil.example` are other sites to a browser), printable
  /// ASCII only.
  public static func localPath(_ text: String?) -> String? {
    guard let text, text.hasPrefix("/"), text.utf8.count <= 512 else { return nil }
    let bytes = Array(text.utf8)
    if bytes.count > 1, bytes[1] == UInt8(ascii: "/") || bytes[1] == UInt8(ascii: "\\") { return nil }
    guard bytes.allSatisfy({ $0 > 32 && $0 < 127 && $0 != UInt8(ascii: "\\") }) else { return nil }
    return text
  }

  static func redirect(_ location: String) -> HTTPResponse {
    var response = HTTPResponse(status: 303, body: [], contentType: "text/plain; charset=utf-8")
    response.headers.append(.init(name: "Location", value: location))
    return response
  }

  static func queryString(_ query: [String: String]) -> String {
    query.sorted { $0.key < $1.key }.map { "\(Form.encode($0.key))=\(Form.encode($0.value))" }.joined(separator: "&")
  }
}

/// A request refused with a Vietnamese page.
struct DeskFailure: Error {
  let status: Int
  let title: String
  let message: String
  var headers: [HTTPRequest.Header] = []

  static let notFound = DeskFailure(
    status: 404, title: "Không tìm thấy trang", message: "Trang này không có trong hệ thống nhắc việc.")
  static let method = DeskFailure(
    status: 405, title: "Yêu cầu không hợp lệ", message: "Trang này không nhận loại yêu cầu đó.")
  static let readOnly = DeskFailure(
    status: 403, title: "Không có quyền",
    message: "Tài khoản của bạn chỉ được xem. Việc ghi nhận hoặc thu hồi cần tài khoản có quyền ghi.")
}
