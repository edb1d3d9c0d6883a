public import Glibc

/// The client side of the control socket: one request, one response, for the command-line tools.
public enum ControlClient {
  /// The daemon could not be reached or did not answer: the socket is missing, refused, or the
  /// answer never came.
  public struct Unreachable: Error, CustomStringConvertible {
    public let description: String
    /// The socket exists but this user may not open it.
    public let permissionDenied: Bool
  }

  public static func request(
    socket path: String, method: String, target: String, body: [UInt8] = [], timeout seconds: Int = 30
  ) throws(Unreachable) -> (status: Int, body: [UInt8]) {
    let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw Unreachable(description: "socket: \(errorText())", permissionDenied: false) }
    defer { close(fd) }
    guard var address = UnixAddress.make(path) else {
      throw Unreachable(description: "socket path too long: \(path)", permissionDenied: false)
    }
    let connected = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
      }
    }
    guard connected == 0 else {
      let denied = errno == EACCES || errno == EPERM
      throw Unreachable(
        description: "cannot reach the daemon at \(path): \(errorText())", permissionDenied: denied)
    }
    var timeout = timeval(tv_sec: seconds, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
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
    guard let parsed = HTTPResponse.parse(response) else {
      throw Unreachable(description: "no answer from the daemon at \(path)", permissionDenied: false)
    }
    return parsed
  }

  static func errorText() -> String { String(cString: strerror(errno)) }
}

public enum UnixAddress {
  /// A `sockaddr_un` for a path, or for `@name` in the abstract namespace; nil when too long.
  public static func make(_ path: String) -> sockaddr_un? {
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
