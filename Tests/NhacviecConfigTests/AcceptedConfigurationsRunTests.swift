import Foundation
import NhacviecConfig
import NhacviecCore
import NhacviecRender
import TestSupport
import Testing

/// Whatever `check` accepts, the daemon must be able to run: configurations generated from the
/// corners of every setting are loaded, and each one that loads is planned over a season, its
/// notices rendered and its report printed in every format.
@Suite("Every accepted configuration runs")
struct AcceptedConfigurationsRunTests {

  // A leading `!` marks a value check must refuse; it is picked one time in ten.
  static let channelNames = ["email", "e-2", "x_y", "!\"\"", "!\"a b\"", "!ê", "-"]
  static let channelBodies = [
    "{ type: file, path: out }", "{ type: file, format: json, path: out }",
    "{ type: webhook, url: \"http://127.0.0.1:9/hook\" }", "{ type: file, path: out, address: webhook }",
    "{ type: file, path: out, connections: 1, rate: 1/h, retry: { initial: 1s, factor: 1, cap: 1s, max_attempts: 1, max_age: 1m } }",
    "{ type: webhook, url: \"http://127.0.0.1:9/hook\", rate: 1000/s, retry: { initial: 1d, factor: 10, cap: 7d, max_attempts: 1000, max_age: 90d } }",
  ]
  static let digests = [
    "", "digest: { minimum: 0 }", "digest: { minimum: 1 }", "digest: { minimum: 2 }",
    "!digest: { minimum: -1 }", "!digest: { minimum: x }",
  ]
  static let windows = [
    "", "send_window: { opens: \"00:00\", closes: \"23:59\" }",
    "!send_window: { opens: \"17:00\", closes: \"08:00\" }", "send_window: { opens: \"23:58\", closes: \"23:59\" }",
  ]
  static let calendars = [
    "", "calendar: { working_days: [sat] }", "calendar: { holidays: none }",
    "calendar: { working_days: [mon, tue, wed, thu, fri, sat, sun], holidays: vietnam }",
    "!calendar: { working_days: [] }",
  ]
  static let zones = [
    "", "timezone: UTC", "timezone: Pacific/Kiritimati", "timezone: America/Adak", "!timezone: Nowhere/At_All",
  ]
  static let periods = [
    ("yearly", "{ date: \"11-15\", convention: before }"), ("yearly", "{ date: \"02-29\", convention: by }"),
    ("yearly", "{ date: \"01-01\", year_offset: -1, convention: at, time: \"23:59\" }"),
    ("quarterly", "{ after_period: 15d, convention: before }"), ("monthly", "{ after_period: 5wd, convention: by }"),
    ("monthly", "{ after_period: 0d, convention: before }"),
    ("yearly", "{ date: \"12-31\", year_offset: 5, convention: by }"),
  ]
  static let reminds = ["[]", "[1d]", "[30d, 14d, 7d, 3wd, 1wd]", "[400d]", "[1wd, 2wd, 3wd]", "![0d]"]
  static let escalations = [
    "[]", "[{ after: 1wd, to: [unit.head] }]",
    "[{ after: 1d, to: [parent.head], repeat: 3d }, { after: 3wd, to: [unit:P.iso-focal], repeat: 1wd }]",
    "[{ after: 0d, to: [unit.head, parent.head, unit:P] }]", "[{ after: 1wd, to: [unit:P.nobody] }]",
    "[{ after: 2d, to: [unit.head], repeat: 0d }]",
  ]
  static let stops = ["", "stop_after: 0d", "stop_after: 1d", "stop_after: 400d"]
  static let kinds = ["deadline", "budget", "rollup", "summary"]

  func pick<T>(_ values: [T], _ generator: inout SplitMix) -> T {
    values[Int(generator.next() % UInt64(values.count))]
  }

  /// A valid value nine times in ten, else one check refuses.
  func pick(_ values: [String], _ generator: inout SplitMix) -> String {
    let bad = values.filter { $0.hasPrefix("!") }
    let good = values.filter { !$0.hasPrefix("!") }
    let refuse = !bad.isEmpty && generator.next() % 10 == 0
    let value =
      refuse ? bad[Int(generator.next() % UInt64(bad.count))] : good[Int(generator.next() % UInt64(good.count))]
    return refuse ? String(value.dropFirst()) : value
  }

