public import Foundation

/// Which units a rule applies to: any of the selectors matches (within one, every field must).
public struct UnitSelector: Sendable, Hashable {
  public var kinds: Set<String>?
  public var tags: Set<String>?
  public var ids: Set<String>?
  public var parentKinds: Set<String>?
  public var exceptIDs: Set<String>

  public init(
    kinds: Set<String>? = nil, tags: Set<String>? = nil, ids: Set<String>? = nil, parentKinds: Set<String>? = nil,
    exceptIDs: Set<String> = []
  ) {
    self.kinds = kinds
    self.tags = tags
    self.ids = ids
    self.parentKinds = parentKinds
    self.exceptIDs = exceptIDs
  }

  public func matches(_ unit: OrgUnit, parent: OrgUnit?) -> Bool {
    if exceptIDs.contains(unit.id) { return false }
    if let kinds, !kinds.contains(unit.kind) { return false }
    if let ids, !ids.contains(unit.id) { return false }
    if let tags, tags.isDisjoint(with: unit.tags) { return false }
    if let parentKinds {
      guard let parent, parentKinds.contains(parent.kind) else { return false }
    }
    return true
  }
}

/// Who receives a step: a role of the unit, of its parent, or of a named unit.
public enum RecipientSelector: Sendable, Hashable, CustomStringConvertible {
  case unit(role: String)
  case parent(role: String)
  case named(unitID: String, role: String)

  /// `unit.head`, `parent.iso-focal`, `unit:51-SKHCN` (its head), `unit:51-VPUB.office`.
  public init?(_ text: String) {
    if text.hasPrefix("unit:") {
      let rest = text.dropFirst(5)
      guard !rest.isEmpty else { return nil }
      if let dot = rest.firstIndex(of: ".") {
        let role = rest[rest.index(after: dot)...]
        guard dot != rest.startIndex, !role.isEmpty else { return nil }
        self = .named(unitID: String(rest[..<dot]), role: String(role))
      } else {
        self = .named(unitID: String(rest), role: "head")
      }
    } else if text.hasPrefix("unit."), text.count > 5 {
      self = .unit(role: String(text.dropFirst(5)))
    } else if text.hasPrefix("parent."), text.count > 7 {
      self = .parent(role: String(text.dropFirst(7)))
    } else {
      return nil
    }
  }

  public var description: String {
    switch self {
    case .unit(let role): return "unit.\(role)"
    case .parent(let role): return "parent.\(role)"
    case .named(let id, let role): return "unit:\(id).\(role)"
    }
  }

  /// Whether this selector reaches someone other than the unit itself (so the step escalates).
  public var isSuperior: Bool {
    if case .unit = self { return false }
    return true
  }
}

/// One step of the escalation ladder after the deadline.
public struct EscalationStep: Sendable, Hashable {
  public let after: Offset
  public let to: [RecipientSelector]
  public let repeatEvery: Offset?
  /// The template to use; by default `overdue` when only the unit is addressed, else `escalation`.
  public let template: String?

  public init(after: Offset, to: [RecipientSelector], repeatEvery: Offset? = nil, template: String? = nil) {
    self.after = after
    self.to = to
    self.repeatEvery = repeatEvery
    self.template = template
  }

  public var templateName: String { template ?? (to.contains(where: \.isSuperior) ? "escalation" : "overdue") }
}

/// A legal basis for some of a rule's obligations: those whose deadline falls within its
/// validity and whose unit it selects. Laws change and one letter addresses several kinds of
/// unit, so a message cites what was in force on its deadline's day, for its unit.
public struct RuleBasis: Sendable {
  public let validFrom: LocalDate?
  public let validTo: LocalDate?
  /// Empty: every unit.
  public let appliesTo: [UnitSelector]
  public let basis: String?
  public let deadlineBasis: String?
  public let appliesBasis: String?

  public init(
    validFrom: LocalDate? = nil, validTo: LocalDate? = nil, appliesTo: [UnitSelector] = [], basis: String? = nil,
    deadlineBasis: String? = nil, appliesBasis: String? = nil
  ) {
    self.validFrom = validFrom
    self.validTo = validTo
    self.appliesTo = appliesTo
    self.basis = basis
    self.deadlineBasis = deadlineBasis
    self.appliesBasis = appliesBasis
  }
}

/// What one obligation cites: its legal basis, where its date comes from, and why the unit
/// owes it when the letter does not name it.
public struct CitedBasis: Sendable, Hashable {
  public let basis: String
  public let deadlineBasis: String?
  public let appliesBasis: String?
}

