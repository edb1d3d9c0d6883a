import Foundation
import NhacviecConfig
import NhacviecCore
import NhacviecRender
import TestSupport
import Testing

/// docs/vietnamese.md's checklist, read by a program: every message the shipped configuration
/// sends in a season of each directory era, rendered as sent and checked line by line.
@Suite("The shipped texts, as a native reader checks them")
struct ShippedTextTests {
  struct Rendered {
    let key: String
    let rule: String
    let template: String
    let unitKind: String
    let message: OutgoingMessage
  }

  /// Every message of the seasons from April to January of `year`, with a few facts that bring
  /// out the optional lines (an extension, a budget line below the minimum).
  ///
  /// Digests as shipped, and every notice again as it would read alone (digests off), so that
  /// each template is read for every kind of unit, not only those few enough to go alone.
  static func season(_ year: Int, facts: [Fact], configPath: String? = nil) throws -> [Rendered] {
    let deployment = try DeploymentLoader().load(
      configPath: configPath ?? repositoryRoot.appendingPathComponent("Rules/nhacviec.yaml").path)
    let shipped = deployment.engine(facts: FactBook(facts))
    let settings = deployment.ruleset.settings
    let alone = Engine(
      ruleset: Ruleset(
        rules: deployment.ruleset.rules, channels: deployment.ruleset.channels,
        settings: PlanSettings(sendWindow: settings.sendWindow, digestMinimum: 0)),
      context: shipped.context)
    let zone = deployment.zone
    let (from, to) = (zone.parseInstant("\(year)-04-01")!, zone.parseInstant("\(year + 1)-01-31T23:59")!)
    let digests = shipped.simulate(from: from, to: to).filter { $0.reason == .digest }
    return render(digests + alone.simulate(from: from, to: to), shipped: shipped, alone: alone, deployment: deployment)
  }

  /// What a daemon started at `start` with an empty journal sends in its first pass (every
  /// ladder under way caught up), each notice also as it would read alone.
  static func firstStart(_ start: String, configPath: String? = nil) throws -> [Rendered] {
    let deployment = try DeploymentLoader().load(
      configPath: configPath ?? repositoryRoot.appendingPathComponent("Rules/nhacviec.yaml").path)
    let shipped = deployment.engine()
    let settings = deployment.ruleset.settings
    let alone = Engine(
      ruleset: Ruleset(
        rules: deployment.ruleset.rules, channels: deployment.ruleset.channels,
        settings: PlanSettings(sendWindow: settings.sendWindow, digestMinimum: 0)),
      context: shipped.context)
    let now = deployment.zone.parseInstant(start)!
    let digests = shipped.plan(since: nil, now: now).due.filter { $0.reason == .digest }
    return render(
      digests + alone.plan(since: nil, now: now).due, shipped: shipped, alone: alone, deployment: deployment, at: now)
  }

  /// Each decision rendered as sent: at its own instant in a season, at the start's for a catch-up.
  static func render(
    _ decisions: [NoticeDecision], shipped: Engine, alone: Engine, deployment: Deployment, at now: Date? = nil
  ) -> [Rendered] {
    let renderer = MessageRenderer(ruleset: deployment.ruleset, calendar: deployment.calendar)
    var out: [Rendered] = []
    for decision in decisions {
      let engine = decision.reason == .digest ? shipped : alone
      guard case .send(let evaluated) = engine.check(decision, at: now ?? decision.scheduledAt, window: false) else {
        continue
      }
      let template: String
      switch decision.content {
      case .obligation(_, let name, _): template = name
      case .summary: template = "summary"
      case .digest: template = "digest"
      }
      let unitRef = decision.noticeKey?.unit ?? evaluated.items.first?.key.unit
      let unit = unitRef.flatMap { deployment.directory.record($0) }
      out.append(
        Rendered(
          key: decision.key, rule: decision.noticeKey?.rule ?? evaluated.items.first?.key.rule ?? "",
          template: template, unitKind: unit?.kind ?? "", message: renderer.render(evaluated)))
    }
    return out
  }

