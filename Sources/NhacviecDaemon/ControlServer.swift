public import Foundation
public import NhacviecConfig
public import NhacviecControl
import NhacviecCore

/// One request on the control socket, with who sent it.
public struct ControlRequest: Sendable {
  public let http: HTTPRequest
  /// The peer's credentials from SO_PEERCRED: the kernel's word, not the client's.
  public let uid: UInt32
  public let gid: UInt32
  /// The peer's supplementary groups from SO_PEERGROUPS, the kernel's word too: those its
  /// process has, not those /etc/group lists for its user.
  public let groups: [UInt32]
  /// A TCP peer's numeric address (`127.0.0.1`, `::1`), for the desk's login throttling and
  /// its trusted proxy; nil on the Unix socket.
  public let peer: String?

  public init(_ http: HTTPRequest, uid: UInt32, gid: UInt32, groups: [UInt32] = [], peer: String? = nil) {
    self.http = http
    self.uid = uid
    self.gid = gid
    self.groups = groups
    self.peer = peer
  }

  public var method: String { http.method }
  public var path: String { http.path }
  public var query: [String: String] { http.query }
  public var body: [UInt8] { http.body }
}

extension HTTPResponse {
  public static func json<T: Encodable>(_ value: T, status: Int = 200) -> HTTPResponse {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    return HTTPResponse(status: status, body: Array((try? encoder.encode(value)) ?? Data("{}".utf8)) + [0x0a])
  }

  static func error(_ failure: HTTPFailure) -> HTTPResponse {
    .json(ControlAPI.Failure(failure.message), status: failure.status)
  }
}

/// A small HTTP/1.1 server on a Unix socket, one short connection per request (OpenNTPD's
/// control socket with HTTP's framing, so that `curl --unix-socket` works).
///
/// One thread watches every connection with poll(2): it reads requests and writes answers without
/// ever blocking on a client, and gives each request a time limit for the whole request, not per
/// read, so a client that sends a byte every few seconds is cut off like one that sends nothing.
/// Handlers run on threads of their own (never on Swift's cooperative pool), at most
/// `maxHandlers` at once. When `maxConnections` are open, a new caller is served by shedding the
/// connection that has waited longest without completing its request: slow clients lose their
/// place, new ones do not.
public final class ControlServer: Sendable {
  public typealias Handler = @Sendable (ControlRequest) -> HTTPResponse
  /// The key under which a handler's thread is marked in its thread dictionary.
  public static let threadMark = "nhacviec.thread"

  /// Which handlers a request waits for. Each lane has its own threads, so that no kind of
  /// request can keep another waiting: `status` and the health probes answer while every
  /// expensive read is busy, and a writer's request is not queued behind a reader's report.
  public enum Lane: Sendable, CaseIterable {
    /// `status`, `/-/healthy`, `/-/ready`, `/metrics`: cheap, and what monitoring depends on.
    case monitoring
    /// Writes and cheap reads.
    case ordinary
    /// Reads whose cost grows with the journal or the directory (`upcoming`, `report`,
    /// `notices`, …): a peer may have only `heavyPerPeer` in flight, and a waiting one is the
    /// first shed when connections run out.
    case heavy
  }

  public struct Configuration: Sendable {
    public var maxConnections = 128
    /// Handlers running at once, per lane.
    public var maxHandlers: [Lane: Int] = [.monitoring: 8, .ordinary: 16, .heavy: 4]
    /// Heavy requests one peer (one uid) may have running or waiting; more are refused with 429.
    public var heavyPerPeer = 4
    /// The lane of a request, from its head.
    public var lane: @Sendable (HTTPRequest) -> Lane = { _ in .ordinary }
    /// Told of each request refused before any handler saw it: `heavy_in_flight` or `shed`.
    public var refused: @Sendable (String) -> Void = { _ in }
    /// From accept to the last byte of the request.
    public var requestTimeout: TimeInterval = 5
    /// From the answer being ready to its last byte leaving.
    public var responseTimeout: TimeInterval = 10
    public var limits = HTTPRequestParser.Limits()
    /// The answer to a request refused before any handler saw it (malformed, too large, too
    /// slow, shed): the control API's JSON error by default; the desk's is a page.
    public var refusal: @Sendable (HTTPFailure) -> HTTPResponse = { HTTPResponse.error($0) }
    /// The loop thread's name; by default after the endpoint (`nhacviec-control`, `nhacviec-metrics`).
    public var threadName: String?

