public import Foundation

/// When notices may go out: working days of the calendar, between two times of day.
public struct SendWindow: Sendable, Hashable {
  public let opens: TimeOfDay
  public let closes: TimeOfDay

  public init(opens: TimeOfDay = TimeOfDay("08:00")!, closes: TimeOfDay = TimeOfDay("17:00")!) {
    self.opens = opens
    self.closes = closes
  }

  /// The first instant at or after `instant` inside the window.
  public func next(atOrAfter instant: Date, calendar: WorkingCalendar) -> Date {
    let zone = calendar.zone
    let date = zone.localDate(of: instant)
    if calendar.isWorkingDay(date) {
      let time = zone.timeOfDay(of: instant)
      if time < opens { return zone.instant(date, opens) }
      if time < closes { return instant }
    }
    return zone.instant(calendar.workingDay(1, from: date), opens)
  }

  /// The last window opening strictly before `instant`.
  public func lastOpening(before instant: Date, calendar: WorkingCalendar) -> Date {
    let zone = calendar.zone
    let date = zone.localDate(of: instant)
    if calendar.isWorkingDay(date) {
      let opening = zone.instant(date, opens)
      if opening < instant { return opening }
    }
    return zone.instant(calendar.workingDay(-1, from: date), opens)
  }

  public func contains(_ instant: Date, calendar: WorkingCalendar) -> Bool {
    next(atOrAfter: instant, calendar: calendar) == instant
  }
}

/// Deployment-wide planning settings.
public struct PlanSettings: Sendable, Hashable {
  public var sendWindow: SendWindow
  /// A recipient who would get this many notices or more through one channel in one pass gets one
  /// digest instead. 0 turns digests off.
  public var digestMinimum: Int

  public init(sendWindow: SendWindow = SendWindow(), digestMinimum: Int = 5) {
    self.sendWindow = sendWindow
    self.digestMinimum = digestMinimum
  }
}

/// Everything loaded from configuration: an immutable snapshot the daemon swaps whole on reload.
public struct Ruleset: Sendable {
  public let rules: [Rule]
  public let channels: [String: ChannelSpec]
  public let settings: PlanSettings
  private let byID: [String: Int]

  public init(rules: [Rule], channels: [String: ChannelSpec], settings: PlanSettings = PlanSettings()) {
    self.rules = rules
    self.channels = channels
    self.settings = settings
    byID = Dictionary(rules.enumerated().map { ($1.id, $0) }, uniquingKeysWith: { first, _ in first })
  }

  public func rule(_ id: String) -> Rule? { byID[id].map { rules[$0] } }
}

/// One rung of a rule's ladder for one deadline.
public struct Step: Sendable, Hashable {
  public enum Phase: Sendable, Hashable { case reminder, escalation }
  public let id: StepID
  public let phase: Phase
  public let at: Date
  public let to: [RecipientSelector]
  public let template: String
  public let reason: NoticeReason
  public let audience: Audience

  public init(
    id: StepID, phase: Phase, at: Date, to: [RecipientSelector], template: String, reason: NoticeReason,
    audience: Audience
  ) {
    self.id = id
    self.phase = phase
    self.at = at
    self.to = to
    self.template = template
    self.reason = reason
    self.audience = audience
  }

  func with(reason: NoticeReason) -> Step {
    Step(id: id, phase: phase, at: at, to: to, template: template, reason: reason, audience: audience)
  }
}

/// A rule's ladder for one period and one deadline: the rule's own, or an extension's.
public struct Ladder: Sendable {
  public let rule: Rule
  public let period: Period
  /// The named day of the deadline (`D` of "trước ngày D").
  public let named: LocalDate
  /// The deadline as an instant, under the rule's convention.
  public let deadline: Date
  /// When the time limit ends: `deadline`, or the end of the next working day when its last day
  /// is a day off and the calendar moves it. The steps hang on this instant.
  public let ends: Date
  public let steps: [Step]
  /// When escalations stop.
  public let stop: Date

