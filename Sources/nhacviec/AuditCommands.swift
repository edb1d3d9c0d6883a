import ArgumentParser
import Foundation
import NhacviecConfig
import NhacviecControl
import NhacviecCore

/// `uid 1000 (tuan)`, or the uid alone when the system does not know it.
func userLabel(_ uid: UInt32?) -> String {
  guard let uid else { return "unknown" }
  guard let entry = getpwuid(uid) else { return "uid \(uid)" }
  return "uid \(uid) (\(String(cString: entry.pointee.pw_name)))"
}

func printPrettyJSON<T: Encodable>(_ value: T) throws {
  let encoder = JSONEncoder()
  encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
  print(String(decoding: try encoder.encode(value), as: UTF8.self))
}

struct FactsCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "facts",
    abstract: "The facts the daemon has recorded, with their ids (for retract).",
    discussion: """
      nhacviec facts --unit 51-STP --rule iso-annual-report --period 2026
      Each fact shows who recorded it (a Unix user, an officer of the desk, `unit` for a unit's \
      own link), when and how (socket, import FILE, desk, link); with --retracted, retracted \
      facts too, with who took them back and why. Kinds: report, budget, extension, exemption, \
      and a unit's word: claim, request, and the Department's returned (see nhacviec claims).
      """)

  @Option(help: "Only this unit's facts.", completion: Completions.units) var unit: String?
  @Option(help: "Only this rule's facts.", completion: Completions.rules) var rule: String?
  @Option(help: "Only this period's facts.") var period: String?
  @Flag(help: "Show retracted facts too.") var retracted = false
  @Flag(help: "Print the daemon's JSON.") var json = false
  @OptionGroup var options: SocketOptions

  func run() throws {
    var query: [String] = []
    if let unit { query.append("unit=\(queryValue(unit))") }
    if let rule { query.append("rule=\(queryValue(rule))") }
    if let period { query.append("period=\(queryValue(period))") }
    if retracted { query.append("retracted=true") }
    let response = try options.call("GET", "/v1/facts" + (query.isEmpty ? "" : "?" + query.joined(separator: "&")))
    let facts = try options.decode([ControlAPI.RecordedFact].self, response)
    if json { return try printPrettyJSON(facts) }
    if facts.isEmpty { return print("no facts recorded" + (query.isEmpty ? "" : " that match")) }
    for fact in facts {
      var what = [fact.kind, fact.unit, fact.rule, fact.period]
      if let at = fact.at { what.append("at \(at)") }
      if let reference = fact.reference { what.append(reference) }
      if let amount = fact.amount { what.append("\(amount) đồng") }
      if let due = fact.due { what.append("due \(due)") }
      if let by = fact.by { what.append("by \(by)") }
      if let reason = fact.reason { what.append("(\(reason))") }
      print("\(fact.id)\t\(what.joined(separator: " "))")
      let who = fact.recordedByName ?? userLabel(fact.recordedBy)
      print("\trecorded \(fact.recordedAt) by \(who) via \(fact.source)")
      if let retraction = fact.retracted {
        print("\tRETRACTED \(retraction.at) by \(userLabel(retraction.by)): \(retraction.reason)")
      }
    }
  }
}

struct Retract: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Take back a fact recorded by mistake.",
    discussion: """
      nhacviec retract 42 --reason "recorded for the wrong unit; see 43"
      The fact stays in the audit trail (nhacviec facts --retracted), marked with who retracted \
      it, when and why, and stops counting at once: the daemon judges the unit's obligations \
      again, and for each audience the newest step due goes out now, dated and counted as of \
      now, to whoever has not heard it (a step the fact had stopped goes as KEY#1).
      """)

  @Argument(help: "The fact's id (nhacviec facts).") var id: Int64
  @Option(help: "Why it is taken back (kept in the audit trail).") var reason: String
  @OptionGroup var options: SocketOptions

  func run() throws {
    let body = try JSONEncoder().encode(ControlAPI.Retraction(reason: reason))
    let fact = try options.decode(
      ControlAPI.RecordedFact.self, try options.call("DELETE", "/v1/facts/\(id)", body: Array(body)))
    print("retracted fact \(fact.id): \(fact.kind) for \(fact.unit) \(fact.rule) \(fact.period)")
  }
}

struct SilenceCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "silence",
    abstract: "Hold notices about a rule, a unit or both for a while (like amtool silence).",
    discussion: """
      A silenced notice is journaled as `silenced`, not sent. When the silence ends (its --until, \
      or silence expire), what it held is judged again: a notice still owed goes out as of that \
      moment, with its dates and counts as of then; one no longer owed is suppressed.
      """,
    subcommands: [SilenceAdd.self, SilenceList.self, SilenceExpire.self])
}