    public init() {}
  }

  /// Where it listens: the control socket, or a TCP address (the monitoring listener).
  public enum Endpoint: Sendable {
    case unix(String)
    case tcp(ListenAddress)
  }

  let endpoint: Endpoint
  let handler: Handler
  let configuration: Configuration
  /// Ends the loop's poll: handlers write to it when they finish, `stop()` when it is called. It
  /// stays open until the server is gone, since a handler still running when the server stops
  /// writes to it as it ends, and a descriptor closed by then could be someone else's file.
  private let wakeUp = WakeSignal()
  /// The listening socket, once started.
  private let listener = Locked<Int32>(-1)
  /// The device and inode of the socket file this server made.
  private let created = Locked<(dev_t, ino_t)?>(nil)
  private struct State {
    var stopped = false
    /// Answers ready, by the connection's descriptor: the loop owns the connections.
    var finished: [(Int32, HTTPResponse)] = []
    var waiting: [Lane: [(Int32, ControlRequest)]] = [:]
    var handling: [Lane: Int] = [:]
    /// Heavy requests running or waiting, by peer uid.
    var heavy: [UInt32: Int] = [:]
  }
  private let state = Locked(State())
  private let loopEnded = DispatchSemaphore(value: 0)

  public convenience init(path: String, configuration: Configuration = Configuration(), handler: @escaping Handler) {
    self.init(endpoint: .unix(path), configuration: configuration, handler: handler)
  }

  /// A TCP listener has no peer credentials: its requests carry uid and gid `UInt32.max`, and
  /// its handler must not route to anything that needs them.
  public init(endpoint: Endpoint, configuration: Configuration = Configuration(), handler: @escaping Handler) {
    self.endpoint = endpoint
    self.handler = handler
    self.configuration = configuration
  }

  private var isTCP: Bool {
    if case .tcp = endpoint { return true }
    return false
  }

  public struct Failure: Error, CustomStringConvertible {
    public let description: String
  }

  /// Binds the socket (for a Unix one, with mode 0660, a stale file from a crash removed first)
  /// and starts serving.
  public func start() throws {
    let fd: Int32
    switch endpoint {
    case .unix(let path): fd = try bindUnix(path)
    case .tcp(let address): fd = try bindTCP(address)
    }
    listener.withLock { $0 = fd }
    let thread = Thread { [self] in
      loop(listener: fd)
      loopEnded.signal()
    }
    thread.name = configuration.threadName ?? (isTCP ? "nhacviec-metrics" : "nhacviec-control")
    thread.start()
  }

