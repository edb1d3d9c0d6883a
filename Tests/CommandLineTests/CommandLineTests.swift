import Foundation
import TestSupport
import Testing

let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

/// The built `nhacviec` beside the test bundle, run as a real process.
struct Run {
  let status: Int32
  let stdout: String
  let stderr: String

  static var binary: URL {
    if let path = ProcessInfo.processInfo.environment["NHACVIEC_BIN"] { return URL(fileURLWithPath: path) }
    var folder = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    // Inside `….xctest/Contents/MacOS` on macOS; beside the bundle on Linux.
    while !FileManager.default.fileExists(atPath: folder.appendingPathComponent("nhacviec").path), folder.path != "/" {
      folder = folder.deletingLastPathComponent()
    }
    return folder.appendingPathComponent("nhacviec")
  }

  init(_ arguments: [String], in directory: URL = repositoryRoot) throws {
    let run = try ProgramRun(Run.binary.path, arguments, in: directory)
    (status, stdout, stderr) = (run.status, run.stdout, run.stderr)
  }
}

@Suite("nhacviec check")
struct CheckCommandTests {
  @Test("passes on the shipped Rules/ with no flags and shows the letter's deadline")
  func shipped() throws {
    let run = try Run(["check", "--now", "2026-11-29T09:00:00+07:00"])
    #expect(run.status == 0, "\(run.stderr)")
    #expect(run.stdout.contains("configuration OK"))
    #expect(
      run.stdout.contains(
        "iso-annual-report [deadline, yearly] period 2026: due before 15/11/2026 → 2026-11-15T00:00:00+07:00; 111 units owe it"
      ))
    #expect(run.stdout.contains("1 board, 1 province, 1 special-zone, 14 dept, 86 commune, 9 ward"))
    // Our copy of the letter has no number or date: said, not invented.
    #expect(run.stdout.contains("letter: cited without number or date (set letter.number and letter.date once known)"))
  }

  @Test("fails with FILE:LINE:COL on a broken directory and an unknown rule kind")
  func broken() throws {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("nhacviec-cli-\(UUID().uuidString)")
    try FileManager.default.createDirectory(
      at: folder.appendingPathComponent("rules"), withIntermediateDirectories: true)
    try """
    id,name,kind,parent_id
    P,Tỉnh,province,
    A,Huyện A,district,B
    B,Huyện B,district,A
    C,Xã C,commune,Z
    A,Huyện A (lặp),district,P
    """.write(to: folder.appendingPathComponent("units.csv"), atomically: true, encoding: .utf8)
    try """
    - id: r
      kind: nosuchkind
      title: T
      basis: B
      applies_to: { kinds: [district] }
      period: yearly
      due: { date: "11-15", convention: before }
      channels: [email]
    """.write(to: folder.appendingPathComponent("rules/r.yaml"), atomically: true, encoding: .utf8)
    try """
    directory: [{ file: units.csv }]
    rules: rules
    channels: { email: { type: file } }
    """.write(to: folder.appendingPathComponent("config.yaml"), atomically: true, encoding: .utf8)
    let run = try Run(["check", "--config", "config.yaml"], in: folder)
    #expect(run.status == 1)
    let lines = run.stderr.split(separator: "\n").map(String.init)
    #expect(lines.contains("units.csv:6:1: duplicate unit id A (first defined at units.csv:3:1)"))
    #expect(lines.contains("units.csv:5:1: unit C: unknown parent Z"))
    #expect(lines.contains { $0.hasPrefix("units.csv:3:1: cycle in the directory: A → B → A") })
    #expect(
      lines.contains(
        "rules/r.yaml:2:9: unknown rule kind `nosuchkind` (known: budget, deadline, exec, rollup, summary)"))
  }

  @Test("refuses a channel's retry, rate, connections and helo out of bounds, each at FILE:LINE:COL with why")
  func deliverySettings() throws {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("nhacviec-cli-\(UUID().uuidString)")
    try FileManager.default.createDirectory(
      at: folder.appendingPathComponent("rules"), withIntermediateDirectories: true)
    try """
    id,name,kind,parent_id,head.email
    P,Tỉnh,province,,head@p.example
    D,Sở Tư pháp,dept,P,head@d.example
    """.write(to: folder.appendingPathComponent("units.csv"), atomically: true, encoding: .utf8)
    try """
    - id: r
      kind: deadline
      title: T
      basis: B
      applies_to: { kinds: [dept] }
      period: yearly
      due: { date: "11-15", convention: before }
      remind: [7d]
      remind_to: [unit.head]
      channels: [email]
    """.write(to: folder.appendingPathComponent("rules/r.yaml"), atomically: true, encoding: .utf8)
    try """
    directory: [{ file: units.csv }]
    rules: rules
    channels:
      email:
        type: smtp
        url: smtp://127.0.0.1:25
        from: nhacviec@example.org
        helo: vm me
      hook:
        type: webhook
        url: http://127.0.0.1:9/hook
        rate: 30 per minute
      hook2:
        type: webhook
        url: http://127.0.0.1:9/hook
        connections: 300
      outbox:
        type: file
        retry:
          initial: 10m
          cap: 5m
    """.write(to: folder.appendingPathComponent("config.yaml"), atomically: true, encoding: .utf8)
    let run = try Run(["check", "--config", "config.yaml"], in: folder)
    #expect(run.status == 1)
    let lines = run.stderr.split(separator: "\n").map(String.init)
    #expect(
      lines.contains(
        "config.yaml:8:11: helo must be a fully qualified host name such as mail.skhcn.quangngai.gov.vn, or an address literal such as [192.0.2.25], not `vm me`"
      ), "\(run.stderr)")
    #expect(
      lines.contains(
        "config.yaml:12:11: rate must be a number of messages per s, min or h, such as 30/min or 2/s (at most 1000/s), not `30 per minute`"
      ), "\(run.stderr)")
    #expect(lines.contains("config.yaml:16:18: connections must be a whole number from 1 to 256, not `300`"))
    #expect(lines.contains("config.yaml:21:12: retry.cap (5m) is shorter than retry.initial (10m)"), "\(run.stderr)")
  }

  @Test("warns about a rung that would reach nobody, and still passes")
  func routingGap() throws {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("nhacviec-gap-\(UUID().uuidString)")
    try FileManager.default.createDirectory(
      at: folder.appendingPathComponent("rules"), withIntermediateDirectories: true)
    try """
    id,name,kind,parent_id,head.email,iso-focal.email
    P,Tỉnh,province,,head@p.example,
    D,Sở Tư pháp,dept,P,head@d.example,
    """.write(to: folder.appendingPathComponent("units.csv"), atomically: true, encoding: .utf8)
    try """
    - id: r
      kind: deadline
      title: T
      basis: B
      applies_to: { kinds: [dept] }
      period: yearly
      due: { date: "11-15", convention: before }
      remind: [7d]
      remind_to: [unit.iso-focal]
      escalate: [{ after: 1wd, to: [parent.head] }]
      channels: [email]
    """.write(to: folder.appendingPathComponent("rules/r.yaml"), atomically: true, encoding: .utf8)
    try """
    directory: [{ file: units.csv }]
    rules: rules
    channels: { email: { type: file, path: outbox } }
    """.write(to: folder.appendingPathComponent("config.yaml"), atomically: true, encoding: .utf8)
    let run = try Run(["check", "--config", "config.yaml", "--now", "2026-10-01"], in: folder)
    #expect(run.status == 0)
    #expect(run.stdout.contains("warning: remind of D reaches nobody through email (to: unit.iso-focal)"))
    #expect(!run.stdout.contains("escalate-1wd of D"))
  }

  @Test("a usage error exits 2")
  func usage() throws {
    #expect(try Run(["status", "--no-such-option"]).status == 2)
    #expect(try Run(["calendar", "--year", "1800"]).status == 2)
    #expect(try Run(["record", "receipt", "--unit", "u", "--rule", "r", "--period", "2026"]).status == 2)
  }

  @Test("a missing configuration file is an error, not a crash")
  func missing() throws {
    let run = try Run(["check", "--config", "/nonexistent/nhacviec.yaml"])
    #expect(run.status == 1)
    #expect(run.stderr.contains("/nonexistent/nhacviec.yaml does not exist"))
  }
}