/// A rule: who owes what, for which period, by when, and how to remind and escalate.
public struct Rule: Sendable {
  public let id: String
  public let kindName: String
  public let kind: any RuleKind
  /// A template: `Báo cáo … năm {{period.year}}`.
  public let title: String
  /// The title of the rule's section in a consolidated report, when `title` names one unit.
  public let reportTitleTemplate: String?
  /// The duty's name in a subject (`short_title`), with the period's placeholders only.
  public let shortTitleTemplate: String?
  /// The legal basis cited in every message: document number and clause.
  public let basis: String
  /// Where the date itself comes from, when it is not the basis's own (a date the deployment chose,
  /// a plan of the Department): officials ask why this day, and the message answers.
  public let deadlineBasis: String?
  /// Why some units owe the rule although the letter does not address them: the deployment's
  /// choice, said as such.
  public let appliesBasis: String?
  /// Other bases, by date and by unit; the first that fits gives each of its fields.
  public let bases: [RuleBasis]
  /// Where the unit sends what it owes, as the letter says ("Sở Khoa học và Công nghệ").
  public let sendTo: String?
  public let appliesTo: [UnitSelector]
  public let period: PeriodKind
  public let due: DueSpec
  /// Offsets before the deadline, in the order given (normally furthest first).
  public let remind: [Offset]
  public let remindTo: [RecipientSelector]
  public let escalate: [EscalationStep]
  /// Escalations stop this long after the deadline: an obligation is not chased forever.
  public let stopAfter: Offset
  public let channels: [String]
  /// Rules whose consolidated report, as of the send instant, goes with each of this rule's
  /// messages (HTML and CSV attached): the figures the Department consolidates from.
  public let attachReport: [String]
  /// Template overrides by name (`reminder`, `overdue`, `escalation`), each by part.
  public let templates: [String: MessageTemplate]
  public let location: SourceLocation?

  public init(
    id: String, kindName: String, kind: any RuleKind, title: String, basis: String, appliesTo: [UnitSelector],
    period: PeriodKind, due: DueSpec, remind: [Offset], remindTo: [RecipientSelector], escalate: [EscalationStep],
    stopAfter: Offset, channels: [String], templates: [String: MessageTemplate] = [:],
    location: SourceLocation? = nil, deadlineBasis: String? = nil, reportTitle: String? = nil,
    attachReport: [String] = [], shortTitle: String? = nil, appliesBasis: String? = nil, bases: [RuleBasis] = [],
    sendTo: String? = nil
  ) {
    self.id = id
    self.shortTitleTemplate = shortTitle
    self.appliesBasis = appliesBasis
    self.bases = bases
    self.sendTo = sendTo
    self.attachReport = attachReport
    self.reportTitleTemplate = reportTitle
    self.deadlineBasis = deadlineBasis
    self.kindName = kindName
    self.kind = kind
    self.title = title
    self.basis = basis
    self.appliesTo = appliesTo
    self.period = period
    self.due = due
    self.remind = remind
    self.remindTo = remindTo
    self.escalate = escalate
    self.stopAfter = stopAfter
    self.channels = channels
    self.templates = templates
    self.location = location
  }

  public func applies(to unit: OrgUnit, parent: OrgUnit?) -> Bool {
    appliesTo.contains { $0.matches(unit, parent: parent) }
  }

  /// What an obligation of `unit` for `period` cites (nil unit: a report's section or a digest,
  /// which cite what holds for every unit): for each field, the first base valid on the
  /// deadline's named day that selects the unit and gives it, else the rule's own.
  public func cited(for unit: OrgUnit?, parent: OrgUnit?, period: Period, calendar: WorkingCalendar) -> CitedBasis {
    guard !bases.isEmpty else {
      return CitedBasis(basis: basis, deadlineBasis: deadlineBasis, appliesBasis: appliesBasis)
    }
    let day = due.namedDate(for: period, calendar: calendar)
    let fitting = bases.filter { base in
      guard base.validFrom.map({ day >= $0 }) ?? true, base.validTo.map({ day <= $0 }) ?? true else { return false }
      if base.appliesTo.isEmpty { return true }
      guard let unit else { return false }
      return base.appliesTo.contains { $0.matches(unit, parent: parent) }
    }
    return CitedBasis(
      basis: fitting.lazy.compactMap(\.basis).first ?? basis,
      deadlineBasis: fitting.lazy.compactMap(\.deadlineBasis).first ?? deadlineBasis,
      appliesBasis: fitting.lazy.compactMap(\.appliesBasis).first ?? appliesBasis)
  }

  /// What a text about many units cites (a report's section, a digest): their one basis, or
  /// each basis with the kinds of unit it is for, in the order the units come.
  public func citedBasis(
    for units: [(unit: OrgUnit, parent: OrgUnit?)], period: Period, calendar: WorkingCalendar
  )
    -> String
  {
    var order: [String] = []
    var kinds: [String: [String]] = [:]
    for (unit, parent) in units {
      let basis = cited(for: unit, parent: parent, period: period, calendar: calendar).basis
      if kinds[basis] == nil { order.append(basis) }
      if !kinds[basis, default: []].contains(unit.kind) { kinds[basis, default: []].append(unit.kind) }
    }
    guard order.count > 1 else {
      return order.first ?? cited(for: nil, parent: nil, period: period, calendar: calendar).basis
    }
    return order.map { basis in
      let who = kinds[basis, default: []].map { ConsolidatedReport.kindName($0).lowercased() }
      return "\(basis) (đối với \(who.joined(separator: ", ")))"
    }.joined(separator: "; ")
  }
}