  /// Every d/m/yyyy in a line, as written.
  static func dates(in line: String) -> [String] {
    let pattern = try! NSRegularExpression(pattern: #"\b[0-9]{1,2}/[0-9]{1,2}/[0-9]{4}\b"#)
    return pattern.matches(in: line, range: NSRange(line.startIndex..., in: line)).compactMap {
      Range($0.range, in: line).map { String(line[$0]) }
    }
  }

  /// What the checklist asks of one message; each failure names the message and the line.
  static func problems(_ rendered: Rendered) -> [String] {
    let m = rendered.message
    var found: [String] = []
    let body = m.text.components(separatedBy: "\n")
    // The last line is the notice's code, for the operator: not read as Vietnamese.
    let readable = [m.subject] + body.filter { !$0.hasPrefix("Mã thông báo:") }
    for line in readable {
      if line.contains("{{") || line.contains("}}") { found.append("placeholder left: \(line)") }
      if line.contains("  ") { found.append("doubled space: \(line)") }
      if line != line.trimmingCharacters(in: .whitespaces) { found.append("space at an end: \(line)") }
      for hole in ["()", "( ", " )", " .", " ,", ": .", ":.", "hạn ;", "hạn )", ": ;"] where line.contains(hole) {
        found.append("an empty value (\(hole)): \(line)")
      }
      if line.contains("HTQLCL") { found.append("an abbreviation no one spelled out: \(line)") }
      if line.contains("[Báo cáo quá hạn]") { found.append("a report's label on any duty: \(line)") }
      // The system's own dates; a citation keeps its document's style ("ngày 05/3/2014").
      for date in dates(in: line) where date.count != 10 && !line.hasPrefix("Căn cứ:") {
        found.append("a date not dd/mm/yyyy (\(date)): \(line)")
      }
      if line.range(of: #"Chủ tịch UBND [A-ZĐ]"#, options: .regularExpression) != nil {
        found.append("an area after UBND in capitals: \(line)")
      }
      for english in ["remind-", "escalate-", "digest", "summary", "overdue", "null", "nil"]
      where line.contains(english) {
        found.append("operator's words in an official's text (\(english)): \(line)")
      }
      if line.range(of: #"(còn|quá hạn) 0 ngày"#, options: .regularExpression) != nil {
        found.append("a day count of 0: \(line)")
      }
    }
    if m.text.contains("\n\n\n") { found.append("two blank lines in a row") }
    if m.text != m.text.precomposedStringWithCanonicalMapping { found.append("diacritics not composed (NFC)") }
    if m.subject != m.subject.precomposedStringWithCanonicalMapping { found.append("subject not NFC") }
    // The salutation names each addressee once, and each unit once per addressee.
    if let greeting = body.first, greeting.hasPrefix("Kính gửi: ") {
      for addressee in greeting.dropFirst("Kính gửi: ".count).components(separatedBy: "; ") {
        let parts = addressee.components(separatedBy: ", ")
        if let unit = parts.last, parts.count > 1, parts.dropLast().contains(where: { $0.contains(unit) }) {
          found.append("a unit named twice: \(addressee)")
        }
      }
    } else {
      found.append("no salutation: \(body.first ?? "")")
    }
    if !m.text.hasSuffix("Mã thông báo: \(m.key)") { found.append("no footer with the notice's code") }
    if !m.html.contains("<html lang=\"vi\">") { found.append("HTML not marked Vietnamese") }
    return found.map { "\(rendered.key) [\(rendered.template)]: \($0)" }
  }

  @Test("every shipped template, for every kind of unit, in both directory eras, reads right", arguments: [2021, 2026])
  func season(year: Int) throws {
    let facts: [Fact] =
      year == 2026
      ? [
        Fact(
          kind: .extension, unitID: "51-SXD", ruleID: "iso-annual-report", period: "2026",
          at: Zone.vietnam.parseInstant("2026-11-10T08:30:00+07:00"), due: LocalDate(iso: "2026-11-30"),
          decidedBy: "Giám đốc Sở Khoa học và Công nghệ"),
        Fact(
          kind: .budget, unitID: "51-SYT", ruleID: "iso-budget-estimate", period: "2027",
          at: Zone.vietnam.parseInstant("2026-06-01T09:00:00+07:00"), reference: "12/DT-SYT", amount: 2_000_000),
      ] : []
    let messages = try Self.season(year, facts: facts)
    let problems = messages.flatMap(Self.problems)
    #expect(problems.isEmpty, "\(problems.count) problems, first: \(problems.prefix(10).joined(separator: "\n"))")
    // The checks had every template and kind of unit of the era to read.
    let templates = Set(messages.map(\.template))
    #expect(templates.isSuperset(of: ["reminder", "overdue", "escalation", "digest", "summary"]), "\(templates)")
    let kinds = Set(messages.filter { $0.template != "digest" }.map(\.unitKind))
    let expected: Set<String> =
      year == 2021
      ? ["dept", "board", "district", "city", "town", "commune", "ward", "township"]
      : ["dept", "commune", "ward", "special-zone"]
    #expect(kinds.isSuperset(of: expected), "\(kinds)")
    let rules = Set(messages.map(\.rule))
    let owed: Set<String> =
      year == 2021
      ? [
        "iso-commune-report", "iso-district-report", "iso-budget-estimate", "iso-training", "iso-inspection",
        "iso-commune-inspection", "iso-consolidated-report", "iso-inspection-report", "iso-summary-district",
        "iso-annual-report",
      ]
      : [
        "iso-annual-report", "iso-budget-estimate", "iso-training", "iso-inspection", "iso-consolidated-report",
        "iso-inspection-report", "iso-summary-standing-agency",
      ]
    #expect(rules.isSuperset(of: owed), "\(owed.subtracting(rules))")
    if year == 2026 {
      // The optional lines, where they apply.
      #expect(messages.contains { $0.message.text.contains("Đơn vị được gia hạn đến 30/11/2026") })
      #expect(
        messages.contains {
          $0.message.text.contains(
            "Mức kinh phí tối thiểu: 5.000.000 đồng (theo kế hoạch của Sở Khoa học và Công nghệ).")
        })
      #expect(
        messages.contains {
          $0.message.text.contains(
            "Ghi nhận hiện tại: dự toán ghi 2.000.000 đồng, thấp hơn mức tối thiểu 5.000.000 đồng.")
        })
    }
  }

  @Test("the checks can fail: a careless message is caught on each point")
  func checksCanFail() {
    let careless = OutgoingMessage(
      key: "k", channel: "email", rule: "r", unit: UnitRef(id: "U", validFrom: nil), period: "2026", step: "remind-7d",
      reason: .nextReminder,
      date: Date(), to: [],
      subject: "[Báo cáo quá hạn] HTQLCL  năm 2026 — hạn trước ngày 5/11/2026",
      text:
        "Kính gửi: Đầu mối ISO, Sở Tư pháp, Sở Tư pháp\n\n\nChủ tịch UBND Xã A: {{x}} còn 0 ngày (hạn ).\nThời hạn: .",
      html: "<p>x</p>", payload: "")
    let found = Self.problems(Rendered(key: "k", rule: "r", template: "reminder", unitKind: "dept", message: careless))
    for expected in [
      "placeholder left", "doubled space", "an empty value", "an abbreviation", "a report's label",
      "a date not dd/mm/yyyy", "an area after UBND", "a day count of 0", "two blank lines", "a unit named twice",
      "no footer", "HTML not marked",
    ] {
      #expect(found.contains { $0.contains(expected) }, "\(expected) not caught")
    }
  }
}