@Suite("nhacviec calendar")
struct CalendarCommandTests {
  @Test("2030: Tết starts on 2 February in Vietnam")
  func tet2030() throws {
    let run = try Run(["calendar", "--year", "2030"])
    #expect(run.status == 0)
    #expect(run.stdout.contains("Tết Nguyên đán (mùng 1 tháng Giêng): 02/02/2030"))
    let json = try Run(["calendar", "--year", "2030", "--json"])
    let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
    #expect(object["lunar_new_year"] as? String == "2030-02-02")
  }

  @Test("2026: Hùng Kings day on 26 April and the official Tết break 14–22 February")
  func year2026() throws {
    let run = try Run(["calendar", "--year", "2026"])
    #expect(run.status == 0)
    #expect(run.stdout.contains("Giỗ Tổ Hùng Vương (10/3 âm lịch): 26/04/2026"))
    let tet = run.stdout.split(separator: "\n").first { $0.contains("14/02/2026–22/02/2026") }
    #expect(tet?.contains("Tết Nguyên đán [override") == true)
    let substitute = run.stdout.split(separator: "\n").first { $0.contains("27/04/2026 (Thứ Hai)") }
    #expect(substitute?.hasSuffix("[substitute: Bộ luật Lao động 2019, Điều 111 khoản 3]") == true)
    #expect(run.stdout.contains("10/01/2026 (Thứ Bảy)"))
    // Each day shows its own document: the National Day swap is not the file's.
    let bridge = run.stdout.split(separator: "\n").first { $0.contains("29/08/2026–02/09/2026") }
    #expect(bridge?.contains("Quốc khánh [override: Bộ Nội vụ, lịch nghỉ Quốc khánh năm 2026") == true)
    let makeUp = run.stdout.split(separator: "\n").first { $0.contains("22/08/2026 (Thứ Bảy)") }
    #expect(makeUp?.contains("lịch nghỉ Quốc khánh năm 2026") == true)
    #expect(tet?.contains("12729/VPCP-KGVX") == true)
    let culture = run.stdout.split(separator: "\n").first { $0.contains("24/11/2026 (Thứ Ba)") }
    #expect(culture?.contains("Ngày Văn hóa Việt Nam [computed: Nghị quyết 80-NQ/TW") == true)
  }

