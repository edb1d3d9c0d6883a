public import Foundation

/// What a decided notice needs, judged again at the instant it is to be sent.
public enum SendCheck: Sendable {
  /// Still owed: send it, with the findings (and a summary's report) as they are now.
  case send(Evaluated)
  /// No longer owed or no longer meant: recorded as suppressed, with why.
  case suppress(reason: String)
  /// Not now: outside the send window, or its rule could not be judged; try at `until`.
  case wait(reason: String, until: Date)
  /// Held by an operator's silence: judged again when it ends.
  case silenced(by: Silence)

  public struct Evaluated: Sendable {
    public let decision: NoticeDecision
    /// The obligations it speaks of, as of now, by key; a digest's closed items are left out.
    public let findings: [NoticeKey: Finding]
    /// The digest items still owed, in order.
    public let items: [NoticeContent.DigestItem]
    /// A summary's report, or the report a rule attaches, as of now.
    public let report: ConsolidatedReport?
    public let now: Date
  }
}

extension Engine {
  /// The send-time stages before rendering, in order, each of one shape (what the one before it
  /// found, and the send instant): **judge** (is every obligation it names still owed, on the same
  /// ladder, with its rule and unit still configured?), **mute** (an operator's silence, the same
  /// rule planning holds notices by) and **window** (working time, no holiday). Pure: the facts,
  /// silences and directory are the engine's, `now` is the send instant. With `window: false`, as
  /// a simulation judges a notice at its own instant.
  public func check(_ decision: NoticeDecision, at now: Date, window checkWindow: Bool = true) -> SendCheck {
    let judged = judge(decision, at: now)
    let muted = mute(judged, at: now)
    return checkWindow ? window(muted, at: now) : muted
  }

  /// Stage "judge": the notice as owed now, with the findings (and a summary's report) of now; a
  /// digest keeps the items still owed.
  func judge(_ decision: NoticeDecision, at now: Date) -> SendCheck {
    switch decision.content {
    case .obligation(let key, _, _):
      switch stillOwed(key, at: now) {
      case .owed(let finding):
        let rule = ruleset.rule(key.rule)
        let report = rule.flatMap { $0.attachReport.isEmpty ? nil : $0.attachReport }.map {
          self.report(period: key.period, ruleIDs: $0, at: now)
        }
        return .send(.init(decision: decision, findings: [key: finding], items: [], report: report, now: now))
      case .not(let reason): return .suppress(reason: reason)
      case .unjudged(let reason): return .wait(reason: reason, until: now.addingTimeInterval(300))
      }
    case .digest(let items):
      var findings: [NoticeKey: Finding] = [:]
      var open: [NoticeContent.DigestItem] = []
      for item in items {
        switch stillOwed(item.key, at: now) {
        case .owed(let finding):
          findings[item.key] = finding
          open.append(item)
        case .not: continue
        case .unjudged(let reason): return .wait(reason: reason, until: now.addingTimeInterval(300))
        }
      }
      guard !open.isEmpty else { return .suppress(reason: "every item of the digest is settled") }
      return .send(.init(decision: decision, findings: findings, items: open, report: nil, now: now))
    case .summary(let key):
      guard let rule = ruleset.rule(key.rule), let summary = rule.kind as? SummaryKind else {
        return .suppress(reason: "rule \(key.rule) is no longer a summary in the configuration")
      }
      guard let unit = context.directory.record(key.unit) else {
        return .suppress(reason: "unit \(key.unit) is no longer in the directory")
      }
      let report = self.report(
        period: key.period, ruleIDs: summary.rules, scope: summary.part == .children ? key.unit.id : nil, at: now)
      // The summary's own standing, for its title and due date.
      let finding = finding(on: ladder(rule, period: key.period), unit: unit, at: now)
      return .send(.init(decision: decision, findings: [key: finding], items: [], report: report, now: now))
    }
  }

