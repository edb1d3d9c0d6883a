import Foundation
import NhacviecConfig
import NhacviecControl
import NhacviecCore
import NhacviecLinks
import NhacviecStore
import NhacviecWeb

/// The daemon as the desk sees it: the same calls the control API's routes make, with the
/// officer's account name where the socket has a uid.
struct DaemonDesk: DeskBackend {
  let daemon: Daemon

  func now() -> Date { daemon.clock.now() }

  var zone: Zone { daemon.current.deployment.zone }

  func rules() -> [DeskRule] {
    daemon.current.deployment.ruleset.rules.filter { $0.kind.isObligation }.map {
      DeskRule(id: $0.id, title: Self.plainTitle($0.title, id: $0.id), period: $0.period)
    }
  }

  /// A rule's title without its placeholders (`Báo cáo ISO {{period.name}}` → `Báo cáo ISO`).
  static func plainTitle(_ title: String, id: String) -> String {
    var out = ""
    var rest = Substring(title)
    while let open = rest.range(of: "{{") {
      out += rest[..<open.lowerBound]
      guard let close = rest[open.upperBound...].range(of: "}}") else { break }
      rest = rest[close.upperBound...]
    }
    if !rest.contains("{{") { out += rest }
    let trimmed = out.trimmingCharacters(in: .whitespaces)
    return trimmed.isEmpty ? id : "\(trimmed) (\(id))"
  }

  func unitName(_ id: String) -> String? {
    let deployment = daemon.current.deployment
    guard deployment.directory.knows(id) else { return nil }
    return deployment.directory.unit(id, on: deployment.zone.localDate(of: daemon.clock.now()))?.name ?? id
  }

  func report(period: Period, rules: [String]?, scope: String?) throws -> ConsolidatedReport {
    try daemon.engine().report(period: period, ruleIDs: rules, scope: scope, at: daemon.clock.now())
  }

  func findings(unit: String) throws -> [ControlAPI.Finding] {
    try daemon.findings(state: nil, rule: nil, unit: unit, period: nil)
  }

  func recordedFacts(unit: String?, retracted: Bool) throws -> [ControlAPI.RecordedFact] {
    try daemon.recordedFacts(unit: unit, rule: nil, period: nil, retracted: retracted)
  }

  func notices(unit: String, limit: Int) throws -> [ControlAPI.Notice] {
    try daemon.notices(state: nil, key: nil, unit: unit, limit: limit)
  }

  func history(key: String) throws -> ControlAPI.NoticeHistory? { try daemon.history(key: key) }

  /// Recorded as the daemon's own uid, with source `desk` and the officer's name (`recorded_by`),
  /// until facts carry the name of who recorded them.
  func record(_ fact: ControlAPI.FactRequest, officer: String) throws -> String {
    let (sent, recorded) = try daemon.record(
      ControlAPI.FactBatch(source: nil, facts: [fact]), uid: getuid(), officer: officer)
    let named = sent.first.map { "\($0.kind.rawValue) for \($0.unitID) \($0.ruleID) \($0.period)" } ?? ""
    return recorded.isEmpty ? "already recorded: \(named)" : "recorded \(named)"
  }

  func importFacts(_ facts: [ControlAPI.FactRequest], file: String, officer: String) throws -> String {
    let (sent, recorded) = try daemon.record(
      ControlAPI.FactBatch(source: file, facts: facts), uid: getuid(), officer: officer)
    return "recorded \(recorded.count) of \(sent.count) facts from \(file)"
  }

  /// The officer's name goes with the reason, the only text a retraction keeps besides the uid.
  func retract(id: Int64, reason: String, officer: String) throws -> ControlAPI.RecordedFact {
    try daemon.retract(id: id, reason: "\(reason) [desk: \(officer)]", uid: getuid())
  }

  func troubled(limit: Int) throws -> [ControlAPI.Notice] {
    let failed = try daemon.notices(state: .failed, key: nil, limit: limit)
    let dead = try daemon.notices(state: .dead, key: nil, limit: limit)
    return Array((failed + dead).sorted { ($0.at, $0.key, $0.channel) < ($1.at, $1.key, $1.channel) }.prefix(limit))
  }

  /// The same calls as `POST /v1/notices/retry` with a selection of keys, dead ones then failed.
  func retry(keys: [String], officer: String) throws -> Int {
    guard !keys.isEmpty else { return 0 }
    var count = 0
    for state in [NoticeState.dead, .failed] {
      var selection = JournalSelection()
      selection.keys = keys
      selection.state = state
      count += try daemon.retry(selection, dryRun: false, uid: getuid()).count
    }
    Log.write(.notice, "desk: \(officer) planned \(count) notices again")
    return count
  }