  @Test("the JSON output carries each day's source and reference")
  func json2026() throws {
    let run = try Run(["calendar", "--year", "2026", "--json"])
    #expect(run.status == 0)
    let object = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
    let days = try #require(object["days"] as? [[String: Any]])
    let bridge = try #require(days.first { $0["from"] as? String == "2026-08-29" })
    #expect(bridge["to"] as? String == "2026-09-02")
    #expect(bridge["source"] as? String == "override")
    #expect((bridge["reference"] as? String)?.contains("Quốc khánh năm 2026") == true)
    let culture = try #require(days.first { $0["from"] as? String == "2026-11-24" })
    #expect(culture["holiday"] as? String == "culture-day")
    #expect(culture["source"] as? String == "computed")
  }
}

/// A key without its unit record's start and its deadline: `rule/unit/period/step`.
func shortKey(_ key: String) -> String {
  let parts = key.split(separator: "/", omittingEmptySubsequences: false)
  guard parts.count == 4 else { return key }
  let unit = parts[1].split(separator: "@").first.map(String.init) ?? ""
  let step = parts[3].split(separator: "@").first.map(String.init) ?? ""
  return "\(parts[0])/\(unit)/\(parts[2])/\(step)"
}

@Suite("nhacviec simulate")
struct SimulateCommandTests {
  struct Line: Decodable {
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

  func season(_ from: String, _ to: String, facts: String? = nil) throws -> (text: String, lines: [Line]) {
    var arguments = ["simulate", "--from", from, "--to", to, "--json"]
    if let facts { arguments += ["--facts", fixtures.appendingPathComponent(facts).path] }
    let run = try Run(arguments)
    #expect(run.status == 0, "\(run.stderr)")
    let decoder = JSONDecoder()
    let lines = try run.stdout.split(separator: "\n").map { try decoder.decode(Line.self, from: Data($0.utf8)) }
    return (run.stdout, lines)
  }

