import CCurl
import CCurlShim
public import Foundation
import NhacviecCore

/// One transfer for libcurl to perform: an HTTP POST or an SMTP submission.
public struct CurlRequest: Sendable {
  public enum TLS: Sendable {
    /// Plain text only (smtp:// without STARTTLS).
    case none
    /// STARTTLS when the server offers it.
    case opportunistic
    /// STARTTLS or fail: the transfer never continues in clear.
    case required
  }

  public var url: String
  public var headers: [String] = []
  public var body: [UInt8] = []
  /// The whole transfer's time limit.
  public var timeout: TimeInterval = 30
  public var connectTimeout: TimeInterval = 10
  public var maxRedirects = 0
  public var caFile: String?
  /// Transfers of one pool (a channel) to one server share `connections` (nil: the client's
  /// `maxConnectionsPerHost`), and a named pool's connections serve only its own transfers.
  public var pool = ""
  public var connections: Int?
  /// A channel's `rate`: transfers of one pace (its `key`, the channel's name) start one at a
  /// time, each at least `spacing` seconds of real time after the one before, whatever their
  /// servers and however many connections are free (see `CurlClient`).
  public var pace: Pace?

  public struct Pace: Sendable, Hashable {
    public let key: String
    public let spacing: TimeInterval

    public init(key: String, spacing: TimeInterval) {
      self.key = key
      self.spacing = spacing
    }
  }
  // SMTP only.
  public var mailFrom: String?
  public var recipients: [String] = []
  public var username: String?
  public var password: String?
  public var tls: TLS = .opportunistic
  /// What the channel put in this request that only its server may see, beyond its password and
  /// its URL's query (a bearer token, `header.NAME` values): a server's text that repeats any of
  /// them is withheld (`secrets`).
  public var secretValues: [String] = []

  public init(url: String) { self.url = url }

  var isSMTP: Bool { url.hasPrefix("smtp://") || url.hasPrefix("smtps://") }
}

/// Why a transfer did not complete at the protocol level, in the terms a channel decides on.
/// libcurl's codes stay inside the client; only this classification leaves it.
public enum TransferFailure: Sendable, Hashable {
  case timedOut
  case couldNotConnect
  case loginDenied
  /// TLS was required and the server does not offer it, or the handshake failed.
  case tls
  case certificateNotVerified
  /// TLS from the first byte (smtps://, https://) to a server that answers in plain text.
  case notTLS
  case tooManyRedirects
  /// The server's response headers passed `CurlClient.maximumHeaderBytes`.
  case responseHeadersTooLarge
  case badURL
  /// Anything else: a reset connection, a server that went away mid-answer.
  case other

  /// Whether another attempt cannot help without someone changing something.
  public var isPermanent: Bool {
    switch self {
    case .timedOut, .couldNotConnect, .other: return false
    case .loginDenied, .tls, .certificateNotVerified, .notTLS, .tooManyRedirects, .responseHeadersTooLarge, .badURL:
      return true
    }
  }
}

/// What a transfer ended with: a server's answer in `code`, or why there was none in `failure`.
public struct CurlResponse: Sendable {
  /// The HTTP status, or the last SMTP reply code; 0 when the server never answered.
  public let code: Int
  /// Response headers by lower-cased name (the last response's, after redirects).
  public let headers: [String: String]
  public let body: [UInt8]
  /// Nil for a transfer that completed at the protocol level.
  public let failure: TransferFailure?
  /// SMTP: each recipient's reply to its RCPT (`250 OK`, `550 5.1.1 No such user`), by address.
  /// A reply that repeats one of the request's secrets keeps only its code.
  public let recipientReplies: [String: String]
  /// SMTP: the server's last reply (`250 2.0.0 OK queued as 000123`). A reply during the login
  /// (AUTH), which may echo what was sent, keeps only its code, as does one that repeats one of
  /// the request's secrets.
  public let lastReply: String?
  /// libcurl's message for a failed transfer, every URL in it in its safe form; libcurl's fixed
  /// words for the error instead if it repeats one of the request's secrets.
  public let error: String
  public let seconds: Double
}

public enum CurlError: Error, CustomStringConvertible {
  case setup(String)
  case stopped

