import Foundation
public import NhacviecCore

/// Reads rule files: a YAML list of rules, or a map with `rules:`.
public struct RuleParser {
  public let registry: RuleKindRegistry
  /// What `{{letter}}` in a basis stands for: the letter as the deployment cites it
  /// (`letter:` in the configuration), with its number and date once the Department sets them.
  public var letter: String

  public init(registry: RuleKindRegistry = .builtIn, letter: String = "Công văn") {
    self.registry = registry
    self.letter = letter
  }

  public func parse(file: String) throws(ConfigErrors) -> [Rule] {
    let (rules, errors) = parseCollecting(file: file)
    if !errors.isEmpty { throw ConfigErrors(errors) }
    return rules
  }

  public func parse(text: String, file: String) throws(ConfigErrors) -> [Rule] {
    let (rules, errors) = parse(root: try YAMLReader.parse(text, file: file))
    if !errors.isEmpty { throw ConfigErrors(errors) }
    return rules
  }

  /// The rules that parsed and the errors of those that did not, so that checks across rules
  /// (duplicate ids, unknown channels) still see the good ones in the same run.
  public func parseCollecting(file: String) -> (rules: [Rule], errors: [ConfigError]) {
    do {
      return parse(root: try YAMLReader.read(file: file))
    } catch {
      return ([], error.errors)
    }
  }

  func parse(root: ConfigNode) -> (rules: [Rule], errors: [ConfigError]) {
    var errors: [ConfigError] = []
    var rules: [Rule] = []
    var list: [ConfigNode] = []
    do {
      if case .map = root.value {
        let f = try root.fields("a rule file")
        list = try f.required("rules").list("rules")
        try f.finish()
      } else {
        list = try root.list("rules")
      }
    } catch {
      return ([], [error])
    }
    for node in list {
      do {
        rules.append(try rule(node))
      } catch let error as ConfigError {
        errors.append(error)
      } catch {
        errors.append(ConfigError("\(error)", at: node.location))
      }
    }
    return (rules, errors)
  }

  static func offset(_ node: ConfigNode) throws(ConfigError) -> Offset {
    guard let offset = Offset(try node.string("offset")) else {
      throw node.error(
        "expected an offset such as 7d (calendar days) or 3wd (working days), not `\(node.scalar ?? "")`")
    }
    return offset
  }

  static func recipients(_ node: ConfigNode) throws(ConfigError) -> [RecipientSelector] {
    var result: [RecipientSelector] = []
    for item in try node.list("recipients") {
      guard let selector = RecipientSelector(try item.string("recipient")) else {
        throw item.error(
          "unknown recipient `\(item.scalar ?? "")`; use unit.ROLE, parent.ROLE, unit:ID or unit:ID.ROLE")
      }
      result.append(selector)
    }
    return result
  }

  static func selector(_ node: ConfigNode) throws(ConfigError) -> UnitSelector {
    let f = try node.fields("applies_to")
    func set(_ key: String) throws(ConfigError) -> Set<String>? {
      guard let n = f.optional(key) else { return nil }
      return Set(try n.strings(key))
    }
    let selector = UnitSelector(
      kinds: try set("kinds"), tags: try set("tags"), ids: try set("ids"), parentKinds: try set("parent_kinds"),
      exceptIDs: try set("except") ?? [])
    try f.finish()
    if selector.kinds == nil, selector.tags == nil, selector.ids == nil, selector.parentKinds == nil {
      throw node.error("applies_to needs at least one of kinds, tags, ids, parent_kinds")
    }
    return selector
  }