  @Test("the 2026 season matches the golden timeline, and two runs print the same")
  func golden() throws {
    let first = try season("2026-09-01", "2026-12-31", facts: "facts-2026.csv")
    let second = try season("2026-09-01", "2026-12-31", facts: "facts-2026.csv")
    #expect(first.text == second.text)
    let golden = fixtures.appendingPathComponent("season-2026.jsonl")
    if ProcessInfo.processInfo.environment["NHACVIEC_UPDATE_GOLDEN"] == "1" {
      try first.text.write(to: golden, atomically: true, encoding: .utf8)
    }
    let expected = try String(contentsOf: golden, encoding: .utf8)
    let (a, b) = (first.text.split(separator: "\n"), expected.split(separator: "\n"))
    #expect(a.count == b.count)
    if let difference = zip(a, b).enumerated().first(where: { $0.element.0 != $0.element.1 }) {
      Issue.record(
        "line \(difference.offset + 1) differs:\n got: \(difference.element.0)\nwant: \(difference.element.1)")
    }
  }

  @Test("every unit owing the 2026 report is reminded at each offset, on working days, never after its report")
  func ladder() throws {
    let (_, lines) = try season("2026-09-01", "2026-12-31", facts: "facts-2026.csv")
    let annual =
      lines.filter { $0.rule == "iso-annual-report" }
      + lines.flatMap { line in (line.items ?? []).filter { $0.hasPrefix("iso-annual-report/") }.map { _ in line } }
    #expect(!annual.isEmpty)
    // The calendar's days off in the window, and weekends.
    for line in lines {
      let date = String(line.at.prefix(10))
      let weekday = Calendar(identifier: .gregorian).component(
        .weekday, from: ISO8601DateFormatter().date(from: line.at)!)
      #expect(weekday != 1 && weekday != 7, "\(line.key) on \(date)")
      #expect(line.at.hasSuffix("+07:00"))
    }
    let fullKeys = Set(lines.map(\.key) + lines.flatMap { $0.items ?? [] })
    let keys = Set(fullKeys.map(shortKey))
    // 111 units owe it. 21172 is exempt from the start; 51-STP reported on 20/10; 51-SXD's
    // deadline moved on 10/11 (its later steps carry the new date); 51-SYT reported on 12/11.
    let expected = ["remind-30d": 110, "remind-14d": 109, "remind-7d": 109, "remind-3wd": 108, "remind-1wd": 107]
    for (step, count) in expected {
      // On the rule's own ladder (an extended unit's new ladder is counted below).
      let reached = Set(
        fullKeys.filter { $0.hasPrefix("iso-annual-report/") && $0.hasSuffix("/2026/\(step)@2026-11-15") }.map(shortKey)
      )
      #expect(reached.count == count, "\(step)")
      #expect(!reached.contains("iso-annual-report/21172/2026/\(step)"))
    }
    #expect(keys.contains("iso-annual-report/51-STP/2026/remind-30d"))
    #expect(!keys.contains("iso-annual-report/51-STP/2026/remind-14d"))
    // 51-SYT reported on 12/11 at 15:30: reminded that morning, not on Monday 16/11 (the last
    // day allowed, 14/11 and 15/11 being a weekend), never escalated.
    #expect(keys.contains("iso-annual-report/51-SYT/2026/remind-3wd"))
    #expect(!keys.contains("iso-annual-report/51-SYT/2026/remind-1wd"))
    #expect(!keys.contains { $0.hasPrefix("iso-annual-report/51-SYT/2026/escalate") })
    // 21211 reported late on 17/11 at 10:00: the first escalation (17/11 08:00) went out, the
    // second (19/11) did not.
    #expect(keys.contains("iso-annual-report/21211/2026/escalate-1wd"))
    #expect(!keys.contains("iso-annual-report/21211/2026/escalate-3wd"))
    // The extension moves 51-SXD's ladder to 30/11: its keys carry the new date.
    #expect(fullKeys.contains("iso-annual-report/51-SXD@2025-07-01/2026/escalate-1wd@2026-11-30"))
    #expect(!fullKeys.contains("iso-annual-report/51-SXD@2025-07-01/2026/escalate-1wd@2026-11-15"))
  }

