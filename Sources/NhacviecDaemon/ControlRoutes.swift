import Foundation
import NhacviecControl
import NhacviecCore
import NhacviecRender
import NhacviecStore

/// The control API: `/v1/…`, JSON in and out, errors as `{"error": …}` with fitting codes.
///
/// Every parameter is checked before anything runs: an unknown parameter, a state that does not
/// exist or a malformed period is a 400, a rule or unit nobody knows a 404, so that a typo never
/// reads as an empty answer.
struct ControlRoutes: Sendable {
  /// Everyone who can open the socket may read; who may change things is the running
  /// snapshot's `writers`.
  let daemon: Daemon
  let refusals = RefusalLog()
  let imports = ImportParts()

  func handle(_ request: ControlRequest) -> HTTPResponse {
    do {
      return try route(request)
    } catch let error as HTTPFailure {
      return .json(ControlAPI.Failure(error.message), status: error.status)
    } catch let error as ConfigError {
      return .json(ControlAPI.Failure(error.description), status: 422)
    } catch let error as ConfigErrors {
      return .json(ControlAPI.Failure(error.description), status: 422)
    } catch let error as DecodingError {
      return .json(ControlAPI.Failure("bad JSON body: \(Self.describe(error))"), status: 400)
    } catch {
      return .json(ControlAPI.Failure("\(error)"), status: 500)
    }
  }

  /// The routes, with the query parameters each takes.
  static let reads: [String: Set<String>] = [
    "/v1/status": [], "/v1/findings": ["state", "rule", "unit", "period"], "/v1/upcoming": ["days"],
    "/v1/explain": ["unit", "rule"], "/v1/report": ["period", "rules", "scope", "as_of", "format"],
    "/v1/notices": ["state", "limit", "key", "after"], "/v1/facts": ["unit", "rule", "period", "retracted"],
    "/v1/silences": ["all"], "/v1/claims": [], "/v1/users": [],
  ]
  static let writes: Set<String> = [
    "/v1/facts", "/v1/notices/retry", "/v1/notices/flush", "/v1/notices/ack", "/v1/reload", "/v1/silences",
    "/v1/claims", "/v1/claims/accept", "/v1/claims/return", "/v1/users", "/v1/users/password",
  ]
  /// Collections whose items a writer may remove: `DELETE /v1/facts/ID` retracts a fact,
  /// `DELETE /v1/silences/ID` expires a silence.
  static let removable: Set<String> = ["/v1/facts", "/v1/silences"]

  /// Reads whose cost grows with the journal, the directory or the days asked for.
  static let heavyReads: Set<String> = [
    "/v1/findings", "/v1/upcoming", "/v1/explain", "/v1/report", "/v1/notices", "/v1/facts",
  ]

  /// The handlers' lane of a request (`ControlServer.Lane`), from its method and path alone.
  static func lane(_ request: HTTPRequest) -> ControlServer.Lane {
    if MonitoringRoutes.paths.contains(request.path) || request.path == "/v1/status" { return .monitoring }
    if request.method == "GET" && heavyReads.contains(request.path) { return .heavy }
    return .ordinary
  }