  /// When the ladder starts: its first step, or its deadline if it has none before.
  public var opens: Date { min(steps.first?.at ?? ends, ends) }
  /// When nothing more can happen on it.
  public var closes: Date { max(steps.last?.at ?? ends, stop) }

  public func key(_ step: Step, unit: OrgUnit) -> NoticeKey {
    NoticeKey(rule: rule.id, unit: UnitRef(unit), period: period, step: step.id, deadline: named, time: rule.due.time)
  }
}

/// A rule and period whose kind could not judge its obligations, and why.
public struct RuleFailure: Sendable, Hashable {
  public let ruleID: String
  public let period: String
  public let message: String

  public init(ruleID: String, period: String, message: String) {
    self.ruleID = ruleID
    self.period = period
    self.message = message
  }
}

/// Ladders already worked out, shared by every engine of one deployment: a ladder depends on the
/// rule, its deadline and the calendar only, and planning asks for the same ones pass after pass.
public final class LadderCache: Sendable {
  private let ladders = Locked<[String: [Step]]>([:])

  public init() {}

  func steps(rule: String, named: LocalDate, make: () -> [Step]) -> [Step] {
    let key = "\(rule)\u{0}\(named)"
    if let known = ladders.withLock({ $0[key] }) { return known }
    let made = make()
    ladders.withLock { cache in
      // A bound, not an eviction policy: a pathological rule cannot grow it without end.
      if cache.count > 100_000 { cache.removeAll() }
      cache[key] = made
    }
    return made
  }
}

/// Evaluate and plan: pure functions of (ruleset, directory, calendar, facts, now).
///
/// Planning runs in named stages, each a small function over typed values:
/// ladder (which rungs exist, when) → evaluate (is the obligation still open?) → catch-up (which
/// rungs fell due since the last pass, the newest per audience) → route (who each rung reaches,
/// resolved once) → digest (many rungs to one address become one message).
public struct Engine: Sendable {
  public let ruleset: Ruleset
  public let context: EvaluationContext
  let cache: LadderCache

  public init(ruleset: Ruleset, context: EvaluationContext, cache: LadderCache = LadderCache()) {
    self.ruleset = ruleset
    self.context = context
    self.cache = cache
  }

  var calendar: WorkingCalendar { context.calendar }
  var zone: Zone { context.calendar.zone }

  // MARK: - Stage 1: ladders

  /// The rule's ladder for a period: its deadline, or an extension's day (read as
  /// `DueSpec.extended`: "gia hạn đến ngày D" allows D).
  public func ladder(_ rule: Rule, period: Period, named: LocalDate? = nil) -> Ladder {
    let own = rule.due.namedDate(for: period, calendar: calendar)
    let day = named ?? own
    let due = day == own ? rule.due : rule.due.extended
    let deadline = due.deadline(on: day, zone: zone)
    let ends = due.ends(ofDeadline: deadline, calendar: calendar)
    let steps = cache.steps(rule: rule.id, named: day) { self.steps(for: rule, deadline: ends) }
    return Ladder(
      rule: rule, period: period, named: day, deadline: deadline, ends: ends, steps: steps,
      stop: stopInstant(of: rule, deadline: ends))
  }

