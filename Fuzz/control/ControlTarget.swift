import Foundation
import FuzzSupport
import NhacviecConfig
import NhacviecControl
import NhacviecCore

#if DEBUG || FUZZING
  // The routes are internal to the daemon's module; debug and fuzzing builds compile it for
  // testing.
  @testable import NhacviecDaemon

  /// One input is the bytes a client sends on the control socket. They are parsed as the server
  /// parses them, and a complete request goes to the routes of a daemon set up once on the
  /// shipped rules (its state in a scratch folder, its clock in the letter's season), as root or,
  /// for inputs of odd length, as a user who may only read. The server's answer must read back as
  /// the client reads it.
  func fuzzControl(_ bytes: [UInt8]) {
    let outcome = HTTPRequestParser.parse(bytes)
    // The server parses what has arrived after every read: a request cut anywhere must read as
    // incomplete (or as itself, when the cut falls after it), never as refused.
    if case .complete(let request) = outcome {
      let early = HTTPRequestParser.parse(Array(bytes.prefix(bytes.count / 2)))
      precondition(
        early == .incomplete || early == .complete(request), "the first half of a request reads as \(early)")
    }
    // And fed in parts, as reads bring it, it reads as the whole: in parts whose lengths come from
    // the input itself, and a byte at a time.
    for cuts in [cuts(bytes), Array(0..<bytes.count)] {
      var parser = HTTPRequestParser.Incremental()
      var start = 0
      for end in cuts + [bytes.count] where end > start && parser.outcome == .incomplete {
        parser.feed(bytes[start..<end])
        start = end
      }
      precondition(parser.outcome == outcome, "read in parts cut at \(cuts): \(parser.outcome), whole: \(outcome)")
    }
    let response: HTTPResponse
    switch outcome {
    case .incomplete: return
    case .failure(let failure): response = .error(failure)
    case .complete(let request):
      let uid: UInt32 = bytes.count.isMultiple(of: 2) ? 0 : 65_534
      response = ControlHarness.routes().handle(ControlRequest(request, uid: uid, gid: uid))
    }
    note("\(response.status) \(String(decoding: response.body.prefix(200), as: UTF8.self))")
    let sent = response.bytes
    guard let read = HTTPResponse.parse(sent), read.status == response.status, read.body == response.body else {
      preconditionFailure("the client cannot read the answer \(response.status) back")
    }
  }

  /// Where to cut `bytes` into parts: lengths drawn from a generator seeded with a hash of the
  /// bytes (FNV-1a), so that the same input is always cut the same way and libFuzzer, mutating
  /// the input, tries other cuts too.
  func cuts(_ bytes: [UInt8]) -> [Int] {
    var state = bytes.reduce(UInt64(0xcbf2_9ce4_8422_2325)) { ($0 ^ UInt64($1)) &* 0x100_0000_01b3 }
    var offsets: [Int] = []
    var offset = 0
    while offset < bytes.count {
      state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
      // Mostly short parts, now and then a long one.
      let length = (state >> 60) == 0 ? Int((state >> 20) % 20_000) : Int((state >> 33) % 64) + 1
      offset += length
      offsets.append(min(offset, bytes.count))
    }
    return offsets
  }

  /// The daemon behind the routes. Recorded facts pile up in its journal and every read loads them
  /// all, so a fresh daemon, on a fresh state folder, takes over every `generation` inputs.
  enum ControlHarness {
    static let generation = 5_000
    static let clock = SystemClock(startingAt: Shipped.deployment.zone.parseInstant("2026-11-10T09:00:00+07:00"))
    nonisolated(unsafe) static var current: (routes: ControlRoutes, daemon: Daemon)?
    nonisolated(unsafe) static var served = 0
    nonisolated(unsafe) static var generations = 0

    static func routes() -> ControlRoutes {
      if let current, served < generation {
        served += 1
        return current.routes
      }
      current?.daemon.shutdown()
      served = 1
      generations += 1
      Scratch.linkRules(["directory", "calendar", "rules"])
      let config = Scratch.write(
        Array(shippedText.utf8) + Array("\ndaemon: { state: state-\(generations) }\n".utf8),
        to: "nhacviec-\(generations).yaml")
      do {
        let deployment = try DeploymentLoader().load(configPath: config)
        let daemon = try Daemon(configPath: config, deployment: deployment, clock: clock)
        let routes = ControlRoutes(daemon: daemon)
        current = (routes, daemon)
        return routes
      } catch {
        fatalError("cannot start the daemon the control target talks to: \(error)")
      }
    }

    static let shippedText: String = {
      guard let data = FileManager.default.contents(atPath: Shipped.configPath) else {
        fatalError("cannot read \(Shipped.configPath)")
      }
      return String(decoding: data, as: UTF8.self)
    }()
  }
#else
  func fuzzControl(_ bytes: [UInt8]) {
    fatalError("the control target calls the daemon's internal routes: build it in debug, or with scripts/fuzz")
  }
#endif

#if FUZZING
  @_cdecl("LLVMFuzzerTestOneInput")
  public func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    fuzzControl(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
  }
#else
  @main
  enum ControlReplay {
    static func main() { Replay.main(fuzzControl) }
  }
#endif