  private func route(_ request: ControlRequest) throws -> HTTPResponse {
    let path = request.path
    if let answer = MonitoringRoutes(daemon: daemon).handle(request.http) { return answer }
    let readable = Self.reads[path]
    let writable = Self.writes.contains(path)
    if request.method == "GET", let parameters = readable {
      if let unknown = request.query.keys.sorted().first(where: { !parameters.contains($0) }) {
        let known = parameters.isEmpty ? "none" : parameters.sorted().joined(separator: ", ")
        throw HTTPFailure(400, "unknown parameter \(unknown) for \(path) (known: \(known))")
      }
      return try read(path, request.query)
    }
    if request.method == "POST", writable {
      guard request.query.isEmpty else { throw HTTPFailure(400, "\(path) takes no query parameters") }
      try checkWriter(request)
      return try write(path, request)
    }
    // An account is removed by its name, not a number.
    if path.hasPrefix("/v1/users/"), !writable {
      guard request.method == "DELETE" else {
        throw HTTPFailure(405, "method \(request.method) not allowed on \(path) (allowed: DELETE)")
      }
      guard request.query.isEmpty else { throw HTTPFailure(400, "\(path) takes no query parameters") }
      try checkWriter(request)
      let name = HTTPRequestParser.decodePath(String(path.dropFirst("/v1/users/".count))) ?? ""
      return .json(ControlAPI.Message(try daemon.removeUser(name, uid: request.uid)))
    }
    if let slash = path.lastIndex(of: "/"), Self.removable.contains(String(path[..<slash])) {
      let collection = String(path[..<slash])
      guard request.method == "DELETE" else {
        throw HTTPFailure(405, "method \(request.method) not allowed on \(path) (allowed: DELETE)")
      }
      let text = path[path.index(after: slash)...]
      guard let id = Self.number(String(text)), id > 0 else {
        throw HTTPFailure(404, "no such endpoint: \(path) (an id is a positive number)")
      }
      guard request.query.isEmpty else { throw HTTPFailure(400, "\(path) takes no query parameters") }
      try checkWriter(request)
      return try remove(collection, id: Int64(id), request)
    }
    if readable != nil || writable {
      let allowed = (readable != nil ? ["GET"] : []) + (writable ? ["POST"] : [])
      throw HTTPFailure(
        405, "method \(request.method) not allowed on \(path) (allowed: \(allowed.joined(separator: ", ")))")
    }
    throw HTTPFailure(404, "no such endpoint: \(path)")
  }

  private func checkWriter(_ request: ControlRequest) throws {
    // The running configuration's writers: a reload that adds or removes one applies at once.
    guard daemon.current.writers.allows(uid: request.uid, gid: request.gid, groups: request.groups) else {
      daemon.metrics.refused("not_a_writer")
      refusals.note(uid: request.uid) { more in
        Log.write(
          .warning,
          "refused \(request.method) \(request.path) from uid \(request.uid): not an allowed writer"
            + (more > 0 ? " (and \(more) more from this uid since the last line)" : ""))
      }
      throw HTTPFailure(
        403, "uid \(request.uid) may read but not write; list the user in daemon.writers or daemon.writer_groups")
    }
  }

  private func remove(_ collection: String, id: Int64, _ request: ControlRequest) throws -> HTTPResponse {
    if collection == "/v1/facts" {
      let body = try JSONDecoder().decode(ControlAPI.Retraction.self, from: Data(request.body))
      return .json(try daemon.retract(id: id, reason: body.reason, uid: request.uid))
    }
    return .json(try daemon.expireSilence(id: id, uid: request.uid))
  }