  /// The steps of a rule's ladder for a deadline, in time order.
  public func steps(for rule: Rule, deadline: Date) -> [Step] {
    let window = ruleset.settings.sendWindow
    if let schedule = rule.kind.schedule(rule: rule, deadline: deadline, calendar: calendar, window: window) {
      return schedule
    }
    var steps: [Step] = []
    for offset in rule.remind {
      let nominal: Date
      switch offset.unit {
      case .days: nominal = deadline.addingTimeInterval(-Double(offset.amount) * 86_400)
      case .workingDays: nominal = zone.instant(calendar.workingDay(-offset.amount, from: zone.localDate(of: deadline)))
      }
      var at = window.next(atOrAfter: nominal, calendar: calendar)
      if at >= deadline { at = window.lastOpening(before: deadline, calendar: calendar) }
      steps.append(
        Step(
          id: .remind(offset), phase: .reminder, at: at, to: rule.remindTo, template: "reminder",
          reason: .nextReminder, audience: .unit))
    }
    let stop = stopInstant(of: rule, deadline: deadline)
    let escalationStarts = rule.escalate.map { escalationNominal($0.after, from: deadline) }
    for (index, step) in rule.escalate.enumerated() {
      let start = escalationStarts[index]
      let at = window.next(atOrAfter: start, calendar: calendar)
      guard at <= stop else { continue }
      let audience: Audience = step.to.contains(where: \.isSuperior) ? .superiors(after: step.after) : .unit
      steps.append(
        Step(
          id: .escalate(step.after, repeat: 0), phase: .escalation, at: at, to: step.to, template: step.templateName,
          reason: .escalation, audience: audience))
      guard let every = step.repeatEvery, every.amount > 0 else { continue }
      let until = index + 1 < escalationStarts.count ? escalationStarts[index + 1] : stop
      var nominal = start
      var count = 1
      while count <= 520 {
        nominal = advance(nominal, by: every)
        let repeatAt = window.next(atOrAfter: nominal, calendar: calendar)
        guard repeatAt < until, repeatAt <= stop else { break }
        steps.append(
          Step(
            id: .escalate(step.after, repeat: count), phase: .escalation, at: repeatAt, to: step.to,
            template: step.templateName, reason: .repeat, audience: audience))
        count += 1
      }
    }
    // In time order; where two steps for one audience land on one instant (a weekend pushed them
    // together), only the later rung goes out. The earliest reminder is the first reminder.
    let ordered = steps.enumerated().sorted { ($0.element.at, $0.offset) < ($1.element.at, $1.offset) }.map(\.element)
    var result: [Step] = []
    for step in ordered {
      if let clash = result.lastIndex(where: { $0.at == step.at && $0.audience == step.audience }) {
        result.remove(at: clash)
      }
      result.append(step)
    }
    if let first = result.firstIndex(where: { $0.phase == .reminder }) {
      result[first] = result[first].with(reason: .firstReminder)
    }
    return result
  }

  /// When escalations stop: `stop_after` past the deadline, counted like an escalation offset.
  func stopInstant(of rule: Rule, deadline: Date) -> Date {
    escalationNominal(rule.stopAfter, from: deadline)
  }

  /// After the deadline: `Nd` is N×24 hours later; `Nwd` is the start of the N-th working day that
  /// begins at or after the deadline (so `1wd` after "before 13/11", a Friday, is that Friday).
  private func escalationNominal(_ offset: Offset, from deadline: Date) -> Date {
    switch offset.unit {
    case .days:
      return deadline.addingTimeInterval(Double(offset.amount) * 86_400)
    case .workingDays:
      var first = zone.localDate(of: deadline)
      if zone.instant(first) < deadline { first = first.adding(days: 1) }
      let date =
        offset.amount == 0
        ? calendar.workingDay(0, from: first) : calendar.workingDay(offset.amount, from: first.adding(days: -1))
      return zone.instant(date)
    }
  }

  private func advance(_ instant: Date, by offset: Offset) -> Date {
    switch offset.unit {
    case .days: return instant.addingTimeInterval(Double(offset.amount) * 86_400)
    case .workingDays: return zone.instant(calendar.workingDay(offset.amount, from: zone.localDate(of: instant)))
    }
  }

  /// The ladders of a rule worth looking at when planning from `since` to `now`: those under way,
  /// and the next one to start.
  public func ladders(of rule: Rule, since: Date, now: Date) -> [Ladder] {
    let today = zone.localDate(of: now)
    let center = Period.containing(today, kind: rule.period)
    let reach = rule.period.periodsPerYear * 3 + 1
    var active: [Ladder] = []
    var nextToStart: Ladder?
    for delta in -reach...reach {
      let ladder = self.ladder(rule, period: center.advanced(by: delta))
      if ladder.closes < since { continue }
      if ladder.opens <= now {
        active.append(ladder)
      } else if nextToStart.map({ ladder.opens < $0.opens }) ?? true {
        nextToStart = ladder
      }
    }
    if let nextToStart { active.append(nextToStart) }
    return active
  }