  @Test("after the deadline the unit hears first, then the Department; nobody above the Department")
  func escalations() throws {
    let (_, lines) = try season("2026-11-16", "2026-12-31", facts: "facts-2026.csv")
    // The time limit ends with Monday 16/11 (14/11 and 15/11 are a weekend). The first working
    // day late, Tuesday 17/11: each late unit's head and ISO focal point, in a message of its own.
    let first = lines.filter { $0.at == "2026-11-17T08:00:00+07:00" && $0.step == "escalate-1wd" }
    #expect(first.count > 100)
    for line in first {
      #expect(line.rule == "iso-annual-report" && line.reason == "escalation", "\(line.key)")
      let own = line.to.filter { $0.contains("@\(line.unit.lowercased())") }
      #expect(line.to.count == 2 && own.count == 2, "\(line.key): \(line.to)")
    }
    // The third working day late, Thursday 19/11: the Department's ISO focal point, once, in one digest.
    let third = lines.filter { $0.at == "2026-11-19T08:00:00+07:00" }
    #expect(third.map(\.to) == [["iso@51-skhcn.quangngai.example"]])
    #expect(third.allSatisfy { $0.reason == "digest" && ($0.items?.count ?? 0) > 100 })
    // Then nothing more about the report of 15/11: the weekly summary keeps the Department
    // informed. (51-SXD was given until 30/11: its own ladder runs from then.)
    #expect(
      !lines.contains { line in
        line.at > "2026-11-18T23:59" && line.rule == "iso-annual-report" && line.unit != "51-SXD"
      })
    // Nobody above the Department hears of a unit's lateness: no Chairman, no Office of the
    // People's Committee but for the Office's own duties.
    #expect(!lines.contains { $0.to.contains("lanhdao@51.quangngai.example") })
    #expect(
      !lines.contains { line in
        line.unit != "51-VPUB" && line.to.contains { $0.hasSuffix("@51-vpub.quangngai.example") }
      }
    )
  }

  @Test("2021: communes report to their district, which inspects them; overdue districts reach the Department")
  func threeTier() throws {
    let (_, lines) = try season("2021-09-01", "2021-12-31")
    let keys = Set((lines.map(\.key) + lines.flatMap { $0.items ?? [] }).map(shortKey))
    #expect(keys.contains("iso-commune-report/21211/2021/remind-14d"))
    #expect(keys.contains("iso-district-report/522/2021/remind-30d"))
    #expect(keys.contains("iso-commune-inspection/21211/2021/remind-14d"))
    #expect(!keys.contains { $0.hasPrefix("iso-annual-report/21211/") })
    let districtEscalation = lines.filter {
      $0.key.hasPrefix("digest/")
        && ($0.items ?? []).map(shortKey).contains("iso-district-report/522/2021/escalate-3wd")
    }
    #expect(Set(districtEscalation.flatMap(\.to)) == ["iso@51-skhcn.quangngai.example"])
    // A commune's escalation reaches its own district's ISO focal point.
    let commune = lines.filter {
      shortKey($0.key) == "iso-commune-report/21211/2021/escalate-3wd"
        || ($0.items ?? []).map(shortKey).contains("iso-commune-report/21211/2021/escalate-3wd")
    }
    #expect(Set(commune.flatMap(\.to)) == ["iso@522.quangngai.example"])
  }

  @Test("a facts file naming an unknown unit is refused with its line")
  func badFacts() throws {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
      "nhacviec-facts-\(UUID().uuidString).csv")
    try
      "kind,unit,rule,period,at,reference,amount,due,by,reason\nreport,51-XYZ,iso-annual-report,2026,2026-10-01,,,,,\n"
      .write(to: folder, atomically: true, encoding: .utf8)
    let run = try Run(["simulate", "--from", "2026-09-01", "--to", "2026-09-02", "--facts", folder.path])
    #expect(run.status == 1)
    #expect(run.stderr.contains(":2:1: unit: unknown unit 51-XYZ"))
  }
}

@Suite("nhacviec init")
struct InitCommandTests {
  @Test("writes a small commented deployment that passes check, and never into a folder that has files")
  func template() throws {
    let folder = try temporaryFolder("init").appendingPathComponent("tinh")
    let run = try Run(["init", folder.path])
    #expect(run.status == 0, "\(run.stderr)")
    let config = folder.appendingPathComponent("nhacviec.yaml").path
    let check = try Run(["check", "--config", config, "--now", "2026-11-01"])
    #expect(check.status == 0, "\(check.stderr)")
    #expect(
      check.stdout.contains("annual-report [deadline, yearly] period 2026: due before 15/11/2026"), "\(check.stdout)")
    #expect(check.stdout.contains("2 units owe it"))
    let text = try String(contentsOfFile: config, encoding: .utf8)
    #expect(text.split(separator: "\n").filter { $0.hasPrefix("#") }.count >= 5, "the template explains itself")
    let again = try Run(["init", folder.path])
    #expect(again.status == 1)
    #expect(again.stderr.contains("exists and is not an empty folder"))
  }
}

