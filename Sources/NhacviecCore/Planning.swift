public import Foundation

/// What one pass of the planner decides at `now`.
public struct Plan: Sendable {
  public let now: Date
  /// Notices to send, catch-up and digests applied, in time and key order.
  public let due: [NoticeDecision]
  /// Steps that fell due while nobody planned and that a newer step for the same audience
  /// replaces: recorded, never sent.
  public let superseded: [NoticeDecision]
  /// Steps due now that reach nobody through a channel: a missing contact in the directory.
  public let unroutable: [Unroutable]
  /// The next instant at which anything can change; nil when nothing ever will.
  public let next: Date?
  /// Rules and periods that could not be judged (an external program failed): they planned
  /// nothing, and must be planned again from the same `since` once they can be.
  public let failures: [RuleFailure]
  /// Notices due now that an operator's silence holds: journaled as silenced, judged again when
  /// the silence ends. Never merged into a digest.
  public let silenced: [Held]
  /// The rungs a correction found owed, before muting and digests: what judging again sent.
  public var rejudged: [NoticeDecision] = []

  public struct Unroutable: Sendable, Hashable {
    public let key: NoticeKey
    public let channel: String
  }

  public struct Held: Sendable {
    public let decision: NoticeDecision
    public let silence: Silence
    /// The journal's last error for it: which silence, until when, why.
    public let reason: String
  }
}

/// What a correction asks to judge again: the obligations of a rule, of a unit (and of the units
/// above it, whose consolidated obligations count it), of a period, of any of them together, or
/// every obligation (`everything`: the configuration changed). A nil part matches anything.
public struct RejudgeScope: Sendable, Hashable {
  public let rule: String?
  public let unit: String?
  public let period: String?

  public init(rule: String?, unit: String?, period: String?) {
    self.rule = rule
    self.unit = unit
    self.period = period
  }

  public static let everything = RejudgeScope(rule: nil, unit: nil, period: nil)
}

/// Who has heard each rung, as the journal tells: what the re-judge needs to send a rung only to
/// those it is still owed to. Read from the journal for the rungs a draft names, nothing more.
public struct Coverage: Sendable {
  public struct Rung: Hashable, Sendable {
    public let key: NoticeKey
    public let channel: String

    public init(key: NoticeKey, channel: String) {
      self.key = key
      self.channel = channel
    }
  }

  public struct Heard: Sendable, Hashable {
    /// The highest revision the journal holds of the rung through the channel, alone or in a
    /// digest, whatever became of it; nil when it holds none.
    public var lastRevision: Int?
    /// The addresses that heard it or are about to: those of its notices sent or still under way
    /// (planned, being sent, failed and retrying, held by a silence), and of the digests that
    /// carried it or will. A notice suppressed, superseded or dead told nobody.
    public var addresses: Set<String>

    public init(lastRevision: Int?, addresses: Set<String>) {
      self.lastRevision = lastRevision
      self.addresses = addresses
    }
  }

  public var rungs: [Rung: Heard]

  public init(_ rungs: [Rung: Heard] = [:]) { self.rungs = rungs }
}

/// What the first stages of a pass find at `now` (ladder → evaluate → newest rung → route),
/// before the journal is asked who has heard what.
public struct Draft: Sendable {
  public let now: Date
  /// Rungs that fell due in (since, now], the newest per audience: new by construction.
  public let fallen: [NoticeDecision]
  /// Older rungs that fell due in the same window, replaced by a newer one for their audience.
  public let superseded: [NoticeDecision]
  /// For each re-judged obligation, the newest rung owed to each audience, routed now: sent as of
  /// now to whoever the journal does not show has heard it.
  public let rejudged: [NoticeDecision]
  /// The older rungs of re-judged obligations: recorded as superseded where the journal holds
  /// nothing of them.
  public let rejudgedSuperseded: [NoticeDecision]
  public let unroutable: [Plan.Unroutable]
  public let next: Date?
  public let failures: [RuleFailure]

  /// The rungs whose coverage the owed stage asks the journal for.
  public var rungs: [Coverage.Rung] {
    (rejudged + rejudgedSuperseded).compactMap { decision in
      decision.noticeKey.map { Coverage.Rung(key: $0, channel: decision.channel) }
    }
  }
}

/// Which obligations a set of re-judge scopes touches, with each unit's ancestors resolved once.
struct RejudgeMatcher {
  let everything: Bool
  let scopes: [(rule: String?, units: Set<String>?, period: String?)]

  init?(_ scopes: [RejudgeScope], directory: Directory) {
    guard !scopes.isEmpty else { return nil }
    everything = scopes.contains(.everything)
    self.scopes = scopes.map { scope in
      (scope.rule, scope.unit.map { RejudgeMatcher.withAncestors($0, in: directory) }, scope.period)
    }
  }