struct SilenceAdd: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "add", abstract: "Start a silence now.",
    discussion: """
      nhacviec silence add --unit 51-STP --until 2026-11-20 --reason "contact being replaced"
      nhacviec silence add --unit 51-STP --unit 51-SNV --until 2026-11-20 --reason "…"
      nhacviec silence add --scope 51 --rule iso-annual-report --until 2026-11-20 --reason "…"
      nhacviec silence add --rule iso-budget --period 2027 --until 2026-07-01T08:00:00+07:00 --reason "…"

      --unit may be given several times, and --scope PARENT silences each unit directly under \
      PARENT today: one silence per unit, each listed and expired on its own. Every unit is \
      checked before any silence is made.
      """)

  @Option(help: "Only notices of this rule.", completion: Completions.rules) var rule: String?
  @Option(
    help: "Only notices about this unit (its own and its superiors'); repeatable.", completion: Completions.units)
  var unit: [String] = []
  @Option(
    help: ArgumentHelp("Each unit directly under this one today (a district's communes).", valueName: "PARENT"),
    completion: Completions.units)
  var scope: String?
  @Option(help: "Only this period (2026, 2026-Q3, 2026-09).") var period: String?
  @Option(help: ArgumentHelp("When it ends: a date (its start) or an instant.", valueName: "INSTANT"))
  var until: String
  @Option(help: "Why (kept and shown in status).") var reason: String
  @OptionGroup var options: SocketOptions

  func validate() throws {
    guard rule != nil || !unit.isEmpty || scope != nil else {
      throw ValidationError("a silence needs --rule, --unit, --scope, or a rule with units")
    }
  }

  func run() throws {
    var units = unit
    if scope != nil || units.count > 1 {
      // Every unit is checked against the configuration before any silence is made, so that a
      // typo in the fifth does not leave four made; the daemon checks each again.
      let deployment = try loadDeployment(ConfigLocator.path(explicit: options.config))
      let today = deployment.zone.localDate(of: Date())
      if let scope {
        guard deployment.directory.unit(scope, on: today) != nil else {
          throw ValidationError("--scope: no unit \(scope) in the directory today")
        }
        let children = deployment.directory.children(of: scope, on: today).map { $0.id }
        guard !children.isEmpty else { throw ValidationError("--scope: \(scope) has no units under it today") }
        units += children
      }
      let unknown = units.filter { deployment.directory.unit($0, on: today) == nil }
      guard unknown.isEmpty else {
        throw ValidationError("--unit: no unit \(unknown.joined(separator: ", ")) in the directory today")
      }
    }
    let targets: [String?] = units.isEmpty ? [nil] : units.map { Optional($0) }
    for target in targets {
      let request = ControlAPI.SilenceRequest(rule: rule, unit: target, period: period, until: until, reason: reason)
      let response = try options.call("POST", "/v1/silences", body: Array(try JSONEncoder().encode(request)))
      let silence = try options.decode(ControlAPI.Silence.self, response)
      print("silence \(silence.id) holds notices (\(describe(silence))) until \(silence.ends)")
    }
  }
}

struct SilenceList: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "list", abstract: "The silences in force and to come (with --all, ended ones too).")

  @Flag(help: "Show ended and expired silences too.") var all = false
  @Flag(help: "Print the daemon's JSON.") var json = false
  @OptionGroup var options: SocketOptions

  func run() throws {
    let silences = try options.decode(
      [ControlAPI.Silence].self, try options.call("GET", "/v1/silences" + (all ? "?all=true" : "")))
    if json { return try printPrettyJSON(silences) }
    if silences.isEmpty { return print(all ? "no silences" : "no silences in force") }
    for silence in silences {
      let state = silence.active ? "active" : silence.expired ? "expired" : "ended"
      print(
        "\(silence.id)\t\(state)\t\(describe(silence))\t\(silence.starts) → \(silence.ends)\t"
          + "by \(userLabel(silence.createdBy)): \(silence.reason)")
    }
  }
}

struct SilenceExpire: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "expire", abstract: "End silences now: what they held is judged again and sent if still owed.",
    discussion: """
      nhacviec silence expire 12
      nhacviec silence expire --unit 51-STP          # every silence in force on 51-STP
      nhacviec silence expire --rule iso-annual-report --dry-run

      By id, or every silence in force whose rule, unit and period are those given.
      """)

  @Argument(help: "The silence's id (silence list).") var id: Int64?
  @Option(help: "Every silence in force on this rule.", completion: Completions.rules) var rule: String?
  @Option(help: "Every silence in force on this unit.", completion: Completions.units) var unit: String?
  @Option(help: "Every silence in force for this period.") var period: String?
  @Flag(help: "Say which silences would end, and end none.") var dryRun = false
  @OptionGroup var options: SocketOptions

  func validate() throws {
    let filtered = rule != nil || unit != nil || period != nil
    guard (id != nil) != filtered else {
      throw ValidationError("name a silence by its id, or select silences with --rule, --unit or --period")
    }
  }

  func run() throws {
    var ids: [Int64] = id.map { [$0] } ?? []
    if id == nil {
      let silences = try options.decode([ControlAPI.Silence].self, try options.call("GET", "/v1/silences"))
      let chosen = silences.filter {
        $0.active && (rule == nil || $0.rule == rule) && (unit == nil || $0.unit == unit)
          && (period == nil || $0.period == period)
      }
      if chosen.isEmpty { return print("no silence in force matches") }
      if dryRun {
        for silence in chosen { print("would expire silence \(silence.id) (\(describe(silence)))") }
        return
      }
      ids = chosen.map(\.id)
    }
    for id in ids {
      let silence = try options.decode(ControlAPI.Silence.self, try options.call("DELETE", "/v1/silences/\(id)"))
      print("silence \(silence.id) expired (\(describe(silence)))")
    }
  }
}