@Suite("shell completion")
struct CompletionTests {
  @Test("offers the configuration's unit ids, rules and channels, the states, and the bash script asks for them")
  func values() throws {
    // As bash asks: the words typed so far, the index of the word completed, the cursor in it.
    let units = try Run(["---completion", "explain", "--", "--unit", "3", "4", "nhacviec", "explain", "--unit", "51-S"])
    #expect(units.status == 0, "\(units.stderr)")
    let offered = units.stdout.split(separator: "\n").map(String.init)
    #expect(offered.contains("51-SKHCN") && offered.contains("51-SNV"), "\(units.stdout)")
    #expect(offered.allSatisfy { $0.hasPrefix("51-S") })
    let rules = try Run(["---completion", "retry", "--", "--rule", "3", "0", "nhacviec", "retry", "--rule", ""])
    #expect(rules.stdout.split(separator: "\n").contains("iso-annual-report"), "\(rules.stdout)")
    let channels = try Run([
      "---completion", "retry", "--", "--channel", "3", "0", "nhacviec", "retry", "--channel", "",
    ])
    #expect(channels.stdout == "email\n")
    let script = try Run(["--generate-completion-script", "bash"])
    #expect(script.stdout.contains("---completion findings -- --unit"))
    #expect(script.stdout.contains("due-soon") && script.stdout.contains("superseded"))
    #expect(script.stdout.contains("yaml"))
  }
}

@Suite("nhacviec send-test")
struct SendTestCommandTests {
  func configuration(channels: String) throws -> URL {
    let folder = try temporaryFolder("send-test")
    try FileManager.default.createDirectory(
      at: folder.appendingPathComponent("rules"), withIntermediateDirectories: true)
    try "id,name,kind,parent_id\nP,Tỉnh,province,\n".write(
      to: folder.appendingPathComponent("units.csv"), atomically: true, encoding: .utf8)
    try """
    - id: r
      kind: deadline
      title: T
      basis: B
      applies_to: { kinds: [dept] }
      period: yearly
      due: { date: "11-15", convention: before }
      channels: [email]
    """.write(to: folder.appendingPathComponent("rules/r.yaml"), atomically: true, encoding: .utf8)
    try "directory: [{ file: units.csv }]\nrules: rules\nchannels:\n\(channels)\n".write(
      to: folder.appendingPathComponent("config.yaml"), atomically: true, encoding: .utf8)
    return folder
  }