  func acknowledge(keys: [String], officer: String) throws -> Int {
    guard !keys.isEmpty else { return 0 }
    var selection = JournalSelection()
    selection.keys = keys
    let count = try daemon.acknowledge(selection, dryRun: false, uid: getuid()).count
    Log.write(.notice, "desk: \(officer) acknowledged \(count) dead notices")
    return count
  }

  func silences(all: Bool) throws -> [ControlAPI.Silence] { try daemon.silences(all: all) }

  /// The officer's name goes with the reason, as for a retraction.
  func addSilence(_ request: ControlAPI.SilenceRequest, officer: String) throws -> ControlAPI.Silence {
    var request = request
    request.reason += " [desk: \(officer)]"
    return try daemon.addSilence(request, uid: getuid())
  }

  func expireSilence(id: Int64, officer: String) throws -> ControlAPI.Silence {
    let silence = try daemon.expireSilence(id: id, uid: getuid())
    Log.write(.notice, "desk: \(officer) expired silence \(id)")
    return silence
  }
}

/// A unit's link and the claims page: the daemon's own entry points for a unit's word
/// (`recordClaim`, `acceptWord`, …), with the token checked against the running keys.
extension DaemonDesk {
  func open(link token: String) -> LinkOpening {
    switch target(token) {
    case .failure(let refusal):
      return .refused(reason: refusal.rawValue, message: refusal.vietnamese, expired: refusal == .expired)
    case .success(let target):
      guard let engine = try? daemon.engine(), let (rule, unit) = target.obligation(in: engine) else { return .gone }
      let zone = daemon.current.deployment.zone
      let now = daemon.clock.now()
      let ladder = engine.ladder(rule, period: target.period)
      // The deadline in force: the rule's, or an extension's (the finding reads it from the facts).
      let finding = engine.finding(on: ladder, unit: unit, at: now)
      let due = rule.due(for: finding)
      let named = due.namedDate(ofDeadline: finding.deadline, zone: zone)
      // The day counts the unit's messages give, so that the page and the mail agree.
      let (left, overdue) = due.dayCounts(
        ofDeadline: finding.deadline, calendar: engine.context.calendar, on: zone.localDate(of: now))
      return .open(
        LinkObligation(
          rule: rule.id, unit: unit.id, period: target.period.description, title: rule.title(for: finding, zone: zone),
          unitName: unit.name,
          basis: rule.cited(
            for: unit, parent: finding.parent, period: target.period, calendar: engine.context.calendar
          ).basis, duePhrase: due.phrase(named: named), state: finding.state,
          daysOverdue: overdue, daysLeft: left,
          claim: finding.claimFact.map { ($0.reference ?? "", $0.due?.vietnamese) },
          request: finding.requestFact.map { ($0.due?.vietnamese ?? "", $0.reason ?? "") }))
    }
  }

  func claim(link token: String, reference: String, documentDate: LocalDate?) throws -> Bool {
    let target = try target(token).get()
    return try daemon.recordClaim(
      rule: target.rule, unit: target.unit.id, period: target.period.description, reference: reference,
      documentDate: documentDate
    ).recorded
  }

  func request(link token: String, until: LocalDate, reason: String) throws -> Bool {
    let target = try target(token).get()
    return try daemon.recordRequest(
      rule: target.rule, unit: target.unit.id, period: target.period.description, until: until, reason: reason
    ).recorded
  }

  func pendingWords() throws -> [ControlAPI.PendingWord] { try daemon.pendingWords() }

  func accept(_ word: WordOf, officer: String) throws -> ControlAPI.RecordedFact {
    try daemon.acceptWord(
      rule: word.rule, unit: word.unit, period: word.period, kind: Fact.Kind(rawValue: word.kind), by: officer,
      source: "desk")
  }

  func giveBack(_ word: WordOf, reason: String, officer: String) throws -> ControlAPI.RecordedFact {
    try daemon.returnWord(
      rule: word.rule, unit: word.unit, period: word.period, reason: reason, kind: Fact.Kind(rawValue: word.kind),
      by: officer, source: "desk")
  }

  /// The obligation a token names, checked with the keys the daemon runs now.
  private func target(_ token: String) -> Result<LinkTarget, LinkRefusal> {
    guard let links = daemon.replyLinks else { return .failure(.unknownKey) }
    return links.signer.verify(token, at: daemon.clock.now())
  }
}