  /// The unit's id and those of every unit above any of its records: a consolidated obligation
  /// (a district's, over its communes' reports) is judged again with its children's.
  static func withAncestors(_ id: String, in directory: Directory) -> Set<String> {
    var ids: Set<String> = [id]
    var frontier = [id]
    while let next = frontier.popLast() {
      for record in directory.records(of: next) {
        if let parent = record.parentID, ids.insert(parent).inserted { frontier.append(parent) }
      }
    }
    return ids
  }

  func matches(rule: String, unit: String, period: String) -> Bool {
    if everything { return true }
    return scopes.contains { scope in
      (scope.rule.map { $0 == rule } ?? true) && (scope.units.map { $0.contains(unit) } ?? true)
        && (scope.period.map { $0 == period } ?? true)
    }
  }
}

extension Engine {
  // MARK: - Stages 1–4: ladder, evaluate, newest rung, route

  /// The rungs owed at `now`, routed. `since` is the last completed pass (nil on a first start,
  /// when every ladder under way is caught up): a rung whose instant falls in (since, now] is
  /// new. `sinceByRule` holds, for a rule that could not be judged in an earlier pass, the `since`
  /// of that pass, so nothing of it is skipped (`.distantPast` when that pass was a first start).
  ///
  /// The obligations a correction touches (`rejudge`) are judged again whole: for each audience,
  /// the newest rung due by now, whenever it fell due and whatever became of it, goes to the
  /// owed stage, which sends it to those the journal shows have not heard it.
  public func draft(
    since: Date?, now: Date, sinceByRule: [String: Date] = [:], rejudge: [RejudgeScope] = []
  ) -> Draft {
    var fallen: [NoticeDecision] = []
    var superseded: [NoticeDecision] = []
    var rejudged: [NoticeDecision] = []
    var rejudgedSuperseded: [NoticeDecision] = []
    var unroutable: [Plan.Unroutable] = []
    var failures: Set<RuleFailure> = []
    var next: Date?
    let matcher = RejudgeMatcher(rejudge, directory: context.directory)
    func wake(_ instant: Date) { if instant > now, next.map({ instant < $0 }) ?? true { next = instant } }
    func stepsDue(on ladder: Ladder, rule: Rule, finding: Finding, unit: OrgUnit, periodText: String, from: Date) {
      wake(finding.ends)
      if let later = ladder.steps.first(where: { $0.at > now }) { wake(later.at) }
      // A corrected obligation is judged whole: its newest rung per audience, whenever it fell.
      let corrected = matcher?.matches(rule: rule.id, unit: unit.id, period: periodText) ?? false
      // Escalations stop at the ladder's end: past it, nothing is owed any more.
      if corrected && now > ladder.closes { return }
      let caught = Engine.catchUp(
        ladder.steps, since: corrected ? .distantPast : from, now: now, deadline: ladder.ends)
      var due: [NoticeDecision] = []
      var older: [NoticeDecision] = []
      for step in caught.due {
        let routed = route(step, key: ladder.key(step, unit: unit), rule: rule, unit: unit)
        due += routed.decisions
        unroutable += routed.unroutable
      }
      for step in caught.superseded {
        older += route(step, key: ladder.key(step, unit: unit), rule: rule, unit: unit).decisions
      }
      // A verdict returning the unit's word is told to the unit once, whatever rung it heard
      // before it spoke: the rungs it has heard already would otherwise say nothing new.
      if let returned = finding.returnedFact, let at = returned.at, at <= now, corrected || at > from,
        let verdict = verdictNotice(returned, on: ladder, rule: rule, unit: unit)
      {
        due += verdict.decisions
        unroutable += verdict.unroutable
      }
      if corrected {
        rejudged += due
        rejudgedSuperseded += older
      } else {
        fallen += due
        superseded += older
      }
    }

    for rule in ruleset.rules {
      let ruleSince: Date?
      switch sinceByRule[rule.id] {
      case .some(.distantPast): ruleSince = nil
      case .some(let date): ruleSince = date
      case .none: ruleSince = since
      }
      // On a first start only ladders still under way count; every step of theirs is missed.
      let from = ruleSince ?? .distantPast
      for ruleLadder in ladders(of: rule, since: ruleSince ?? now, now: now) {
        // A ladder that has not started has nothing to send: nobody needs judging yet.
        if ruleLadder.opens > now {
          wake(ruleLadder.opens)
          continue
        }
        let periodText = ruleLadder.period.description
        for unit in roster(of: rule, deadline: ruleLadder.deadline) {
          let finding = finding(on: ruleLadder, unit: unit, at: now)
          if let failure = finding.assessment.failure {
            failures.insert(RuleFailure(ruleID: rule.id, period: periodText, message: failure))
            continue
          }
          if finding.state.stopsNotices { continue }
          // The rule's ladder is passed on, not copied into a local: a ladder holds its rule, and
          // copying a rule for every unit of a pass cost more than judging the unit.
          if finding.extensionFact?.due == nil {
            stepsDue(on: ruleLadder, rule: rule, finding: finding, unit: unit, periodText: periodText, from: from)
          } else {
            stepsDue(
              on: self.ladder(for: finding, on: ruleLadder), rule: rule, finding: finding, unit: unit,
              periodText: periodText, from: from)
          }
        }
      }
    }
    for instant in context.facts.instants + context.silences.instants where instant > now { wake(instant) }
    return Draft(
      now: now, fallen: fallen, superseded: superseded, rejudged: rejudged, rejudgedSuperseded: rejudgedSuperseded,
      unroutable: unroutable, next: next, failures: failures.sorted { ($0.ruleID, $0.period) < ($1.ruleID, $1.period) })
  }