/// Issue 27's points on what the messages cite and when a deadline ends, checked over the
/// seasons and daemon starts the issue names.
extension ShippedTextTests {
  static let runs = ["2021", "2026", "2026-11-18T09:00:00+07:00", "2025-06-10T08:00:00+07:00"]

  static func messages(of run: String) throws -> [Rendered] {
    run.count == 4 ? try season(Int(run)!, facts: []) : try firstStart(run)
  }

  static func lines(_ m: OutgoingMessage, starting prefix: String) -> [String] {
    m.text.components(separatedBy: "\n").filter { $0.hasPrefix(prefix) }
  }

  @Test("citations, where to send and the bases by kind of unit, in every season and start", arguments: runs)
  func citations(run: String) throws {
    let messages = try Self.messages(of: run)
    #expect(!messages.isEmpty)
    var problems: [String] = []
    // Point 12, in every era: nobody is told late while the time limit runs (15/11/2021, a
    // Monday, has its last day on a Sunday too), and whoever is told of a moved end is told why.
    let deployment = try Self.shipped()
    let engine = deployment.engine()
    let zone = deployment.zone
    var moved = 0
    for r in messages where !["digest", "summary"].contains(r.template) {
      guard let rule = deployment.ruleset.rule(r.rule), rule.kind.isObligation, let period = Period(r.message.period)
      else { continue }
      let deadline = engine.ladder(rule, period: period).deadline
      let (letter, allowed) = (
        rule.due.lastDay(ofDeadline: deadline, zone: zone),
        rule.due.lastDay(ofDeadline: deadline, calendar: deployment.calendar)
      )
      let sent = zone.localDate(of: r.message.date)
      guard sent <= allowed else { continue }
      if r.message.text.contains("quá hạn") {
        problems.append("\(r.key): told late on \(sent), the limit runs to \(allowed)")
      }
      if letter != allowed {
        moved += 1
        if !r.message.text.contains("(khoản 5 Điều 148 Bộ luật Dân sự năm 2015).") {
          problems.append("\(r.key): not told that the day off moves the end to \(allowed)")
        }
      }
    }
    if run.count == 4 { #expect(moved > 0, "no message before a moved end in \(run)") }
    for r in messages {
      let m = r.message
      let cited = (Self.lines(m, starting: "Căn cứ:") + Self.lines(m, starting: "Thời hạn:")).joined(separator: "\n")
      // Point 2: the budget date and its decree as in force on the deadline's day; the estimates
      // made from 2026 (FY2027 on) fall under Decree 73/2026, those made before under 163/2016.
      if r.rule == "iso-budget-estimate", r.template != "digest", let fy = Int(m.period) {
        let (cites, never) =
          fy >= 2027
          ? (["73/2026/NĐ-CP", "26/2026/TT-BTC", "ngày 10/7"], "163/2016")
          : (["163/2016/NĐ-CP", "ngày 20/7"], "/2026/")
        for expected in cites where !cited.contains(expected) {
          problems.append("\(r.key): FY\(fy) does not cite \(expected)")
        }
        if cited.contains(never) { problems.append("\(r.key): FY\(fy) cites \(never), not in force: \(cited)") }
      }
      if cited.contains("/2026/"), m.date < Zone.vietnam.parseInstant("2026-01-01")! {
        problems.append("\(r.key): a 2026 text cited on \(m.date): \(cited)")
      }
      // Point 9: where the report goes, as the letter says; the letter without an invented number.
      if ["iso-annual-report", "iso-district-report"].contains(r.rule) {
        for part in [m.text, m.html]
        where !part.contains("Nơi nhận báo cáo: Sở Khoa học và Công nghệ (cơ quan thường trực).") {
          problems.append("\(r.key) [\(r.template)]: does not say where the report goes")
        }
      }
      if m.text.contains("Công văn số") { problems.append("\(r.key): a number of the letter no one set") }
      if r.rule.hasPrefix("iso-"), !m.text.contains("Công văn của Chủ tịch UBND tỉnh Quảng Ngãi"),
        r.template != "summary"
      {
        problems.append("\(r.key) [\(r.template)]: the letter is not cited")
      }
      // Point 10: communes cite clause 2 and 903/QĐ-UBND of 2018, agencies 832/QĐ-UBND of 2015;
      // the former Kon Tum communes are told that applying the letter to them is the deployment's choice.
      if r.rule == "iso-annual-report", r.template != "digest" {
        let commune = ["commune", "ward", "township", "special-zone"].contains(r.unitKind)
        let (wanted, unwanted) = commune ? ("903/QĐ-UBND", "832/QĐ-UBND") : ("832/QĐ-UBND", "903/QĐ-UBND")
        if !cited.contains(wanted) || cited.contains(unwanted) {
          problems.append("\(r.key) (\(r.unitKind)): cites \(cited)")
        }
        let konTum = m.unit?.id.hasPrefix("23") ?? false
        let scope = Self.lines(m, starting: "Phạm vi áp dụng:").joined()
        if konTum != scope.contains("tỉnh Kon Tum cũ là theo kế hoạch của Sở Khoa học và Công nghệ") {
          problems.append("\(r.key): the scope line is \(scope.isEmpty ? "missing" : "wrong: \(scope)")")
        }
      }
    }
    #expect(problems.isEmpty, "\(problems.count) problems, first: \(problems.prefix(8).joined(separator: "\n"))")
    if run != "2026-11-18T09:00:00+07:00" {
      #expect(messages.contains { $0.rule == "iso-budget-estimate" }, "no budget message to check")
    }
    if run == "2026" {
      // A digest about agencies and communes cites each basis for the units it is for.
      #expect(
        messages.contains {
          $0.template == "digest"
            && $0.message.text.contains("832/QĐ-UBND ngày 29/5/2015 của UBND tỉnh Quảng Ngãi (đối với sở, ban, ngành")
            && $0.message.text.contains(
              "903/QĐ-UBND ngày 07/6/2018 của UBND tỉnh Quảng Ngãi (đối với xã, phường, đặc khu)")
        })
    }
    if run.hasPrefix("2026") {
      #expect(messages.contains { $0.rule == "iso-annual-report" && $0.message.unit?.id.hasPrefix("23") == true })
      #expect(messages.contains { $0.rule == "iso-annual-report" && $0.unitKind == "board" })
    }
  }