  /// Stage "mute": a notice about an obligation a silence covers is held until the silence ends
  /// (`silence(for:at:)`, the rule planning holds notices by too); a digest planned before a
  /// silence began goes without the items it holds, and is held whole only when it holds them all.
  func mute(_ verdict: SendCheck, at now: Date) -> SendCheck {
    guard case .send(let evaluated) = verdict else { return verdict }
    switch evaluated.decision.content {
    case .obligation(let key, _, _), .summary(let key):
      if let silence = silence(for: key, at: now) { return .silenced(by: silence) }
      return verdict
    case .digest:
      var held: [Silence] = []
      let free = evaluated.items.filter { item in
        guard let silence = silence(for: item.key, at: now) else { return true }
        held.append(silence)
        return false
      }
      if free.isEmpty, let longest = held.max(by: { ($0.ends, $0.id) < ($1.ends, $1.id) }) {
        return .silenced(by: longest)
      }
      guard !held.isEmpty else { return verdict }
      return .send(
        .init(
          decision: evaluated.decision,
          findings: evaluated.findings.filter { key, _ in free.contains { $0.key == key } },
          items: free, report: nil, now: now))
    }
  }

  /// Stage "window": outside working time, or on a holiday, the notice waits for the window.
  func window(_ verdict: SendCheck, at now: Date) -> SendCheck {
    guard case .send = verdict else { return verdict }
    let window = ruleset.settings.sendWindow
    guard window.contains(now, calendar: calendar) else {
      return .wait(reason: "outside the send window", until: window.next(atOrAfter: now, calendar: calendar))
    }
    return verdict
  }

  enum Owed {
    case owed(Finding)
    case not(String)
    case unjudged(String)
  }

  /// Whether the obligation behind a key is still open on the ladder the key names.
  func stillOwed(_ key: NoticeKey, at now: Date) -> Owed {
    guard let rule = ruleset.rule(key.rule), rule.kind.isObligation else {
      return .not("rule \(key.rule) is no longer in the configuration")
    }
    guard let unit = context.directory.record(key.unit) else {
      return .not("unit \(key.unit) is no longer in the directory")
    }
    let finding = finding(on: ladder(rule, period: key.period), unit: unit, at: now)
    if let failure = finding.assessment.failure { return .unjudged("rule \(rule.id) not judged: \(failure)") }
    switch finding.state {
    case .metOnTime, .metLate:
      let reference = finding.assessment.reference.map { " (\($0))" } ?? ""
      return .not("met\(reference) before it was sent")
    case .exempt: return .not("exempted before it was sent")
    case .claimed:
      let reference = finding.claimFact?.reference.map { " (\($0))" } ?? ""
      return .not("the unit claims to have sent its report\(reference); the Department verifies it")
    default: break
    }
    let named = rule.due(for: finding).namedDate(ofDeadline: finding.deadline, zone: zone)
    if named != key.deadline || rule.due.time != key.time {
      let moved = "\(named)" + (rule.due.time.map { " \($0)" } ?? "")
      return .not("the deadline moved to \(moved) before it was sent; the new ladder takes over")
    }
    if key.step.isReminder && now >= finding.ends {
      return .not("the deadline passed before it could be sent; the escalations speak for it")
    }
    // As catch-up keeps the newest step per audience, a notice held back (a silence, retries)
    // gives way to a newer rung for the same audience once that one is due.
    let steps = self.ladder(for: finding, on: ladder(rule, period: key.period)).steps
    if let own = steps.first(where: { $0.id == key.step }),
      let newer = Engine.newest(of: own.audience, in: steps, through: now), newer.at > own.at
    {
      return .not("a newer step (\(newer.id)) for the same audience fell due; it speaks for this one")
    }
    return .owed(finding)
  }
}

extension Directory {
  /// The unit record a reference names: its id, starting on its day.
  public func record(_ ref: UnitRef) -> OrgUnit? {
    records(of: ref.id).first { $0.validFrom == ref.validFrom }
  }
}
