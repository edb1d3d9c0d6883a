import Foundation
import NhacviecControl
import NhacviecCore
import NhacviecStore

/// The control API: `/v1/…`, JSON in and out, errors as `{"error": …}` with fitting codes.
struct ControlRoutes: Sendable {
  let daemon: Daemon
  /// Who may change things; everyone who can open the socket may read.
  let writers: WriterPolicy

  func handle(_ request: ControlRequest) async -> ControlResponse {
    do {
      return try route(request)
    } catch let error as ConfigError {
      return .json(ControlAPI.Failure(error.message), status: 422)
    } catch let error as DecodingError {
      return .json(ControlAPI.Failure("bad JSON body: \(error)"), status: 400)
    } catch {
      return .json(ControlAPI.Failure("\(error)"), status: 500)
    }
  }

  private func route(_ request: ControlRequest) throws -> ControlResponse {
    let decoder = JSONDecoder()
    switch (request.method, request.path) {
    case ("GET", "/v1/status"):
      return .json(try daemon.status())
    case ("GET", "/v1/findings"):
      return .json(try daemon.findings(query: request.query))
    case ("GET", "/v1/upcoming"):
      guard let days = Int(request.query["days"] ?? "14"), (1...366).contains(days) else {
        return .json(ControlAPI.Failure("days must be 1 to 366"), status: 400)
      }
      return .json(try daemon.upcoming(days: days))
    case ("GET", "/v1/explain"):
      guard let unit = request.query["unit"], !unit.isEmpty else {
        return .json(ControlAPI.Failure("explain needs ?unit=ID"), status: 400)
      }
      guard let explanation = try daemon.explain(unit: unit, rule: request.query["rule"]) else {
        return .json(ControlAPI.Failure("no unit \(unit) in the directory"), status: 404)
      }
      return .json(explanation)
    case ("GET", "/v1/report"):
      guard let text = request.query["period"], let period = Period(text) else {
        return .json(ControlAPI.Failure("report needs ?period=2026 (or 2026-Q4, 2026-11)"), status: 400)
      }
      guard let format = ReportFormat(rawValue: request.query["format"] ?? "json") else {
        return .json(ControlAPI.Failure("format must be html, csv, md or json"), status: 400)
      }
      let rules = request.query["rules"].map { $0.split(separator: ",").map(String.init) }
      let report = try daemon.report(
        period: period, rules: rules, scope: request.query["scope"], asOf: request.query["as_of"], format: format)
      return ControlResponse(status: 200, body: Array(report.utf8), contentType: format.contentType)
    case ("GET", "/v1/notices"):
      var state: NoticeState?
      if let name = request.query["state"] {
        guard let parsed = NoticeState(rawValue: name) else {
          return .json(ControlAPI.Failure("unknown state \(name)"), status: 400)
        }
        state = parsed
      }
      guard let limit = Int(request.query["limit"] ?? "1000"), (1...1_000_000).contains(limit) else {
        return .json(ControlAPI.Failure("limit must be 1 to 1000000"), status: 400)
      }
      return .json(try daemon.notices(state: state, limit: limit))
    case ("POST", "/v1/facts"), ("POST", "/v1/notices/retry"), ("POST", "/v1/reload"):
      guard writers.allows(uid: request.uid, gid: request.gid) else {
        Log.write(.warning, "refused \(request.method) \(request.path) from uid \(request.uid): not an allowed writer")
        return .json(ControlAPI.Failure("uid \(request.uid) may read but not write"), status: 403)
      }
      switch request.path {
      case "/v1/facts":
        let fact = try daemon.record(
          try decoder.decode(ControlAPI.FactRequest.self, from: Data(request.body)), uid: request.uid)
        return .json(
          ControlAPI.Message("recorded \(fact.kind.rawValue) for \(fact.unitID) \(fact.ruleID) \(fact.period)"),
          status: 201)
      case "/v1/notices/retry":
        let key = try decoder.decode(ControlAPI.Retry.self, from: Data(request.body)).key
        let count = try daemon.retry(key: key)
        guard count > 0 else { return .json(ControlAPI.Failure("no dead notice with key \(key)"), status: 404) }
        return .json(ControlAPI.Message("\(key): \(count) delivery planned again"))
      default:
        let result = daemon.reload()
        return .json(result, status: result.ok ? 200 : 422)
      }
    case (_, "/v1/status"), (_, "/v1/findings"), (_, "/v1/report"), (_, "/v1/upcoming"), (_, "/v1/explain"),
      (_, "/v1/notices"),
      (_, "/v1/facts"),
      (_, "/v1/notices/retry"), (_, "/v1/reload"):
      return .json(ControlAPI.Failure("method \(request.method) not allowed on \(request.path)"), status: 405)
    default:
      return .json(ControlAPI.Failure("no such endpoint: \(request.path)"), status: 404)
    }
  }
}

/// Root, the daemon's own user, and the users and groups the configuration names may write.
public struct WriterPolicy: Sendable {
  let uids: Set<UInt32>
  let gids: Set<UInt32>

  public init(users: [String], groups: [String]) {
    var uids: Set<UInt32> = [0, getuid()]
    for user in users {
      if let id = UInt32(user) {
        uids.insert(id)
      } else if let entry = getpwnam(user) {
        uids.insert(entry.pointee.pw_uid)
      } else {
        Log.write(.warning, "writers: no user \(user)")
      }
    }
    var gids: Set<UInt32> = []
    for group in groups {
      if let id = UInt32(group) {
        gids.insert(id)
      } else if let entry = getgrnam(group) {
        gids.insert(entry.pointee.gr_gid)
      } else {
        Log.write(.warning, "writer_groups: no group \(group)")
      }
    }
    self.uids = uids
    self.gids = gids
  }

  func allows(uid: UInt32, gid: UInt32) -> Bool {
    if uids.contains(uid) || gids.contains(gid) { return true }
    guard !gids.isEmpty, let user = getpwuid(uid) else { return false }
    // Supplementary groups: the peer's credentials carry only the primary one.
    var count: Int32 = 64
    var groups = [gid_t](repeating: 0, count: 64)
    guard getgrouplist(user.pointee.pw_name, user.pointee.pw_gid, &groups, &count) >= 0 else { return false }
    return groups.prefix(Int(count)).contains { gids.contains($0) }
  }
}
