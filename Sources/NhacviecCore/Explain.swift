public import Foundation

/// Why a unit is where it is: each obligation with its deadline, the facts that count, its place
/// on the ladder and what would stop it. Pure, like the rest of evaluation.
public struct Explanation: Sendable {
  public enum StepStatus: String, Sendable, Codable {
    /// Its instant has come (what became of it is the journal's to say).
    case past
    case next
    case later
  }

  public struct Step: Sendable {
    public let step: String
    public let at: Date
    public let status: StepStatus
    public let to: [String]
    /// The rung's key: what the journal holds of it is found by it.
    public let key: NoticeKey
  }

  public struct Obligation: Sendable {
    public let rule: String
    public let title: String
    public let basis: String
    public let period: Period
    /// Nil when the rule's program could not judge.
    public let state: FindingState?
    public let due: String
    public let deadline: Date
    public let facts: [String]
    public let details: [String]
    public let ladder: [Step]
    public let stops: String
  }

  public let unit: String
  public let unitName: String
  public let at: Date
  public let obligations: [Obligation]
}

extension Engine {
  /// Explains the obligations of one unit (optionally one rule) at `now`.
  public func explain(unitID: String, ruleID: String? = nil, at now: Date) -> Explanation? {
    let date = zone.localDate(of: now)
    guard
      let unit = context.directory.unit(unitID, on: date) ?? context.directory.units.last(where: { $0.id == unitID })
    else { return nil }
    var obligations: [Explanation.Obligation] = []
    for rule in ruleset.rules where rule.kind.isObligation && (ruleID.map({ $0 == rule.id }) ?? true) {
      for ruleLadder in ladders(of: rule, since: now, now: now) {
        // The record that owes it: the roster's, not whichever record holds the id today.
        guard let owing = roster(of: rule, deadline: ruleLadder.deadline).first(where: { $0.id == unitID }) else {
          continue
        }
        let finding = finding(on: ruleLadder, unit: owing, at: now)
        let ladder = self.ladder(for: finding, on: ruleLadder)
        let period = ladder.period
        let nextIndex = ladder.steps.firstIndex { $0.at > now }
        let channel = rule.channels.first.flatMap { ruleset.channels[$0] }
        let steps = ladder.steps.enumerated().map { index, step in
          let recipients = resolve(step.to, unit: owing, on: zone.localDate(of: step.at))
          return Explanation.Step(
            step: step.id.description, at: step.at,
            status: step.at <= now ? .past : (index == nextIndex ? .next : .later),
            to: channel.map { addressees(of: recipients, channel: $0).map(\.address) } ?? [],
            key: ladder.key(step, unit: owing))
        }
        let facts = context.facts.facts.filter {
          $0.ruleID == rule.id && $0.period == period.description && $0.unitID == unitID && $0.isKnown(at: now)
        }.map { fact -> String in
          var parts = [fact.kind.rawValue]
          if let at = fact.at { parts.append("at \(zone.rfc3339(at))") }
          if let reference = fact.reference { parts.append(reference) }
          if let amount = fact.amount { parts.append(Money.vietnamese(amount)) }
          if let due = fact.due { parts.append("new due date \(due)") }
          if let by = fact.decidedBy { parts.append("by \(by)") }
          return parts.joined(separator: ", ")
        }
        var details: [String] = []
        if finding.ends != finding.deadline {
          details.append(
            "its last day is a day off: the time limit ends \(zone.rfc3339(finding.ends)) (deadline_on_day_off: "
              + "\(calendar.dayOff.rawValue))")
        }
        let a = finding.assessment
        if let total = a.childrenTotal, let done = a.childrenIn {
          details.append("children in: \(done) of \(total)")
          if !a.missingChildren.isEmpty {
            details.append("missing: " + a.missingChildren.map { "\($0.id) \($0.name)" }.joined(separator: ", "))
          }
        }
        if let minimum = a.minimumAmount {
          details.append(
            "budget line: \(a.amount.map(Money.vietnamese) ?? "none recorded"), minimum \(Money.vietnamese(minimum))")
        }
        if let note = a.note { details.append(note) }
        if let failure = a.failure { details.append("not judged: \(failure)") }
        if let request = finding.requestFact {
          let day = request.due.map { " to \($0.vietnamese)" } ?? ""
          details.append(
            "the unit asks for more time\(day) (\(request.reason ?? "")); the deadline stands until it is accepted")
        }
        if let silence = context.silences.active(
          rule: rule.id, unit: unitID, period: period.description, at: now)
        {
          details.append("\(silence.heldReason(in: zone)); its notices are held, and judged again when it ends")
        }
        let stops: String
        switch finding.state {
        case _ where a.failure != nil:
          stops = "no notice goes out until the rule's program answers; the daemon retries every 5 minutes"
        case .metOnTime, .metLate, .exempt: stops = "nothing is owed: no more notices"
        case .claimed:
          let reference = finding.claimFact?.reference.map { " (\($0))" } ?? ""
          stops =
            "the unit claims to have sent its report\(reference): no notices while the Department verifies it "
            + "(nhacviec claims accept, or return with a reason to resume the ladder)"
        default:
          switch rule.kindName {
          case "budget": stops = "a budget line of at least the minimum (record budget), an extension or an exemption"
          case "rollup": stops = "the unit's own consolidated report (record report), an extension or an exemption"
          case "exec": stops = "whatever the rule's program counts as done, an extension or an exemption"
          default: stops = "a report received (record report), an extension or an exemption"
          }
        }
        obligations.append(
          Explanation.Obligation(
            rule: rule.id, title: rule.title(for: finding, zone: zone),
            basis: rule.cited(for: finding.unit, parent: finding.parent, period: period, calendar: calendar).basis,
            period: period, state: a.failure == nil ? finding.state : nil,
            due: rule.due.phrase(named: ladder.named), deadline: finding.deadline,
            facts: facts, details: details, ladder: steps, stops: stops))
      }
    }
    return Explanation(unit: unit.id, unitName: unit.name, at: now, obligations: obligations)
  }
}