/// `rule=iso-annual-report unit=51-STP`.
func describe(_ silence: ControlAPI.Silence) -> String {
  [("rule", silence.rule), ("unit", silence.unit), ("period", silence.period)]
    .compactMap { name, value in value.map { "\(name)=\($0)" } }.joined(separator: " ")
}

struct ClaimsCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "claims",
    abstract: "A unit's own word waiting for the Department: claims that a report was sent, requests for time.",
    discussion: """
      A unit answers its reminder through the link in its message: "đã gửi báo cáo" (a claim, \
      with the document's number and date) or "xin gia hạn" (a request, with the day and why). \
      A claim stops the unit's reminders and the escalations about it at once, until the \
      Department verifies it; a request stops nothing until it is accepted.
        nhacviec claims                      the claims and requests waiting
        nhacviec claims accept iso-annual-report 51-STP 2026
        nhacviec claims return iso-annual-report 51-STP 2026 --reason "Chưa nhận được văn bản"
      Accepting a claim records the report fact with the claimed reference, by you; accepting a \
      request, the extension to the day asked (that day itself allowed). Returning one records a `returned` fact: the unit \
      is sent a message with the reason at once, and its ladder resumes.
      """,
    subcommands: [ClaimsList.self, ClaimsAccept.self, ClaimsReturn.self], defaultSubcommand: ClaimsList.self)
}

struct ClaimsList: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "list", abstract: "The claims and requests waiting for a verdict, oldest first.")

  @Flag(help: "Print the daemon's JSON.") var json = false
  @OptionGroup var options: SocketOptions

  func run() throws {
    let pending = try options.decode([ControlAPI.PendingWord].self, try options.call("GET", "/v1/claims"))
    if json { return try printPrettyJSON(pending) }
    if pending.isEmpty { return print("no claims or requests wait for a verdict") }
    for word in pending {
      var what = [word.kind, word.rule, word.unit, word.period]
      if word.kind == "claim" {
        if let reference = word.reference { what.append(reference) }
        if let date = word.due { what.append("dated \(date)") }
      } else if let due = word.due {
        what.append("until \(due)")
      }
      if let reason = word.reason { what.append("(\(reason))") }
      print("\(word.id)\t\(what.joined(separator: " "))")
      print(
        "\t\(word.unitName); said \(word.at ?? "?") via \(word.source); deadline \(word.deadline); \(word.state.rawValue)"
      )
    }
  }
}

/// The obligation a verdict is on.
struct VerdictArguments: ParsableArguments {
  @Argument(help: "The rule's id.") var rule: String
  @Argument(help: "The unit's id.") var unit: String
  @Argument(help: "The period: 2026, 2026-Q3, 2026-09.") var period: String
  @Option(help: "claim or request, when both wait (default: the claim).") var kind: String?

  func validate() throws {
    if let kind, kind != "claim", kind != "request" { throw ValidationError("--kind must be claim or request") }
  }
}

struct ClaimsAccept: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "accept",
    abstract: "Accept a claim (records the report with its reference) or a request (records the extension).")

  @OptionGroup var verdict: VerdictArguments
  @OptionGroup var options: SocketOptions

  func run() throws {
    let body = ControlAPI.Verdict(rule: verdict.rule, unit: verdict.unit, period: verdict.period, kind: verdict.kind)
    let fact = try options.decode(
      ControlAPI.RecordedFact.self,
      try options.call("POST", "/v1/claims/accept", body: Array(try JSONEncoder().encode(body))))
    print("accepted: recorded \(fact.kind) \(fact.id) for \(fact.unit) \(fact.rule) \(fact.period)")
  }
}

struct ClaimsReturn: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "return",
    abstract: "Return a claim or request with a reason: the unit is told why at once and reminded again.")

  @OptionGroup var verdict: VerdictArguments
  @Option(help: "Why, in Vietnamese: the unit reads it.") var reason: String
  @OptionGroup var options: SocketOptions

  func run() throws {
    let body = ControlAPI.Verdict(
      rule: verdict.rule, unit: verdict.unit, period: verdict.period, kind: verdict.kind, reason: reason)
    let fact = try options.decode(
      ControlAPI.RecordedFact.self,
      try options.call("POST", "/v1/claims/return", body: Array(try JSONEncoder().encode(body))))
    print("returned: recorded fact \(fact.id) for \(fact.unit) \(fact.rule) \(fact.period); the unit is told why")
  }
}