  private func bindTCP(_ address: ListenAddress) throws -> Int32 {
    let family = address.isIPv6 ? AF_INET6 : AF_INET
    let fd = socket(
      family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else { throw Failure(description: "socket: \(String(cString: strerror(errno)))") }
    var one: Int32 = 1
    // A restart must not wait for the previous process's connections in TIME_WAIT.
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
    let bound: Int32
    if address.isIPv6 {
      var socketAddress = sockaddr_in6()
      socketAddress.sin6_family = sa_family_t(AF_INET6)
      socketAddress.sin6_port = address.port.bigEndian
      _ = inet_pton(AF_INET6, address.host, &socketAddress.sin6_addr)
      bound = withUnsafePointer(to: &socketAddress) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
          bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size))
        }
      }
    } else {
      var socketAddress = sockaddr_in()
      socketAddress.sin_family = sa_family_t(AF_INET)
      socketAddress.sin_port = address.port.bigEndian
      _ = inet_pton(AF_INET, address.host, &socketAddress.sin_addr)
      bound = withUnsafePointer(to: &socketAddress) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
      }
    }
    guard bound == 0 else {
      let reason = String(cString: strerror(errno))
      close(fd)
      throw Failure(description: "cannot listen on \(address): \(reason)")
    }
    guard listen(fd, 256) == 0 else {
      close(fd)
      throw Failure(description: "listen: \(String(cString: strerror(errno)))")
    }
    return fd
  }

  private func bindUnix(_ path: String) throws -> Int32 {
    let directory = (path as NSString).deletingLastPathComponent
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    guard var address = UnixAddress.make(path) else { throw Failure(description: "socket path too long: \(path)") }
    // Only a socket is removed: a typo must not delete someone's file; and only a dead one: a
    // socket that answers is another daemon's (with a state folder of its own, since the state
    // folder's lock stops a second on the same one), which would be left running unreachable.
    var info = stat()
    if lstat(path, &info) == 0 {
      guard (info.st_mode & S_IFMT) == S_IFSOCK else {
        throw Failure(description: "\(path) exists and is not a socket")
      }
      if ControlServer.answers(address) {
        throw Failure(
          description:
            "another process is serving \(path) (another nhacviec with its own state folder?); stop it, or give this daemon a socket of its own (daemon.socket or --socket)"
        )
      }
      unlink(path)
    }
    let fd = socket(
      AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else { throw Failure(description: "socket: \(String(cString: strerror(errno)))") }
    let previous = umask(0o117)
    let bound = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
    }
    umask(previous)
    guard bound == 0 else {
      let reason = String(cString: strerror(errno))
      close(fd)
      throw Failure(description: "cannot bind \(path): \(reason)")
    }
    chmod(path, 0o660)
    if lstat(path, &info) == 0 { created.withLock { $0 = (info.st_dev, info.st_ino) } }
    guard listen(fd, 256) == 0 else {
      close(fd)
      throw Failure(description: "listen: \(String(cString: strerror(errno)))")
    }
    return fd
  }

  /// Stops serving, closes every connection and removes the socket file (of a Unix socket).
  public func stop() {
    let first = state.withLock { state -> Bool in
      defer { state.stopped = true }
      return !state.stopped
    }
    guard first, listener.withLock({ $0 }) >= 0 else { return }
    wakeUp.raise()
    _ = loopEnded.wait(timeout: .now() + 5)
    if case .unix(let path) = endpoint {
      // Only the file this server made: one put there since is someone else's to remove.
      var info = stat()
      if lstat(path, &info) == 0, let (device, inode) = created.withLock({ $0 }), info.st_dev == device,
        info.st_ino == inode
      {
        unlink(path)
      }
    }
  }

  /// Whether something accepts connections on a Unix socket's address now.
  static func answers(_ address: sockaddr_un) -> Bool {
    let probe = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard probe >= 0 else { return false }
    defer { Glibc.close(probe) }
    var address = address
    return withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        connect(probe, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) == 0
      }
    }
  }

  // MARK: - The loop

  /// Touched only by the loop's thread; a handler's thread knows it by its descriptor.
  final class Connection {
    enum State {
      case reading(HTTPRequestParser.Incremental)
      case handling
      case writing([UInt8], Int)
    }

    let fd: Int32
    /// The peer's process, user and groups, from the kernel.
    let pid: Int32
    let uid: UInt32
    let gid: UInt32
    let groups: [UInt32]
    let peer: String?
    let accepted: Double
    var state: State
    var deadline: Double

    init(
      fd: Int32, pid: Int32, uid: UInt32, gid: UInt32, groups: [UInt32], peer: String?, accepted: Double,
      deadline: Double, limits: HTTPRequestParser.Limits
    ) {
      self.state = .reading(HTTPRequestParser.Incremental(limits: limits))
      self.fd = fd
      self.pid = pid
      self.uid = uid
      self.gid = gid
      self.groups = groups
      self.peer = peer
      self.accepted = accepted
      self.deadline = deadline
    }
  }

  private func loop(listener: Int32) {
    var connections: [Int32: Connection] = [:]
    var chunk = [UInt8](repeating: 0, count: 16_384)
    // Held to be given up when descriptors run out, so that a caller can still be answered.
    var spare = open("/dev/null", O_RDONLY | O_CLOEXEC)
    func close(_ connection: Connection) {
      connections[connection.fd] = nil
      Glibc.close(connection.fd)
    }
    func answer(_ connection: Connection, _ response: HTTPResponse) {
      connection.state = .writing(response.bytes, 0)
      connection.deadline = monotonicSeconds() + configuration.responseTimeout
      flush(connection)
    }
    // Writes what the socket takes now; closes once all is out or the client is gone.
    func flush(_ connection: Connection) {
      guard case .writing(let bytes, var offset) = connection.state else { return }
      while offset < bytes.count {
        let written = bytes[offset...].withUnsafeBytes {
          send(connection.fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT))
        }
        if written > 0 {
          offset += written
        } else if written < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
          connection.state = .writing(bytes, offset)
          return
        } else if written < 0 && errno == EINTR {
          continue
        } else {
          break
        }
      }
      close(connection)
    }
    func receive(_ connection: Connection) {
      guard case .reading(var parser) = connection.state else { return }
      // The parser is taken out while it reads, so that its bytes have one owner and are not
      // copied at each read.
      connection.state = .handling
      while true {
        let count = read(connection.fd, &chunk, chunk.count)
        if count > 0 {
          switch parser.feed(chunk[0..<count]) {
          case .incomplete:
            continue
          case .failure(let failure):
            answer(connection, configuration.refusal(failure).answering(parser.method))
          case .complete(let request):
            connection.state = .handling
            let request = ControlRequest(
              request, uid: connection.uid, gid: connection.gid, groups: connection.groups, peer: connection.peer)
            if case .refused(let response) = dispatch(connection.fd, request) { answer(connection, response) }
          }
          return
        } else if count < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
          connection.state = .reading(parser)
          return
        } else if count < 0 && errno == EINTR {
          continue
        } else {
          // The client closed or broke before its request was whole: nobody to answer.
          close(connection)
          return
        }
      }
    }
    /// Makes room for one more. First an expensive read that has not started; then a connection
    /// still sending its request, taken from the peer holding the most connections (by user, then
    /// by process), its longest-waiting first, so that a flood from one client sheds that
    /// client's connections and not a newcomer's; then one whose client is slowest to take its
    /// answer. False when every connection is being handled.
    func shed() -> Bool {
      if let victim = connections.values.filter({ if case .handling = $0.state { true } else { false } })
        .sorted(by: { $0.accepted < $1.accepted }).first(where: { withdraw($0.fd) })
      {
        configuration.refused("shed")
        _ = configuration.refusal(HTTPFailure(503, "too many connections; expensive reads are shed first")).bytes
          .withUnsafeBytes { send(victim.fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT)) }
        close(victim)
        return true
      }
      let reading = connections.values.filter { if case .reading = $0.state { true } else { false } }
      var byUser: [UInt32: Int] = [:]
      var byProcess: [Int32: Int] = [:]
      for connection in reading {
        byUser[connection.uid, default: 0] += 1
        byProcess[connection.pid, default: 0] += 1
      }
      let slowest = reading.min { a, b in
        (byUser[a.uid]!, byProcess[a.pid]!, -a.accepted) > (byUser[b.uid]!, byProcess[b.pid]!, -b.accepted)
      }
      if let victim = slowest, case .reading(let parser) = victim.state {
        // Told why, in case it is a client that was only slow and is still listening.
        configuration.refused("shed")
        _ = configuration.refusal(HTTPFailure(503, "too many connections; yours was the slowest"))
          .answering(parser.method).bytes
          .withUnsafeBytes { send(victim.fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT)) }
        close(victim)
        return true
      }
      let writing = connections.values.filter { if case .writing = $0.state { true } else { false } }
      guard let victim = writing.min(by: { $0.accepted < $1.accepted }) else { return false }
      close(victim)
      return true
    }
    func refuseWithSpare() {
      guard spare >= 0 else { return }
      Glibc.close(spare)
      let fd = accept(listener, nil, nil)
      if fd >= 0 {
        _ = configuration.refusal(HTTPFailure(503, "busy: the daemon has no descriptor to spare; try again"))
          .bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT)) }
        Glibc.close(fd)
      }
      spare = open("/dev/null", O_RDONLY | O_CLOEXEC)
    }
    func acceptAll() {
      while true {
        var peerAddress = sockaddr_storage()
        var peerLength = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let fd = withUnsafeMutablePointer(to: &peerAddress) {
          $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { accept(listener, $0, &peerLength) }
        }
        if fd < 0 {
          if errno == EINTR || errno == ECONNABORTED { continue }
          if errno == EMFILE || errno == ENFILE {
            // Out of descriptors, the caller stays in the backlog and poll reports it again at
            // once: the loop would spin. Make room by shedding, as for too many connections;
            // with nothing to shed, the spare descriptor lets the caller in to be told so.
            if shed() { continue }
            refuseWithSpare()
          }
          return
        }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        var credentials = PeerCredentials(pid: 0, uid: .max, gid: .max)
        var length = socklen_t(MemoryLayout<PeerCredentials>.size)
        guard isTCP || getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &length) == 0 else {
          Glibc.close(fd)
          continue
        }
        if connections.count >= configuration.maxConnections && !shed() {
          _ = configuration.refusal(HTTPFailure(503, "busy: every connection is being answered; try again"))
            .bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT)) }
          Glibc.close(fd)
          continue
        }
        let now = monotonicSeconds()
        connections[fd] = Connection(
          fd: fd, pid: credentials.pid, uid: credentials.uid, gid: credentials.gid,
          groups: isTCP ? [] : ControlServer.peerGroups(fd),
          peer: isTCP ? ControlServer.numeric(peerAddress) : nil, accepted: now,
          deadline: now + configuration.requestTimeout,
          limits: configuration.limits)
      }
    }

    while !state.withLock({ $0.stopped }) {
      var fds = [
        pollfd(fd: listener, events: Int16(POLLIN), revents: 0),
        pollfd(fd: wakeUp.descriptor, events: Int16(POLLIN), revents: 0),
      ]
      var nearest = Double.infinity
      for connection in connections.values {
        switch connection.state {
        case .reading:
          fds.append(pollfd(fd: connection.fd, events: Int16(POLLIN), revents: 0))
          nearest = min(nearest, connection.deadline)
        case .writing:
          fds.append(pollfd(fd: connection.fd, events: Int16(POLLOUT), revents: 0))
          nearest = min(nearest, connection.deadline)
        case .handling:
          continue
        }
      }
      let wait = nearest.isFinite ? Int32(max(0, min(60_000, (nearest - monotonicSeconds()) * 1000 + 1))) : -1
      let ready = poll(&fds, nfds_t(fds.count), wait)
      if ready < 0 && errno != EINTR { usleep(10_000) }
      if fds[1].revents != 0 { wakeUp.wait(untilReal: .distantPast) }
      for (fd, response) in state.withLock({ state -> [(Int32, HTTPResponse)] in
        defer { state.finished = [] }
        return state.finished
      }) {
        // Kept open while its handler runs: the descriptor is still this connection's.
        if let connection = connections[fd] { answer(connection, response) }
      }
      for entry in fds.dropFirst(2) where entry.revents != 0 {
        guard let connection = connections[entry.fd] else { continue }
        switch connection.state {
        case .reading: receive(connection)
        case .writing: flush(connection)
        case .handling: continue
        }
      }
      if fds[0].revents != 0 { acceptAll() }
      let now = monotonicSeconds()
      for connection in connections.values where connection.deadline <= now {
        switch connection.state {
        case .reading(let parser):
          answer(
            connection,
            configuration.refusal(
              HTTPFailure(408, "the request took longer than \(Int(configuration.requestTimeout)) s")
            )
            .answering(parser.method))
        case .writing: close(connection)
        case .handling: continue
        }
      }
    }
    // A connection whose handler still runs is closed too: its answer has nowhere to go.
    for connection in connections.values { Glibc.close(connection.fd) }
    if spare >= 0 { Glibc.close(spare) }
    Glibc.close(listener)
  }

  // MARK: - Handlers

  /// What became of a request handed to the handlers.
  private enum Dispatched {
    case running, waiting
    /// Refused at once, with this answer.
    case refused(HTTPResponse)
  }

  private func dispatch(_ connection: Int32, _ request: ControlRequest) -> Dispatched {
    let lane = configuration.lane(request.http)
    let outcome = state.withLock { state -> Dispatched in
      if lane == .heavy {
        let inFlight = state.heavy[request.uid, default: 0]
        guard inFlight < configuration.heavyPerPeer else {
          configuration.refused("heavy_in_flight")
          return .refused(
            .error(
              HTTPFailure(
                429,
                "uid \(request.uid) has \(inFlight) expensive reads in flight already; wait for one to finish")))
        }
        state.heavy[request.uid] = inFlight + 1
      }
      guard state.handling[lane, default: 0] < configuration.maxHandlers[lane, default: 1] else {
        state.waiting[lane, default: []].append((connection, request))
        return .waiting
      }
      state.handling[lane, default: 0] += 1
      return .running
    }
    if case .running = outcome { run(connection, request, lane: lane) }
    return outcome
  }

  /// Takes back a heavy request that has not started, to shed it; false when it has started.
  private func withdraw(_ connection: Int32) -> Bool {
    state.withLock { state in
      guard let index = state.waiting[.heavy]?.firstIndex(where: { $0.0 == connection }) else { return false }
      let request = state.waiting[.heavy]!.remove(at: index).1
      state.heavy[request.uid, default: 1] -= 1
      if state.heavy[request.uid] == 0 { state.heavy[request.uid] = nil }
      return true
    }
  }

  private func run(_ connection: Int32, _ request: ControlRequest, lane: Lane) {
    let thread = Thread { [self] in
      // A mark of whose thread this is (Foundation on Linux does not pass names to the system).
      Thread.current.threadDictionary[ControlServer.threadMark] = "request"
      let response = handler(request).answering(request.method)
      let next = state.withLock { state -> (Int32, ControlRequest)? in
        state.finished.append((connection, response))
        if lane == .heavy {
          state.heavy[request.uid, default: 1] -= 1
          if state.heavy[request.uid] == 0 { state.heavy[request.uid] = nil }
        }
        guard let waiting = state.waiting[lane], !waiting.isEmpty else {
          state.handling[lane, default: 1] -= 1
          return nil
        }
        return state.waiting[lane]!.removeFirst()
      }
      wakeUp.raise()
      if let next { run(next.0, next.1, lane: lane) }
    }
    thread.name = "nhacviec-request"
    thread.start()
  }
}

