/// HTTP/1.1 framing for the control socket: one request per connection, a strict parser, the
/// response's bytes. Pure functions of bytes, so that the server, the client and the fuzzer share
/// them and none of them needs a socket to be tested.
public struct HTTPRequest: Sendable, Hashable {
  public let method: String
  /// The path, as sent (the routes are plain ASCII, so nothing needs decoding).
  public let path: String
  /// The query's parameters, percent-decoded.
  public let query: [String: String]
  /// Header names lower-cased, in the order sent.
  public let headers: [Header]
  public let body: [UInt8]

  public struct Header: Sendable, Hashable {
    public let name: String
    public let value: String

    public init(name: String, value: String) {
      self.name = name
      self.value = value
    }
  }

  public init(method: String, path: String, query: [String: String], headers: [Header] = [], body: [UInt8] = []) {
    self.method = method
    self.path = path
    self.query = query
    self.headers = headers
    self.body = body
  }
}

/// A request refused before routing: its status and why.
public struct HTTPFailure: Error, Sendable, Hashable, CustomStringConvertible {
  public let status: Int
  public let message: String

  public init(_ status: Int, _ message: String) {
    self.status = status
    self.message = message
  }

  public var description: String { "\(status) \(message)" }
}

public enum HTTPRequestParser {
  public struct Limits: Sendable {
    public var headerBytes = 16_384
    public var headerCount = 64
    public var bodyBytes = 65_536

    public init() {}
  }

  public enum Outcome: Sendable, Hashable {
    /// More bytes are needed (and may still come within the limits).
    case incomplete
    case complete(HTTPRequest)
    case failure(HTTPFailure)
  }

  /// Parses the one request at the start of `buffer`: the request line and headers up to the
  /// empty line, then exactly Content-Length bytes of body. Anything HTTP/1.1 does not allow, and
  /// anything ambiguous (two different lengths, a length with a transfer coding), is refused.
  /// The same as feeding `buffer` to an `Incremental` parser in one part, or in any parts.
  public static func parse(_ buffer: [UInt8], limits: Limits = Limits()) -> Outcome {
    var parser = Incremental(limits: limits)
    return parser.feed(buffer[...])
  }

  /// A request read as it arrives, in parts: each byte of the head is looked at once, each line
  /// judged when its CRLF arrives, and the body's bytes are counted, so a read costs what it
  /// brought and not what came before it. The outcome is decided at the first byte that decides
  /// it, so however the bytes are cut into parts, the outcome is the one of the whole.
  public struct Incremental: Sendable {
    public let limits: Limits
    /// The request's method, once its request line has been read (a HEAD's refusal has no body).
    public private(set) var method: String?
    /// The outcome so far: `incomplete` until a byte decides it, then that for good.
    public private(set) var outcome: Outcome = .incomplete

    private enum Stage: Sendable {
      case requestLine
      case headers
      case body(length: Int)
      case done
    }
    private var stage = Stage.requestLine
    /// The head's line being read, without its CRLF.
    private var line: [UInt8] = []
    /// The last byte of the head was a carriage return: the next must be its line feed.
    private var pendingCR = false
    /// Bytes of the head read so far, its CRLFs included.
    private var headBytes = 0
    private var path = ""
    private var query: [String: String] = [:]
    private var headers: [HTTPRequest.Header] = []
    private var contentLength: Int?
    private var body: [UInt8] = []

    public init(limits: Limits = Limits()) {
      self.limits = limits
    }

    /// Reads the next part; bytes after a complete request, or after a refusal, are not looked at.
    @discardableResult
    public mutating func feed(_ bytes: ArraySlice<UInt8>) -> Outcome {
      var index = bytes.startIndex
      while index < bytes.endIndex {
        switch stage {
        case .done:
          return outcome
        case .body(let length):
          let take = min(length - body.count, bytes.endIndex - index)
          body += bytes[index..<(index + take)]
          index += take
          if body.count == length { finish(.complete(request)) }
        case .requestLine, .headers:
          let byte = bytes[index]
          index += 1
          if let failure = step(byte) { finish(.failure(failure)) }
        }
      }
      return outcome
    }

    private var request: HTTPRequest {
      HTTPRequest(method: method ?? "", path: path, query: query, headers: headers, body: body)
    }

    private mutating func finish(_ result: Outcome) {
      outcome = result
      stage = .done
      line = []
    }

    /// One byte of the head; the refusal it decides, if any.
    private mutating func step(_ byte: UInt8) -> HTTPFailure? {
      headBytes += 1
      let endsLine = pendingCR && byte == lf
      // A head may be `headerBytes` long before its blank line (4 bytes with the last line's
      // CRLF): past that, only the line feed that ends the blank line is still allowed.
      if headBytes > limits.headerBytes + 3, !(endsLine && line.isEmpty && isHeaders) {
        return HTTPFailure(431, "request headers too large")
      }
      if pendingCR {
        pendingCR = false
        // A carriage return alone, or a line feed alone, is never valid: said at once.
        guard byte == lf else { return HTTPFailure(400, "lines must end in CRLF") }
        defer { line.removeAll(keepingCapacity: true) }
        return endLine()
      }
      switch byte {
      case cr: pendingCR = true
      case lf: return HTTPFailure(400, "lines must end in CRLF")
      default: line.append(byte)
      }
      return nil
    }

