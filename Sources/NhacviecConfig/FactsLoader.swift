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
    guard let data = FileManager.default.contents(atPath: file), let text = String(data: data, encoding: .utf8) else {
      throw ConfigErrors([ConfigError("cannot read \(file) as UTF-8 text", at: nil)])
    }
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

  /// Builds one fact from its fields, checking what each kind needs.
  public static func fact(_ v: [String: String], zone: Zone, at location: SourceLocation?) throws(ConfigError) -> Fact {
    func need(_ key: String) throws(ConfigError) -> String {
      guard let value = v[key], !value.isEmpty else { throw ConfigError("a fact needs `\(key)`", at: location) }
      return value
    }
    let kindName = try need("kind")
    guard let kind = Fact.Kind(rawValue: kindName) else {
      throw ConfigError(
        "unknown fact kind \(kindName) (known: \(Fact.Kind.allCases.map(\.rawValue).joined(separator: ", ")))",
        at: location)
    }
    let periodText = try need("period")
    guard Period(periodText) != nil else {
      throw ConfigError("period must read 2026, 2026-Q3 or 2026-09, not \(periodText)", at: location)
    }
    var at: Date?
    if let text = v["at"] {
      guard let instant = zone.parseInstant(text) else {
        throw ConfigError("at must be an instant such as 2026-10-20T09:00:00+07:00, not \(text)", at: location)
      }
      at = instant
    }
    var amount: Int64?
    if let text = v["amount"] {
      guard let value = Money.parse(text) else {
        throw ConfigError("amount must be in đồng, not \(text)", at: location)
      }
      amount = value
    }
    var due: LocalDate?
    if let text = v["due"] {
      guard let date = LocalDate(iso: text) else {
        throw ConfigError("due must be YYYY-MM-DD, not \(text)", at: location)
      }
      due = date
    }
    switch kind {
    case .report: _ = try need("at")
    case .budget: _ = try need("amount")
    case .extension:
      _ = try need("due")
      _ = try need("by")
    case .exemption: _ = try need("by")
    }
    return Fact(
      kind: kind, unitID: try need("unit"), ruleID: try need("rule"), period: periodText, at: at,
      reference: v["reference"], amount: amount, due: due, decidedBy: v["by"], reason: v["reason"], location: location)
  }

  /// Facts that name a unit or rule nobody knows: a typo that would otherwise be silently ignored.
  public static func check(_ facts: [Fact], against deployment: Deployment) -> [ConfigError] {
    facts.compactMap { fact in
      guard let rule = deployment.ruleset.rule(fact.ruleID) else {
        return ConfigError("fact for unknown rule \(fact.ruleID)", at: fact.location)
      }
      if let period = Period(fact.period), period.kind != rule.period {
        return ConfigError(
          "fact period \(fact.period) is not a \(rule.period.rawValue) period of rule \(rule.id)", at: fact.location)
      }
      if !deployment.directory.knows(fact.unitID) {
        return ConfigError("fact for unknown unit \(fact.unitID)", at: fact.location)
      }
      return nil
    }
  }
}