  public var description: String {
    switch self {
    case .setup(let message): return "cannot set up the transfer: \(message)"
    case .stopped: return "the transfer engine has stopped"
    }
  }
}

/// Drives every transfer through one libcurl multi handle on a thread of its own, so hundreds of
/// transfers run at once and no task of Swift's cooperative pool ever blocks on the network.
///
/// At most so many transfers of one pool (a channel) to one server are handed to libcurl at a
/// time, the request's `connections` or else `maxConnectionsPerHost`; the rest wait here, not in
/// libcurl, because libcurl starts a transfer's time limit when it is added. A transfer that
/// times out has therefore really been waiting for its server, and one that never got a
/// connection never counts as tried.
///
/// A request with a `pace` also waits here for its turn: a transfer of a pace is handed to
/// libcurl only at its turn, one spacing after the turn before (a token bucket holding one token,
/// taken the instant the transfer starts; see `start(queue:)`), so that a channel's `rate` holds
/// for every request it makes — each target of a webhook, each retry — across all its servers
/// and connections, by the real clock.
public final class CurlClient: Sendable {
  private let engine: Engine

  /// Response headers beyond this many bytes (all responses of a transfer together) end it.
  public static let maximumHeaderBytes = 65_536
  /// Redirects a transfer may follow at most: a loop ends here, not after thousands of requests.
  public static let maximumRedirects = 10

  fileprivate static let globalInit: Void = { curl_global_init(Int(CURL_GLOBAL_ALL)) }()

  public init(maxConnectionsPerHost: Int = 16) {
    _ = CurlClient.globalInit
    engine = Engine(maxConnectionsPerHost: max(1, maxConnectionsPerHost))
    // The thread holds the engine, not the client: the client can go away while it runs.
    let engine = self.engine
    let thread = Thread { engine.run() }
    thread.name = "nhacviec-curl"
    thread.start()
  }

  deinit { engine.shutdown() }

  /// Stops the thread after cancelling what is still running or waiting. Idempotent.
  public func shutdown() { engine.shutdown() }

