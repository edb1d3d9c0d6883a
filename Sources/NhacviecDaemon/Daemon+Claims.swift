import Foundation
import Glibc
import NhacviecConfig
public import NhacviecControl
public import NhacviecCore
import NhacviecStore

/// A unit's own word and the Department's verdict on it: what the control API's `/v1/claims`
/// does now, and what the link page and the desk call in the daemon's process.
///
/// A claim stops the unit's reminders and its escalations at once (the next pass judges the
/// obligation again and finds it `claimed`); accepting records the `report` (or, for a request,
/// the `extension`) by the officer's name; returning records a `returned` with its reason, and
/// the next pass tells the unit why and resumes its ladder.
extension Daemon {
  /// Who a Unix user is by name, for the facts recorded through the socket.
  public static func userName(uid: UInt32) -> String {
    guard let entry = getpwuid(uid) else { return "uid \(uid)" }
    return String(cString: entry.pointee.pw_name)
  }

  /// Records a unit's claim that it sent its report (`reference`, the document's number, and
  /// optionally its date) for one obligation. The same claim submitted again while it waits is
  /// not recorded again. Returns the claim waiting and whether it was recorded now.
  public func recordClaim(
    rule: String, unit: String, period: String, reference: String, documentDate: LocalDate? = nil,
    source: String = "link", by name: String = "unit", uid: UInt32? = nil
  ) throws -> (fact: ControlAPI.RecordedFact, recorded: Bool) {
    let reference = reference.trimmingCharacters(in: .whitespacesAndNewlines)
    guard !reference.isEmpty else { throw HTTPFailure(400, "a claim needs the document's number (reference)") }
    return try recordWord(
      ["kind": "claim", "reference": reference, "due": documentDate?.description], rule: rule, unit: unit,
      period: period, source: source, name: name, uid: uid)
  }

  /// Records a unit's request for its deadline to move to `until`, for `reason`. The deadline
  /// stands, and its reminders go on, until the Department accepts it.
  public func recordRequest(
    rule: String, unit: String, period: String, until: LocalDate, reason: String, source: String = "link",
    by name: String = "unit", uid: UInt32? = nil
  ) throws -> (fact: ControlAPI.RecordedFact, recorded: Bool) {
    let reason = reason.trimmingCharacters(in: .whitespacesAndNewlines)
    guard !reason.isEmpty else { throw HTTPFailure(400, "a request for more time needs a reason") }
    return try recordWord(
      ["kind": "request", "due": until.description, "reason": reason], rule: rule, unit: unit, period: period,
      source: source, name: name, uid: uid)
  }

  private func recordWord(
    _ fields: [String: String?], rule: String, unit: String, period: String, source: String, name: String,
    uid: UInt32?
  ) throws -> (fact: ControlAPI.RecordedFact, recorded: Bool) {
    let deployment = current.deployment
    let now = clock.now()
    var values = fields.compactMapValues { $0 }
    values["rule"] = rule
    values["unit"] = unit
    values["period"] = period
    values["at"] = deployment.zone.rfc3339(now)
    let fact = try FactsLoader.fact(values, zone: deployment.zone, at: nil)
    let errors = FactsLoader.check([fact], against: deployment)
    if !errors.isEmpty { throw ConfigErrors(errors) }
    let (recorded, new) = try store.recordUnitsWord(
      fact, by: .init(uid: uid, source: source, name: name), now: now)
    if new {
      Log.write(
        .notice,
        "\(fact.kind.rawValue) recorded by \(name) via \(source): \(fact.unitID) \(fact.ruleID) \(fact.period)")
      changed()
    } else {
      Log.write(.info, "\(fact.kind.rawValue) of \(unit) \(rule) \(period) already waits (fact \(recorded.id))")
    }
    return (Self.wire(recorded, zone: deployment.zone), new)
  }

  /// The claims and requests waiting for the Department's verdict, oldest first: those whose
  /// obligation is not met and that no `returned` answered.
  public func pendingWords() throws -> [ControlAPI.PendingWord] {
    let engine = try engine()
    let zone = engine.context.calendar.zone
    let now = clock.now()
    let recorded = try store.recordedFacts().filter { $0.fact.kind == .claim || $0.fact.kind == .request }
    var result: [ControlAPI.PendingWord] = []
    var seen: Set<String> = []
    for entry in recorded {
      let f = entry.fact
      let obligation = "\(f.ruleID)\u{0}\(f.unitID)\u{0}\(f.period)"
      // A claim whose obligation is met or exempted since waits for nothing.
      guard seen.insert(obligation).inserted, let finding = self.finding(engine, f.ruleID, f.unitID, f.period, now),
        !finding.state.isClosed
      else { continue }
      for pending in [finding.claimFact, finding.requestFact].compactMap({ $0 }) {
        guard
          let match = recorded.last(where: {
            $0.fact.kind == pending.kind && $0.fact.unitID == f.unitID && $0.fact.ruleID == f.ruleID
              && $0.fact.period == f.period && $0.fact.at == pending.at && $0.fact.reference == pending.reference
          })
        else { continue }
        result.append(
          ControlAPI.PendingWord(
            id: match.id, kind: pending.kind.rawValue, rule: f.ruleID, unit: f.unitID, unitName: finding.unit.name,
            period: f.period, at: pending.at.map(zone.rfc3339), reference: pending.reference,
            due: pending.due?.description, reason: pending.reason, deadline: zone.rfc3339(finding.deadline),
            state: finding.state, source: match.source, recordedBy: match.recordedByName))
      }
    }
    return result.sorted { ($0.at ?? "", $0.id) < ($1.at ?? "", $1.id) }
  }

