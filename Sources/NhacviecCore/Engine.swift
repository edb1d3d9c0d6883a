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

  public init(rules: [Rule], channels: [String: ChannelSpec], settings: PlanSettings = PlanSettings()) {
    self.rules = rules
    self.channels = channels
    self.settings = settings
  }

  public func rule(_ id: String) -> Rule? { rules.first { $0.id == id } }
}

/// One rung of a rule's ladder for one deadline.
public struct Step: Sendable, Hashable {
  public enum Phase: Sendable, Hashable { case reminder, escalation }
  public let id: String
  public let phase: Phase
  public let at: Date
  public let to: [RecipientSelector]
  public let template: String
  public let reason: NoticeReason
}

/// What one pass of the planner decides at `now`.
public struct Plan: Sendable {
  public let now: Date
  /// Notices whose instant fell in (since, now], catch-up and digests applied, in key order.
  public let due: [Notice]
  /// Notices due now that reach nobody: a missing contact in the directory.
  public let unroutable: [Notice]
  /// The next instant at which anything can change; nil when nothing ever will.
  public let next: Date?
  /// Rules and periods that could not be judged (an external program failed): they planned
  /// nothing, and must be planned again from the same `since` once they can be.
  public let failures: [RuleFailure]
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

/// Evaluate and plan: pure functions of (ruleset, directory, calendar, facts, now).
public struct Engine: Sendable {
  public let ruleset: Ruleset
  public let context: EvaluationContext

  public init(ruleset: Ruleset, context: EvaluationContext) {
    self.ruleset = ruleset
    self.context = context
  }

  var calendar: WorkingCalendar { context.calendar }
  var zone: Zone { context.calendar.zone }

  // MARK: - Ladders

