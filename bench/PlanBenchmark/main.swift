// Plans the shipped rules over a synthetic national-scale directory and reports time and memory.
//
//   swift run -c release nhacviec-bench-plan [--config Rules/nhacviec.yaml] [--units 10000] [--runs 15]
//     [--only busy|first-start|rejudge|journal] [--store sqlite:PATH|postgresql://USER@/DB?host=DIR]
//
// bench/plan.sh runs it and writes bench/RESULTS-plan.md; bench/plan-store.sh runs `--only journal`
// on both stores and adds its section.
import Foundation
import NhacviecConfig
import NhacviecCore
import NhacviecStore

#if canImport(Glibc)
  import Glibc
#endif

func argument(_ name: String, default value: String) -> String {
  let arguments = CommandLine.arguments
  guard let index = arguments.firstIndex(of: name), index + 1 < arguments.count else { return value }
  return arguments[index + 1]
}

func peakResidentMiB() -> Double {
  var usage = rusage()
  getrusage(RUSAGE_SELF.rawValue, &usage)
  return Double(usage.ru_maxrss) / 1024
}

func measure(runs: Int, _ body: () -> Int) -> (median: Double, min: Double, max: Double, result: Int) {
  var times: [Double] = []
  var result = 0
  for _ in 0..<runs {
    let start = DispatchTime.now().uptimeNanoseconds
    result = body()
    times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1_000_000)
  }
  times.sort()
  return (times[times.count / 2], times.first!, times.last!, result)
}

/// The shipped province's named agencies, so the shipped rules' recipients resolve, then as many
/// communes as it takes to reach `total` units in each era: under districts of fifteen communes
/// until 30/06/2025, directly under the province after.
func syntheticUnits(total: Int) -> [OrgUnit] {
  func contacts(_ id: String) -> [String: Contact] {
    let domain = "\(id.lowercased()).bench.example"
    return [
      "head": Contact(name: "Lãnh đạo \(id)", email: "lanhdao@\(domain)"),
      "iso-focal": Contact(name: "Đầu mối ISO \(id)", email: "iso@\(domain)"),
      "office": Contact(name: "Văn thư \(id)", email: "vanthu@\(domain)"),
    ]
  }
  let old = LocalDate(iso: "2025-06-30")!
  let new = LocalDate(iso: "2025-07-01")!
  var units = [OrgUnit(id: "51", name: "Tỉnh Thử nghiệm", kind: "province", contacts: contacts("51"))]
  let departments = ["51-SKHCN", "51-VPUB", "51-STC"] + (1...37).map { "51-S\($0)" }
  for id in departments {
    units.append(
      OrgUnit(
        id: id, name: "Sở \(id)", kind: "dept", tags: id == "51-SKHCN" ? ["standing-agency"] : [], parentID: "51",
        contacts: contacts(id)))
  }
  let perEra = total - units.count
  let districts = perEra / 16
  for d in 0..<districts {
    let district = "H\(d)"
    units.append(
      OrgUnit(
        id: district, name: "Huyện \(d)", kind: "district", parentID: "51", contacts: contacts(district), validTo: old))
    for c in 0..<15 {
      let id = "X\(d * 15 + c)"
      units.append(
        OrgUnit(id: id, name: "Xã \(d)-\(c)", kind: "commune", parentID: district, contacts: contacts(id), validTo: old)
      )
    }
  }
  for c in 0..<perEra {
    let id = "N\(c)"
    units.append(
      OrgUnit(id: id, name: "Xã mới \(c)", kind: "commune", parentID: "51", contacts: contacts(id), validFrom: new))
  }
  return units
}

/// `--store`: a PostgreSQL URL (libpq's syntax, its password libpq's own: `.pgpass`, `PGPASSWORD`),
/// `sqlite:PATH`, or nothing for a private SQLite database in memory.
func openStore(_ location: String) throws -> Store {
  if location.hasPrefix("postgresql:") || location.hasPrefix("postgres:") {
    let store = try Store(postgresql: location, password: nil)
    // Planning's writes are fenced to the leader; the benchmark is its database's only user.
    try store.becomeLeader()
    return store
  }
  if location.hasPrefix("sqlite:") { return try Store(path: String(location.dropFirst("sqlite:".count))) }
  return try Store()
}

let configPath = argument("--config", default: "Rules/nhacviec.yaml")
let total = Int(argument("--units", default: "10000"))!
let runs = Int(argument("--runs", default: "15"))!

let loadStart = DispatchTime.now().uptimeNanoseconds
let deployment = try DeploymentLoader().load(configPath: configPath)
let units = syntheticUnits(total: total)
let directory = try Directory(units: units)
let loadMs = Double(DispatchTime.now().uptimeNanoseconds - loadStart) / 1_000_000
let engine = Engine(
  ruleset: deployment.ruleset,
  context: EvaluationContext(directory: directory, calendar: deployment.calendar, facts: FactBook()))
let zone = deployment.zone
func at(_ text: String) -> Date { zone.parseInstant(text)! }

let unitsNow = directory.units(on: LocalDate(iso: "2026-11-18")!).count
let unitsThen = directory.units(on: LocalDate(iso: "2021-11-18")!).count

// One pass when the third escalation step falls due for every unit: the heaviest of the season.
/// Notices a pass plans, counting each digest's items: the work done, whatever the grouping.
func planned(_ plan: Plan) -> Int { plan.due.reduce(0) { $0 + $1.content.keys.count } }

