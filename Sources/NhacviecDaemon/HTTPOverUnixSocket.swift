import Foundation

/// One request on the control socket, with who sent it.
public struct ControlRequest: Sendable {
  public let method: String
  public let path: String
  public let query: [String: String]
  public let body: [UInt8]
  /// The peer's credentials from SO_PEERCRED: the kernel's word, not the client's.
  public let uid: UInt32
  public let gid: UInt32
}

public struct ControlResponse: Sendable {
  public let status: Int
  public let body: [UInt8]
  public let contentType: String

  public init(status: Int, body: [UInt8], contentType: String = "application/json; charset=utf-8") {
    self.status = status
    self.body = body
    self.contentType = contentType
  }

  public static func json<T: Encodable>(_ value: T, status: Int = 200) -> ControlResponse {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    return ControlResponse(status: status, body: Array((try? encoder.encode(value)) ?? Data("{}".utf8)) + [0x0a])
  }
}

/// A small HTTP/1.1 server on a Unix socket, one short connection per request (OpenNTPD's
/// control socket with HTTP's framing, so that `curl --unix-socket` works).
///
/// Each connection is read on a thread of its own with a time limit and a size bound, so one
/// slow or hostile client cannot stop it; at most `maxConnections` are served at once and the
/// rest wait in the listen backlog.
public final class ControlServer: @unchecked Sendable {
  public typealias Handler = @Sendable (ControlRequest) async -> ControlResponse

  let path: String
  let handler: Handler
  let maxConnections: Int
  let maxRequestBytes = 65_536
  private var listener: Int32 = -1
  private let slots: DispatchSemaphore
  private let lock = NSLock()
  private var stopped = false

  public init(path: String, maxConnections: Int = 128, handler: @escaping Handler) {
    self.path = path
    self.handler = handler
    self.maxConnections = maxConnections
    slots = DispatchSemaphore(value: maxConnections)
  }

  public struct Failure: Error, CustomStringConvertible {
    public let description: String
  }

  /// Binds the socket with mode 0660 (a stale file from a crash is removed first) and starts
  /// accepting.
  public func start() throws {
    let directory = (path as NSString).deletingLastPathComponent
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    guard var address = UnixAddress.make(path) else { throw Failure(description: "socket path too long: \(path)") }
    // Only a socket is removed: a typo must not delete someone's file.
    var info = stat()
    if lstat(path, &info) == 0 {
      guard (info.st_mode & S_IFMT) == S_IFSOCK else {
        throw Failure(description: "\(path) exists and is not a socket")
      }
      unlink(path)
    }
    let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw Failure(description: "socket: \(String(cString: strerror(errno)))") }
    _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
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
    guard listen(fd, 256) == 0 else {
      close(fd)
      throw Failure(description: "listen: \(String(cString: strerror(errno)))")
    }
    listener = fd
    let thread = Thread { [self] in acceptLoop(fd) }
    thread.name = "nhacviec-control"
    thread.start()
  }

  /// Stops accepting and removes the socket file.
  public func stop() {
    lock.lock()
    let first = !stopped
    stopped = true
    lock.unlock()
    guard first, listener >= 0 else { return }
    shutdown(listener, Int32(SHUT_RDWR))
    close(listener)
    unlink(path)
  }

  private var isStopped: Bool { lock.withLock { stopped } }

  private func acceptLoop(_ fd: Int32) {
    while !isStopped {
      let client = accept(fd, nil, nil)
      if client < 0 {
        if errno == EINTR || errno == ECONNABORTED { continue }
        if isStopped { return }
        usleep(10_000)
        continue
      }
      _ = fcntl(client, F_SETFD, FD_CLOEXEC)
      slots.wait()
      Thread.detachNewThread { [self] in
        serve(client)
        close(client)
        slots.signal()
      }
    }
  }

  private func serve(_ fd: Int32) {
    var timeout = timeval(tv_sec: 5, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    var credentials = PeerCredentials()
    var length = socklen_t(MemoryLayout<PeerCredentials>.size)
    guard getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &length) == 0 else { return }
    let response: ControlResponse
    switch readRequest(fd) {
    case .failure(let error):
      response = .json(["error": error.description], status: error.status)
    case .success(let (method, target, body)):
      let (path, query) = ControlServer.split(target)
      let request = ControlRequest(
        method: method, path: path, query: query, body: body, uid: credentials.uid, gid: credentials.gid)
      response = wait { await self.handler(request) }
    }
    write(response, to: fd)
  }

  /// Runs async work from this plain thread and waits for it: the thread is ours, not the pool's.
  private func wait(_ work: @escaping @Sendable () async -> ControlResponse) -> ControlResponse {
    let done = DispatchSemaphore(value: 0)
    let box = ResponseBox()
    Task {
      box.value = await work()
      done.signal()
    }
    done.wait()
    return box.value ?? .json(["error": "no response"], status: 500)
  }

  struct RequestError: Error, CustomStringConvertible {
    let status: Int
    let description: String
  }

  private func readRequest(_ fd: Int32) -> Result<(String, String, [UInt8]), RequestError> {
    var buffer: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 8192)
    var headerEnd: Int?
    while headerEnd == nil {
      let count = read(fd, &chunk, chunk.count)
      if count <= 0 { return .failure(RequestError(status: 400, description: "incomplete request")) }
      buffer += chunk[0..<count]
      if buffer.count > 16_384 { return .failure(RequestError(status: 431, description: "headers too large")) }
      headerEnd = ControlServer.find([13, 10, 13, 10], in: buffer)
    }
    let head = String(decoding: buffer[0..<headerEnd!], as: UTF8.self)
    var lines = head.components(separatedBy: "\r\n")
    let requestLine = lines.removeFirst().split(separator: " ")
    guard requestLine.count == 3, requestLine[2].hasPrefix("HTTP/1.") else {
      return .failure(RequestError(status: 400, description: "not an HTTP/1.x request"))
    }
    var contentLength = 0
    for line in lines {
      let parts = line.split(separator: ":", maxSplits: 1)
      if parts.count == 2, parts[0].lowercased() == "content-length" {
        guard let length = Int(parts[1].trimmingCharacters(in: .whitespaces)), length >= 0 else {
          return .failure(RequestError(status: 400, description: "bad Content-Length"))
        }
        contentLength = length
      }
      if parts.count == 2, parts[0].lowercased() == "transfer-encoding" {
        return .failure(RequestError(status: 411, description: "send a Content-Length"))
      }
    }
    guard contentLength <= maxRequestBytes else {
      return .failure(RequestError(status: 413, description: "request body over \(maxRequestBytes) bytes"))
    }
    var body = Array(buffer[(headerEnd! + 4)...])
    while body.count < contentLength {
      let count = read(fd, &chunk, min(chunk.count, contentLength - body.count))
      if count <= 0 { return .failure(RequestError(status: 400, description: "incomplete body")) }
      body += chunk[0..<count]
    }
    return .success((String(requestLine[0]), String(requestLine[1]), Array(body.prefix(contentLength))))
  }

  static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
    guard haystack.count >= needle.count else { return nil }
    for i in 0...(haystack.count - needle.count) where haystack[i] == needle[0] {
      if Array(haystack[i..<(i + needle.count)]) == needle { return i }
    }
    return nil
  }

  static func split(_ target: String) -> (String, [String: String]) {
    let parts = target.split(separator: "?", maxSplits: 1)
    var query: [String: String] = [:]
    if parts.count == 2 {
      for pair in parts[1].split(separator: "&") {
        let kv = pair.split(separator: "=", maxSplits: 1)
        let key = String(kv[0]).removingPercentEncoding ?? String(kv[0])
        let value =
          kv.count == 2 ? (String(kv[1]).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? "") : ""
        query[key] = value
      }
    }
    return (String(parts.first ?? ""), query)
  }

  private func write(_ response: ControlResponse, to fd: Int32) {
    let reasons = [
      200: "OK", 201: "Created", 400: "Bad Request", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
      409: "Conflict", 411: "Length Required", 413: "Payload Too Large", 422: "Unprocessable Entity",
      431: "Request Header Fields Too Large", 500: "Internal Server Error", 503: "Service Unavailable",
    ]
    let head =
      "HTTP/1.1 \(response.status) \(reasons[response.status] ?? "Status")\r\n"
      + "Content-Type: \(response.contentType)\r\nContent-Length: \(response.body.count)\r\n"
      + "Connection: close\r\n\r\n"
    let bytes = Array(head.utf8) + response.body
    var offset = 0
    while offset < bytes.count {
      let written = bytes[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
      if written <= 0 { return }
      offset += written
    }
  }
}

