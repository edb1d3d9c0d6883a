import ArgumentParser
import Foundation
import NhacviecConfig
import NhacviecCore
import NhacviecRender

struct Simulate: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Print every notice that would be sent between two dates, in time order.",
    discussion: """
      Walks virtual time as a daemon would that never stopped, with the facts of --facts \
      becoming known at their instants. Deterministic: the same inputs print the same lines. \
      With --json, one JSON object per line: at, key, rule, unit, period, step, reason, \
      channel, to, subject (and items for a digest).
      """)

  @OptionGroup var options: ConfigOptions

  @Option(help: ArgumentHelp("Start: a date (its 00:00) or an instant.", valueName: "DATE"))
  var from: String

  @Option(help: ArgumentHelp("End: a date (through its last minute) or an instant.", valueName: "DATE"))
  var to: String

  @Option(help: ArgumentHelp("Facts to take into account (CSV or YAML).", valueName: "FILE"), completion: .file())
  var facts: String?

  @Flag(help: "Print one JSON object per line.")
  var json = false

  struct Line: Encodable {
    let at: String
    let key: String
    let rule: String
    let unit: String
    let period: String
    let step: String
    let reason: String
    let channel: String
    let to: [String]
    let subject: String
    let items: [String]?
  }

  func run() throws {
    let deployment = try options.load()
    let zone = deployment.zone
    let start = try instant(from, zone: zone, option: "--from")
    var end = try instant(to, zone: zone, option: "--to")
    if LocalDate(iso: to) != nil { end = end.addingTimeInterval(86_400 - 1) }
    guard start <= end else { throw ValidationError("--from must not be after --to") }
    let book = FactBook(try facts.map { try loadFacts($0, for: deployment) } ?? [])
    let engine = deployment.engine(facts: book)
    let renderer = MessageRenderer(ruleset: deployment.ruleset, calendar: deployment.calendar)
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    var out = ""
    let simulation = engine.simulation(from: start, to: end)
    for failure in simulation.failures {
      printError("warning: rule \(failure.ruleID) period \(failure.period) not judged: \(failure.message)")
    }
    for decision in simulation.notices {
      // As the daemon would send it at its instant: judged and rendered then.
      var subject = ""
      if case .send(let evaluated) = engine.check(decision, at: decision.scheduledAt, window: false) {
        subject = renderer.render(evaluated).subject
      }
      let key = decision.noticeKey
      // A webhook's URL without its query, as everything nhacviec prints shows it.
      let to = decision.addressees.map { SafeURL.shown($0.address) }
      if json {
        let items: [String]? =
          if case .digest(let items) = decision.content { items.map(\.key.description) } else { nil }
        let line = Line(
          at: zone.rfc3339(decision.scheduledAt), key: decision.key, rule: key?.rule ?? "",
          unit: key?.unit.id ?? decision.addressees.first?.unit.id ?? "", period: key?.period.description ?? "",
          step: key?.step.description ?? "digest", reason: decision.reason.rawValue, channel: decision.channel, to: to,
          subject: subject, items: items)
        out += String(decoding: try encoder.encode(line), as: UTF8.self) + "\n"
      } else {
        out +=
          "\(zone.rfc3339(decision.scheduledAt))  \(decision.key)  \(decision.reason.rawValue)  \(decision.channel) → \(to.joined(separator: ", "))\n"
        out += "    \(subject)\n"
      }
      if out.utf8.count > 1 << 16 {
        FileHandle.standardOutput.write(Data(out.utf8))
        out = ""
      }
    }
    FileHandle.standardOutput.write(Data(out.utf8))
  }
}