  public func perform(_ request: CurlRequest) async throws -> CurlResponse {
    let transfer = try Transfer(request)
    let engine = self.engine
    return try await withTaskCancellationHandler {
      try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<CurlResponse, any Error>) in
        engine.submit(transfer, continuation)
      }
    } onCancel: {
      engine.cancel(transfer)
    }
  }

  /// The multi handle and everything the transfer thread works on.
  ///
  /// Unchecked: libcurl's handles are raw pointers the compiler cannot see into, and libcurl
  /// wants them used by one thread. The transfer thread alone touches the multi handle (but for
  /// `curl_multi_wakeup`, which libcurl allows from any thread) and the fields marked so; what
  /// other threads hand in goes through `lock`.
  private final class Engine: @unchecked Sendable {
    let multi: UnsafeMutableRawPointer
    let maxConnectionsPerHost: Int
    let lock = NSLock()
    // Guarded by `lock`.
    var toAdd: [Transfer] = []
    var toCancel: [Transfer] = []
    var stopping = false
    // Touched only on the transfer thread.
    var active: [UnsafeMutableRawPointer: Transfer] = [:]
    var activeByHost: [String: Int] = [:]
    var waitingByHost: [String: Queue] = [:]
    /// Each named pool's connection cache: a connection is reused only within its pool, so that
    /// one made with a channel's EHLO name or limit never serves another's transfer.
    var shares: [String: UnsafeMutableRawPointer] = [:]
    let finished = DispatchSemaphore(value: 0)
    var joined = false
    /// For each pace, the monotonic instant of its next transfer's turn.
    var turns: [String: Double] = [:]
    /// Queues whose first transfer waits for its pace's turn, and the earliest of those turns.
    var pacedQueues: Set<String> = []
    var nextTurn: Double?

    init(maxConnectionsPerHost: Int) {
      multi = curl_multi_init()
      self.maxConnectionsPerHost = maxConnectionsPerHost
      // No limit of libcurl's own: each pool's limit is kept here, before a transfer is added.
      _ = nv_multi_setopt_long(multi, CURLMOPT_MAX_HOST_CONNECTIONS, 0)
    }

    deinit {
      for share in shares.values { curl_share_cleanup(share) }
      curl_multi_cleanup(multi)
    }

    func submit(_ transfer: Transfer, _ continuation: CheckedContinuation<CurlResponse, any Error>) {
      let stopped = lock.withLock {
        transfer.continuation = continuation
        if !stopping { toAdd.append(transfer) }
        return stopping
      }
      if stopped { transfer.finish(.failure(CurlError.stopped)) } else { curl_multi_wakeup(multi) }
    }

    func cancel(_ transfer: Transfer) {
      lock.withLock {
        transfer.cancelled = true
        toCancel.append(transfer)
      }
      curl_multi_wakeup(multi)
    }

    func shutdown() {
      let first = lock.withLock { () -> Bool in
        defer { stopping = true }
        return !stopping
      }
      guard first else { return }
      curl_multi_wakeup(multi)
      finished.wait()
    }

    /// First in, first out, without moving the rest on each removal.
    struct Queue {
      var items: [Transfer] = []
      var head = 0

      var isEmpty: Bool { head == items.count }
      var waiting: ArraySlice<Transfer> { items[head...] }

      mutating func append(_ transfer: Transfer) { items.append(transfer) }

      mutating func removeFirst() -> Transfer {
        defer {
          head += 1
          if head > 1024 && head * 2 > items.count {
            items.removeFirst(head)
            head = 0
          }
        }
        return items[head]
      }

      mutating func remove(_ transfer: Transfer) {
        guard let index = items[head...].firstIndex(where: { $0 === transfer }) else { return }
        items.remove(at: index)
      }
    }

    /// Hands waiting transfers to libcurl while their pool has a free connection to their server.
    func start(queue key: String) {
      while let queue = waitingByHost[key], !queue.isEmpty,
        (activeByHost[key] ?? 0) < (queue.items[queue.head].connections ?? maxConnectionsPerHost)
      {
        // A paced transfer takes its pace's turn as it starts, or waits for it.
        // The generic cell rate algorithm with a delay variation tolerance, as ATM polices a cell
        // rate: a turn may be taken up to half a spacing (at most 50 ms) early, so that a thread
        // woken late on a busy machine does not slow the pace, and the next turn is one spacing
        // after this one's. Still one at a time (never two starts closer than half a spacing),
        // and n starts take at least n - 1 spacings less that tolerance.
        if let pace = queue.items[queue.head].pace {
          let now = monotonicSeconds()
          let early = min(pace.spacing / 2, 0.05)
          if let turn = turns[pace.key], turn - early > now {
            pacedQueues.insert(key)
            nextTurn = min(nextTurn ?? (turn - early), turn - early)
            break
          }
          turns[pace.key] = max(now, turns[pace.key] ?? now) + pace.spacing
        }
        let transfer = waitingByHost[key]!.removeFirst()
        if waitingByHost[key]!.isEmpty { waitingByHost[key] = nil }
        if !transfer.pool.isEmpty, let share = share(transfer.pool) {
          _ = nv_easy_setopt_pointer(transfer.handle, CURLOPT_SHARE, share)
        }
        curl_multi_add_handle(multi, transfer.handle)
        active[transfer.handle] = transfer
        activeByHost[key, default: 0] += 1
      }
    }

    func share(_ pool: String) -> UnsafeMutableRawPointer? {
      if let share = shares[pool] { return share }
      let share = nv_share_connections()
      shares[pool] = share
      return share
    }

    /// Out of libcurl's hands: its connection stays in its pool's cache, and the share can be
    /// cleaned up without waiting for the handle.
    func remove(_ transfer: Transfer) {
      curl_multi_remove_handle(multi, transfer.handle)
      _ = nv_easy_setopt_pointer(transfer.handle, CURLOPT_SHARE, nil)
    }

    func ended(_ transfer: Transfer) {
      active[transfer.handle] = nil
      remove(transfer)
      activeByHost[transfer.queue, default: 1] -= 1
      if activeByHost[transfer.queue] == 0 { activeByHost[transfer.queue] = nil }
      start(queue: transfer.queue)
    }

    func run() {
      while true {
        // A transfer's `cancelled` is read under the lock it is written under (ThreadSanitizer
        // caught it read outside).
        let (adds, cancels, stop) = lock.withLock { () -> ([(Transfer, Bool)], [Transfer], Bool) in
          defer {
            toAdd.removeAll()
            toCancel.removeAll()
          }
          return (toAdd.map { ($0, $0.cancelled) }, toCancel, stopping)
        }
        for (transfer, cancelled) in adds {
          if cancelled {
            transfer.finish(.failure(CancellationError()))
            continue
          }
          waitingByHost[transfer.queue, default: Queue()].append(transfer)
          start(queue: transfer.queue)
        }
        for transfer in cancels {
          if active[transfer.handle] != nil {
            ended(transfer)
          } else {
            waitingByHost[transfer.queue]?.remove(transfer)
          }
          transfer.finish(.failure(CancellationError()))
        }
        if stop {
          for transfer in active.values {
            remove(transfer)
            transfer.finish(.failure(CurlError.stopped))
          }
          for transfer in waitingByHost.values.flatMap(\.waiting) { transfer.finish(.failure(CurlError.stopped)) }
          active.removeAll()
          waitingByHost.removeAll()
          break
        }

        // Queues whose turn has come: each takes it in turn (a pace's next turn moves on as one
        // of them starts, and the others wait again).
        if let turn = nextTurn, turn <= monotonicSeconds() {
          let queues = pacedQueues.sorted()
          (pacedQueues, nextTurn) = ([], nil)
          for key in queues { start(queue: key) }
        }

        var running: Int32 = 0
        curl_multi_perform(multi, &running)
        var remaining: Int32 = 0
        while let message = curl_multi_info_read(multi, &remaining) {
          var handle: UnsafeMutableRawPointer?
          var result = CURLE_OK
          guard nv_multi_done(message, &handle, &result) != 0, let handle, let transfer = active[handle] else {
            continue
          }
          ended(transfer)
          transfer.finish(.success(transfer.response(result: result)))
        }
        // Idle, it sleeps until woken (a new request, a cancellation, a stop all call
        // curl_multi_wakeup): a daemon with nothing due should not wake every second.
        var timeout: Int32 = active.isEmpty ? 3_600_000 : 1000
        if let turn = nextTurn {
          // Rounded up: woken before the turn, it would only wait again.
          let wait = max(0, (turn - monotonicSeconds()) * 1000).rounded(.up)
          timeout = min(timeout, Int32(min(wait, 3_600_000)))
        }
        curl_multi_poll(multi, nil, 0, timeout, nil)
      }
      finished.signal()
    }
  }
}

