import Foundation
public import NhacviecCore

/// Reads facts from CSV (`kind,unit,rule,period,at,reference,amount,due,by,reason`) or YAML (a
/// list of maps with the same fields).
public enum FactsLoader {
  public static let columns = ["kind", "unit", "rule", "period", "at", "reference", "amount", "due", "by", "reason"]

  public static func load(file: String, zone: Zone) throws(ConfigErrors) -> [Fact] {
    if file.hasSuffix(".csv") { return try csv(file: file, zone: zone) }
    let root = try YAMLReader.read(file: file)
    var facts: [Fact] = []
    var errors: [ConfigError] = []
    let list: [ConfigNode]
    do {
      if case .map = root.value {
        let f = try root.fields("a facts file")
        list = try f.required("facts").list("facts")
        try f.finish()
      } else {
        list = try root.list("facts")
      }
    } catch {
      throw ConfigErrors([error])
    }
    for node in list {
      do {
        let f = try node.fields("a fact")
        var values: [String: String] = [:]
        for column in columns { values[column] = try f.optional(column)?.string(column) }
        try f.finish()
        facts.append(try fact(values, zone: zone, at: node.location))
      } catch {
        errors.append(error)
      }
    }
    if !errors.isEmpty { throw ConfigErrors(errors) }
    return facts
  }

  static func csv(file: String, zone: Zone) throws(ConfigErrors) -> [Fact] {
    let text = try TextFile.read(
      file, referencedFrom: nil, limit: TextFile.maximumFactsCSVBytes, kind: "a facts file in CSV")
    let (records, parseError) = CSVReader.parse(text)
    if let parseError {
      throw ConfigErrors([ConfigError(parseError.message, at: SourceLocation(file: file, line: parseError.line))])
    }
    guard let header = records.first?.fields.map({ $0.trimmingCharacters(in: .whitespaces) }) else { return [] }
    for (index, name) in header.enumerated() where !columns.contains(name) {
      throw ConfigErrors([
        ConfigError(
          "unknown column \(name) (expected \(columns.joined(separator: ",")))",
          at: SourceLocation(file: file, line: 1, column: index + 1))
      ])
    }
    var facts: [Fact] = []
    var errors: [ConfigError] = []
    for record in records.dropFirst() {
      let here = SourceLocation(file: file, line: record.line)
      guard record.fields.count == header.count else {
        errors.append(ConfigError("expected \(header.count) fields, found \(record.fields.count)", at: here))
        continue
      }
      var values: [String: String] = [:]
      for (name, value) in zip(header, record.fields) {
        let trimmed = value.trimmingCharacters(in: .whitespaces)
        if !trimmed.isEmpty { values[name] = trimmed }
      }
      do { facts.append(try fact(values, zone: zone, at: here)) } catch { errors.append(error) }
    }
    if !errors.isEmpty { throw ConfigErrors(errors) }
    return facts
  }

  /// The years a fact may fall in: those the working calendar covers.
  public static let years = 2000...2100

  /// The fields each kind of fact takes besides kind, unit, rule and period; `required` ones must
  /// be given. A field of another kind (an amount on a report) is refused, not ignored.
  static let fields: [Fact.Kind: (required: Set<String>, optional: Set<String>)] = [
    .report: (["at"], ["reference", "reason"]),
    .budget: (["amount"], ["at", "reference", "reason"]),
    .extension: (["due", "by"], ["at", "reference", "reason"]),
    .exemption: (["by"], ["at", "reference", "reason"]),
    // A claim's `due` is the date its document bears, not a deadline.
    .claim: (["at", "reference"], ["due", "reason"]),
    .request: (["at", "due", "reason"], []),
    .returned: (["at", "by", "reason"], []),
  ]