    private var isHeaders: Bool {
      if case .headers = stage { return true }
      return false
    }

    /// A line of the head has arrived whole.
    private mutating func endLine() -> HTTPFailure? {
      switch stage {
      case .requestLine:
        stage = .headers
        return readRequestLine()
      case .headers where line.isEmpty:
        let length = contentLength ?? 0
        guard length <= limits.bodyBytes else { return HTTPFailure(413, "request body over \(limits.bodyBytes) bytes") }
        if length == 0 {
          finish(.complete(request))
        } else {
          stage = .body(length: length)
        }
        return nil
      case .headers:
        return readHeader()
      case .body, .done:
        return nil
      }
    }

    private mutating func readRequestLine() -> HTTPFailure? {
      let parts = line.split(separator: space, omittingEmptySubsequences: false)
      guard parts.count == 3 else { return HTTPFailure(400, "the request line is METHOD TARGET HTTP/1.1") }
      guard !parts[0].isEmpty, parts[0].allSatisfy({ (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains($0) }) else {
        return HTTPFailure(400, "bad method")
      }
      method = String(decoding: parts[0], as: UTF8.self)
      let version = String(decoding: parts[2], as: UTF8.self)
      guard version == "HTTP/1.1" || version == "HTTP/1.0" else {
        return HTTPFailure(version.hasPrefix("HTTP/") ? 505 : 400, "only HTTP/1.0 and HTTP/1.1 are spoken")
      }
      switch parseTarget(parts[1]) {
      case .failure(let failure): return failure
      case .success(let target): (path, query) = target
      }
      return nil
    }

    private mutating func readHeader() -> HTTPFailure? {
      guard headers.count < limits.headerCount else { return HTTPFailure(431, "too many headers") }
      guard let colon = line.firstIndex(of: UInt8(ascii: ":")), colon > line.startIndex else {
        return HTTPFailure(400, "bad header line")
      }
      let name = line[line.startIndex..<colon]
      // No space before the colon, no folded lines: both have been used to smuggle requests.
      guard name.allSatisfy(isTokenByte) else { return HTTPFailure(400, "bad header name") }
      let rawValue = line[(colon + 1)...]
      guard rawValue.allSatisfy({ $0 == tab || ($0 >= space && $0 != 0x7f) }) else {
        return HTTPFailure(400, "control character in a header")
      }
      let header = HTTPRequest.Header(
        name: String(decoding: name, as: UTF8.self).lowercased(),
        value: String(decoding: rawValue, as: UTF8.self).trimmingWhitespace())
      switch header.name {
      case "content-length":
        guard !header.value.isEmpty, header.value.utf8.count <= 12, header.value.utf8.allSatisfy(isDigit),
          let length = Int(header.value)
        else { return HTTPFailure(400, "bad Content-Length") }
        if let previous = contentLength, previous != length {
          return HTTPFailure(400, "two different Content-Length headers")
        }
        contentLength = length
      case "transfer-encoding":
        return HTTPFailure(411, "send a Content-Length, not a Transfer-Encoding")
      default:
        break
      }
      headers.append(header)
      return nil
    }
  }

  /// The index of the CRLF CRLF that ends the head, if it has arrived.
  static func headEnd(_ buffer: [UInt8]) -> Int? {
    guard buffer.count >= 4 else { return nil }
    var i = 0
    while i + 3 < buffer.count {
      if buffer[i] == cr, buffer[i + 1] == lf, buffer[i + 2] == cr, buffer[i + 3] == lf { return i }
      i += 1
    }
    return nil
  }

  /// `/path?key=value&…` in origin form; every parameter once, none without a name, escapes
  /// valid and the result UTF-8.
  static func parseTarget(_ bytes: ArraySlice<UInt8>) -> Result<(String, [String: String]), HTTPFailure> {
    let bad = Result<(String, [String: String]), HTTPFailure>.failure(HTTPFailure(400, "bad request target"))
    guard bytes.first == UInt8(ascii: "/"), bytes.allSatisfy({ $0 > space && $0 < 0x7f }) else { return bad }
    let question = bytes.firstIndex(of: UInt8(ascii: "?"))
    let pathBytes = bytes[bytes.startIndex..<(question ?? bytes.endIndex)]
    guard !pathBytes.contains(UInt8(ascii: "#")) else { return bad }
    let path = String(decoding: pathBytes, as: UTF8.self)
    var query: [String: String] = [:]
    if let question {
      let raw = bytes[(question + 1)...]
      guard !raw.contains(UInt8(ascii: "#")) else { return bad }
      for pair in raw.split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: true) {
        let equals = pair.firstIndex(of: UInt8(ascii: "="))
        guard let key = decode(pair[pair.startIndex..<(equals ?? pair.endIndex)]),
          let value = equals.map({ decode(pair[($0 + 1)...]) }) ?? ""
        else { return .failure(HTTPFailure(400, "bad percent-encoding in the query")) }
        guard !key.isEmpty else { return .failure(HTTPFailure(400, "a query parameter without a name")) }
        guard query[key] == nil else { return .failure(HTTPFailure(400, "query parameter \(key) given twice")) }
        query[key] = value
      }
    }
    return .success((path, query))
  }