  /// The units that owe a rule for a period: the roster as of the last day allowed.
  public func roster(of rule: Rule, deadline: Date) -> [OrgUnit] { context.roster(of: rule, deadline: deadline) }

  // MARK: - Stage 2: evaluate

  /// Judges one obligation at `now`.
  public func finding(
    rule: Rule, unit: OrgUnit, period: Period, ruleDeadline: Date, firstReminder: Date?, now: Date
  )
    -> Finding
  {
    let facts = context.facts
    let periodText = period.description
    let exemption = facts.facts(.exemption, rule: rule.id, period: periodText, unit: unit.id, at: now).last
    let extensionFact = facts.facts(.extension, rule: rule.id, period: periodText, unit: unit.id, at: now)
      .last { $0.due != nil }
    let due = extensionFact?.due == nil ? rule.due : rule.due.extended
    let deadline = extensionFact?.due.map { due.deadline(on: $0, zone: zone) } ?? ruleDeadline
    let ends = due.ends(ofDeadline: deadline, calendar: calendar)
    let assessment = rule.kind.assess(unit: unit, rule: rule, period: period, now: now, context: context)
    let word = unitsWord(rule: rule.id, period: periodText, unit: unit.id, now: now)
    let state: FindingState
    if exemption != nil {
      state = .exempt
    } else if let met = assessment.satisfiedAt, met <= now {
      state = met < ends ? .metOnTime : .metLate
    } else if word.claim != nil {
      state = .claimed
    } else if now >= ends {
      state = .overdue
    } else if extensionFact != nil {
      state = .extended
    } else if let firstReminder, now >= firstReminder {
      state = .dueSoon
    } else {
      state = .upcoming
    }
    let parent = context.directory.parent(of: unit, on: zone.lastDay(before: ruleDeadline))
    return Finding(
      ruleID: rule.id, unit: unit, parent: parent, period: period, state: state, deadline: deadline,
      ends: ends, ruleDeadline: ruleDeadline,
      extensionFact: extensionFact, exemptionFact: exemption, assessment: assessment, at: now,
      claimFact: word.claim, requestFact: word.request, returnedFact: word.returned, returnedWord: word.answered)
  }

  /// What the unit said through its link and what the Department answered: the claim and the
  /// request still waiting for a verdict, and the latest `returned`. A `returned` refuses whatever
  /// was pending before it; a request is also settled by an extension recorded after it or to
  /// the day it asked for.
  func unitsWord(
    rule: String, period: String, unit: String, now: Date
  ) -> (
    claim: Fact?, request: Fact?, returned: Fact?, answered: Fact?
  ) {
    let all = context.facts.facts(rule: rule, period: period, unit: unit, at: now)
    // Most obligations hold no fact at all, and few of those that do hold the unit's word.
    guard all.contains(where: { $0.kind.isUnitsWord }) else { return (nil, nil, nil, nil) }
    // In the order they happened: by time, and in the order recorded for the same second (facts
    // are dated to the second, and a unit may answer again the very second it was returned).
    let returnedAt = all.lastIndex { $0.kind == .returned }
    let returned = returnedAt.map { all[$0] }
    let answered = returnedAt.flatMap { index in
      all[..<index].last { $0.kind == .claim || $0.kind == .request }
    }
    let pending = all[((returnedAt ?? -1) + 1)...]
    let claim = pending.last { $0.kind == .claim }
    let request = pending.last { $0.kind == .request }.flatMap { asked in
      let answered = all.contains { fact in
        fact.kind == .extension && (fact.due == asked.due || (fact.at ?? .distantPast) >= (asked.at ?? .distantPast))
      }
      return answered ? nil : asked
    }
    return (claim, request, returned, answered)
  }

  /// The template of the notice that tells a unit its claim or request was returned, and why.
  public static let verdictTemplate = "returned"

