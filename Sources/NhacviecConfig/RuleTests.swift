public import Foundation
public import NhacviecCore

/// A rule test file (`nhacviec test`): facts with their instants, and checkpoints that say, at an
/// instant, which findings and which notices sent so far are expected. In the spirit of
/// `promtool test rules`: the whole season replays on a virtual clock.
public struct RuleTestFile: Sendable {
  public struct NoticeExpectation: Sendable {
    public let rule: String
    public let unit: String
    public let period: String?
    public let step: String
    /// Every address the notice reached, directly or in a digest; nil to not check.
    public let to: Set<String>?
    public let location: SourceLocation
  }

  public struct FindingExpectation: Sendable {
    public let rule: String
    public let unit: String
    public let period: String
    public let state: FindingState
    public let location: SourceLocation
  }

  public struct Checkpoint: Sendable {
    public let at: Date
    public let findings: [FindingExpectation]
    public let notices: [NoticeExpectation]
    public let noNotices: [NoticeExpectation]
    public let location: SourceLocation
  }

  public let path: String
  /// The configuration the test runs against.
  public let configPath: String
  public let from: Date
  public let facts: [Fact]
  public let checkpoints: [Checkpoint]

  /// Reads a test file. `defaultConfig` is used when the file names none. Throws `ConfigErrors`
  /// with file and line for a malformed test.
  public static func load(path: String, defaultConfig: String) throws -> (RuleTestFile, Deployment) {
    let root = try YAMLReader.read(file: path)
    let f = try root.fields("a rule test file")
    let folder = (path as NSString).deletingLastPathComponent
    let configPath =
      try f.optional("config").map { node in
        let text = try node.string("config")
        return text.hasPrefix("/")
          ? text : ((folder as NSString).appendingPathComponent(text) as NSString).standardizingPath
      } ?? defaultConfig
    let deployment = try DeploymentLoader().load(configPath: configPath)
    let zone = deployment.zone
    func instant(_ node: ConfigNode) throws -> Date {
      guard let value = zone.parseInstant(try node.string("instant")) else {
        throw node.error("expected an instant such as 2026-11-16T09:00:00+07:00 or a date")
      }
      return value
    }
    let from = try instant(try f.required("from"))
    var facts: [Fact] = []
    for node in try f.optional("facts")?.list("facts") ?? [] {
      let ff = try node.fields("a fact")
      var values: [String: String] = [:]
      for column in FactsLoader.columns { values[column] = try ff.optional(column)?.string(column) }
      try ff.finish()
      facts.append(try FactsLoader.fact(values, zone: zone, at: node.location))
    }
    let problems = FactsLoader.check(facts, against: deployment)
    if !problems.isEmpty { throw ConfigErrors(problems) }
    func notice(_ node: ConfigNode) throws -> NoticeExpectation {
      let n = try node.fields("an expected notice")
      let expectation = NoticeExpectation(
        rule: try n.required("rule").string("rule"), unit: try n.required("unit").string("unit"),
        period: try n.optional("period")?.string("period"), step: try n.required("step").string("step"),
        to: try n.optional("to").map { Set(try $0.strings("to")) }, location: node.location)
      try n.finish()
      return expectation
    }
    var checkpoints: [Checkpoint] = []
    for node in try f.required("checkpoints").list("checkpoints") {
      let c = try node.fields("a checkpoint")
      let at = try instant(try c.required("at"))
      guard at >= from else { throw node.error("a checkpoint comes after `from`") }
      var findings: [FindingExpectation] = []
      for item in try c.optional("findings")?.list("findings") ?? [] {
        let e = try item.fields("an expected finding")
        let stateNode = try e.required("state")
        guard let state = FindingState(rawValue: try stateNode.string("state")) else {
          throw stateNode.error(
            "state must be one of \(FindingState.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        findings.append(
          FindingExpectation(
            rule: try e.required("rule").string("rule"), unit: try e.required("unit").string("unit"),
            period: try e.required("period").string("period"), state: state, location: item.location))
        try e.finish()
      }
      let notices = try (c.optional("notices")?.list("notices") ?? []).map(notice)
      let noNotices = try (c.optional("no_notices")?.list("no_notices") ?? []).map(notice)
      try c.finish()
      checkpoints.append(
        Checkpoint(at: at, findings: findings, notices: notices, noNotices: noNotices, location: node.location))
    }
    try f.finish()
    for expectation in checkpoints.flatMap({ $0.notices + $0.noNotices }) {
      if deployment.ruleset.rule(expectation.rule) == nil {
        throw ConfigErrors([ConfigError("unknown rule \(expectation.rule)", at: expectation.location)])
      }
    }
    return (
      RuleTestFile(
        path: path, configPath: configPath, from: from, facts: facts, checkpoints: checkpoints.sorted { $0.at < $1.at }),
      deployment
    )
  }

  /// What went differently from the expectation: where it was written, and the difference.
  public struct Failure: Sendable, CustomStringConvertible {
    public let location: SourceLocation
    public let message: String
    public var description: String { "\(location): \(message)" }
  }

  /// Replays the season and compares. Pure: the same file gives the same answer.
  public func run(_ deployment: Deployment) -> [Failure] {
    let engine = deployment.engine(facts: FactBook(facts))
    let zone = deployment.zone
    var failures: [Failure] = []
    guard let last = checkpoints.last?.at else { return [] }
    let sent = engine.simulate(from: from, to: last)
    for checkpoint in checkpoints {
      let when = zone.rfc3339(checkpoint.at)
      // Each rung sent so far, with every address it reached (digests count for their items).
      var reached: [NoticeKey: Set<String>] = [:]
      for decision in sent where decision.scheduledAt <= checkpoint.at {
        for key in decision.content.keys {
          reached[key, default: []].formUnion(decision.addressees.map(\.address))
        }
      }
      func matches(_ e: NoticeExpectation) -> [NoticeKey] {
        reached.keys.filter { key in
          key.rule == e.rule && key.unit.id == e.unit && key.step.description == e.step
            && (e.period.map { $0 == key.period.description } ?? true)
        }.sorted()
      }
      for e in checkpoint.notices {
        let keys = matches(e)
        let what = "unit \(e.unit), rule \(e.rule), step \(e.step)"
        if keys.isEmpty {
          failures.append(Failure(location: e.location, message: "at \(when), \(what): expected sent, got not sent"))
        } else if let to = e.to {
          let got = keys.reduce(into: Set<String>()) { $0.formUnion(reached[$1] ?? []) }
          if got != to {
            failures.append(
              Failure(
                location: e.location,
                message:
                  "at \(when), \(what): expected to \(to.sorted().joined(separator: ", ")), got to \(got.sorted().joined(separator: ", "))"
              ))
          }
        }
      }
      for e in checkpoint.noNotices where !matches(e).isEmpty {
        failures.append(
          Failure(
            location: e.location,
            message:
              "at \(when), unit \(e.unit), rule \(e.rule), step \(e.step): expected not sent, got sent (\(matches(e).map(\.description).joined(separator: ", ")))"
          ))
      }
      for e in checkpoint.findings {
        guard let rule = deployment.ruleset.rule(e.rule), let period = Period(e.period) else {
          failures.append(Failure(location: e.location, message: "unknown rule \(e.rule) or period \(e.period)"))
          continue
        }
        let judged = engine.evaluate(rule: rule, period: period, at: checkpoint.at)
        let finding = judged.findings.first { $0.unit.id == e.unit }
        let got =
          judged.failure.map { "not judged (\($0.message))" } ?? finding?.state.rawValue ?? "no obligation"
        if got != e.state.rawValue {
          failures.append(
            Failure(
              location: e.location,
              message:
                "at \(when), unit \(e.unit), rule \(e.rule), period \(e.period): expected \(e.state.rawValue), got \(got)"
            ))
        }
      }
    }
    return failures
  }
}