  /// Builds one fact from its fields, checking what each kind needs and allows. Each error names
  /// the field and why.
  public static func fact(_ v: [String: String], zone: Zone, at location: SourceLocation?) throws(ConfigError) -> Fact {
    func fail(_ message: String) -> ConfigError { ConfigError(message, at: location) }
    func need(_ key: String) throws(ConfigError) -> String {
      guard let value = v[key], !value.isEmpty else { throw fail("a fact needs `\(key)`") }
      return value
    }
    let kindName = try need("kind")
    guard let kind = Fact.Kind(rawValue: kindName) else {
      throw fail(
        "kind: unknown fact kind `\(kindName)` (known: \(Fact.Kind.allCases.map(\.rawValue).joined(separator: ", ")))")
    }
    let unit = try need("unit")
    let rule = try need("rule")
    let periodText = try need("period")
    guard let period = Period(periodText) else {
      throw fail("period: must read 2026, 2026-Q3 or 2026-09, not `\(periodText)`")
    }
    guard years.contains(period.year) else {
      throw fail("period: year \(period.year) is outside \(years.lowerBound)–\(years.upperBound)")
    }
    let allowed = fields[kind]!
    for key in columns where v[key] != nil && !["kind", "unit", "rule", "period"].contains(key) {
      guard allowed.required.contains(key) || allowed.optional.contains(key) else {
        let takes = allowed.required.union(allowed.optional).sorted().joined(separator: ", ")
        throw fail("\(key): a \(kind.rawValue) fact has no \(key) (it takes \(takes))")
      }
    }
    for key in allowed.required.sorted() { _ = try need(key) }
    var at: Date?
    if let text = v["at"] {
      guard let instant = zone.parseInstant(text) else {
        throw fail("at: must be an instant such as 2026-10-20T09:00:00+07:00 or a date 2026-10-20, not `\(text)`")
      }
      let year = zone.localDate(of: instant).year
      guard years.contains(year) else {
        throw fail("at: year \(year) is outside \(years.lowerBound)–\(years.upperBound)")
      }
      at = instant
    }
    var amount: Int64?
    if let text = v["amount"] {
      guard let value = Money.parse(text), value <= maximumAmount else {
        throw fail(
          "amount: must be whole đồng, such as 5000000 or 5.000.000 (groups of three digits), not `\(text)`")
      }
      amount = value
    }
    var due: LocalDate?
    if let text = v["due"] {
      guard let date = LocalDate(iso: text) else { throw fail("due: must be a date YYYY-MM-DD, not `\(text)`") }
      guard years.contains(date.year) else {
        throw fail("due: year \(date.year) is outside \(years.lowerBound)–\(years.upperBound)")
      }
      due = date
    }
    return Fact(
      kind: kind, unitID: unit, ruleID: rule, period: periodText, at: at, reference: v["reference"], amount: amount,
      due: due, decidedBy: v["by"], reason: v["reason"], location: location)
  }

  /// A budget line of a thousand billion đồng is a typo, not a budget.
  public static let maximumAmount: Int64 = 1_000_000_000_000_000

  /// Facts that do not fit the deployment: an unknown rule or unit (a typo that would otherwise be
  /// silently ignored), a kind of fact the rule does not take, a period of the wrong kind, a unit
  /// that does not owe the rule that period, an extension that moves nothing.
  public static func check(_ facts: [Fact], against deployment: Deployment) -> [ConfigError] {
    let engine = deployment.engine()
    var rosters: [String: Set<String>] = [:]
    return facts.compactMap { fact in
      func fail(_ message: String) -> ConfigError { ConfigError(message, at: fact.location) }
      guard let rule = deployment.ruleset.rule(fact.ruleID) else { return fail("rule: unknown rule \(fact.ruleID)") }
      guard rule.kind.factKinds.contains(fact.kind) else {
        let takes = Fact.Kind.allCases.filter { rule.kind.factKinds.contains($0) }.map(\.rawValue)
        return fail(
          "kind: rule \(rule.id) (\(rule.kindName)) takes "
            + (takes.isEmpty ? "no facts" : "\(takes.joined(separator: ", ")) facts") + ", not \(fact.kind.rawValue)")
      }
      guard let period = Period(fact.period), period.kind == rule.period else {
        return fail("period: \(fact.period) is not a \(rule.period.rawValue) period of rule \(rule.id)")
      }
      guard deployment.directory.knows(fact.unitID) else { return fail("unit: unknown unit \(fact.unitID)") }
      let deadline = rule.due.deadline(for: period, calendar: deployment.calendar)
      let roster =
        rosters["\(rule.id)/\(period)"]
        ?? Set(engine.roster(of: rule, deadline: deadline).map(\.id))
      rosters["\(rule.id)/\(period)"] = roster
      guard roster.contains(fact.unitID) else {
        return fail("unit: \(fact.unitID) does not owe \(rule.id) for \(fact.period)")
      }
      if let due = fact.due, fact.kind == .extension || fact.kind == .request {
        let named = rule.due.namedDate(for: period, calendar: deployment.calendar)
        guard due > named else {
          return fail("due: an extension moves the deadline later than \(named), not to \(due)")
        }
      }
      return nil
    }
  }
}