/// What the rule kind says about one unit's obligation at an instant.
public struct Assessment: Sendable, Hashable {
  /// When the obligation was met, if it has been by `now`.
  public var satisfiedAt: Date?
  /// The document that met it.
  public var reference: String?
  /// A roll-up's children: how many are in, and which are not.
  public var childrenIn: Int?
  public var childrenTotal: Int?
  public var missingChildren: [OrgUnit]
  /// A budget line: what is recorded and what is required.
  public var amount: Int64?
  public var minimumAmount: Int64?
  /// Why the obligation is not met although something was recorded (a budget line too small).
  public var note: String?
  /// Why the kind could not judge at all (an external program failed). Such an obligation gets no
  /// finding and no notice: nobody is chased on a judgement that was never made.
  public var failure: String?

  public init(
    satisfiedAt: Date? = nil, reference: String? = nil, childrenIn: Int? = nil, childrenTotal: Int? = nil,
    missingChildren: [OrgUnit] = [], amount: Int64? = nil, minimumAmount: Int64? = nil, note: String? = nil,
    failure: String? = nil
  ) {
    self.satisfiedAt = satisfiedAt
    self.reference = reference
    self.childrenIn = childrenIn
    self.childrenTotal = childrenTotal
    self.missingChildren = missingChildren
    self.amount = amount
    self.minimumAmount = minimumAmount
    self.note = note
    self.failure = failure
  }
}

/// What evaluation may look at: nothing but data, so that evaluation is a pure function.
public struct EvaluationContext: Sendable {
  public let directory: Directory
  public let calendar: WorkingCalendar
  public let facts: FactBook
  /// What operators have muted, and until when.
  public let silences: SilenceBook
  /// Runs the programs of `exec` rules; nil where none may run.
  public let external: (any ExternalRuleRunner)?

  public init(
    directory: Directory, calendar: WorkingCalendar, facts: FactBook, silences: SilenceBook = SilenceBook(),
    external: (any ExternalRuleRunner)? = nil
  ) {
    self.directory = directory
    self.calendar = calendar
    self.facts = facts
    self.silences = silences
    self.external = external
  }

  /// The units that owe a rule for the period ending at `deadline`: the roster as of the last day
  /// allowed, so that a unit merged away the day after still owes what it owed.
  public func roster(of rule: Rule, deadline: Date) -> [OrgUnit] {
    directory.roster(matching: rule.appliesTo, on: calendar.zone.lastDay(before: deadline))
  }
}

/// A plugin that decides, for one unit and period, whether and when an obligation was met.
///
/// Which units owe, when the deadline falls and how reminders climb are the same for every kind
/// and live in `Rule` and the planner; a kind only judges what counts as done.
public protocol RuleKind: Sendable {
  /// Reads the kind's own parameters (the `params:` map of a rule), or nil when it has none.
  init(parameters: ConfigNode?) throws(ConfigError)

  /// Rule ids this kind reads facts of, so `check` can report a reference to a rule that does not exist.
  var referencedRules: [String] { get }

  func assess(unit: OrgUnit, rule: Rule, period: Period, now: Date, context: EvaluationContext) -> Assessment

  /// False for a kind that owes nothing and only sends on a schedule of its own (`summary`):
  /// its rules have no findings and no place in a report.
  var isObligation: Bool { get }

  /// The kinds of fact a rule of this kind takes; `record` and facts files refuse any other.
  var factKinds: Set<Fact.Kind> { get }

  /// The kind's own ladder for a deadline, in place of `remind` and `escalate`; nil for the
  /// usual ladder. `window` keeps each step inside the send window.
  func schedule(rule: Rule, deadline: Date, calendar: WorkingCalendar, window: SendWindow) -> [Step]?
}

extension RuleKind {
  public var referencedRules: [String] { [] }
  public var isObligation: Bool { true }
  public var factKinds: Set<Fact.Kind> {
    isObligation ? [.report, .extension, .exemption, .claim, .request, .returned] : []
  }
  public func schedule(rule: Rule, deadline: Date, calendar: WorkingCalendar, window: SendWindow) -> [Step]? { nil }
}

/// The rule kinds a deployment knows, by name.
public struct RuleKindRegistry: Sendable {
  /// Throws `ConfigError` for bad parameters.
  public typealias Factory = @Sendable (ConfigNode?) throws -> any RuleKind
  private var factories: [String: Factory] = [:]

  public init() {}

  public mutating func register(_ name: String, _ factory: @escaping Factory) { factories[name] = factory }

  public mutating func register<K: RuleKind>(_ name: String, _ kind: K.Type) {
    factories[name] = { node in try K(parameters: node) }
  }

  public func factory(for name: String) -> Factory? { factories[name] }
  public var names: [String] { factories.keys.sorted() }

  public static let builtIn: RuleKindRegistry = {
    var registry = RuleKindRegistry()
    registry.register("deadline", DeadlineKind.self)
    registry.register("rollup", RollupKind.self)
    registry.register("budget", BudgetKind.self)
    registry.register("exec", ExecKind.self)
    registry.register("summary", SummaryKind.self)
    return registry
  }()
}
