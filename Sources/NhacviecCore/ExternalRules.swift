public import Foundation

/// `exec`: an external program judges the obligations of one rule and period. It is the way to add
/// a rule kind without recompiling, in any language: it reads one JSON request on standard input
/// and answers one JSON object on standard output (protocol version 1, docs/rules.md).
///
/// Running the program is the one part of evaluation that leaves the process; the engine reaches
/// it through `EvaluationContext.external`, which answers each (rule, period, instant) once, so
/// that evaluation stays a function of its inputs and one program run serves every unit.
public struct ExecKind: RuleKind {
  /// An absolute path; a relative one in the rule file is taken from the rule file's folder.
  public let command: String
  public let arguments: [String]
  public let timeout: TimeInterval
  /// Other rules whose facts for the same period the request carries (besides the rule's own).
  public let factsFrom: [String]
  /// The rule's `params.options`, passed through to the program as JSON.
  public let options: ConfigNode?

  public init(parameters: ConfigNode?) throws(ConfigError) {
    guard let parameters else {
      throw ConfigError("an exec rule needs `params: { command: PROGRAM }`", at: nil)
    }
    let fields = try parameters.fields("params of an exec rule")
    let commandNode = try fields.required("command")
    // A string is split at spaces (no quoting); a list is taken word for word.
    var words = try commandNode.strings("command")
    if let line = commandNode.scalar { words = line.split(separator: " ").map(String.init) }
    guard let program = words.first, !program.isEmpty else { throw commandNode.error("command is empty") }
    guard program.contains("/") else {
      throw commandNode.error(
        "command must be a path to a program (absolute, or relative to the rule file), such as ./plugins/check.py")
    }
    if program.hasPrefix("/") {
      command = program
    } else {
      let folder = (commandNode.location.file as NSString).deletingLastPathComponent
      command = Self.normalised(((folder.isEmpty ? "." : folder) as NSString).appendingPathComponent(program))
    }
    arguments = Array(words.dropFirst())
    if let node = fields.optional("timeout") {
      let text = try node.string("timeout")
      guard let seconds = Self.seconds(text), seconds > 0, seconds <= 600 else {
        throw node.error("timeout must be a duration from 1s to 600s, such as 10s or 2m, not `\(text)`")
      }
      timeout = seconds
    } else {
      timeout = 10
    }
    factsFrom = try fields.optional("facts_from")?.strings("facts_from") ?? []
    options = fields.optional("options")
    if let options {
      guard case .map = options.value else {
        throw options.error("options must be a map (it reaches the program as a JSON object)")
      }
    }
    try fields.finish()
  }

  /// Without `.` and `name/..` components, so that errors and logs name the program plainly.
  static func normalised(_ path: String) -> String {
    var parts: [Substring] = []
    for part in path.split(separator: "/", omittingEmptySubsequences: false) {
      if part == "." { continue }
      if part == "..", let last = parts.last, !last.isEmpty, last != ".." {
        parts.removeLast()
      } else {
        parts.append(part)
      }
    }
    return parts.joined(separator: "/")
  }

  static func seconds(_ text: String) -> TimeInterval? {
    if let value = Double(text.dropLast()), text.hasSuffix("s") { return value }
    if let value = Double(text.dropLast()), text.hasSuffix("m") { return value * 60 }
    return nil
  }

  public var referencedRules: [String] { factsFrom }
  /// The program decides what counts: it sees every kind of fact.
  public var factKinds: Set<Fact.Kind> { Set(Fact.Kind.allCases) }

  public func assess(unit: OrgUnit, rule: Rule, period: Period, now: Date, context: EvaluationContext) -> Assessment {
    guard let external = context.external else {
      return Assessment(failure: "external rule kinds cannot run here (no program runner)")
    }
    switch external.judgments(of: self, rule: rule, period: period, now: now, context: context) {
    case .failure(let error):
      return Assessment(failure: error.message)
    case .success(let judgments):
      return judgments[unit.id] ?? Assessment(failure: "the program gave no finding for unit \(unit.id)")
    }
  }
}

/// Why an external program's answer could not be used.
public struct ExternalRuleError: Error, Sendable, Hashable {
  public let message: String
  public init(_ message: String) { self.message = message }
}

/// Runs the programs of `exec` rules. Implemented at the edge (NhacviecExternal); an implementation
/// answers each (rule, period, now) once per context and may run programs on threads of its own.
public protocol ExternalRuleRunner: Sendable {
  func judgments(
    of kind: ExecKind, rule: Rule, period: Period, now: Date, context: EvaluationContext
  )
    -> Result<[String: Assessment], ExternalRuleError>
}

/// The JSON an `exec` rule's program reads and writes, version 1. Built and checked here, in the
/// domain, so that the edge only moves bytes.
public enum ExternalProtocol {
  public static let version = 1