  /// Point 12: "trước ngày 15/11/2026" when 14/11 and 15/11 are a weekend.
  @Test("a deadline on a day off ends with the next working day; the other reading is a setting")
  func deadlineOnDayOff() throws {
    let monday = "2026-11-16T08:00:00+07:00"
    let civil = try Self.firstStart(monday).filter { $0.rule == "iso-annual-report" }
    #expect(civil.count >= 111)
    for r in civil {
      #expect(!r.message.text.contains("quá hạn"), "\(r.key): \(r.message.subject)")
      #expect(r.message.to.allSatisfy { !$0.address.hasPrefix("lanhdao@") }, "\(r.key) reaches a head")
    }
    let alone = civil.filter { $0.template != "digest" }
    #expect(!alone.isEmpty)
    for r in alone {
      #expect(r.message.text.contains("hôm nay là hạn cuối"), "\(r.key)")
      #expect(
        r.message.text.contains(
          "Hạn rơi vào ngày nghỉ nên được tính đến hết ngày 16/11/2026 (Thứ Hai), ngày làm việc tiếp theo (khoản 5 Điều 148 Bộ luật Dân sự năm 2015)."
        ), "\(r.key)")
    }
    // The next day the unit is one day late, counted from Monday.
    let season = try Self.season(2026, facts: [])
    let tuesday = season.filter { $0.rule == "iso-annual-report" && $0.key.contains("escalate-1wd") }
    #expect(!tuesday.isEmpty)
    for r in tuesday {
      #expect(Zone.vietnam.rfc3339(r.message.date) == "2026-11-17T08:00:00+07:00", "\(r.key)")
      #expect(r.message.text.contains("đã quá hạn 1 ngày"), "\(r.key)")
    }
    let wednesday = try Self.firstStart("2026-11-18T09:00:00+07:00").filter {
      $0.rule == "iso-annual-report" && $0.template != "digest"
    }
    #expect(!wednesday.isEmpty)
    for r in wednesday { #expect(r.message.text.contains("đã quá hạn 2 ngày"), "\(r.key): \(r.message.text)") }

    // The literal reading, for a deployment that chooses it: Monday is two days late.
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("nhacviec-dayoff-\(UUID().uuidString)")
    try FileManager.default.copyItem(at: repositoryRoot.appendingPathComponent("Rules"), to: folder)
    defer { try? FileManager.default.removeItem(at: folder) }
    let config = folder.appendingPathComponent("nhacviec.yaml")
    let text = try String(contentsOf: config, encoding: .utf8)
    #expect(text.contains("deadline_on_day_off: next-working-day"))
    try text.replacingOccurrences(of: "deadline_on_day_off: next-working-day", with: "deadline_on_day_off: stands")
      .write(to: config, atomically: true, encoding: .utf8)
    let literal = try Self.firstStart(monday, configPath: config.path).filter {
      $0.rule == "iso-annual-report" && $0.template != "digest"
    }
    #expect(!literal.isEmpty)
    for r in literal {
      #expect(r.message.text.contains("đã quá hạn 2 ngày"), "\(r.key)")
      #expect(!r.message.text.contains("Bộ luật Dân sự"), "\(r.key)")
    }
  }
}

