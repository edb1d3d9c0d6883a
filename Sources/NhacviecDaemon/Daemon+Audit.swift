import Foundation
import NhacviecConfig
public import NhacviecControl
import NhacviecCore
import NhacviecStore

/// Correcting facts and silencing notices: what the control API's `/v1/facts` listing and
/// retraction and `/v1/silences` do.
extension Daemon {
  public func recordedFacts(
    unit: String?, rule: String?, period: String?, retracted: Bool
  ) throws -> [ControlAPI.RecordedFact] {
    let zone = current.deployment.zone
    return try store.recordedFacts(unit: unit, rule: rule, period: period, retracted: retracted).map {
      Self.wire($0, zone: zone)
    }
  }

  static func wire(_ recorded: Store.RecordedFact, zone: Zone) -> ControlAPI.RecordedFact {
    ControlAPI.RecordedFact(
      id: recorded.id, fact: recorded.fact, zone: zone, recordedAt: zone.rfc3339(recorded.recordedAt),
      recordedBy: recorded.recordedBy, source: recorded.source, recordedByName: recorded.recordedByName,
      retracted: recorded.retraction.map { .init(at: zone.rfc3339($0.at), by: $0.by, reason: $0.reason) })
  }

  /// Takes a fact back and plans again at once: the reminders it had stopped are due.
  public func retract(id: Int64, reason: String, uid: UInt32) throws -> ControlAPI.RecordedFact {
    let trimmed = reason.trimmingCharacters(in: .whitespacesAndNewlines)
    guard !trimmed.isEmpty else { throw HTTPFailure(400, "a retraction needs a reason") }
    let zone = current.deployment.zone
    let now = clock.now()
    do {
      let fact = try store.retract(id: id, by: uid, reason: trimmed, now: now)
      let f = fact.fact
      Log.write(
        .notice,
        "fact \(id) retracted by uid \(uid): \(f.kind.rawValue) \(f.unitID) \(f.ruleID) \(f.period) (\(trimmed))")
      changed()
      return Self.wire(fact, zone: zone)
    } catch Store.RetractionError.noSuchFact {
      throw HTTPFailure(404, "no fact with id \(id)")
    } catch Store.RetractionError.alreadyRetracted(let at) {
      throw HTTPFailure(409, "fact \(id) was already retracted at \(zone.rfc3339(at))")
    }
  }

  public func silences(all: Bool) throws -> [ControlAPI.Silence] {
    let zone = current.deployment.zone
    let now = clock.now()
    return try store.silences().filter { all || $0.ends > now }.map { ControlAPI.Silence($0, zone: zone, now: now) }
  }

  /// Adds a silence from now; the next pass holds what it covers.
  public func addSilence(_ request: ControlAPI.SilenceRequest, uid: UInt32) throws -> ControlAPI.Silence {
    let deployment = current.deployment
    let zone = deployment.zone
    let now = clock.now()
    func given(_ value: String?) -> String? {
      value.map { $0.trimmingCharacters(in: .whitespaces) }.flatMap { $0.isEmpty ? nil : $0 }
    }
    let rule = given(request.rule)
    let unit = given(request.unit)
    let period = given(request.period)
    guard rule != nil || unit != nil else { throw HTTPFailure(400, "a silence needs a rule, a unit or both") }
    try checkKnown(rules: rule.map { [$0] } ?? [], units: unit.map { [$0] } ?? [])
    if let period, Period(period) == nil {
      throw HTTPFailure(400, "period must read 2026, 2026-Q3 or 2026-09, not \(period)")
    }
    guard let until = zone.parseInstant(request.until) else {
      throw HTTPFailure(400, "until: expected 2026-11-20 or 2026-11-20T17:00:00+07:00, not \(request.until)")
    }
    guard until > now else { throw HTTPFailure(400, "until: \(zone.rfc3339(until)) is not in the future") }
    let reason = request.reason.trimmingCharacters(in: .whitespacesAndNewlines)
    guard !reason.isEmpty else { throw HTTPFailure(400, "a silence needs a reason") }
    let silence = try store.addSilence(
      rule: rule, unit: unit, period: period.flatMap(Period.init)?.description, until: until, reason: reason, by: uid,
      now: now)
    Log.write(
      .notice, "silence \(silence.id) added by uid \(uid): \(silence.matchers) until \(zone.rfc3339(until)) (\(reason))"
    )
    changed()
    return ControlAPI.Silence(silence, zone: zone, now: now)
  }

  /// Ends a silence now: what it held is judged again at once.
  public func expireSilence(id: Int64, uid: UInt32) throws -> ControlAPI.Silence {
    let zone = current.deployment.zone
    let now = clock.now()
    do {
      let silence = try store.expireSilence(id: id, by: uid, now: now)
      Log.write(.notice, "silence \(id) expired by uid \(uid): \(silence.matchers)")
      changed()
      return ControlAPI.Silence(silence, zone: zone, now: now)
    } catch Store.SilenceError.noSuchSilence {
      throw HTTPFailure(404, "no silence with id \(id)")
    } catch Store.SilenceError.alreadyEnded(let at) {
      throw HTTPFailure(409, "silence \(id) already ended at \(zone.rfc3339(at))")
    }
  }
}