  /// application/x-www-form-urlencoded: `+` is a space, `%XX` a byte; nil for a broken escape or
  /// bytes that are not UTF-8. A query string's and the desk's forms' one decoder.
  public static func decode(_ bytes: ArraySlice<UInt8>) -> String? {
    var out: [UInt8] = []
    out.reserveCapacity(bytes.count)
    var i = bytes.startIndex
    while i < bytes.endIndex {
      let byte = bytes[i]
      if byte == UInt8(ascii: "%") {
        guard i + 2 < bytes.endIndex, let high = hex(bytes[i + 1]), let low = hex(bytes[i + 2]) else { return nil }
        out.append(high << 4 | low)
        i += 3
      } else {
        out.append(byte == UInt8(ascii: "+") ? space : byte)
        i += 1
      }
    }
    return String(validating: out, as: UTF8.self)
  }

  /// A path segment's percent escapes decoded (`+` stays a plus); nil when broken or not UTF-8.
  public static func decodePath(_ text: String) -> String? {
    decode(text.utf8.flatMap { $0 == UInt8(ascii: "+") ? Array("%2B".utf8) : [$0] }[...])
  }

  static func hex(_ byte: UInt8) -> UInt8? {
    switch byte {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
    default: return nil
    }
  }

  static func isTokenByte(_ byte: UInt8) -> Bool {
    switch byte {
    case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
      UInt8(ascii: "0")...UInt8(ascii: "9"):
      return true
    default:
      return Array("!#$%&'*+-.^_`|~".utf8).contains(byte)
    }
  }

  static func isDigit(_ byte: UInt8) -> Bool { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) }
}

private let cr: UInt8 = 13
private let lf: UInt8 = 10
private let space: UInt8 = 32
private let tab: UInt8 = 9

extension String {
  fileprivate func trimmingWhitespace() -> String {
    var scalars = Substring(self)
    while let first = scalars.first, first == " " || first == "\t" { scalars = scalars.dropFirst() }
    while let last = scalars.last, last == " " || last == "\t" { scalars = scalars.dropLast() }
    return String(scalars)
  }
}

/// An answer: its status, body and content type, and the bytes that carry it.
public struct HTTPResponse: Sendable {
  public let status: Int
  public let body: [UInt8]
  public let contentType: String
  /// An answer to HEAD: the headers a GET would get (its Content-Length too), without the body.
  public var headOnly = false
  /// Headers beyond the framing's (the desk's cookies, redirects and security policy), sent in
  /// this order. Names and values must not hold CR or LF: they are the server's own words.
  public var headers: [HTTPRequest.Header] = []

  public init(status: Int, body: [UInt8], contentType: String = "application/json; charset=utf-8") {
    self.status = status
    self.body = body
    self.contentType = contentType
  }

  static let reasons = [
    200: "OK", 201: "Created", 202: "Accepted", 303: "See Other", 400: "Bad Request", 401: "Unauthorized",
    403: "Forbidden", 404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout", 409: "Conflict", 411: "Length Required", 413: "Payload Too Large",
    422: "Unprocessable Entity", 429: "Too Many Requests", 431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    503: "Service Unavailable", 505: "HTTP Version Not Supported",
  ]

  /// This answer as sent for a request of `method` (nil when its request line was not read): to
  /// HEAD, whatever the status, the headers without the body.
  public func answering(_ method: String?) -> HTTPResponse {
    var response = self
    if method == "HEAD" { response.headOnly = true }
    return response
  }

  /// The whole response, for a connection that closes after it.
  public var bytes: [UInt8] {
    let head =
      "HTTP/1.1 \(status) \(Self.reasons[status] ?? "Status")\r\n"
      + "Content-Type: \(contentType)\r\nContent-Length: \(body.count)\r\n"
      + headers.map { "\($0.name): \($0.value)\r\n" }.joined()
      + "Connection: close\r\n\r\n"
    return Array(head.utf8) + (headOnly ? [] : body)
  }

  /// Reads a response the client received whole: its status and body; nil when it is not one.
  public static func parse(_ bytes: [UInt8]) -> (status: Int, body: [UInt8])? {
    guard let end = HTTPRequestParser.headEnd(bytes) else { return nil }
    let statusLine = bytes[0..<end].split(separator: 13).first ?? []
    let fields = statusLine.split(separator: 32)
    guard fields.count >= 2, String(decoding: fields[0], as: UTF8.self).hasPrefix("HTTP/1."),
      let status = Int(String(decoding: fields[1], as: UTF8.self))
    else { return nil }
    return (status, Array(bytes[(end + 4)...]))
  }
}