  /// The steps of a rule's ladder for a deadline, in time order. `suffix` marks the steps of an
  /// extended deadline so that they do not collide with the steps already sent for the old one.
  public func steps(for rule: Rule, deadline: Date, suffix: String = "") -> [Step] {
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
          id: "remind-\(offset)\(suffix)", phase: .reminder, at: at, to: rule.remindTo, template: "reminder",
          reason: .nextReminder))
    }
    let stop = stopInstant(of: rule, deadline: deadline)
    let escalationStarts = rule.escalate.map { escalationNominal($0.after, from: deadline) }
    for (index, step) in rule.escalate.enumerated() {
      let start = escalationStarts[index]
      let at = window.next(atOrAfter: start, calendar: calendar)
      guard at <= stop else { continue }
      steps.append(
        Step(
          id: "escalate-\(step.after)\(suffix)", phase: .escalation, at: at, to: step.to, template: step.templateName,
          reason: .escalation))
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
            id: "escalate-\(step.after)-r\(count)\(suffix)", phase: .escalation, at: repeatAt, to: step.to,
            template: step.templateName, reason: .repeat))
        count += 1
      }
    }
    // In time order; where two steps land on one instant (a weekend pushed them together), only
    // the later rung of the ladder goes out. The earliest reminder is the first reminder.
    let ordered = steps.enumerated().sorted { ($0.element.at, $0.offset) < ($1.element.at, $1.offset) }.map(\.element)
    var result: [Step] = []
    for step in ordered {
      if let last = result.last, last.at == step.at { result.removeLast() }
      result.append(step)
    }
    if let first = result.firstIndex(where: { $0.phase == .reminder }) {
      let step = result[first]
      result[first] = Step(
        id: step.id, phase: step.phase, at: step.at, to: step.to, template: step.template, reason: .firstReminder)
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

  // MARK: - Evaluate

  /// The periods of a rule worth looking at when planning from `since` to `now`: those whose ladder
  /// is under way, and the next one to start.
  public func periods(of rule: Rule, since: Date, now: Date) -> [(period: Period, deadline: Date, steps: [Step])] {
    let today = zone.localDate(of: now)
    let center = Period.containing(today, kind: rule.period)
    let reach = rule.period.periodsPerYear * 3 + 1
    var active: [(Period, Date, [Step])] = []
    var nextToStart: (Period, Date, [Step])?
    for delta in -reach...reach {
      let period = center.advanced(by: delta)
      let deadline = rule.due.deadline(for: period, calendar: calendar)
      let steps = self.steps(for: rule, deadline: deadline)
      let start = min(steps.first?.at ?? deadline, deadline)
      let end = max(
        steps.last?.at ?? deadline, stopInstant(of: rule, deadline: deadline))
      if end < since { continue }
      if start <= now {
        active.append((period, deadline, steps))
      } else if nextToStart.map({ start < min($0.2.first?.at ?? $0.1, $0.1) }) ?? true {
        nextToStart = (period, deadline, steps)
      }
    }
    if let nextToStart { active.append(nextToStart) }
    return active
  }

  /// The units that owe a rule for a period: the roster as of the last day allowed.
  public func roster(of rule: Rule, deadline: Date) -> [OrgUnit] { context.roster(of: rule, deadline: deadline) }

  /// Judges one obligation at `now`.
  public func finding(
    rule: Rule, unit: OrgUnit, period: Period, ruleDeadline: Date, firstReminder: Date?, now: Date
  )
    -> Finding
  {
    let facts = context.facts
    let exemption = facts.facts(.exemption, rule: rule.id, period: period.description, unit: unit.id, at: now).last
    let extensionFact = facts.facts(.extension, rule: rule.id, period: period.description, unit: unit.id, at: now)
      .last { $0.due != nil }
    let deadline = extensionFact?.due.map { rule.due.deadline(on: $0, zone: zone) } ?? ruleDeadline
    let assessment = rule.kind.assess(unit: unit, rule: rule, period: period, now: now, context: context)
    let state: FindingState
    if exemption != nil {
      state = .exempt
    } else if let met = assessment.satisfiedAt, met <= now {
      state = met < deadline ? .metOnTime : .metLate
    } else if now >= deadline {
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
      ruleDeadline: ruleDeadline,
      extensionFact: extensionFact, exemptionFact: exemption, assessment: assessment, at: now)
  }

  /// Every obligation whose ladder is under way at `now` (or starts next), judged at `now`, and
  /// the rules and periods that could not be judged.
  public func evaluate(at now: Date) -> (findings: [Finding], failures: [RuleFailure]) {
    var result: [Finding] = []
    var failures: Set<RuleFailure> = []
    for rule in ruleset.rules where rule.kind.isObligation {
      for (period, deadline, steps) in periods(of: rule, since: now, now: now) {
        for unit in roster(of: rule, deadline: deadline) {
          let finding = finding(
            rule: rule, unit: unit, period: period, ruleDeadline: deadline, firstReminder: steps.first?.at, now: now)
          if let failure = finding.assessment.failure {
            failures.insert(RuleFailure(ruleID: rule.id, period: period.description, message: failure))
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
    let deadline = rule.due.deadline(for: period, calendar: calendar)
    let first = steps(for: rule, deadline: deadline).first?.at
    var findings: [Finding] = []
    for unit in roster(of: rule, deadline: deadline) {
      let finding = finding(
        rule: rule, unit: unit, period: period, ruleDeadline: deadline, firstReminder: first, now: now)
      if let failure = finding.assessment.failure {
        return ([], RuleFailure(ruleID: rule.id, period: period.description, message: failure))
      }
      findings.append(finding)
    }
    return (findings, nil)
  }

  // MARK: - Plan

  /// The notices whose instants fall in (since, now], with catch-up and digests applied, and the
  /// next instant worth waking for. `since` is the last completed pass (nil on a first start, when
  /// every ladder under way collapses to its newest step). `sinceByRule` holds, for a rule that
  /// could not be judged in an earlier pass, the `since` of that pass, so nothing of it is skipped
  /// (`.distantPast` when that pass was a first start).
  public func plan(since: Date?, now: Date, sinceByRule: [String: Date] = [:]) -> Plan {
    var due: [Notice] = []
    var unroutable: [Notice] = []
    var failures: Set<RuleFailure> = []
    var next: Date?
    func wake(_ instant: Date) { if instant > now, next.map({ instant < $0 }) ?? true { next = instant } }

    for rule in ruleset.rules {
      let ruleSince: Date?
      switch sinceByRule[rule.id] {
      case .some(.distantPast): ruleSince = nil
      case .some(let date): ruleSince = date
      case .none: ruleSince = since
      }
      // On a first start only ladders still under way count; every step of theirs is missed.
      let periodsSince = ruleSince ?? now
      let since = ruleSince ?? .distantPast
      for (period, ruleDeadline, ruleSteps) in periods(of: rule, since: periodsSince, now: now) {
        // A period whose ladder has not started has nothing to send: nobody needs judging yet.
        let opens = min(ruleSteps.first?.at ?? ruleDeadline, ruleDeadline)
        if opens > now {
          wake(opens)
          continue
        }
        let roster = roster(of: rule, deadline: ruleDeadline)
        var extendedSteps: [Date: [Step]] = [:]
        for unit in roster {
          let finding = finding(
            rule: rule, unit: unit, period: period, ruleDeadline: ruleDeadline, firstReminder: ruleSteps.first?.at,
            now: now)
          if let failure = finding.assessment.failure {
            failures.insert(RuleFailure(ruleID: rule.id, period: period.description, message: failure))
            continue
          }
          if finding.state.isClosed { continue }
          var steps = ruleSteps
          if let ext = finding.extensionFact?.due {
            if let cached = extendedSteps[finding.deadline] {
              steps = cached
            } else {
              steps = self.steps(for: rule, deadline: finding.deadline, suffix: "@\(ext)")
              extendedSteps[finding.deadline] = steps
            }
          }
          var newest: Step?
          var dueCount = 0
          var firstDueAt: Date?
          for step in steps {
            if step.at > now {
              wake(step.at)
              break
            }
            if step.at > since {
              newest = step
              dueCount += 1
              firstDueAt = firstDueAt ?? step.at
            }
          }
          wake(finding.deadline)
          guard let step = newest else { continue }
          let reason: NoticeReason = dueCount > 1 && firstDueAt != step.at ? .catchUp : step.reason
          let key = "\(rule.id)/\(unit.id)/\(period)/\(step.id)"
          let report = (rule.kind as? SummaryKind).map { summary in
            self.report(
              period: period, ruleIDs: summary.rules, scope: summary.part == .children ? unit.id : nil, at: now)
          }
          for channelName in rule.channels {
            guard let channel = ruleset.channels[channelName] else { continue }
            let recipients = resolve(step.to, unit: unit, on: zone.localDate(of: step.at))
            let notice = Notice(
              key: key, ruleID: rule.id, unitID: unit.id, period: period.description, step: step.id,
              reason: report == nil ? reason : .summary, template: step.template, at: step.at, channel: channelName,
              recipients: recipients, to: addresses(of: recipients, channel: channel), finding: finding,
              report: report)
            if notice.to.isEmpty { unroutable.append(notice) } else { due.append(notice) }
          }
        }
      }
    }
    for instant in context.facts.instants where instant > now { wake(instant) }
    due = digested(due, at: now)
    due.sort { ($0.at, $0.key, $0.channel) < ($1.at, $1.key, $1.channel) }
    return Plan(
      now: now, due: due, unroutable: unroutable, next: next,
      failures: failures.sorted { ($0.ruleID, $0.period) < ($1.ruleID, $1.period) })
  }

  /// Resolves who a step reaches, as of the send date.
  public func resolve(_ selectors: [RecipientSelector], unit: OrgUnit, on date: LocalDate) -> [Recipient] {
    let directory = context.directory
    let current = directory.unit(unit.id, on: date) ?? unit
    var result: [Recipient] = []
    for selector in selectors {
      let target: OrgUnit?
      let role: String
      switch selector {
      case .unit(let r):
        target = current
        role = r
      case .parent(let r):
        target = directory.parent(of: current, on: date)
        role = r
      case .named(let id, let r):
        target = directory.unit(id, on: date)
        role = r
      }
      guard let target, let contact = target.contacts[role] else { continue }
      let recipient = Recipient(unitID: target.id, unitName: target.name, role: role, contact: contact)
      if !result.contains(recipient) { result.append(recipient) }
    }
    return result
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
    let rungs = [("remind", rule.remindTo)] + rule.escalate.map { ("escalate-\($0.after)", $0.to) }
    var gaps: [RoutingGap] = []
    for unit in roster(of: rule, deadline: deadline) {
      for (rung, selectors) in rungs where !rung.hasPrefix("remind") || !rule.remind.isEmpty {
        let recipients = resolve(selectors, unit: unit, on: date)
        for name in rule.channels {
          guard let channel = ruleset.channels[name], addresses(of: recipients, channel: channel).isEmpty else {
            continue
          }
          gaps.append(RoutingGap(unitID: unit.id, rung: rung, channel: name, selectors: selectors))
        }
      }
    }
    return gaps
  }

  public func addresses(of recipients: [Recipient], channel: ChannelSpec) -> [String] {
    var seen: Set<String> = []
    var result: [String] = []
    for recipient in recipients {
      let address: String?
      switch channel.addressKind {
      case .email: address = recipient.contact.email
      case .webhook: address = recipient.contact.webhook ?? channel.url
      }
      if let address, seen.insert(address).inserted { result.append(address) }
    }
    if result.isEmpty, channel.addressKind == .webhook, let url = channel.url, !recipients.isEmpty { result = [url] }
    return result
  }

  /// Merges what one address would receive through one channel in one pass into one digest.
  func digested(_ all: [Notice], at now: Date) -> [Notice] {
    let minimum = ruleset.settings.digestMinimum
    // A summary carries its report and goes out whole.
    let summaries = all.filter { $0.report != nil }
    let notices = all.filter { $0.report == nil }
    guard minimum > 0, notices.count >= minimum else { return all }
    struct Mailbox: Hashable {
      let channel: String
      let address: String
    }
    var counts: [Mailbox: Int] = [:]
    for notice in notices {
      for address in notice.to { counts[Mailbox(channel: notice.channel, address: address), default: 0] += 1 }
    }
    let digestKeys = Set(counts.filter { $0.value >= minimum }.keys)
    guard !digestKeys.isEmpty else { return all }
    var items: [Mailbox: [Notice]] = [:]
    var individual: [Notice] = []
    for notice in notices {
      var keep: [String] = []
      for address in notice.to {
        let key = Mailbox(channel: notice.channel, address: address)
        if digestKeys.contains(key) { items[key, default: []].append(notice) } else { keep.append(address) }
      }
      guard !keep.isEmpty else { continue }
      let keptRecipients = notice.recipients.filter { recipient in
        keep.contains { $0 == recipient.contact.email || $0 == recipient.contact.webhook }
      }
      individual.append(keep.count == notice.to.count ? notice : notice.addressed(to: keep, recipients: keptRecipients))
    }
    for (key, list) in items.sorted(by: { ($0.key.channel, $0.key.address) < ($1.key.channel, $1.key.address) }) {
      let (channel, address) = (key.channel, key.address)
      let at = list.map(\.at).max()!
      let recipients = list.flatMap(\.recipients).filter {
        $0.contact.email == address || $0.contact.webhook == address
      }
      let stamp = zone.rfc3339(at).prefix(16)
      individual.append(
        Notice(
          key: "digest/\(address)/\(stamp)", ruleID: "", unitID: recipients.first?.unitID ?? "", period: "",
          step: "digest", reason: .digest, template: "digest", at: at, channel: channel,
          recipients: recipients.first.map { [$0] } ?? [], to: [address], finding: nil,
          items: list.sorted { $0.key < $1.key }))
    }
    return individual + summaries
  }

  // MARK: - Simulate

  /// Walks virtual time from `from` to `to` as a daemon would that never stopped: every notice that
  /// would be sent, in time order. Deterministic: the same inputs print the same timeline.
  public func simulate(from: Date, to: Date) -> [Notice] { simulation(from: from, to: to).notices }

  /// `simulate`, with the rules and periods that could not be judged on the way. Like the daemon,
  /// a rule that failed is planned again from the `since` of the pass that failed.
  public func simulation(from: Date, to: Date) -> (notices: [Notice], failures: [RuleFailure]) {
    var sent: [Notice] = []
    var failures: [RuleFailure] = []
    var since = from.addingTimeInterval(-1)
    var sinceByRule: [String: Date] = [:]
    var now = from
    var passes = 0
    while now <= to, passes < 100_000 {
      let plan = self.plan(since: since, now: now, sinceByRule: sinceByRule)
      sent += plan.due.map { $0 }
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