  /// The notice telling the unit that the Department returned its claim or request: one per
  /// verdict (its step names the verdict's instant), to the unit's own people only, on the ladder
  /// in force. Nil when the verdict has no instant or nobody of the unit is addressed by the rule.
  func verdictNotice(
    _ returned: Fact, on ladder: Ladder, rule: Rule, unit: OrgUnit
  ) -> (decisions: [NoticeDecision], unroutable: [Plan.Unroutable])? {
    guard let at = returned.at else { return nil }
    var own: [RecipientSelector] = []
    for selector in ladder.steps.flatMap(\.to) {
      if case .unit = selector, !own.contains(selector) { own.append(selector) }
    }
    guard !own.isEmpty else { return nil }
    let step = Step(
      id: .returned(at: Int64(at.timeIntervalSince1970.rounded(.down))), phase: .escalation, at: at, to: own,
      template: Engine.verdictTemplate, reason: .returned,
      audience: .unit)
    return route(step, key: ladder.key(step, unit: unit), rule: rule, unit: unit)
  }

  /// Judges one unit on one ladder of the rule.
  public func finding(on ladder: Ladder, unit: OrgUnit, at now: Date) -> Finding {
    finding(
      rule: ladder.rule, unit: unit, period: ladder.period, ruleDeadline: ladder.deadline,
      firstReminder: ladder.steps.first?.at, now: now)
  }

  /// The ladder a finding is on: the rule's, or its extension's.
  public func ladder(for finding: Finding, on ladder: Ladder) -> Ladder {
    guard let due = finding.extensionFact?.due else { return ladder }
    return self.ladder(ladder.rule, period: ladder.period, named: due)
  }

  /// Every obligation whose ladder is under way at `now` (or starts next), judged at `now`, and
  /// the rules and periods that could not be judged.
  public func evaluate(at now: Date) -> (findings: [Finding], failures: [RuleFailure]) {
    var result: [Finding] = []
    var failures: Set<RuleFailure> = []
    for rule in ruleset.rules where rule.kind.isObligation {
      for ladder in ladders(of: rule, since: now, now: now) {
        for unit in roster(of: rule, deadline: ladder.deadline) {
          let finding = finding(on: ladder, unit: unit, at: now)
          if let failure = finding.assessment.failure {
            failures.insert(RuleFailure(ruleID: rule.id, period: ladder.period.description, message: failure))
          } else {
            result.append(finding)
          }
        }
      }
    }
    return (result, failures.sorted { ($0.ruleID, $0.period) < ($1.ruleID, $1.period) })
  }

  public func findings(at now: Date) -> [Finding] { evaluate(at: now).findings }

  /// The findings of one period of one rule at `now` (none where the rule could not judge).
  public func findings(rule: Rule, period: Period, at now: Date) -> [Finding] {
    evaluate(rule: rule, period: period, at: now).findings
  }

  /// The findings of one period of one rule at `now`, or why the rule could not judge them.
  public func evaluate(rule: Rule, period: Period, at now: Date) -> (findings: [Finding], failure: RuleFailure?) {
    let ladder = self.ladder(rule, period: period)
    var findings: [Finding] = []
    for unit in roster(of: rule, deadline: ladder.deadline) {
      let finding = finding(on: ladder, unit: unit, at: now)
      if let failure = finding.assessment.failure {
        return ([], RuleFailure(ruleID: rule.id, period: period.description, message: failure))
      }
      findings.append(finding)
    }
    return (findings, nil)
  }

  // MARK: - Stage 3: catch-up

  /// The steps of one obligation's ladder that fell due in (since, now]: for each audience the
  /// newest one, marked `catch-up` when it stands for several; the older ones are superseded.
  /// A reminder is stale once the deadline has passed: when it is an audience's newest, the
  /// audience hears nothing now (the ladder's escalations speak for the lateness).
  public static func catchUp(
    _ steps: [Step], since: Date, now: Date, deadline: Date
  ) -> (
    due: [Step], superseded: [Step]
  ) {
    // Usually one step or none fell due since the last pass: no grouping needed then.
    var missed: Step?
    var count = 0
    for step in steps where step.at > since && step.at <= now {
      missed = step
      count += 1
      if count > 1 { break }
    }
    guard count > 1 else {
      guard let missed else { return ([], []) }
      return missed.phase == .reminder && now >= deadline ? ([], [missed]) : ([missed], [])
    }
    var byAudience: [Audience: [Step]] = [:]
    var order: [Audience] = []
    for step in steps where step.at > since && step.at <= now {
      if byAudience[step.audience] == nil { order.append(step.audience) }
      byAudience[step.audience, default: []].append(step)
    }
    var due: [Step] = []
    var superseded: [Step] = []
    for audience in order {
      let missed = byAudience[audience]!
      let newest = Engine.newest(of: audience, in: missed, through: now)!
      if newest.phase == .reminder && now >= deadline {
        superseded += missed
        continue
      }
      due.append(missed.count > 1 ? newest.with(reason: .catchUp) : newest)
      superseded += missed.dropLast()
    }
    return (due, superseded)
  }