  private func read(_ path: String, _ query: [String: String]) throws -> HTTPResponse {
    switch path {
    case "/v1/status":
      return .json(try daemon.status())
    case "/v1/findings":
      let state = try query["state"].map { name throws -> FindingState in
        guard let state = FindingState(rawValue: name) else {
          throw HTTPFailure(
            400, "unknown state \(name) (known: \(FindingState.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        return state
      }
      let period = try query["period"].map(Self.period)
      try daemon.checkKnown(rules: query["rule"].map { [$0] } ?? [], units: query["unit"].map { [$0] } ?? [])
      return .json(try daemon.findings(state: state, rule: query["rule"], unit: query["unit"], period: period))
    case "/v1/upcoming":
      guard let days = Self.number(query["days"] ?? "14"), (1...366).contains(days) else {
        throw HTTPFailure(400, "days must be 1 to 366")
      }
      return .json(try daemon.upcoming(days: days))
    case "/v1/explain":
      guard let unit = query["unit"], !unit.isEmpty else { throw HTTPFailure(400, "explain needs ?unit=ID") }
      try daemon.checkKnown(rules: query["rule"].map { [$0] } ?? [], units: [unit])
      guard let explanation = try daemon.explain(unit: unit, rule: query["rule"]) else {
        throw HTTPFailure(404, "no unit \(unit) in the directory")
      }
      return .json(explanation)
    case "/v1/report":
      guard let text = query["period"] else {
        throw HTTPFailure(400, "report needs ?period=2026 (or 2026-Q4, 2026-11)")
      }
      let period = try Self.period(text)
      guard let format = ReportFormat(rawValue: query["format"] ?? "json") else {
        throw HTTPFailure(400, "format must be html, csv, md or json")
      }
      let rules = query["rules"].map { $0.split(separator: ",").map(String.init) }
      try daemon.checkKnown(rules: rules ?? [], units: query["scope"].map { [$0] } ?? [])
      let report = try daemon.report(
        period: period, rules: rules, scope: query["scope"], asOf: query["as_of"], format: format)
      return HTTPResponse(status: 200, body: Array(report.utf8), contentType: format.contentType)
    case "/v1/notices":
      let state = try query["state"].map { name throws -> NoticeState in
        guard let state = NoticeState(rawValue: name) else {
          throw HTTPFailure(
            400, "unknown state \(name) (known: \(NoticeState.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        return state
      }
      // A page at most: an answer is built whole in memory, about 300 bytes a notice.
      guard let limit = Self.number(query["limit"] ?? "\(Self.pageLimit)"), (1...Self.pageLimit).contains(limit) else {
        throw HTTPFailure(400, "limit must be 1 to \(Self.pageLimit); read further pages with after=CHANNEL:KEY")
      }
      if let key = query["key"] {
        guard state == nil, query["limit"] == nil, query["after"] == nil else {
          throw HTTPFailure(400, "key goes alone")
        }
        guard let history = try daemon.history(key: key) else { throw HTTPFailure(404, "no notice with key \(key)") }
        return .json(history)
      }
      let after = try query["after"].map { text throws -> (channel: String, key: String) in
        guard let colon = text.firstIndex(of: ":"), colon != text.startIndex else {
          throw HTTPFailure(400, "after must read CHANNEL:KEY (the last notice of the page before), not \(text)")
        }
        return (String(text[..<colon]), String(text[text.index(after: colon)...]))
      }
      return .json(try daemon.notices(state: state, key: nil, limit: limit, after: after))
    case "/v1/facts":
      let period = try query["period"].map(Self.period)
      try daemon.checkKnown(rules: query["rule"].map { [$0] } ?? [], units: query["unit"].map { [$0] } ?? [])
      return .json(
        try daemon.recordedFacts(
          unit: query["unit"], rule: query["rule"], period: period?.description,
          retracted: try Self.flag(query["retracted"], "retracted")))
    case "/v1/silences":
      return .json(try daemon.silences(all: try Self.flag(query["all"], "all")))
    case "/v1/claims":
      return .json(try daemon.pendingWords())
    case "/v1/users":
      return .json(try daemon.users())
    default:
      throw HTTPFailure(404, "no such endpoint: \(path)")
    }
  }

  private func write(_ path: String, _ request: ControlRequest) throws -> HTTPResponse {
    let decoder = JSONDecoder()
    switch path {
    case "/v1/facts":
      let body = Data(request.body)
      // One fact, or a whole file's as `{"source": FILE, "facts": [...]}`: all or nothing.
      var batch: ControlAPI.FactBatch
      if let whole = try? decoder.decode(ControlAPI.FactBatch.self, from: body) {
        batch = whole
      } else {
        batch = ControlAPI.FactBatch(source: nil, facts: [try decoder.decode(ControlAPI.FactRequest.self, from: body)])
      }
      if let part = batch.part, !part.last {
        let staged = try imports.stage(batch, part: part, uid: request.uid)
        return .json(
          ControlAPI.Message("part \(part.number) of import \(part.importID) kept (\(staged) facts so far)"),
          status: 202)
      }
      if let part = batch.part { batch = try imports.complete(batch, part: part, uid: request.uid) }
      let (sent, recorded) = try daemon.record(batch, uid: request.uid)
      let what: String
      if sent.count == 1 {
        let fact = sent[0]
        let named = "\(fact.kind.rawValue) for \(fact.unitID) \(fact.ruleID) \(fact.period)"
        what = recorded.isEmpty ? "already recorded: \(named); nothing changed" : "recorded \(named)"
      } else {
        let known = sent.count - recorded.count
        what = "recorded \(recorded.count) facts" + (known > 0 ? " (\(known) already recorded)" : "")
      }
      // 201 when something was created; the same fact again changes nothing.
      return .json(ControlAPI.Message(what), status: recorded.isEmpty ? 200 : 201)
    case "/v1/notices/retry":
      let body = try decoder.decode(ControlAPI.Retry.self, from: Data(request.body))
      if body.isSingleKey, let key = body.key {
        let count = try daemon.retry(key: key)
        guard count > 0 else { throw HTTPFailure(404, "no dead notice with key \(key)") }
        return .json(ControlAPI.Message("\(key): \(count) delivery planned again"))
      }
      return .json(
        try Self.bySelection(body, states: [.dead, .failed], done: "planned again") { selection, dryRun in
          try daemon.retry(selection, dryRun: dryRun, uid: request.uid)
        })
    case "/v1/notices/flush":
      // No body, or `{}`: every channel.
      let channel =
        request.body.isEmpty ? nil : try decoder.decode(ControlAPI.Flush.self, from: Data(request.body)).channel
      let count = try daemon.flush(channel: channel, uid: request.uid)
      return .json(
        ControlAPI.Message(
          "\(count) waiting notice\(count == 1 ? "" : "s")\(channel.map { " of channel \($0)" } ?? "") judged again now"
        ))
    case "/v1/claims":
      let body = try decoder.decode(ControlAPI.WordRequest.self, from: Data(request.body))
      let name = Daemon.userName(uid: request.uid)
      let answer: (fact: ControlAPI.RecordedFact, recorded: Bool)
      switch body.kind {
      case "claim":
        let date = try body.due.map { text throws -> LocalDate in
          guard let date = LocalDate(iso: text) else { throw HTTPFailure(400, "due: not a date YYYY-MM-DD: \(text)") }
          return date
        }
        answer = try daemon.recordClaim(
          rule: body.rule, unit: body.unit, period: body.period, reference: body.reference ?? "", documentDate: date,
          source: "socket", by: name, uid: request.uid)
      case "request":
        guard let text = body.due, let date = LocalDate(iso: text) else {
          throw HTTPFailure(400, "due: a request needs the day it asks for, YYYY-MM-DD")
        }
        answer = try daemon.recordRequest(
          rule: body.rule, unit: body.unit, period: body.period, until: date, reason: body.reason ?? "",
          source: "socket", by: name, uid: request.uid)
      default:
        throw HTTPFailure(400, "kind: claim or request, not \(body.kind)")
      }
      return .json(answer.fact, status: answer.recorded ? 201 : 200)
    case "/v1/claims/accept", "/v1/claims/return":
      let body = try decoder.decode(ControlAPI.Verdict.self, from: Data(request.body))
      let kind = try body.kind.map { text throws -> Fact.Kind in
        guard let kind = Fact.Kind(rawValue: text) else {
          throw HTTPFailure(400, "kind: claim or request, not \(text)")
        }
        return kind
      }
      let name = Daemon.userName(uid: request.uid)
      if path == "/v1/claims/accept" {
        return .json(
          try daemon.acceptWord(
            rule: body.rule, unit: body.unit, period: body.period, kind: kind, by: name, source: "socket",
            uid: request.uid), status: 201)
      }
      return .json(
        try daemon.returnWord(
          rule: body.rule, unit: body.unit, period: body.period, reason: body.reason ?? "", kind: kind, by: name,
          source: "socket", uid: request.uid), status: 201)
    case "/v1/silences":
      let silence = try daemon.addSilence(
        try decoder.decode(ControlAPI.SilenceRequest.self, from: Data(request.body)), uid: request.uid)
      return .json(silence, status: 201)
    case "/v1/users":
      let body = try decoder.decode(ControlAPI.UserRequest.self, from: Data(request.body))
      return .json(ControlAPI.Message(try daemon.addUser(body, uid: request.uid)), status: 201)
    case "/v1/users/password":
      let body = try decoder.decode(ControlAPI.UserRequest.self, from: Data(request.body))
      return .json(ControlAPI.Message(try daemon.changeUser(body, uid: request.uid)))
    case "/v1/notices/ack":
      let body = try decoder.decode(ControlAPI.Acknowledge.self, from: Data(request.body))
      if body.isSingleKey, let key = body.key {
        return .json(ControlAPI.Message(try daemon.acknowledge(key: key, uid: request.uid)))
      }
      return .json(
        try Self.bySelection(body, states: [.dead], done: "acknowledged", unmatched: "not yet acknowledged ") {
          selection, dryRun in try daemon.acknowledge(selection, dryRun: dryRun, uid: request.uid)
        })
    default:
      let result = daemon.reload()
      return .json(result, status: result.ok ? 200 : 422)
    }
  }

  /// A retry's or acknowledgement's selection, checked: a known state among `states`, a
  /// well-formed period, and at least one key or filter (all the dead notices at once must be
  /// asked for by naming something, not by leaving the filters out by mistake).
  static func selection(_ body: ControlAPI.NoticeSelection, states: [NoticeState]) throws -> JournalSelection {
    var selection = JournalSelection()
    selection.keys = (body.keys ?? []) + (body.key.map { [$0] } ?? [])
    selection.channel = body.channel
    selection.rule = body.rule
    selection.unit = body.unit
    selection.period = try body.period.map { try period($0).description }
    if let name = body.state {
      guard let state = NoticeState(rawValue: name), states.contains(state) else {
        throw HTTPFailure(
          400, "state must be \(states.map(\.rawValue).joined(separator: " or ")), not \(name)")
      }
      selection.state = state
    }
    guard !selection.keys.isEmpty || [body.channel, body.rule, body.unit, body.period].contains(where: { $0 != nil })
    else {
      throw HTTPFailure(400, "name the notices: keys, or one of channel, rule, unit, period")
    }
    return selection
  }

  /// A selection in words, for an answer that found nothing.
  static func describe(_ body: ControlAPI.NoticeSelection) -> String {
    var parts: [String] = []
    let keys = (body.keys ?? []) + (body.key.map { [$0] } ?? [])
    if !keys.isEmpty { parts.append("key \(keys.joined(separator: ", "))") }
    for (name, value) in [("channel", body.channel), ("rule", body.rule), ("unit", body.unit), ("period", body.period)]
    {
      if let value { parts.append("\(name) \(value)") }
    }
    return parts.joined(separator: ", ")
  }

  /// A retry or an acknowledgement of the notices a body selects: `act` changes them (or, dry,
  /// only finds them), and the answer says how many and lists them.
  static func bySelection(
    _ body: ControlAPI.NoticeSelection, states: [NoticeState], done: String, unmatched: String = "",
    act: (JournalSelection, Bool) throws -> [SelectedRow]
  ) throws -> ControlAPI.Selected {
    let selection = try selection(body, states: states)
    let dryRun = body.dryRun ?? false
    let rows = try act(selection, dryRun)
    let state = selection.state.rawValue
    let what = "\(rows.count) \(state) notice\(rows.count == 1 ? "" : "s")"
    return ControlAPI.Selected(
      message: rows.isEmpty
        ? "no \(state) notice \(unmatched)matches \(describe(body))"
        : dryRun ? "\(what) would be \(done)" : "\(what) \(done)",
      count: rows.count, dryRun: dryRun,
      // At most a page listed; the count is all of them.
      notices: rows.prefix(pageLimit).map {
        ControlAPI.Selected.Row(key: $0.key, channel: $0.channel, lastError: $0.lastError)
      })
  }

  /// The most notices one answer lists.
  static let pageLimit = 1000

  /// A count written in digits only: `Int` alone would also take "+5" (and "%2B5") for 5.
  static func number(_ text: String) -> Int? {
    guard !text.isEmpty, text.count <= 9, text.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
    return Int(text)
  }

  /// `true` or `false`; absent is false.
  static func flag(_ text: String?, _ name: String) throws -> Bool {
    switch text {
    case nil, "false": return false
    case "true": return true
    case let other?: throw HTTPFailure(400, "\(name) must be true or false, not \(other)")
    }
  }

  static func period(_ text: String) throws -> Period {
    guard let period = Period(text) else {
      throw HTTPFailure(400, "period must read 2026, 2026-Q3 or 2026-09, not \(text)")
    }
    return period
  }

  /// A decoding error in one line: what was wrong and where, without Swift's type dump.
  static func describe(_ error: DecodingError) -> String {
    func path(_ context: DecodingError.Context) -> String {
      let keys = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
      return keys.isEmpty ? "" : " at \(keys.hasPrefix(".") ? String(keys.dropFirst()) : keys)"
    }
    switch error {
    case .keyNotFound(let key, let context): return "missing `\(key.stringValue)`\(path(context))"
    case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
      return "\(context.debugDescription)\(path(context))"
    @unknown default: return "\(error)"
    }
  }
}

/// Root, the daemon's own user, and the users and groups the configuration names may write.
public struct WriterPolicy: Sendable {
  let uids: Set<UInt32>
  let gids: Set<UInt32>

  /// Names are looked up once, here, with the reentrant calls: a policy is made at start and at
  /// each reload, and request threads only compare numbers.
  public init(users: [String], groups: [String]) {
    var uids: Set<UInt32> = [0, getuid()]
    for user in users {
      if let id = UInt32(user) ?? WriterPolicy.uid(of: user) {
        uids.insert(id)
      } else {
        Log.write(.warning, "writers: no user \(user)")
      }
    }
    var gids: Set<UInt32> = []
    for group in groups {
      if let id = UInt32(group) ?? WriterPolicy.gid(of: group) {
        gids.insert(id)
      } else {
        Log.write(.warning, "writer_groups: no group \(group)")
      }
    }
    self.uids = uids
    self.gids = gids
  }

  /// Whether a peer may write: its user is a writer, or its primary or any supplementary group,
  /// all as the kernel reports them for the peer's process (never as /etc/group lists them).
  func allows(uid: UInt32, gid: UInt32, groups: [UInt32]) -> Bool {
    uids.contains(uid) || gids.contains(gid) || groups.contains { gids.contains($0) }
  }

  static func uid(of name: String) -> UInt32? {
    var entry = passwd()
    var result: UnsafeMutablePointer<passwd>?
    var buffer = [CChar](repeating: 0, count: 16_384)
    guard getpwnam_r(name, &entry, &buffer, buffer.count, &result) == 0, result != nil else { return nil }
    return entry.pw_uid
  }

  static func gid(of name: String) -> UInt32? {
    var entry = group()
    var result: UnsafeMutablePointer<group>?
    var buffer = [CChar](repeating: 0, count: 65_536)
    guard getgrnam_r(name, &entry, &buffer, buffer.count, &result) == 0, result != nil else { return nil }
    return entry.gr_gid
  }
}

/// A refused write is logged once a minute per uid at most, with how many were refused since:
/// a reader posting in a loop must not fill the log (and push the daemon's own errors past
/// journald's rate limit). `nhacviec_control_refused_total` counts every one.
final class RefusalLog: Sendable {
  static let interval: Double = 60
  private struct Peer {
    var lastLine: Double
    var since = 0
  }
  private let peers = Locked<[UInt32: Peer]>([:])

  /// Calls `log` with the refusals not logged since this uid's last line, when one is due.
  func note(uid: UInt32, at now: Double = monotonicSeconds(), log: (Int) -> Void) {
    let due = peers.withLock { peers -> Int? in
      if var peer = peers[uid], now - peer.lastLine < RefusalLog.interval {
        peer.since += 1
        peers[uid] = peer
        return nil
      }
      let more = peers[uid]?.since ?? 0
      // Forget peers quiet for a while, so that many uids cannot grow the table without bound.
      if peers.count > 1000 { peers = peers.filter { now - $0.value.lastLine < RefusalLog.interval } }
      peers[uid] = Peer(lastLine: now)
      return more
    }
    if let due { log(due) }
  }
}

/// The parts of imports too big for one request, kept in memory until their last part: then
/// the whole file is checked and recorded in one transaction, or nothing is. Only writers send
/// parts; an import left unfinished for `idle` seconds is dropped, and the sizes are bounded.
final class ImportParts: Sendable {
  static let idle: Double = 600
  static let maxFacts = 200_000
  static let maxImports = 8

  private struct Import {
    let uid: UInt32
    let source: String?
    var facts: [ControlAPI.FactRequest]
    var parts: Int
    var touched: Double
  }
  private let imports = Locked<[String: Import]>([:])

  /// Keeps a part that is not the last; returns how many facts the import holds now.
  func stage(_ batch: ControlAPI.FactBatch, part: ControlAPI.FactBatch.Part, uid: UInt32) throws -> Int {
    let now = monotonicSeconds()
    return try imports.withLock { imports in
      imports = imports.filter { now - $0.value.touched < ImportParts.idle }
      var entry =
        imports[part.importID]
        ?? Import(uid: uid, source: batch.source, facts: [], parts: 0, touched: now)
      try ImportParts.check(entry, part: part, uid: uid)
      guard imports[part.importID] != nil || imports.count < ImportParts.maxImports else {
        throw HTTPFailure(429, "\(ImportParts.maxImports) imports are under way; finish one first")
      }
      guard entry.facts.count + batch.facts.count <= ImportParts.maxFacts else {
        imports[part.importID] = nil
        throw HTTPFailure(413, "an import holds at most \(ImportParts.maxFacts) facts; import \(part.importID) dropped")
      }
      entry.facts += batch.facts
      entry.parts = part.number
      entry.touched = now
      imports[part.importID] = entry
      return entry.facts.count
    }
  }

  /// The whole import, with its last part; it is forgotten either way.
  func complete(
    _ batch: ControlAPI.FactBatch, part: ControlAPI.FactBatch.Part, uid: UInt32
  ) throws -> ControlAPI.FactBatch {
    try imports.withLock { imports in
      let entry =
        imports[part.importID] ?? Import(uid: uid, source: batch.source, facts: [], parts: 0, touched: 0)
      try ImportParts.check(entry, part: part, uid: uid)
      imports[part.importID] = nil
      return ControlAPI.FactBatch(source: entry.source ?? batch.source, facts: entry.facts + batch.facts)
    }
  }

  private static func check(_ entry: Import, part: ControlAPI.FactBatch.Part, uid: UInt32) throws {
    guard entry.uid == uid else { throw HTTPFailure(409, "import \(part.importID) belongs to another user") }
    guard part.number == entry.parts + 1 else {
      throw HTTPFailure(
        409,
        "import \(part.importID): part \(part.number) came after part \(entry.parts); send the parts in order, from 1")
    }
  }
}