private final class ResponseBox: @unchecked Sendable {
  var value: ControlResponse?
}

/// The client side: one request, one response, for the command-line tools.
public enum ControlClient {
  public struct Unreachable: Error, CustomStringConvertible {
    public let description: String
  }

  public static func request(
    socket path: String, method: String, target: String, body: [UInt8] = []
  ) throws
    -> (status: Int, body: [UInt8])
  {
    let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw Unreachable(description: "socket: \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    guard var address = UnixAddress.make(path) else { throw Unreachable(description: "socket path too long: \(path)") }
    let connected = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
      }
    }
    guard connected == 0 else {
      throw Unreachable(description: "cannot reach the daemon at \(path): \(String(cString: strerror(errno)))")
    }
    var timeout = timeval(tv_sec: 30, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    let head =
      "\(method) \(target) HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
      + "Content-Length: \(body.count)\r\nConnection: close\r\n\r\n"
    let bytes = Array(head.utf8) + body
    var offset = 0
    while offset < bytes.count {
      let written = bytes[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
      // The daemon may answer (413) and close before reading a body it refuses: read its answer.
      guard written > 0 else { break }
      offset += written
    }
    var response: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65_536)
    while true {
      let count = read(fd, &chunk, chunk.count)
      if count <= 0 { break }
      response += chunk[0..<count]
    }
    guard let end = ControlServer.find([13, 10, 13, 10], in: response) else {
      throw Unreachable(description: "no answer from the daemon at \(path)")
    }
    let statusLine = String(decoding: response[0..<end], as: UTF8.self).split(separator: "\r\n").first ?? ""
    let status = statusLine.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
    return (status, Array(response[(end + 4)...]))
  }
}

/// `struct ucred` (pid, uid, gid), which Glibc exports only under _GNU_SOURCE.
private struct PeerCredentials {
  var pid: Int32 = 0
  var uid: UInt32 = 0
  var gid: UInt32 = 0
}

enum UnixAddress {
  /// A `sockaddr_un` for a path, or for `@name` in the abstract namespace; nil when too long.
  static func make(_ path: String) -> sockaddr_un? {
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    var bytes = Array(path.utf8)
    if bytes.first == UInt8(ascii: "@") { bytes[0] = 0 }
    guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { return nil }
    withUnsafeMutableBytes(of: &address.sun_path) { buffer in
      for (i, byte) in bytes.enumerated() { buffer[i] = byte }
    }
    return address
  }
}