  /// The newest rung of an audience due by `now`: the one rule of "newest rung per audience"
  /// that planning (catch-up, re-judge) and sending (a rung held back gives way) share.
  static func newest(of audience: Audience, in steps: [Step], through now: Date) -> Step? {
    steps.last { $0.audience == audience && $0.at <= now }
  }

  // MARK: - Stage 4: route

  /// Who a step reaches, resolved once from the unit's own record: its people, its parent while
  /// it exists, and named units as of the step's day.
  public func resolve(_ selectors: [RecipientSelector], unit: OrgUnit, on date: LocalDate) -> [Recipient] {
    let directory = context.directory
    // The unit's own record answers for its people and its parent, whatever unit holds its id
    // on the day (a code reused by another era names someone else).
    let own = min(max(date, unit.validFrom ?? date), unit.validTo ?? date)
    var result: [Recipient] = []
    result.reserveCapacity(selectors.count)
    for selector in selectors {
      let target: OrgUnit?
      let role: String
      switch selector {
      case .unit(let r):
        target = unit
        role = r
      case .parent(let r):
        target = directory.parent(of: unit, on: own)
        role = r
      case .named(let id, let r):
        target = directory.unit(id, on: date) ?? directory.unit(id, on: own)
        role = r
      }
      guard let target, let contact = target.contacts[role] else { continue }
      let recipient = Recipient(unit: target, role: role, contact: contact)
      if !result.contains(recipient) { result.append(recipient) }
    }
    return result
  }

  /// The addressees of recipients through a channel: each distinct address once.
  public func addressees(of recipients: [Recipient], channel: ChannelSpec) -> [Addressee] {
    // A step reaches a handful of people: a list is searched faster than a set is hashed.
    var seen: [String] = []
    var result: [Addressee] = []
    seen.reserveCapacity(recipients.count)
    result.reserveCapacity(recipients.count)
    for recipient in recipients {
      let address: String?
      switch channel.addressKind {
      case .email: address = recipient.contact.email
      case .webhook: address = recipient.contact.webhook ?? channel.url
      }
      guard let address, !seen.contains(address) else { continue }
      seen.append(address)
      result.append(
        Addressee(
          unit: UnitRef(recipient.unit), unitName: recipient.unit.name, role: recipient.role,
          name: recipient.contact.name, address: address))
    }
    return result
  }

  /// One step of one obligation through each of the rule's channels.
  func route(
    _ step: Step, key: NoticeKey, rule: Rule, unit: OrgUnit
  ) -> (
    decisions: [NoticeDecision], unroutable: [Plan.Unroutable]
  ) {
    let recipients = resolve(step.to, unit: unit, on: zone.localDate(of: step.at))
    var decisions: [NoticeDecision] = []
    var unroutable: [Plan.Unroutable] = []
    var keyText: String?
    for name in rule.channels {
      guard let channel = ruleset.channels[name] else { continue }
      let addressees = addressees(of: recipients, channel: channel)
      guard !addressees.isEmpty else {
        unroutable.append(Plan.Unroutable(key: key, channel: name))
        continue
      }
      let content: NoticeContent =
        rule.kind.isObligation
        ? .obligation(key: key, template: step.template, audience: step.audience) : .summary(key: key)
      // The key's text once for every channel: it is the costliest part of a decision.
      let text = keyText ?? key.description
      keyText = text
      decisions.append(
        NoticeDecision(
          key: text, channel: name, reason: rule.kind.isObligation ? step.reason : .summary,
          scheduledAt: step.at, addressees: addressees, content: content))
    }
    return (decisions, unroutable)
  }