  func rule(_ node: ConfigNode) throws -> Rule {
    let f = try node.fields("a rule")
    let idNode = try f.required("id")
    let id = try idNode.string("id")
    guard !id.isEmpty, id.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) else {
      throw idNode.error("a rule id uses letters, digits, - and _ only: `\(id)`")
    }
    let kindNode = try f.required("kind")
    let kindName = try kindNode.string("kind")
    guard let factory = registry.factory(for: kindName) else {
      throw kindNode.error("unknown rule kind `\(kindName)` (known: \(registry.names.joined(separator: ", ")))")
    }
    let params = f.optional("params")
    let kind: any RuleKind
    do {
      kind = try factory(params)
    } catch let error as ConfigError {
      throw ConfigError(error.message, at: error.location ?? params?.location ?? kindNode.location)
    }
    let titleNode = try f.required("title")
    let title = try titleNode.string("title")
    for name in TemplateText.placeholders(in: title) where !MessageTemplate.titleVariables.contains(name) {
      throw titleNode.error(
        "title: unknown placeholder {{\(name)}} (a title may use \(MessageTemplate.titleVariables.sorted().joined(separator: ", ")))"
      )
    }
    let reportTitleNode = f.optional("report_title")
    let reportTitle = try reportTitleNode?.string("report_title")
    if let reportTitleNode, let reportTitle {
      for name in TemplateText.placeholders(in: reportTitle)
      where !MessageTemplate.reportTitleVariables.contains(name) {
        throw reportTitleNode.error(
          "report_title: unknown placeholder {{\(name)}} (a report title names no unit; it may use \(MessageTemplate.reportTitleVariables.sorted().joined(separator: ", ")))"
        )
      }
    } else if let name = TemplateText.placeholders(in: title).first(where: {
      !MessageTemplate.reportTitleVariables.contains($0)
    }), kind.isObligation {
      throw titleNode.error(
        "title names one unit with {{\(name)}}: add a report_title for the rule's section of the consolidated report, which is about every unit"
      )
    }
    let shortTitleNode = f.optional("short_title")
    let shortTitle = try shortTitleNode?.string("short_title")
    if let shortTitleNode, let shortTitle {
      for name in TemplateText.placeholders(in: shortTitle)
      where !MessageTemplate.reportTitleVariables.contains(name) {
        throw shortTitleNode.error(
          "short_title: unknown placeholder {{\(name)}} (a subject's title names no unit; it may use \(MessageTemplate.reportTitleVariables.sorted().joined(separator: ", ")))"
        )
      }
    }
    let basis = try cite(try f.required("basis"))
    let deadlineBasis = try f.optional("deadline_basis")?.string("deadline_basis")
    let appliesBasis = try f.optional("applies_basis")?.string("applies_basis")
    let sendTo = try f.optional("send_to")?.string("send_to")
    let appliesNode = try f.required("applies_to")
    var appliesTo: [UnitSelector] = []
    if case .list(let items) = appliesNode.value {
      for item in items { appliesTo.append(try Self.selector(item)) }
    } else {
      appliesTo = [try Self.selector(appliesNode)]
    }
    let periodNode = try f.required("period")
    guard let period = PeriodKind(rawValue: try periodNode.string("period")) else {
      throw periodNode.error("period must be yearly, quarterly or monthly")
    }
    var due = try Self.due(try f.required("due"), period: period)
    var bases: [RuleBasis] = []
    var versions: [DueSpec.Version] = []
    for item in try f.optional("bases")?.list("bases") ?? [] {
      let b = try item.fields("a basis")
      let validFrom = try b.optional("valid_from").map(DirectoryLoader.date)
      let validTo = try b.optional("valid_to").map(DirectoryLoader.date)
      if let validFrom, let validTo, validTo < validFrom {
        throw item.error("valid_to \(validTo) is before valid_from \(validFrom)")
      }
      var selectors: [UnitSelector] = []
      if let node = b.optional("applies_to") {
        if case .list(let items) = node.value {
          for selector in items { selectors.append(try Self.selector(selector)) }
        } else {
          selectors = [try Self.selector(node)]
        }
      }
      if validFrom == nil && validTo == nil && selectors.isEmpty {
        throw item.error("a basis says when it is in force (valid_from, valid_to) or for whom (applies_to)")
      }
      let base = RuleBasis(
        validFrom: validFrom, validTo: validTo, appliesTo: selectors,
        basis: try b.optional("basis").map { n throws(ConfigError) in try cite(n) },
        deadlineBasis: try b.optional("deadline_basis")?.string("deadline_basis"),
        appliesBasis: try b.optional("applies_basis")?.string("applies_basis"))
      if let dueNode = b.optional("due") {
        guard selectors.isEmpty else {
          throw dueNode.error("a deadline is the same for every unit of a rule: a basis with applies_to cannot move it")
        }
        let version = try Self.due(dueNode, period: period)
        guard version.convention == due.convention else {
          throw dueNode.error(
            "a basis's due keeps the rule's convention (\(due.convention)); only the date and the lead change")
        }
        versions.append(
          DueSpec.Version(validFrom: validFrom, validTo: validTo, anchor: version.anchor, lead: version.lead))
      } else if base.basis == nil && base.deadlineBasis == nil && base.appliesBasis == nil {
        throw item.error("a basis gives at least one of basis, deadline_basis, applies_basis or due")
      }
      try b.finish()
      bases.append(base)
    }
    if !versions.isEmpty {
      due = DueSpec(anchor: due.anchor, convention: due.convention, lead: due.lead, versions: versions)
    }
    var remind: [Offset] = []
    for item in try f.optional("remind")?.list("remind") ?? [] {
      let offset = try Self.offset(item)
      guard offset.amount > 0 else { throw item.error("a reminder comes at least 1d or 1wd before the deadline") }
      guard !remind.contains(offset) else { throw item.error("reminder \(offset) appears twice") }
      remind.append(offset)
    }
    let remindTo =
      try f.optional("remind_to").map(Self.recipients) ?? [.unit(role: "iso-focal"), .unit(role: "office")]
    var escalate: [EscalationStep] = []
    for item in try f.optional("escalate")?.list("escalate") ?? [] {
      let e = try item.fields("an escalation step")
      let step = EscalationStep(
        after: try Self.offset(try e.required("after")), to: try Self.recipients(try e.required("to")),
        repeatEvery: try e.optional("repeat").map(Self.offset), template: try e.optional("template")?.string("template")
      )
      // `returned` speaks of a verdict, which an escalation step has none of.
      let stepTemplates = MessageTemplate.ruleTemplateNames.filter { $0 != Engine.verdictTemplate }
      if let template = step.template, !stepTemplates.contains(template) {
        throw item.error("unknown template \(template) (known: \(stepTemplates.joined(separator: ", ")))")
      }
      if step.after.amount == 0 && step.after.unit == .workingDays {
        throw item.error(
          "after: 0wd is the same as 1wd (the first working day late); write 1wd, or 0d for the deadline itself")
      }
      if escalate.contains(where: { $0.after == step.after }) {
        throw item.error("two escalation steps after \(step.after): each step needs its own offset")
      }
      try e.finish()
      escalate.append(step)
    }
    let stopAfter = try f.optional("stop_after").map(Self.offset) ?? Offset(90, .days)
    var attachReport: [String] = []
    if let node = f.optional("attach_report") {
      attachReport = try node.strings("attach_report")
      guard kind.isObligation else {
        throw node.error("attach_report goes with a rule that owes something; a summary's report is its params.rules")
      }
      guard !attachReport.isEmpty else { throw node.error("attach_report must name at least one rule") }
    }
    let channelsNode = try f.required("channels")
    let channels = try channelsNode.strings("channels")
    if channels.isEmpty { throw channelsNode.error("a rule needs at least one channel") }
    var templates: [String: MessageTemplate] = [:]
    if let t = f.optional("templates") {
      for entry in try t.fields("templates").all() {
        guard MessageTemplate.ruleTemplateNames.contains(entry.key) else {
          throw ConfigError(
            "unknown template \(entry.key) (known: \(MessageTemplate.ruleTemplateNames.joined(separator: ", ")))",
            at: entry.keyLocation)
        }
        let parts = try entry.value.fields("template \(entry.key)")
        var texts: [String: String] = [:]
        for part in ["subject", "text", "html"] {
          guard let node = parts.optional(part) else { continue }
          let text = try node.string(part)
          try Self.checkPlaceholders(text, at: node.location, what: "template \(entry.key) \(part)")
          texts[part] = text
        }
        try parts.finish()
        let template = MessageTemplate(subject: texts["subject"], text: texts["text"], html: texts["html"])
        templates[entry.key] = template
      }
    }
    try f.finish()
    return Rule(
      id: id, kindName: kindName, kind: kind, title: title, basis: basis, appliesTo: appliesTo, period: period,
      due: due, remind: remind, remindTo: remindTo, escalate: escalate, stopAfter: stopAfter, channels: channels,
      templates: templates, location: node.location, deadlineBasis: deadlineBasis,
      reportTitle: reportTitle, attachReport: attachReport, shortTitle: shortTitle, appliesBasis: appliesBasis,
      bases: bases, sendTo: sendTo)
  }

  /// A basis with the letter's citation in place of `{{letter}}`, its only placeholder.
  func cite(_ node: ConfigNode) throws(ConfigError) -> String {
    let text = try node.string("basis")
    if let name = TemplateText.placeholders(in: text).first(where: { $0 != "letter" }) {
      throw node.error("basis: unknown placeholder {{\(name)}} (a basis may use {{letter}})")
    }
    return text.replacingOccurrences(of: "{{letter}}", with: letter)
  }

  static func checkPlaceholders(_ text: String?, at location: SourceLocation, what: String) throws(ConfigError) {
    guard let text else { return }
    for name in TemplateText.placeholders(in: text) where !MessageTemplate.variables.contains(name) {
      throw ConfigError(
        "\(what): unknown placeholder {{\(name)}} (known: \(MessageTemplate.variables.sorted().joined(separator: ", ")))",
        at: location)
    }
  }

  static func due(_ node: ConfigNode, period: PeriodKind) throws(ConfigError) -> DueSpec {
    let f = try node.fields("due")
    let conventionNode = try f.required("convention")
    let conventionName = try conventionNode.string("convention")
    let time = try f.optional("time").map(DeploymentLoader.time)
    let convention: DueSpec.Convention
    switch (conventionName, time) {
    case ("before", nil): convention = .before
    case ("by", nil): convention = .by
    case ("at", let time?): convention = .at(time)
    case ("at", nil): throw node.error("convention `at` needs `time: HH:MM`")
    case ("before", _), ("by", _): throw node.error("`time` goes only with convention `at`")
    default:
      throw conventionNode.error(
        "convention must be before (00:00 on the date), by (end of the date) or at (with time)")
    }
    let anchor: DueSpec.Anchor
    if let dateNode = f.optional("date") {
      let text = try dateNode.string("date")
      let parts = text.split(separator: "-")
      guard parts.count == 2, let month = Int(parts[0]), let day = Int(parts[1]), (1...12).contains(month),
        day >= 1, day <= LocalDate.daysIn(month: month, year: 2024)
      else { throw dateNode.error("due date must be MM-DD, such as \"11-15\", not `\(text)`") }
      guard period == .yearly else {
        throw dateNode.error("a due date MM-DD needs a yearly period; use after_period for \(period) rules")
      }
      var yearOffset = 0
      if let y = f.optional("year_offset") {
        guard let value = Int(try y.string("year_offset")), abs(value) <= 5 else {
          throw y.error("year_offset must be a small whole number, such as -1")
        }
        yearOffset = value
      }
      anchor = .date(month: month, day: day, yearOffset: yearOffset)
      if f.optional("after_period") != nil { throw node.error("give either date or after_period, not both") }
    } else if let after = f.optional("after_period") {
      anchor = .afterPeriod(try offset(after))
      if f.optional("year_offset") != nil { throw node.error("year_offset goes only with date") }
    } else {
      throw node.error("due needs `date: MM-DD` (yearly rules) or `after_period: OFFSET`")
    }
    var lead: Offset?
    if let leadNode = f.optional("lead") {
      let value = try offset(leadNode)
      guard value.amount > 0, value.amount <= (value.unit == .days ? 366 : 250) else {
        throw leadNode.error("lead must be from 1d to 366d, or 1wd to 250wd, before the anchor's day")
      }
      lead = value
    }
    try f.finish()
    return DueSpec(anchor: anchor, convention: convention, lead: lead)
  }

  /// Checks that need every rule and the directory: unique ids, known channels, named units and
  /// rules that exist.
  /// `broken` names channels declared with an error of their own: a rule naming one is not
  /// reported again, so that one typo in a channel gives one error, not one per rule.
  public static func crossCheck(
    rules: [Rule], directory: Directory?, channels: [String: ChannelSpec], broken: Set<String> = []
  )
    -> [ConfigError]
  {
    var errors: [ConfigError] = []
    var seen: [String: SourceLocation?] = [:]
    let ids = Set(rules.map(\.id))
    for rule in rules {
      if let first = seen[rule.id] {
        errors.append(
          ConfigError(
            "duplicate rule id \(rule.id)\(first.map { " (first defined at \($0))" } ?? "")", at: rule.location))
      }
      seen[rule.id] = rule.location
      for channel in rule.channels where channels[channel] == nil && !broken.contains(channel) {
        errors.append(ConfigError("rule \(rule.id): unknown channel \(channel)", at: rule.location))
      }
      for other in rule.kind.referencedRules + rule.attachReport where !ids.contains(other) {
        errors.append(ConfigError("rule \(rule.id): refers to unknown rule \(other)", at: rule.location))
      }
      for other in rule.attachReport where rules.contains(where: { $0.id == other && !$0.kind.isObligation }) {
        errors.append(
          ConfigError(
            "rule \(rule.id): attach_report names \(other), which owes nothing and has no place in a report",
            at: rule.location))
      }
      if let exec = rule.kind as? ExecKind, access(exec.command, X_OK) != 0 {
        let why = FileManager.default.fileExists(atPath: exec.command) ? "is not executable" : "does not exist"
        errors.append(ConfigError("rule \(rule.id): program \(exec.command) \(why)", at: rule.location))
      }
      // Unit references are checked only against a directory that loaded.
      guard let directory else { continue }
      let selectors = rule.remindTo + rule.escalate.flatMap(\.to)
      for case .named(let unitID, _) in selectors where !directory.knows(unitID) {
        errors.append(
          ConfigError("rule \(rule.id): recipient unit \(unitID) is not in the directory", at: rule.location))
      }
      for selector in rule.appliesTo {
        for unitID in (selector.ids ?? []).union(selector.exceptIDs).sorted() where !directory.knows(unitID) {
          errors.append(ConfigError("rule \(rule.id): unit \(unitID) is not in the directory", at: rule.location))
        }
      }
    }
    return errors
  }
}