/// Point 14: the examples of docs/rules.md and docs/calendar.md that state what the shipped
/// rules do are produced here from the shipped rules, so that they cannot drift. Each sits
/// between `<!-- generated: ID -->` and `<!-- end generated -->`; run with
/// `NHACVIEC_WRITE_DOCS=1` to write them after a change of the rules.
extension ShippedTextTests {
  static func shipped() throws -> Deployment {
    try DeploymentLoader().load(configPath: repositoryRoot.appendingPathComponent("Rules/nhacviec.yaml").path)
  }

  static func day(_ instant: Date, _ zone: Zone, time: Bool = true) -> String {
    let date = zone.localDate(of: instant)
    let weekday = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"][date.weekday.rawValue]
    let (day, month) = (
      date.day < 10 ? "0\(date.day)" : "\(date.day)", date.month < 10 ? "0\(date.month)" : "\(date.month)"
    )
    return "\(weekday) \(day)/\(month)/\(date.year)" + (time ? " \(zone.timeOfDay(of: instant))" : "")
  }

  /// Every generated block, by id.
  static func generatedBlocks() throws -> [String: String] {
    let deployment = try shipped()
    let engine = deployment.engine()
    let zone = deployment.zone
    let calendar = deployment.calendar
    var blocks: [String: String] = [:]

    // The 2026 ladder of the annual report.
    let annual = deployment.ruleset.rule("iso-annual-report")!
    let ladder = engine.ladder(annual, period: Period(kind: .yearly, year: 2026))
    var table = "| step | sent | to |\n|---|---|---|\n"
    for step in ladder.steps {
      table += "| `\(step.id)` | \(day(step.at, zone)) | \(step.to.map { "`\($0)`" }.joined(separator: ", ")) |\n"
    }
    let lastByLetter = annual.due.lastDay(ofDeadline: ladder.deadline, zone: zone)
    let lastAllowed = annual.due.lastDay(ofDeadline: ladder.deadline, calendar: calendar)
    table +=
      "\nThe letter's last day, \(day(zone.instant(lastByLetter), zone, time: false)), is a day off, so under "
      + "`deadline_on_day_off: \(calendar.dayOff.rawValue)` the time limit ends with "
      + "\(day(zone.instant(lastAllowed), zone, time: false)); the ladder hangs on \(day(ladder.ends, zone)). "
      + "Escalations stop \(annual.stopAfter) after it: nothing of this ladder goes out after "
      + "\(day(ladder.stop, zone)).\n"
    blocks["ladder-2026"] = table

    // Which deadlines of 2026 a day off moves.
    var moved = "| rule | deadline | last day by the letter | last day allowed |\n|---|---|---|---|\n"
    for rule in deployment.ruleset.rules where rule.kind.isObligation {
      for year in [2026, 2027] {
        let ladder = engine.ladder(rule, period: Period(kind: .yearly, year: year))
        let named = rule.due.namedDate(for: Period(kind: .yearly, year: year), calendar: calendar)
        let letter = rule.due.lastDay(ofDeadline: ladder.deadline, zone: zone)
        let allowed = rule.due.lastDay(ofDeadline: ladder.deadline, calendar: calendar)
        guard named.year == 2026 else { continue }
        moved +=
          "| `\(rule.id)` \(year) | \(rule.due.phrase(named: named)) | \(day(zone.instant(letter), zone, time: false)) | "
          + (letter == allowed ? "the same" : "**\(day(zone.instant(allowed), zone, time: false))**") + " |\n"
      }
    }
    blocks["day-off-2026"] = moved

    // Who the FY2026 budget reminder of 21025 reaches in June 2025.
    let budget = deployment.ruleset.rule("iso-budget-estimate")!
    let fy2026 = engine.ladder(budget, period: Period(kind: .yearly, year: 2026))
    let owing = engine.roster(of: budget, deadline: fy2026.deadline).first { $0.id == "21025" }!
    let named = budget.due.namedDate(for: Period(kind: .yearly, year: 2026), calendar: calendar)
    blocks["budget-21025"] =
      "- **recipients**: resolved from the record that owes the period, when each step is planned: its\n"
      + "  own contacts and its parent while the record is valid ([§6](#6-findings-and-notices)). The FY2026\n"
      + "  budget estimate is due \(budget.due.phrase(named: named)), when the 2021 directory is in force, so\n"
      + "  its reminders of June 2025 for `21025` reach \(owing.name) (the record valid until \(owing.validTo.map { "\(day(zone.instant($0), zone, time: false))" } ?? "now")),\n"
      + "  not the unit that holds the code from 01/07/2025.\n"
    return blocks
  }