  @Test("sends one Vietnamese message through a real SMTP server and prints its answer")
  func smtp() throws {
    let maildir = try temporaryFolder("mail")
    let server = try TestServer("smtp_server.py", ["--maildir", maildir.path])
    defer { server.stop() }
    let folder = try configuration(
      channels:
        "  email: { type: smtp, url: \"smtp://127.0.0.1:\(server.port)\", from: \"nhacviec@a.example\", tls: none, helo: mail.a.example }"
    )
    let run = try Run(
      ["send-test", "--config", "config.yaml", "--channel", "email", "--to", "iso@b.example"], in: folder)
    #expect(run.status == 0, "\(run.stderr)")
    #expect(
      run.stdout
        == "EHLO name: mail.a.example\nsent: accepted by smtp://127.0.0.1:\(server.port): 250 2.0.0 OK queued as 000001\n"
    )
    let stored = try FileManager.default.contentsOfDirectory(atPath: maildir.path).filter { $0.hasSuffix(".eml") }
    #expect(stored.count == 1)
    let envelope = try String(contentsOf: maildir.appendingPathComponent("000001.json"), encoding: .utf8)
    #expect(envelope.contains(#""helo": "mail.a.example""#), "\(envelope)")
  }

  @Test("a failure says why and exits 1")
  func refused() throws {
    let folder = try configuration(
      channels:
        "  email: { type: smtp, url: \"smtp://127.0.0.1:\(closedPort())\", from: \"nhacviec@a.example\", tls: none }")
    let run = try Run(
      ["send-test", "--config", "config.yaml", "--channel", "email", "--to", "iso@b.example"], in: folder)
    #expect(run.status == 1)
    #expect(run.stdout.hasPrefix("EHLO name: "))
    #expect(run.stdout.contains("\nfailed (transient): "))
  }

  @Test("--credentials DIR reads a secret named by file name from DIR, as the daemon reads $CREDENTIALS_DIRECTORY")
  func credentialsFolder() throws {
    let http = try TestServer("http_server.py", [])
    defer { http.stop() }
    let folder = try configuration(
      channels:
        "  email: { type: webhook, url: \"http://127.0.0.1:\(http.port)/hook/cred\", bearer_token_file: hook-token }")
    let credentials = folder.appendingPathComponent("credentials")
    try FileManager.default.createDirectory(at: credentials, withIntermediateDirectories: true)
    try "token-from-credentials\n".write(
      to: credentials.appendingPathComponent("hook-token"), atomically: true, encoding: .utf8)
    // Without it, the secret is looked for beside the configuration, and is not there.
    let without = try Run(["send-test", "--config", "config.yaml", "--channel", "email"], in: folder)
    #expect(without.status == 1)
    #expect(without.stderr.contains("bearer_token_file: cannot read"), "\(without.stderr)")
    let run = try Run(
      ["send-test", "--config", "config.yaml", "--channel", "email", "--credentials", credentials.path], in: folder)
    #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
    #expect(run.stdout.hasPrefix("sent: "), "\(run.stdout)")
    let missing = try Run(
      ["send-test", "--config", "config.yaml", "--channel", "email", "--credentials", "/nonexistent"], in: folder)
    #expect(missing.status == 2)
    #expect(missing.stderr.contains("--credentials: no folder /nonexistent"))
  }

  @Test("check reports a channel whose secret cannot be read")
  func missingSecret() throws {
    let folder = try configuration(
      channels: """
          email: { type: smtp, url: "smtp://mail.example:587", from: "a@b.example", username: u, password_file: /nonexistent/pw }
        """)
    let run = try Run(["check", "--config", "config.yaml"], in: folder)
    #expect(run.status == 1)
    #expect(run.stderr.contains("config.yaml:4:105: password_file: cannot read /nonexistent/pw"), "\(run.stderr)")
  }
}

@Suite("nhacviec test")
struct RuleTestCommandTests {
  @Test("the shipped rule tests pass")
  func shipped() throws {
    let tests = try FileManager.default.contentsOfDirectory(
      atPath: repositoryRoot.appendingPathComponent("Rules/tests").path
    )
    .filter { $0.hasSuffix(".yaml") }.sorted().map { "Rules/tests/\($0)" }
    #expect(tests.count >= 3)
    let run = try Run(["test"] + tests)
    #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
    #expect(run.stdout.hasSuffix("\(tests.count) passed, 0 failed\n"))
  }

  @Test("a wrong expectation fails with a difference that names the unit, rule and step")
  func failing() throws {
    let folder = try temporaryFolder("ruletest")
    let file = folder.appendingPathComponent("wrong.yaml")
    try """
    config: \(repositoryRoot.appendingPathComponent("Rules/nhacviec.yaml").path)
    from: 2026-09-01
    checkpoints:
      - at: 2026-11-13T12:00:00+07:00
        findings:
          - { unit: 51-SYT, rule: iso-annual-report, period: "2026", state: met-on-time }
        notices:
          - { unit: 51-SYT, rule: iso-annual-report, step: escalate-1wd }
          - { unit: 51-SYT, rule: iso-annual-report, step: remind-30d, to: [someone@else.example] }
    """.write(to: file, atomically: true, encoding: .utf8)
    let run = try Run(["test", file.path])
    #expect(run.status == 1)
    let lines = run.stdout.split(separator: "\n").map(String.init)
    #expect(
      lines.contains {
        $0.contains(
          "wrong.yaml:8:9: at 2026-11-13T12:00:00+07:00, unit 51-SYT, rule iso-annual-report, step escalate-1wd: expected sent, got not sent"
        )
      })
    #expect(
      lines.contains {
        $0.contains(
          "step remind-30d: expected to someone@else.example, got to iso@51-syt.quangngai.example, vanthu@51-syt.quangngai.example"
        )
      })
    #expect(
      lines.contains {
        $0.contains(
          "wrong.yaml:6:9: at 2026-11-13T12:00:00+07:00, unit 51-SYT, rule iso-annual-report, period 2026: expected met-on-time, got due-soon"
        )
      })
  }

  @Test("a malformed test file exits 2 with file and line")
  func malformed() throws {
    let folder = try temporaryFolder("ruletest")
    let file = folder.appendingPathComponent("bad.yaml")
    try """
    config: \(repositoryRoot.appendingPathComponent("Rules/nhacviec.yaml").path)
    from: 2026-09-01
    checkpoints:
      - at: 2026-11-13T12:00:00+07:00
        findings:
          - { unit: 51-SYT, rule: iso-annual-report, period: "2026", state: late }
    """.write(to: file, atomically: true, encoding: .utf8)
    let run = try Run(["test", file.path])
    #expect(run.status == 2)
    #expect(run.stderr.contains("bad.yaml:6:73: state must be one of"))
  }
}