  /// A rung of a ladder that would reach nobody through a channel: a contact missing from the
  /// directory. `check` reports these before a season starts rather than after a notice is lost.
  public struct RoutingGap: Sendable, Hashable {
    public let unitID: String
    public let rung: String
    public let channel: String
    public let selectors: [RecipientSelector]
  }

  public func routingGaps(rule: Rule, period: Period) -> [RoutingGap] {
    let deadline = rule.due.deadline(for: period, calendar: calendar)
    let date = zone.lastDay(before: deadline)
    // Every reminder reaches the same people: one gap names them all.
    let reminders = rule.remind.isEmpty ? [] : [("remind", rule.remindTo)]
    let rungs = reminders + rule.escalate.map { (StepID.escalate($0.after, repeat: 0).description, $0.to) }
    var gaps: [RoutingGap] = []
    for unit in roster(of: rule, deadline: deadline) {
      for (rung, selectors) in rungs {
        let recipients = resolve(selectors, unit: unit, on: date)
        for name in rule.channels {
          guard let channel = ruleset.channels[name], addressees(of: recipients, channel: channel).isEmpty else {
            continue
          }
          gaps.append(RoutingGap(unitID: unit.id, rung: rung, channel: name, selectors: selectors))
        }
      }
    }
    return gaps
  }

  // MARK: - Stage 5: digest

  /// Merges what one address would receive about one duty through one channel in one pass into
  /// one digest: many units on one duty read as one list, while another duty (the Department's
  /// own report, with its attachment) still reads as itself. Summaries go out whole.
  public func digested(_ all: [NoticeDecision]) -> [NoticeDecision] {
    let minimum = ruleset.settings.digestMinimum
    guard minimum > 0 else { return all }
    struct Mailbox: Hashable {
      let channel: String
      let address: String
      let rule: String
    }
    // Each addressee's mailbox is hashed once, numbered, and every later step works on the
    // numbers and on indices into `all`: a busy pass has a notice per unit, most of them to a
    // handful of mailboxes, and copying decisions into lists cost more than deciding.
    var numbers: [Mailbox: Int] = [:]
    var mailboxes: [Mailbox] = []
    var members: [[(decision: Int, addressee: Int)]] = []
    var numberOf: [Int] = []
    for (d, decision) in all.enumerated() {
      // A verdict's notice says why, which a digest's line cannot: it always goes alone.
      guard case .obligation(let key, let template, _) = decision.content, template != Engine.verdictTemplate else {
        continue
      }
      for (a, addressee) in decision.addressees.enumerated() {
        let mailbox = Mailbox(channel: decision.channel, address: addressee.address, rule: key.rule)
        let number: Int
        if let known = numbers[mailbox] {
          number = known
        } else {
          number = mailboxes.count
          numbers[mailbox] = number
          mailboxes.append(mailbox)
          members.append([])
        }
        members[number].append((d, a))
        numberOf.append(number)
      }
    }
    let crowded = members.map { $0.count >= minimum }
    guard crowded.contains(true) else { return all }
    var result: [NoticeDecision] = []
    var next = 0
    for decision in all {
      guard case .obligation(_, let template, _) = decision.content, template != Engine.verdictTemplate else {
        result.append(decision)
        continue
      }
      var kept: [Addressee] = []
      for addressee in decision.addressees {
        if !crowded[numberOf[next]] { kept.append(addressee) }
        next += 1
      }
      if !kept.isEmpty {
        result.append(kept.count == decision.addressees.count ? decision : decision.addressed(to: kept))
      }
    }
    let order = mailboxes.indices.filter { crowded[$0] }.sorted {
      (mailboxes[$0].channel, mailboxes[$0].address, mailboxes[$0].rule)
        < (mailboxes[$1].channel, mailboxes[$1].address, mailboxes[$1].rule)
    }
    struct Obligation: Hashable {
      let rule: String
      let unit: UnitRef
      let period: Period
    }
    let directory = context.directory
    for number in order {
      let mailbox = mailboxes[number]
      let list = members[number]
      let at = list.lazy.map { all[$0.decision].scheduledAt }.max()!
      // One line per obligation: the Department's focal point, late on its own report and told
      // of everyone's, reads its own unit once, on the higher rung's line.
      var byObligation: [Obligation: (rank: (Date, Int), decision: Int, also: [RungID])] = [:]
      byObligation.reserveCapacity(list.count)
      for (d, _) in list {
        guard case .obligation(let key, _, let audience) = all[d].content, let rung = all[d].rung else { continue }
        let rank = (all[d].scheduledAt, audience == .unit ? 0 : 1)
        let obligation = Obligation(rule: key.rule, unit: key.unit, period: key.period)
        // The line that gives way is carried all the same: its reader has heard it.
        if let other = byObligation[obligation] {
          if other.rank >= rank {
            byObligation[obligation]!.also.append(rung)
            continue
          }
          byObligation[obligation] = (rank, d, other.also + [all[other.decision].rung!])
        } else {
          byObligation[obligation] = (rank, d, [])
        }
      }
      // In the directory's order, each item's place looked up once, not in every comparison.
      var items: [NoticeContent.DigestItem] = []
      var positions: [Int] = []
      items.reserveCapacity(byObligation.count)
      positions.reserveCapacity(byObligation.count)
      for (_, chosen) in byObligation {
        guard case .obligation(let key, let template, _) = all[chosen.decision].content else { continue }
        items.append(
          NoticeContent.DigestItem(
            key: key, revision: all[chosen.decision].revision, template: template, reason: all[chosen.decision].reason,
            also: chosen.also))
        positions.append(directory.position(of: key.unit))
      }
      let sorted = items.indices.sorted {
        positions[$0] != positions[$1] ? positions[$0] < positions[$1] : items[$0].key < items[$1].key
      }
      .map { items[$0] }
      let first = all[list[0].decision].addressees[list[0].addressee]
      result.append(
        NoticeDecision(
          channel: mailbox.channel, reason: .digest, scheduledAt: at, addressees: [first],
          content: .digest(items: sorted)))
    }
    return result
  }