/// One easy handle with the buffers libcurl reads from and writes to.
///
/// Unchecked: made on the caller's thread, then handed to the transfer thread through the
/// engine's lock, which alone uses the handle and the buffers from then on (libcurl calls back on
/// that thread); `continuation` and `cancelled` are set and read under that lock.
private final class Transfer: @unchecked Sendable {
  let handle: UnsafeMutableRawPointer
  /// The pool and `scheme://host:port`: transfers of one pool to one server share its limit.
  let queue: String
  let pool: String
  let connections: Int?
  let pace: CurlRequest.Pace?
  var continuation: CheckedContinuation<CurlResponse, any Error>?
  var cancelled = false
  private var slists: [UnsafeMutablePointer<curl_slist>] = []
  private var upload: [UInt8]
  private var uploadOffset = 0
  private var received: [UInt8] = []
  private var headers: [String: String] = [:]
  private var headerBytes = 0
  private var recipientReplies: [String: String] = [:]
  private var lastReply: String?
  /// The recipient whose RCPT was sent last and awaits its reply.
  private var awaitingReply: String?
  /// From AUTH to the reply that ends the login: the server's words then are not kept.
  private var authenticating = false
  private let secrets: Secrets
  private var headersTooLarge = false
  private let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
  private var finished = false

  init(_ request: CurlRequest) throws {
    guard let handle = curl_easy_init() else { throw CurlError.setup("curl_easy_init failed") }
    self.handle = handle
    pool = request.pool
    queue = request.pool + " " + Transfer.server(of: request.url)
    connections = request.connections.map { max(1, $0) }
    pace = request.pace
    upload = request.body
    secrets = request.secrets
    errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
    try configure(request)
  }