  // MARK: - Stage 5: owed

  /// The re-judged rungs as the journal leaves them owed: each to the addresses that have not
  /// heard it, as a new revision when an earlier one was journaled (whatever became of it); the
  /// older rungs recorded as superseded where the journal holds nothing of them.
  public static func owed(_ draft: Draft, coverage: Coverage) -> (due: [NoticeDecision], superseded: [NoticeDecision]) {
    var due: [NoticeDecision] = []
    for decision in draft.rejudged {
      guard let key = decision.noticeKey else { continue }
      let heard = coverage.rungs[Coverage.Rung(key: key, channel: decision.channel)]
      let owedTo = decision.addressees.filter { !(heard?.addresses.contains($0.address) ?? false) }
      guard !owedTo.isEmpty else { continue }
      let revision = heard?.lastRevision.map { $0 + 1 } ?? 0
      due.append(
        revision == 0 && owedTo.count == decision.addressees.count
          ? decision : decision.revised(revision, reason: decision.reason, to: owedTo))
    }
    let superseded = draft.rejudgedSuperseded.filter { decision in
      guard let key = decision.noticeKey else { return false }
      return coverage.rungs[Coverage.Rung(key: key, channel: decision.channel)]?.lastRevision == nil
    }
    return (due, superseded)
  }

  // MARK: - Stage 6: mute

  /// The silence holding notices about a rung's obligation at `now`: the one mute rule, asked
  /// when a notice is planned and again when it is sent.
  public func silence(for key: NoticeKey, at now: Date) -> Silence? { context.silences.active(for: key, at: now) }

  /// Splits decisions into those that go and those an operator's silence holds until it ends.
  public func mute(_ decisions: [NoticeDecision], at now: Date) -> (due: [NoticeDecision], held: [Plan.Held]) {
    // Most passes run with no silence at all: nothing to look up then.
    guard !context.silences.silences.isEmpty else { return (decisions, []) }
    var due: [NoticeDecision] = []
    var held: [Plan.Held] = []
    for decision in decisions {
      if let key = decision.noticeKey, let silence = silence(for: key, at: now) {
        held.append(Plan.Held(decision: decision, silence: silence, reason: silence.heldReason(in: zone)))
      } else {
        due.append(decision)
      }
    }
    return (due, held)
  }

  // MARK: - The plan: every stage, in order

  /// owed → mute → digest over a draft: what the pass journals.
  public func plan(_ draft: Draft, coverage: Coverage = Coverage()) -> Plan {
    let owed = Engine.owed(draft, coverage: coverage)
    let muted = mute(draft.fallen + owed.due, at: draft.now)
    var due = digested(muted.due)
    due.sort { ($0.scheduledAt, $0.key, $0.channel) < ($1.scheduledAt, $1.key, $1.channel) }
    return Plan(
      now: draft.now, due: due, superseded: draft.superseded + owed.superseded, unroutable: draft.unroutable,
      next: draft.next, failures: draft.failures, silenced: muted.held, rejudged: owed.due)
  }

  /// Every stage at once, for a journal that holds nothing of the re-judged rungs (`simulate`,
  /// tests), or the coverage given.
  public func plan(
    since: Date?, now: Date, sinceByRule: [String: Date] = [:], rejudge: [RejudgeScope] = [],
    coverage: Coverage = Coverage()
  ) -> Plan {
    plan(draft(since: since, now: now, sinceByRule: sinceByRule, rejudge: rejudge), coverage: coverage)
  }
}