  // MARK: - Simulate

  /// Walks virtual time from `from` to `to` as a daemon would that never stopped: every notice that
  /// would be sent, in time order. Deterministic: the same inputs print the same timeline.
  public func simulate(from: Date, to: Date) -> [NoticeDecision] { simulation(from: from, to: to).notices }

  /// `simulate`, with the rules and periods that could not be judged on the way. Like the daemon,
  /// a rule that failed is planned again from the `since` of the pass that failed.
  public func simulation(from: Date, to: Date) -> (notices: [NoticeDecision], failures: [RuleFailure]) {
    var sent: [NoticeDecision] = []
    var failures: [RuleFailure] = []
    var since = from.addingTimeInterval(-1)
    var sinceByRule: [String: Date] = [:]
    var now = from
    var passes = 0
    while now <= to, passes < 100_000 {
      let plan = self.plan(since: since, now: now, sinceByRule: sinceByRule)
      sent += plan.due
      passes += 1
      let failed = Set(plan.failures.map(\.ruleID))
      for failure in plan.failures where !failures.contains(failure) { failures.append(failure) }
      for rule in ruleset.rules {
        if failed.contains(rule.id) {
          sinceByRule[rule.id] = sinceByRule[rule.id] ?? since
        } else {
          sinceByRule[rule.id] = nil
        }
      }
      guard let next = plan.next else { break }
      since = now
      now = next
    }
    return (sent, failures)
  }
}

/// Someone a step reaches: a role of a unit record, with that role's contact.
public struct Recipient: Sendable, Hashable {
  public let unit: OrgUnit
  public let role: String
  public let contact: Contact

  public init(unit: OrgUnit, role: String, contact: Contact) {
    self.unit = unit
    self.role = role
    self.contact = contact
  }
}