  func variant(seed: UInt64) throws -> Scratch {
    var g = SplitMix(seed: seed)
    let channel = pick(Self.channelNames, &g)
    let (period, due) = pick(Self.periods, &g)
    let kind = pick(Self.kinds, &g)
    let params: String
    switch kind {
    case "budget": params = "params: { minimum: 5.000.000 }"
    case "rollup": params = "params: { children: child }"
    case "summary":
      params =
        "params: { rules: [child], every: \(pick(["mon", "day", "sun"], &g)), from: \"\(pick(["01-01", "11-01", "02-29"], &g))\" }"
    default: params = ""
    }
    let rules = """
      - id: main
        kind: \(kind)
        \(params)
        title: Việc {{period.name}} của {{unit.name}}
        report_title: Việc {{period.name}}
        basis: Công văn, khoản 1
        applies_to: { kinds: [\(pick(["dept", "district", "commune", "province"], &g))] }
        period: \(period)
        due: \(due)
        remind: \(pick(Self.reminds, &g))
        escalate: \(pick(Self.escalations, &g))
        \(pick(Self.stops, &g))
        channels: [\(channel)]
      - id: child
        kind: deadline
        title: Con {{period.name}}
        basis: Công văn, khoản 2
        applies_to: { kinds: [commune] }
        period: \(period)
        due: \(due)
        remind: [7d]
        channels: [\(channel)]
      """
    let directory = """
      id,name,kind,parent_id,head.email,iso-focal.email,office.email,head.webhook
      P,Tỉnh Thử,province,,head@p.example,iso@p.example,,
      S,Sở Khoa học và Công nghệ,dept,P,head@s.example,,,https://hooks.example/s
      D,Sở Tư pháp,dept,P,,iso@d.example,office@d.example,
      H,Huyện Thử,district,P,head@h.example,iso@h.example,,
      C1,Xã Một,commune,H,head@c1.example,,,
      C2,Xã Hai,commune,H,,,,
      """
    let scratch = try Scratch(directoryCSV: directory, rules: rules)
    try scratch.write(
      "nhacviec.yaml",
      """
      \(pick(Self.zones, &g))
      directory: [{ file: units.csv }]
      rules: rules
      \(pick(Self.digests, &g))
      \(pick(Self.windows, &g))
      \(pick(Self.calendars, &g))
      channels:
        \(channel): \(pick(Self.channelBodies, &g))
      """)
    return scratch
  }

  @Test("200 generated configurations: each one check accepts plans a season, renders and reports")
  func generated() throws {
    var accepted = 0
    var refused = 0
    for seed in UInt64(1)...200 {
      let scratch = try variant(seed: seed)
      let deployment: Deployment
      do {
        deployment = try scratch.load()
      } catch {
        refused += 1
        continue
      }
      accepted += 1
      let zone = deployment.zone
      let engine = deployment.engine()
      let from = zone.instant(LocalDate(iso: "2026-09-01")!)
      let to = zone.instant(LocalDate(iso: "2027-01-31")!)
      let renderer = MessageRenderer(ruleset: deployment.ruleset, calendar: deployment.calendar)
      for decision in engine.simulate(from: from, to: to) {
        // Judged and rendered at its instant, and again a week late, as after downtime.
        for at in [decision.scheduledAt, decision.scheduledAt.addingTimeInterval(7 * 86_400)] {
          guard case .send(let evaluated) = engine.check(decision, at: at, window: false) else { continue }
          let message = renderer.render(evaluated)
          #expect(!message.subject.isEmpty, "seed \(seed): \(decision.key) has no subject")
        }
      }
      for rule in deployment.ruleset.rules {
        let period = Period.containing(LocalDate(iso: "2026-06-01")!, kind: rule.period)
        for format in ReportFormat.allCases {
          _ = ReportDocument(engine.report(period: period, ruleIDs: [rule.id], at: to), zone: zone).rendered(as: format)
        }
        _ = engine.explain(unitID: "D", ruleID: rule.id, at: to)
      }
    }
    // Both sides of check were reached.
    #expect(accepted > 80, "accepted \(accepted), refused \(refused)")
    #expect(refused > 20, "accepted \(accepted), refused \(refused)")
  }
}