  /// The part of a URL before its path: what a connection is made to.
  static func server(of url: String) -> String {
    // Found in the UTF-8 bytes, not by Foundation: this runs for every request.
    guard let start = url.utf8.firstRange(of: "://".utf8) else { return url }
    let rest = url[start.upperBound...]
    let authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
    let host = authority.split(separator: "@", omittingEmptySubsequences: false).last ?? ""
    return url[..<start.upperBound] + host.lowercased()
  }

  deinit {
    curl_easy_cleanup(handle)
    for list in slists { curl_slist_free_all(list) }
    errorBuffer.deallocate()
  }

  private func check(_ code: CURLcode, _ what: String) throws {
    guard code == CURLE_OK else { throw CurlError.setup("\(what): \(String(cString: curl_easy_strerror(code)))") }
  }

  private func list(_ items: [String]) -> UnsafeMutablePointer<curl_slist>? {
    var list: UnsafeMutablePointer<curl_slist>?
    for item in items { list = curl_slist_append(list, item) }
    if let list { slists.append(list) }
    return list
  }

  private func configure(_ request: CurlRequest) throws {
    let me = Unmanaged.passUnretained(self).toOpaque()
    try check(nv_easy_setopt_string(handle, CURLOPT_URL, request.url), "url")
    try check(nv_easy_setopt_long(handle, CURLOPT_NOSIGNAL, 1), "nosignal")
    try check(nv_easy_setopt_pointer(handle, CURLOPT_ERRORBUFFER, errorBuffer), "errorbuffer")
    try check(nv_easy_setopt_long(handle, CURLOPT_TIMEOUT_MS, Int(request.timeout * 1000)), "timeout")
    try check(nv_easy_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, Int(request.connectTimeout * 1000)), "connect")
    try check(nv_easy_setopt_callback(handle, CURLOPT_WRITEFUNCTION, Transfer.write), "write")
    try check(nv_easy_setopt_pointer(handle, CURLOPT_WRITEDATA, me), "writedata")
    try check(nv_easy_setopt_callback(handle, CURLOPT_HEADERFUNCTION, Transfer.header), "header")
    try check(nv_easy_setopt_pointer(handle, CURLOPT_HEADERDATA, me), "headerdata")
    if let caFile = request.caFile { try check(nv_easy_setopt_string(handle, CURLOPT_CAINFO, caFile), "cainfo") }
    if request.isSMTP {
      try check(nv_easy_setopt_string(handle, CURLOPT_PROTOCOLS_STR, "smtp,smtps"), "protocols")
      try check(nv_easy_setopt_long(handle, CURLOPT_UPLOAD, 1), "upload")
      try check(nv_easy_setopt_off_t(handle, CURLOPT_INFILESIZE_LARGE, curl_off_t(upload.count)), "size")
      try check(nv_easy_setopt_callback(handle, CURLOPT_READFUNCTION, Transfer.read), "read")
      try check(nv_easy_setopt_pointer(handle, CURLOPT_READDATA, me), "readdata")
      if let from = request.mailFrom { try check(nv_easy_setopt_string(handle, CURLOPT_MAIL_FROM, from), "from") }
      try check(nv_easy_setopt_slist(handle, CURLOPT_MAIL_RCPT, list(request.recipients.map { "<\($0)>" })), "rcpt")
      // A refused recipient loses only itself; each RCPT's reply is paired with its address.
      try check(nv_easy_setopt_rcpt_allowfails(handle), "rcpt allowfails")
      try check(nv_easy_setopt_debug(handle, Transfer.debug, me), "debug")
      let tls: curl_usessl
      switch request.tls {
      case .none: tls = CURLUSESSL_NONE
      case .opportunistic: tls = CURLUSESSL_TRY
      case .required: tls = CURLUSESSL_ALL
      }
      try check(nv_easy_setopt_long(handle, CURLOPT_USE_SSL, Int(tls.rawValue)), "use_ssl")
      if let username = request.username {
        try check(nv_easy_setopt_string(handle, CURLOPT_USERNAME, username), "username")
      }
      if let password = request.password {
        try check(nv_easy_setopt_string(handle, CURLOPT_PASSWORD, password), "password")
      }
    } else {
      try check(nv_easy_setopt_string(handle, CURLOPT_PROTOCOLS_STR, "http,https"), "protocols")
      try check(nv_easy_setopt_string(handle, CURLOPT_REDIR_PROTOCOLS_STR, "http,https"), "redir protocols")
      try check(nv_easy_setopt_long(handle, CURLOPT_POST, 1), "post")
      try check(nv_easy_setopt_off_t(handle, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(upload.count)), "size")
      // Never a null pointer, even for an empty body: with none, libcurl reads the body through
      // its default read function, which is fread on the process's standard input.
      var body = upload.isEmpty ? [0] : upload
      try body.withUnsafeMutableBytes { bytes throws in
        try check(nv_easy_setopt_pointer(handle, CURLOPT_COPYPOSTFIELDS, bytes.baseAddress), "body")
      }
      // No "Expect: 100-continue" round trip for small bodies.
      try check(nv_easy_setopt_slist(handle, CURLOPT_HTTPHEADER, list(request.headers + ["Expect:"])), "headers")
      if request.maxRedirects > 0 {
        try check(nv_easy_setopt_long(handle, CURLOPT_FOLLOWLOCATION, 1), "follow")
        try check(
          nv_easy_setopt_long(handle, CURLOPT_MAXREDIRS, min(request.maxRedirects, CurlClient.maximumRedirects)),
          "maxredirs")
        // Keep POST a POST across 301, 302 and 303.
        try check(
          nv_easy_setopt_long(handle, CURLOPT_POSTREDIR, 7 /* CURL_REDIR_POST_ALL, a macro Swift cannot import */),
          "postredir")
      }
    }
  }

  func response(result: CURLcode) -> CurlResponse {
    var code = 0
    _ = nv_easy_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &code)
    var seconds = 0.0
    _ = nv_easy_getinfo_double(handle, CURLINFO_TOTAL_TIME, &seconds)
    let detail = String(cString: errorBuffer)
    let fixed = String(cString: curl_easy_strerror(result))
    var error = result == CURLE_OK ? "" : (detail.isEmpty ? fixed : detail)
    let failure: TransferFailure?
    if headersTooLarge {
      failure = .responseHeadersTooLarge
      error = "response headers over \(CurlClient.maximumHeaderBytes) bytes"
    } else if result == CURLE_SSL_CONNECT_ERROR && lastReply == nil && Transfer.isPlainTextAnswer(error) {
      failure = .notTLS
    } else {
      failure = Transfer.classify(result)
    }
    // libcurl's message may name the URL it was given, or repeat what a server said.
    error = secrets.cleared(SafeURL.inText(error)) ?? fixed
    return CurlResponse(
      code: code, headers: headers, body: received, failure: failure, recipientReplies: recipientReplies,
      lastReply: lastReply, error: error, seconds: seconds)
  }

  /// What a TLS library says when the first bytes it reads are not a TLS record: a plain-text
  /// greeting (`220 …`) or answer (`HTTP/1.1 400 …`). OpenSSL before and from 3.2, GnuTLS.
  static func isPlainTextAnswer(_ error: String) -> Bool {
    ["wrong version number", "record layer failure", "packet length too long", "unexpected TLS packet"]
      .contains { error.localizedCaseInsensitiveContains($0) }
  }

  static func classify(_ result: CURLcode) -> TransferFailure? {
    switch result {
    case CURLE_OK: return nil
    case CURLE_OPERATION_TIMEDOUT: return .timedOut
    case CURLE_COULDNT_CONNECT, CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY: return .couldNotConnect
    case CURLE_LOGIN_DENIED: return .loginDenied
    case CURLE_USE_SSL_FAILED: return .tls
    case CURLE_PEER_FAILED_VERIFICATION: return .certificateNotVerified
    case CURLE_TOO_MANY_REDIRECTS: return .tooManyRedirects
    case CURLE_UNSUPPORTED_PROTOCOL, CURLE_URL_MALFORMAT: return .badURL
    default: return .other
    }
  }

  func finish(_ outcome: Result<CurlResponse, any Error>) {
    guard !finished, let continuation else { return }
    finished = true
    self.continuation = nil
    continuation.resume(with: outcome)
  }

  private static let write: nv_data_callback = { buffer, size, count, userdata in
    guard let buffer, let userdata else { return 0 }
    let transfer = Unmanaged<Transfer>.fromOpaque(userdata).takeUnretainedValue()
    let length = size * count
    // A receiver that answers with megabytes is not a webhook receiver: keep the first 64 KiB.
    if transfer.received.count < 65_536 {
      buffer.withMemoryRebound(to: UInt8.self, capacity: length) {
        transfer.received.append(contentsOf: UnsafeBufferPointer(start: $0, count: min(length, 65_536)))
      }
    }
    return length
  }

  private static let header: nv_data_callback = { buffer, size, count, userdata in
    guard let buffer, let userdata else { return 0 }
    let transfer = Unmanaged<Transfer>.fromOpaque(userdata).takeUnretainedValue()
    let length = size * count
    // Headers without end are a broken or hostile server: stop reading them (libcurl then ends
    // the transfer) and say so, rather than wait for libcurl's own much larger limit.
    transfer.headerBytes += length
    if transfer.headerBytes > CurlClient.maximumHeaderBytes {
      transfer.headersTooLarge = true
      return 0
    }
    let line = buffer.withMemoryRebound(to: UInt8.self, capacity: length) {
      String(decoding: UnsafeBufferPointer(start: $0, count: length), as: UTF8.self)
    }
    if line.hasPrefix("HTTP/") {
      transfer.headers = [:]
    } else if let colon = line.firstIndex(of: ":") {
      let name = line[..<colon].lowercased()
      let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespacesAndNewlines)
      transfer.headers[name] = value
    }
    return length
  }

  private static let debug: nv_debug_callback = { _, type, data, size, userdata in
    // Only the conversation's lines are read: the message itself (data out) and libcurl's own
    // remarks go past untouched, a message's body being most of the bytes this is called with.
    guard let data, let userdata, type == CURLINFO_HEADER_OUT || type == CURLINFO_HEADER_IN else { return 0 }
    let transfer = Unmanaged<Transfer>.fromOpaque(userdata).takeUnretainedValue()
    let text = data.withMemoryRebound(to: UInt8.self, capacity: size) {
      String(decoding: UnsafeBufferPointer(start: $0, count: size), as: UTF8.self)
    }
    let line = text.trimmingCharacters(in: .whitespacesAndNewlines)
    switch type {
    case CURLINFO_HEADER_OUT:
      if line.uppercased().hasPrefix("AUTH ") { transfer.authenticating = true }
      if line.uppercased().hasPrefix("RCPT TO:"), let open = line.firstIndex(of: "<"),
        let close = line.lastIndex(of: ">"), open < close
      {
        transfer.awaitingReply = String(line[line.index(after: open)..<close])
      }
    case CURLINFO_HEADER_IN:
      // A reply's last line has a space after its code; earlier lines of it have a dash.
      let bytes = Array(line.utf8)
      guard bytes.count >= 4, bytes[3] == UInt8(ascii: " ") || bytes.count == 3 else { return 0 }
      let code = String(line.prefix(3))
      let reply: String
      if transfer.authenticating {
        // The login's replies may echo what was sent (a challenge's answer, the credentials
        // themselves): only their code is kept, and a code other than 334 ends the login.
        reply = code + " (a reply to the login: its text is not kept)"
        transfer.authenticating = code == "334"
      } else {
        reply = transfer.secrets.cleared(line) ?? code + " (its text is withheld: it repeats a secret of the request)"
      }
      transfer.lastReply = reply
      if let recipient = transfer.awaitingReply {
        transfer.recipientReplies[recipient] = reply
        transfer.awaitingReply = nil
      }
    default:
      break
    }
    return 0
  }

  private static let read: nv_data_callback = { buffer, size, count, userdata in
    guard let buffer, let userdata else { return 0 }
    let transfer = Unmanaged<Transfer>.fromOpaque(userdata).takeUnretainedValue()
    let length = min(size * count, transfer.upload.count - transfer.uploadOffset)
    guard length > 0 else { return 0 }
    transfer.upload.withUnsafeBytes { bytes in
      UnsafeMutableRawPointer(buffer).copyMemory(
        from: bytes.baseAddress! + transfer.uploadOffset, byteCount: length)
    }
    transfer.uploadOffset += length
    return length
  }
}