// `--only busy` or `--only first-start`: that pass alone, `runs` times, for a profiler.
switch argument("--only", default: "") {
case "busy":
  let m = measure(runs: runs) { planned(engine.plan(since: at("2026-11-17T08:00"), now: at("2026-11-18T08:00"))) }
  print(String(format: "busy pass: median %.1f ms; peak %.0f MiB", m.median, peakResidentMiB()))
  exit(0)
case "first-start":
  let m = measure(runs: runs) { planned(engine.plan(since: nil, now: at("2026-11-20T10:00"))) }
  let plan = engine.plan(since: nil, now: at("2026-11-20T10:00"))
  print(
    String(
      format: "first start: median %.1f ms; %d notices due (%d messages after digests), %d superseded; peak %.0f MiB",
      m.median, m.result, plan.due.count, plan.superseded.count, peakResidentMiB()))
  exit(0)
case "rejudge":
  // A configuration edited on 20/11 (a rule, the directory): every obligation judged again, the
  // journal asked who has heard each newest rung, over a journal that holds the first start's
  // decisions, not sent yet (planned counts as heard). Nothing is owed: everyone has heard.
  let store = try openStore(argument("--store", default: ""))
  let start = engine.plan(since: nil, now: at("2026-11-20T10:00"))
  try store.journal(due: start.due, superseded: start.superseded, now: at("2026-11-20T10:00"))
  let now = at("2026-11-20T11:00")
  var rungs = 0
  var owed = 0
  let m = measure(runs: runs) {
    let draft = engine.draft(since: at("2026-11-20T10:00"), now: now, rejudge: [.everything])
    let plan = engine.plan(draft, coverage: try! store.coverage(of: draft.rungs))
    rungs = draft.rungs.count
    owed = plan.rejudged.count
    return rungs
  }
  print(
    String(
      format:
        "judged again, everything: median %.1f ms (min %.1f, max %.1f); %d rungs asked of the journal, %d owed; peak %.0f MiB",
      m.median, m.min, m.max, rungs, owed, peakResidentMiB()))
  exit(0)
case "journal":
  // A first start on 20/11 journaled whole, then the next pass judging everything again against
  // that journal, on the store a daemon would keep it in: where the database's cost shows.
  let store = try openStore(argument("--store", default: ""))
  let now = at("2026-11-20T10:00")
  let planStart = DispatchTime.now().uptimeNanoseconds
  let start = engine.plan(since: nil, now: now)
  let journalStart = DispatchTime.now().uptimeNanoseconds
  let written = try store.journal(due: start.due, superseded: start.superseded, now: now)
  let end = DispatchTime.now().uptimeNanoseconds
  let later = at("2026-11-20T11:00")
  var rungs = 0
  var owed = 0
  let again = measure(runs: runs) {
    let draft = engine.draft(since: now, now: later, rejudge: [.everything])
    let plan = engine.plan(draft, coverage: try! store.coverage(of: draft.rungs))
    try! store.journal(due: plan.due, superseded: plan.superseded, now: later)
    rungs = draft.rungs.count
    owed = plan.rejudged.count
    return rungs
  }
  print(
    String(
      format:
        "first pass: %.1f ms (planning %.1f ms, journaling %.1f ms: %d notices written, %d superseded); "
        + "re-plan judging everything again: median %.1f ms (min %.1f, max %.1f; %d runs), %d rungs asked of the journal, %d owed; peak %.0f MiB",
      Double(end - planStart) / 1_000_000, Double(journalStart - planStart) / 1_000_000,
      Double(end - journalStart) / 1_000_000, written, start.superseded.count, again.median, again.min, again.max,
      runs, rungs, owed, peakResidentMiB()))
  exit(0)
default: break
}

let busy = measure(runs: runs) { planned(engine.plan(since: at("2026-11-17T08:00"), now: at("2026-11-18T08:00"))) }
// A first start in the middle of the season: every ladder under way collapses (catch-up).
let firstStart = measure(runs: runs) { planned(engine.plan(since: nil, now: at("2026-11-20T10:00"))) }
let quiet = measure(runs: runs) { planned(engine.plan(since: at("2026-08-01T08:00"), now: at("2026-08-01T09:00"))) }
let threeTier = measure(runs: runs) { planned(engine.plan(since: at("2021-11-16T08:00"), now: at("2021-11-17T08:00"))) }
let findings = measure(runs: runs) { engine.findings(at: at("2026-11-18T08:00")).count }
let season = measure(runs: 3) { engine.simulate(from: at("2026-09-01"), to: at("2026-12-31T23:59")).count }

func row(_ name: String, _ m: (median: Double, min: Double, max: Double, result: Int), _ what: String) -> String {
  String(format: "| %@ | %.1f | %.1f | %.1f | %d %@ |", name, m.median, m.min, m.max, m.result, what)
}

print(
  """
  Directory: \(units.count) unit records; \(unitsNow) units as of 18/11/2026 (two-tier), \(unitsThen) as of 18/11/2021 (three-tier).
  Rules: \(deployment.ruleset.rules.count) (the shipped pack). Load and validate: \(String(format: "%.0f", loadMs)) ms.

  | measurement | median ms | min ms | max ms | output |
  |---|---|---|---|---|
  \(row("one plan pass, 18/11/2026 08:00 (escalation step due for every unit)", busy, "notices (digest items counted)"))
  \(row("one plan pass, first start on 20/11/2026 (catch-up)", firstStart, "notices (digest items counted)"))
  \(row("one plan pass, a quiet hour (1/8/2026)", quiet, "notices (digest items counted)"))
  \(row("one plan pass, 17/11/2021 (three-tier, roll-ups)", threeTier, "notices (digest items counted)"))
  \(row("findings at 18/11/2026", findings, "findings"))
  \(row("simulate 1/9–31/12/2026 (every pass of the season)", season, "notices"))

  Peak resident memory: \(String(format: "%.0f", peakResidentMiB())) MiB.
  """)