  @Test("the docs' examples of the shipped rules are what the shipped rules do")
  func docsAgree() throws {
    let blocks = try Self.generatedBlocks()
    let write = ProcessInfo.processInfo.environment["NHACVIEC_WRITE_DOCS"] == "1"
    var found: Set<String> = []
    for doc in ["docs/rules.md", "docs/calendar.md"] {
      let url = repositoryRoot.appendingPathComponent(doc)
      var text = try String(contentsOf: url, encoding: .utf8)
      for (id, content) in blocks {
        let open = "<!-- generated: \(id) -->\n"
        guard let start = text.range(of: open) else { continue }
        found.insert(id)
        let end = text.range(of: "<!-- end generated -->", range: start.upperBound..<text.endIndex)!
        let current = String(text[start.upperBound..<end.lowerBound])
        if write {
          text.replaceSubrange(start.upperBound..<end.lowerBound, with: content)
        } else {
          #expect(current == content, "\(doc) \(id) drifted from the shipped rules; it should read:\n\(content)")
        }
      }
      if write { try text.write(to: url, atomically: true, encoding: .utf8) }
    }
    #expect(found == Set(blocks.keys), "blocks missing from the docs: \(Set(blocks.keys).subtracting(found))")
  }
}

/// Point 16: every agency of 2021 is accounted for in 2025, and each change cites its source.
extension ShippedTextTests {
  @Test("every provincial agency of 2021 is in the 2025 directory or in the documented changes, with a source")
  func directoryAfterReorganisation() throws {
    let deployment = try Self.shipped()
    let directory = deployment.directory
    let (before, after) = (LocalDate(iso: "2025-06-30")!, LocalDate(iso: "2025-07-01")!)
    let agencies2021 = directory.units(on: before).filter { ["dept", "board"].contains($0.kind) }
    let agencies2025 = Dictionary(
      uniqueKeysWithValues: directory.units(on: after).filter { ["dept", "board"].contains($0.kind) }.map {
        ($0.id, $0)
      })
    let doc = try String(contentsOf: repositoryRoot.appendingPathComponent("docs/rules.md"), encoding: .utf8)
    let table = try #require(
      doc.components(separatedBy: "<!-- directory changes -->").dropFirst().first?
        .components(separatedBy: "<!-- end directory changes -->").first)
    var changes: [String: (successor: String, source: String)] = [:]
    for row in table.split(separator: "\n") where row.hasPrefix("| `") {
      let cells = row.split(separator: "|", omittingEmptySubsequences: false).map {
        $0.trimmingCharacters(in: .whitespaces)
      }
      func id(_ cell: String) -> String { cell.components(separatedBy: "`").dropFirst().first ?? "" }
      changes[id(cells[1])] = (id(cells[2]), cells[3])
    }
    #expect(agencies2021.count == 20)
    for agency in agencies2021 {
      if let change = changes[agency.id] {
        #expect(agencies2025[change.successor] != nil, "\(agency.id) → \(change.successor), not in the 2025 directory")
        #expect(change.source.count > 20, "\(agency.id): no source")
      } else {
        #expect(agencies2025[agency.id]?.name == agency.name, "\(agency.id) \(agency.name) is gone and not documented")
      }
    }
    // The economic zone board was re-established by merger, not abolished (Decision 1499/QĐ-TTg).
    let board = try #require(agencies2025["51-BQLKKT"])
    #expect(board.kind == "board" && board.parentID == "51")
    #expect(changes["51-BQLKKT"]?.source.contains("1499/QĐ-TTg") == true)
    let owing = deployment.engine().roster(
      of: deployment.ruleset.rule("iso-annual-report")!, deadline: Zone.vietnam.parseInstant("2026-11-15")!)
    #expect(owing.contains { $0.id == "51-BQLKKT" })
  }
}

extension ShippedTextTests {
  @Test("a report's section about agencies and communes cites each basis for the units it is for")
  func reportBases() throws {
    let engine = try Self.shipped().engine()
    let report = engine.report(
      period: Period(kind: .yearly, year: 2026), ruleIDs: ["iso-annual-report"],
      at: Zone.vietnam.parseInstant("2026-11-20T09:00:00+07:00")!)
    let basis = try #require(report.sections.first?.basis)
    #expect(basis.contains("832/QĐ-UBND ngày 29/5/2015 của UBND tỉnh Quảng Ngãi (đối với sở, ban, ngành, ban quản lý)"))
    #expect(basis.contains("903/QĐ-UBND ngày 07/6/2018 của UBND tỉnh Quảng Ngãi (đối với xã, phường, đặc khu)"))
    // In 2021 the agencies alone owe it: one basis, no label.
    let agencies = engine.report(
      period: Period(kind: .yearly, year: 2021), ruleIDs: ["iso-annual-report"],
      at: Zone.vietnam.parseInstant("2021-11-20T09:00:00+07:00")!)
    #expect(agencies.sections.first.map { !$0.basis.contains("(đối với") && $0.basis.contains("832/QĐ-UBND") } == true)
  }
}
