import NhacviecControl
import TestSupport
import Testing

@Suite("The control socket's HTTP parser")
struct HTTPParserTests {
  func parse(_ text: String) -> HTTPRequestParser.Outcome { HTTPRequestParser.parse(Array(text.utf8)) }

  func failure(_ text: String) -> HTTPFailure? {
    if case .failure(let failure) = parse(text) { return failure }
    return nil
  }

  func complete(_ text: String) -> HTTPRequest? {
    if case .complete(let request) = parse(text) { return request }
    return nil
  }

  @Test("a plain request, its query decoded")
  func plain() throws {
    let request = try #require(
      complete("GET /v1/findings?state=overdue&unit=51%2DSTP&x=a+b HTTP/1.1\r\nHost: l\r\n\r\n"))
    #expect(request.method == "GET")
    #expect(request.path == "/v1/findings")
    #expect(request.query == ["state": "overdue", "unit": "51-STP", "x": "a b"])
    #expect(request.headers == [HTTPRequest.Header(name: "host", value: "l")])
  }

  @Test("a head at the size limit reads as incomplete in every part and as complete whole; one byte more is refused")
  func headAtLimit() throws {
    let limit = HTTPRequestParser.Limits().headerBytes
    let start = Array("GET /v1/status HTTP/1.1\r\nX-Pad: ".utf8)
    // Found by the control fuzz target (Fuzz/control/crashes/split-head-at-limit): the server
    // parses after every read, so a cut must never be judged harsher than the whole.
    let atLimit = start + Array(repeating: UInt8(ascii: "a"), count: limit - start.count) + Array("\r\n\r\n".utf8)
    guard case .complete = HTTPRequestParser.parse(atLimit) else {
      Issue.record("a head of exactly \(limit) bytes is allowed")
      return
    }
    for cut in [1, limit / 2, limit, limit + 1, limit + 2, limit + 3] {
      #expect(HTTPRequestParser.parse(Array(atLimit.prefix(cut))) == .incomplete, "cut at \(cut)")
    }
    let over = start + Array(repeating: UInt8(ascii: "a"), count: limit - start.count + 1) + Array("\r\n\r\n".utf8)
    for cut in [limit + 4, over.count] {
      guard case .failure(let failure) = HTTPRequestParser.parse(Array(over.prefix(cut))) else {
        Issue.record("a head over the limit, cut at \(cut), is refused")
        continue
      }
      #expect(failure.status == 431)
    }
  }

  @Test("a body of exactly Content-Length bytes; more bytes are awaited")
  func body() throws {
    #expect(parse("POST /v1/facts HTTP/1.1\r\nContent-Length: 5\r\n\r\nab") == .incomplete)
    let request = try #require(complete("POST /v1/facts HTTP/1.1\r\nContent-Length: 2\r\n\r\nabcd"))
    #expect(request.body == Array("ab".utf8))
    // The same length twice is one length.
    #expect(complete("POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nz")?.body == [0x7a])
  }

  @Test("a query parameter with no name, given twice, or badly escaped is a 400, not a trap")
  func query() {
    #expect(failure("GET /v1/status?= HTTP/1.1\r\n\r\n") == HTTPFailure(400, "a query parameter without a name"))
    #expect(failure("GET /v1/status?=x&a=1 HTTP/1.1\r\n\r\n")?.status == 400)
    #expect(failure("GET /v1/findings?state=a&state=b HTTP/1.1\r\n\r\n")?.status == 400)
    #expect(failure("GET /v1/findings?state=%zz HTTP/1.1\r\n\r\n")?.status == 400)
    #expect(failure("GET /v1/findings?state=%ff HTTP/1.1\r\n\r\n")?.status == 400)
    // Empty pairs are nothing, an empty value is a value.
    #expect(complete("GET /v1/status?&&state= HTTP/1.1\r\n\r\n")?.query == ["state": ""])
  }

  @Test("only HTTP/1.0 and HTTP/1.1, in origin form")
  func versions() {
    #expect(failure("GET /v1/status HTTP/1.9\r\n\r\n")?.status == 505)
    #expect(failure("GET /v1/status HTTP/1.1x\r\n\r\n")?.status == 505)
    #expect(failure("GET /v1/status HTTP/2\r\n\r\n")?.status == 505)
    #expect(failure("GET /v1/status FTP/1.1\r\n\r\n")?.status == 400)
    #expect(failure("GET http://localhost/v1/status HTTP/1.1\r\n\r\n")?.status == 400)
    #expect(failure("GET  /v1/status HTTP/1.1\r\n\r\n")?.status == 400)
    #expect(failure("get /v1/status HTTP/1.1\r\n\r\n")?.status == 400)
    #expect(complete("GET /v1/status HTTP/1.0\r\n\r\n") != nil)
  }

  @Test("ambiguous framing is refused: two lengths, a transfer coding, bare line feeds, folded or spaced headers")
  func framing() {
    #expect(
      failure("POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab")
        == HTTPFailure(400, "two different Content-Length headers"))
    #expect(failure("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n")?.status == 411)
    #expect(failure("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n")?.status == 400)
    #expect(failure("POST / HTTP/1.1\r\nContent-Length: 1e3\r\n\r\n")?.status == 400)
    #expect(failure("POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n")?.status == 400)
    #expect(failure("GET / HTTP/1.1\nHost: x\r\n\r\n")?.status == 400)
    #expect(failure("GET / HTTP/1.1\r\nHost : x\r\n\r\n")?.status == 400)
    #expect(failure("GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n")?.status == 400)
    #expect(failure("GET / HTTP/1.1\r\nX: a\u{1}b\r\n\r\n")?.status == 400)
    // A bare line feed is refused as soon as it arrives, not after the time limit.
    #expect(failure("GET / HTTP/1.1\n")?.status == 400)
  }

  @Test("sizes are bounded")
  func bounds() {
    let long = "GET /" + String(repeating: "a", count: 20_000) + " HTTP/1.1\r\n\r\n"
    #expect(failure(long)?.status == 431)
    #expect(failure("GET /" + String(repeating: "a", count: 20_000))?.status == 431)
    #expect(failure("POST / HTTP/1.1\r\nContent-Length: 65537\r\n\r\n")?.status == 413)
    let many = "GET / HTTP/1.1\r\n" + (0..<100).map { "X-\($0): 1\r\n" }.joined() + "\r\n"
    #expect(failure(many)?.status == 431)
  }

  @Test("every prefix of a valid request is incomplete, never an error")
  func prefixes() {
    let bytes = Array("POST /v1/facts?x=1 HTTP/1.1\r\nHost: l\r\nContent-Length: 3\r\n\r\nabc".utf8)
    for end in 0..<bytes.count {
      #expect(HTTPRequestParser.parse(Array(bytes[0..<end])) == .incomplete, "prefix of \(end) bytes")
    }
    #expect(HTTPRequestParser.parse(bytes) != .incomplete)
  }

  /// Requests valid and not, and the bytes a mutation puts in them: the generator's material.
  static let seeds = [
    "GET /v1/findings?state=overdue&unit=51%2DSTP HTTP/1.1\r\nHost: l\r\n\r\n",
    "POST /v1/facts?x=1 HTTP/1.1\r\nHost: l\r\nContent-Length: 3\r\n\r\nabcdef",
    "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
    "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "GET / HTTP/1.1\nHost: x\r\n\r\n",
    "GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n",
    "HEAD /v1/status HTTP/1.0\r\nX: a\u{1}b\r\n\r\n",
    "GET /v1/status?a=1&a=2 HTTP/1.1\r\n\r\n",
    "\r\n\r\nGET / HTTP/1.1\r\n\r\n",
    "POST / HTTP/1.1\r\nContent-Length: 65537\r\n\r\n",
  ]
  static let material: [UInt8] = Array("\r\n\r\n :?=&%+/HTTP1.0GETCONTENT-LENGTH: 12\u{1}\u{7f}".utf8) + [0, 0xff]

  /// Feeds `bytes` in the parts that `cuts` (offsets, in order) make, as the server does: until
  /// the outcome is decided.
  static func fed(_ bytes: [UInt8], cuts: [Int], limits: HTTPRequestParser.Limits) -> HTTPRequestParser.Outcome {
    var parser = HTTPRequestParser.Incremental(limits: limits)
    var start = 0
    for end in cuts + [bytes.count] where end > start {
      let outcome = parser.feed(bytes[start..<end])
      if outcome != .incomplete { return outcome }
      start = end
    }
    return parser.outcome
  }

  @Test("a request cut anywhere, valid or not, reads as the whole does")
  func cutAnywhere() {
    var generator = SplitMix(seed: 23)
    // Small limits, so that generated heads and bodies cross them.
    var limits = HTTPRequestParser.Limits()
    limits.headerBytes = 96
    limits.headerCount = 4
    limits.bodyBytes = 8
    var disagreements: [String] = []
    for round in 0..<4_000 {
      var bytes = Array(Self.seeds[round % Self.seeds.count].utf8)
      // A few mutations: a byte of the material put in, a byte taken out, a run repeated.
      for _ in 0..<Int.random(in: 0...4, using: &generator) {
        let at = Int.random(in: 0...bytes.count, using: &generator)
        switch Int.random(in: 0..<4, using: &generator) {
        case 0: bytes.insert(Self.material.randomElement(using: &generator)!, at: at)
        case 1 where at < bytes.count: bytes.remove(at: at)
        case 2 where at < bytes.count:
          bytes.insert(
            contentsOf: Array(repeating: bytes[at], count: Int.random(in: 1...120, using: &generator)), at: at)
        default: bytes.insert(contentsOf: Array("X-A: b\r\n".utf8), at: at)
        }
      }
      let whole = HTTPRequestParser.parse(bytes, limits: limits)
      var splits: [[Int]] = [Array(0..<bytes.count)]  // one byte at a time
      for _ in 0..<3 {
        let count = Int.random(in: 1...max(1, bytes.count / 2), using: &generator)
        splits.append((0..<count).map { _ in Int.random(in: 0...bytes.count, using: &generator) }.sorted())
      }
      for cuts in splits {
        let parts = Self.fed(bytes, cuts: cuts, limits: limits)
        if parts != whole, disagreements.count < 5 {
          disagreements.append(
            "\(String(decoding: bytes, as: UTF8.self).debugDescription) cut at \(cuts): \(parts), whole: \(whole)")
        }
      }
    }
    #expect(disagreements.isEmpty, "\(disagreements.joined(separator: "\n"))")
  }

  @Test("with the default limits, a head at the limit and a body byte by byte read as the whole")
  func cutAtDefaultLimits() {
    let limits = HTTPRequestParser.Limits()
    let start = Array("POST /v1/facts HTTP/1.1\r\nContent-Length: 300\r\nX-Pad: ".utf8)
    let body = Array(repeating: UInt8(ascii: "b"), count: 300)
    // At the limit, and one byte over it; with a bare line feed early in the head, or not.
    for pad in [limits.headerBytes - start.count, limits.headerBytes - start.count + 1] {
      for bareLF in [false, true] {
        var head = start + Array(repeating: UInt8(ascii: "a"), count: pad)
        if bareLF { head[start.count - 1] = 10 }
        let bytes = head + Array("\r\n\r\n".utf8) + body
        let whole = HTTPRequestParser.parse(bytes, limits: limits)
        #expect(Self.fed(bytes, cuts: Array(0..<bytes.count), limits: limits) == whole, "pad \(pad), bare LF \(bareLF)")
        #expect(Self.fed(bytes, cuts: [start.count], limits: limits) == whole, "pad \(pad), bare LF \(bareLF)")
      }
    }
  }

  @Test("a response's bytes read back")
  func response() throws {
    let response = HTTPResponse(status: 422, body: Array("{}".utf8))
    let parsed = try #require(HTTPResponse.parse(response.bytes))
    #expect(parsed.status == 422)
    #expect(parsed.body == Array("{}".utf8))
  }
}