  /// Accepts the obligation's pending claim (by default) or request: a claim becomes the
  /// `report` fact with the claimed reference, dated when the unit claimed it; a request, the
  /// `extension` to the day it asked for. Recorded by the officer's name.
  public func acceptWord(
    rule: String, unit: String, period: String, kind: Fact.Kind? = nil, by name: String, source: String,
    uid: UInt32? = nil
  ) throws -> ControlAPI.RecordedFact {
    let pending = try pendingWord(rule: rule, unit: unit, period: period, kind: kind)
    let accepted: Fact
    if pending.kind == .claim {
      accepted = Fact(
        kind: .report, unitID: unit, ruleID: rule, period: period, at: pending.at, reference: pending.reference)
    } else {
      accepted = Fact(
        kind: .extension, unitID: unit, ruleID: rule, period: period, at: wholeSecond(clock.now()), due: pending.due,
        decidedBy: name, reason: pending.reason)
    }
    return try recordVerdict(accepted, of: pending, name: name, source: source, uid: uid, verb: "accepted")
  }

  /// Returns the obligation's pending claim (by default) or request, with the reason the unit
  /// is told: its ladder resumes at once.
  public func returnWord(
    rule: String, unit: String, period: String, reason: String, kind: Fact.Kind? = nil, by name: String,
    source: String, uid: UInt32? = nil
  ) throws -> ControlAPI.RecordedFact {
    let reason = reason.trimmingCharacters(in: .whitespacesAndNewlines)
    guard !reason.isEmpty else { throw HTTPFailure(400, "returning a claim or request needs a reason") }
    let pending = try pendingWord(rule: rule, unit: unit, period: period, kind: kind)
    let returned = Fact(
      kind: .returned, unitID: unit, ruleID: rule, period: period, at: wholeSecond(clock.now()), decidedBy: name,
      reason: reason)
    return try recordVerdict(returned, of: pending, name: name, source: source, uid: uid, verb: "returned")
  }

  private func recordVerdict(
    _ fact: Fact, of pending: Fact, name: String, source: String, uid: UInt32?, verb: String
  ) throws -> ControlAPI.RecordedFact {
    let zone = current.deployment.zone
    let now = clock.now()
    // The pending word's row: the verdict is refused if anything answered it since.
    let rows = try store.recordedFacts(unit: fact.unitID, rule: fact.ruleID, period: fact.period)
    guard
      let answering = rows.last(where: {
        $0.fact.kind == pending.kind && $0.fact.at == pending.at && $0.fact.reference == pending.reference
          && $0.fact.due == pending.due && $0.fact.reason == pending.reason
      })
    else { throw HTTPFailure(409, "the \(pending.kind.rawValue) was retracted meanwhile") }
    do {
      let recorded = try store.recordVerdict(
        fact, answering: answering.id, by: .init(uid: uid, source: source, name: name), now: now)
      Log.write(
        .notice,
        "\(pending.kind.rawValue) \(answering.id) of \(fact.unitID) \(fact.ruleID) \(fact.period) \(verb) by \(name) "
          + "via \(source)")
      changed()
      return Self.wire(recorded, zone: zone)
    } catch Store.VerdictError.alreadyAnswered {
      throw HTTPFailure(
        409, "the \(pending.kind.rawValue) of \(fact.unitID) for \(fact.ruleID) \(fact.period) was answered meanwhile")
    }
  }

  /// Facts are dated to the second, as a fact recorded through the socket is (its `at` is read
  /// from RFC 3339): a verdict dated 09:00:01.8 would otherwise come after a claim the unit made
  /// at 09:00:01.3, later, and be taken to answer it.
  private func wholeSecond(_ instant: Date) -> Date {
    Date(timeIntervalSince1970: instant.timeIntervalSince1970.rounded(.down))
  }

  /// The claim or request of an obligation waiting for a verdict; a 404 when none waits.
  private func pendingWord(rule: String, unit: String, period: String, kind: Fact.Kind?) throws -> Fact {
    if let kind, kind != .claim, kind != .request {
      throw HTTPFailure(400, "kind: a verdict is on a claim or a request, not \(kind.rawValue)")
    }
    try checkKnown(rules: [rule], units: [unit])
    guard let parsed = Period(period) else {
      throw HTTPFailure(400, "period must read 2026, 2026-Q3 or 2026-09, not \(period)")
    }
    let engine = try engine()
    guard let finding = finding(engine, rule, unit, parsed.description, clock.now()) else {
      throw HTTPFailure(404, "\(unit) does not owe \(rule) for \(period)")
    }
    var found: Fact?
    switch kind {
    case .claim: found = finding.claimFact
    case .request: found = finding.requestFact
    default: found = finding.claimFact ?? finding.requestFact
    }
    if finding.state.isClosed { found = nil }
    guard let found else {
      let what = kind.map { "no \($0.rawValue)" } ?? "no claim or request"
      let state = finding.state.isClosed ? " (the obligation is \(finding.state.rawValue))" : ""
      throw HTTPFailure(404, "\(what) of \(unit) for \(rule) \(period) waits for a verdict\(state)")
    }
    return found
  }

  /// One obligation judged now, on the rule's ladder for the period; nil when the unit does not
  /// owe it.
  private func finding(
    _ engine: Engine, _ ruleID: String, _ unitID: String, _ periodText: String, _ now: Date
  )
    -> Finding?
  {
    guard let rule = engine.ruleset.rule(ruleID), let period = Period(periodText) else { return nil }
    let ladder = engine.ladder(rule, period: period)
    guard let unit = engine.roster(of: rule, deadline: ladder.deadline).first(where: { $0.id == unitID }) else {
      return nil
    }
    return engine.finding(on: ladder, unit: unit, at: now)
  }
}