extension ControlServer {
  /// An IPv4 or IPv6 peer's address as text; an IPv4 peer on a dual-stack socket reads as IPv4.
  static func numeric(_ address: sockaddr_storage) -> String? {
    var address = address
    var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
    let family = Int32(address.ss_family)
    let written: UnsafePointer<CChar>? = withUnsafePointer(to: &address) { pointer in
      if family == AF_INET {
        return pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { v4 in
          var bytes = v4.pointee.sin_addr
          return inet_ntop(AF_INET, &bytes, &text, socklen_t(text.count))
        }
      }
      guard family == AF_INET6 else { return nil }
      return pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { v6 in
        var bytes = v6.pointee.sin6_addr
        return inet_ntop(AF_INET6, &bytes, &text, socklen_t(text.count))
      }
    }
    guard written != nil else { return nil }
    let result = String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    return result.hasPrefix("::ffff:") && result.contains(".") ? String(result.dropFirst(7)) : result
  }

  /// `SO_PEERGROUPS` (Linux 4.13), which Glibc's module does not export.
  static let peerGroupsOption: Int32 = 59

  /// The supplementary groups of the process at the other end of a Unix socket, as the kernel
  /// recorded them when it connected; none when the kernel cannot say.
  static func peerGroups(_ fd: Int32) -> [UInt32] {
    var groups = [gid_t](repeating: 0, count: 64)
    var length = socklen_t(groups.count * MemoryLayout<gid_t>.size)
    if getsockopt(fd, SOL_SOCKET, peerGroupsOption, &groups, &length) != 0 {
      // More than 64: the kernel said how many bytes it needs.
      guard errno == ERANGE, length > 0 else { return [] }
      groups = [gid_t](repeating: 0, count: Int(length) / MemoryLayout<gid_t>.size)
      guard getsockopt(fd, SOL_SOCKET, peerGroupsOption, &groups, &length) == 0 else { return [] }
    }
    return Array(groups.prefix(Int(length) / MemoryLayout<gid_t>.size))
  }
}

/// `struct ucred` (pid, uid, gid), which Glibc exports only under _GNU_SOURCE.
private struct PeerCredentials {
  var pid: Int32 = 0
  var uid: UInt32 = 0
  var gid: UInt32 = 0
}