@Suite("nhacviec explain")
struct ExplainCommandTests {
  @Test("a department in 2026: its deadline, the facts that count, its ladder and what stops it")
  func department() throws {
    let run = try Run([
      "explain", "--unit", "51-SYT", "--rule", "iso-annual-report", "--at", "2026-11-12T12:00:00+07:00", "--facts",
      fixtures.appendingPathComponent("facts-2026.csv").path,
    ])
    #expect(run.status == 0, "\(run.stderr)")
    #expect(run.stdout.contains("51-SYT Sở Y tế, as of 2026-11-12T12:00:00+07:00"))
    #expect(run.stdout.contains("iso-annual-report 2026: due-soon"))
    #expect(run.stdout.contains("due trước ngày 15/11/2026 → 2026-11-15T00:00:00+07:00"))
    #expect(
      run.stdout.contains(
        "  its last day is a day off: the time limit ends 2026-11-17T00:00:00+07:00 (deadline_on_day_off: next-working-day)"
      ))
    #expect(
      run.stdout.contains(
        "  next  2026-11-16T08:00:00+07:00  remind-1wd  iso@51-syt.quangngai.example, vanthu@51-syt.quangngai.example"))
    #expect(
      run.stdout.contains(
        "  later 2026-11-19T08:00:00+07:00  escalate-3wd  iso@51-skhcn.quangngai.example"
      ))
    #expect(run.stdout.contains("stops it: a report received"))
    // Its report arrives at 15:30 that day: from then on nothing is owed.
    let after = try Run([
      "explain", "--unit", "51-SYT", "--rule", "iso-annual-report", "--at", "2026-11-12T16:00:00+07:00", "--facts",
      fixtures.appendingPathComponent("facts-2026.csv").path,
    ])
    #expect(after.stdout.contains("iso-annual-report 2026: met-on-time"))
    #expect(after.stdout.contains("fact: report, at 2026-11-12T15:30:00+07:00, 88/BC-SYT"))
    #expect(after.stdout.contains("stops it: nothing is owed"))
  }

  @Test("a commune in both eras, and a district in 2021")
  func eras() throws {
    let commune2021 = try Run(["explain", "--unit", "21211", "--at", "2021-11-01T12:00:00+07:00", "--offline"])
    #expect(commune2021.stdout.contains("iso-commune-report 2021"))
    #expect(!commune2021.stdout.contains("iso-annual-report 2021"))
    let commune2026 = try Run(["explain", "--unit", "21211", "--at", "2026-11-01T12:00:00+07:00", "--offline"])
    #expect(commune2026.stdout.contains("iso-annual-report 2026"))
    #expect(!commune2026.stdout.contains("iso-commune-report"))
    let district = try Run([
      "explain", "--unit", "522", "--rule", "iso-district-report", "--at", "2021-11-10T12:00:00+07:00",
    ])
    #expect(district.stdout.contains("children in: 0 of 23"))
    #expect(
      district.stdout.contains(
        "2021-11-18T08:00:00+07:00  escalate-3wd  iso@51-skhcn.quangngai.example"
      ))
    let unknown = try Run(["explain", "--unit", "nope", "--offline"])
    #expect(unknown.status == 1)
  }
}