  /// The request: the rule, its period and deadline, the units that owe it, their facts.
  public static func request(
    kind: ExecKind, rule: Rule, period: Period, now: Date, context: EvaluationContext
  ) -> (json: Data, units: [String]) {
    let zone = context.calendar.zone
    let deadline = rule.due.deadline(for: period, calendar: context.calendar)
    let rosterDate = zone.lastDay(before: deadline)
    let units = context.roster(of: rule, deadline: deadline)
    var unitObjects: [[String: Any]] = []
    var factObjects: [[String: Any]] = []
    let rules = [rule.id] + kind.factsFrom
    for unit in units {
      var object: [String: Any] = ["id": unit.id, "name": unit.name, "kind": unit.kind, "tags": unit.tags.sorted()]
      if let parent = context.directory.parent(of: unit, on: rosterDate) {
        object["parent"] = parent.id
        object["parent_name"] = parent.name
      }
      unitObjects.append(object)
      for ruleID in rules {
        for fact in context.facts.facts(rule: ruleID, period: period.description, unit: unit.id, at: now) {
          var f: [String: Any] = [
            "kind": fact.kind.rawValue, "unit": fact.unitID, "rule": fact.ruleID, "period": fact.period,
          ]
          if let at = fact.at { f["at"] = zone.rfc3339(at) }
          if let reference = fact.reference { f["reference"] = reference }
          if let amount = fact.amount { f["amount"] = amount }
          if let due = fact.due { f["due"] = due.description }
          factObjects.append(f)
        }
      }
    }
    let object: [String: Any] = [
      "version": version,
      "now": zone.rfc3339(now),
      "rule": [
        "id": rule.id, "title": rule.title, "period": period.description, "deadline": zone.rfc3339(deadline),
        "options": kind.options.map(json) ?? [String: Any](),
      ] as [String: Any],
      "units": unitObjects,
      "facts": factObjects,
    ]
    let data =
      (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
    return (data, units.map(\.id))
  }

  /// Scalars stay strings, as YAML wrote them: the program decides what they mean.
  static func json(_ node: ConfigNode) -> Any {
    switch node.value {
    case .null: return NSNull()
    case .scalar(let text): return text
    case .list(let items): return items.map(json)
    case .map(let entries):
      var object: [String: Any] = [:]
      for entry in entries { object[entry.key] = json(entry.value) }
      return object
    }
  }

  /// Checks an answer against its request: valid JSON of the right version, one finding for each
  /// unit asked about and none other, instants in RFC 3339. Anything else is an error, and then
  /// no unit of the rule's period gets a finding.
  public static func judgments(
    answer: Data, units: [String], zone: Zone
  ) -> Result<
    [String: Assessment], ExternalRuleError
  > {
    func fail(_ message: String) -> Result<[String: Assessment], ExternalRuleError> {
      .failure(ExternalRuleError(message))
    }
    guard let object = try? JSONSerialization.jsonObject(with: answer), let root = object as? [String: Any] else {
      let start = String(decoding: answer.prefix(80), as: UTF8.self)
      return fail("the answer is not a JSON object: `\(start)`")
    }
    guard let version = root["version"] as? Int else { return fail("the answer has no `version`") }
    guard version == Self.version else {
      return fail("the answer is version \(version); this nhacviec speaks version \(Self.version)")
    }
    guard let findings = root["findings"] as? [Any] else { return fail("the answer has no `findings` list") }
    let asked = Set(units)
    var result: [String: Assessment] = [:]
    for (index, item) in findings.enumerated() {
      guard let finding = item as? [String: Any] else { return fail("findings[\(index)] is not an object") }
      guard let unit = finding["unit"] as? String else { return fail("findings[\(index)] has no `unit`") }
      guard asked.contains(unit) else { return fail("findings[\(index)] names unit `\(unit)`, which was not asked") }
      guard result[unit] == nil else { return fail("unit `\(unit)` has two findings") }
      for key in finding.keys where !["unit", "met_at", "reference", "note"].contains(key) {
        return fail("findings[\(index)] has an unknown key `\(key)` (known: met_at, note, reference, unit)")
      }
      var assessment = Assessment()
      switch finding["met_at"] {
      case nil, is NSNull: break
      case let text as String:
        guard let instant = zone.parseInstant(text) else {
          return fail("findings[\(index)].met_at `\(text)` is not an RFC 3339 instant")
        }
        assessment.satisfiedAt = instant
      default: return fail("findings[\(index)].met_at must be a string or null")
      }
      for (key, value) in [("reference", finding["reference"]), ("note", finding["note"])] {
        guard let value, !(value is NSNull) else { continue }
        guard let text = value as? String else { return fail("findings[\(index)].\(key) must be a string") }
        if key == "reference" { assessment.reference = text } else { assessment.note = text }
      }
      result[unit] = assessment
    }
    if let missing = units.first(where: { result[$0] == nil }) {
      let others = units.filter { result[$0] == nil }.count - 1
      return fail("the answer has no finding for unit `\(missing)`\(others > 0 ? " (nor for \(others) more)" : "")")
    }
    return .success(result)
  }
}
