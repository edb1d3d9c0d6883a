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
    /// How each line of a digest begins when the duty is done about the unit, not by it: the
    /// rule's title up to the unit's name ("Kiểm tra … tại ").
    var itemPrefix: String? = nil
    /// The calendar it was sent under: a last day on a day off may give way to the next working day.
    var calendar: WorkingCalendar? = nil
  }

  /// The shipped configuration with `facts`: the engine as shipped, and one that sends every
  /// notice alone (digests off), so that each template is read for every kind of unit, not only
  /// those few enough to go alone.
  struct Shipped {
    let deployment: Deployment
    let shipped: Engine
    let alone: Engine
    let renderer: MessageRenderer

    init(facts: [Fact], configPath: String? = nil) throws {
      deployment = try DeploymentLoader().load(
        configPath: configPath ?? repositoryRoot.appendingPathComponent("Rules/nhacviec.yaml").path)
      shipped = deployment.engine(facts: FactBook(facts))
      let settings = deployment.ruleset.settings
      alone = Engine(
        ruleset: Ruleset(
          rules: deployment.ruleset.rules, channels: deployment.ruleset.channels,
          settings: PlanSettings(sendWindow: settings.sendWindow, digestMinimum: 0)),
        context: shipped.context)
      renderer = MessageRenderer(ruleset: deployment.ruleset, calendar: deployment.calendar)
    }

    /// Digests as shipped, and every notice again as it would read alone, each sent when it is
    /// due, or at `now` when given (a first pass sends late what it catches up with).
    func rendered(at now: Date? = nil, _ decisions: (Engine) -> [NoticeDecision]) -> [Rendered] {
      let digests = decisions(shipped).filter { $0.reason == .digest }
      var out: [Rendered] = []
      for decision in digests + decisions(alone) {
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
        let ruleID = decision.noticeKey?.rule ?? evaluated.items.first?.key.rule ?? ""
        let rule = deployment.ruleset.rule(ruleID)
        let prefix = rule.flatMap { $0.titleNamesUnit ? $0.title.components(separatedBy: "{{").first : nil }
        out.append(
          Rendered(
            key: decision.key, rule: ruleID, template: template, unitKind: unit?.kind ?? "",
            message: renderer.render(evaluated), itemPrefix: prefix, calendar: deployment.calendar))
      }
      return out
    }
  }

  /// Every message of the seasons from April to January of `year`, with a few facts that bring
  /// out the optional lines (an extension, a budget line below the minimum).
  static func season(_ year: Int, facts: [Fact], configPath: String? = nil) throws -> [Rendered] {
    let shipped = try Shipped(facts: facts, configPath: configPath)
    let zone = shipped.deployment.zone
    let (from, to) = (zone.parseInstant("\(year)-04-01")!, zone.parseInstant("\(year + 1)-01-31T23:59")!)
    return shipped.rendered { $0.simulate(from: from, to: to) }
  }

  /// What a daemon started at `start` with an empty journal sends on its first pass: the newest
  /// rung of everything under way, the messages officials read after a restart.
  static func start(_ start: String, facts: [Fact] = [], configPath: String? = nil) throws -> [Rendered] {
    let shipped = try Shipped(facts: facts, configPath: configPath)
    let now = shipped.deployment.zone.parseInstant(start)!
    return shipped.rendered(at: now) { $0.plan(since: nil, now: now).due }
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
    found += issue27(rendered)
    return found.map { "\(rendered.key) [\(rendered.template)]: \($0)" }
  }

  static let territories = ["Tỉnh", "Huyện", "Thành phố", "Thị xã", "Xã", "Phường", "Thị trấn", "Đặc khu"]

  /// Issue 27's points on how a message reads, each on every message.
  static func issue27(_ rendered: Rendered) -> [String] {
    let m = rendered.message
    var found: [String] = []
    let body = m.text.components(separatedBy: "\n")
    let items = body.filter { $0.hasPrefix("- ") && $0.contains("; ") }
    // 1. A digest says in its subject whether its lines are late.
    if rendered.template == "digest" {
      let late = items.filter { $0.contains("đã quá hạn") }.count
      if late == items.count, !m.subject.hasPrefix("[Quá hạn]") {
        found.append("a digest of late work reads as a reminder: \(m.subject)")
      }
      if late < items.count, !m.subject.hasPrefix("[Nhắc việc]") {
        found.append("a digest with work still on time reads as overdue: \(m.subject)")
      }
      if late > 0, late < items.count, !m.subject.contains("\(late) quá hạn") {
        found.append("a mixed digest does not say how many are late (\(late)): \(m.subject)")
      }
      // 13. A duty done about each unit names the duty, so that the unit does not read as late.
      if let prefix = rendered.itemPrefix, let line = items.first(where: { !$0.hasPrefix("- " + prefix) }) {
        found.append("a line names the unit as if it were late: \(line)")
      }
    }
    // 3. A territory's People's Committee acts, never the territory.
    for line in body {
      for kind in territories {
        if (rendered.template == "digest" && line.hasPrefix("- \(kind) "))
          || line.range(of: #"(^|: )"# + kind + #" [^"“;:]* (cần|chưa) hoàn thành"#, options: .regularExpression) != nil
        {
          found.append("a territory asked to act: \(line)")
        }
      }
    }
    // 4. The salutation names each unit once.
    if let greeting = body.first?.lowercased() {
      for name in Set(m.to.map { $0.unitName.lowercased() }) {
        let bare = name.split(separator: " ", maxSplits: 1).last.map(String.init) ?? name
        let count = greeting.components(separatedBy: bare).count - 1
        if count != 1 { found.append("a unit named \(count) times in the salutation: \(body.first ?? "")") }
      }
    }
    // 5. The subject fits an inbox line, and says by when before anything is cut.
    if m.subject.count > 100 { found.append("a subject of \(m.subject.count) characters: \(m.subject)") }
    if dates(in: m.subject).isEmpty { found.append("a subject without its date: \(m.subject)") }
    // Cut only in a name at its end, after what and by when; never in a count.
    if m.subject.hasSuffix("…") {
      let head = m.subject.components(separatedBy: " — ").dropLast().joined(separator: " — ")
      if dates(in: head).isEmpty || ["digest", "overdue", "returned", "summary"].contains(rendered.template) {
        found.append("a subject cut before it says what, by when and how late: \(m.subject)")
      }
    }
    // 6. An extension allows its day, and cites its decision.
    if m.text.contains("gia hạn đến") {
      if !m.text.contains("gia hạn đến hết ngày") || !m.text.contains("theo Quyết định số ") {
        found.append("an extension without its day allowed or its decision's number")
      }
    }
    // 7. The consolidated report's figures in both parts, in the officials' words.
    if m.text.contains("Số liệu tổng hợp tính đến"), !m.html.contains("Số liệu tổng hợp tính đến") {
      found.append("the figures are in the text part only")
    }
    if m.text.contains("tệp đính kèm"), !m.html.contains("tệp đính kèm"), rendered.template != "summary" {
      found.append("the attachments are named in the text part only")
    }
    for line in [m.subject] + body {
      if line.contains("phần HTML") { found.append("jargon for officials: \(line)") }
      if line.range(of: #"tính đến [0-9]{2}:[0-9]{2} [0-9]"#, options: .regularExpression) != nil {
        found.append("a time without \"ngày\" before its date: \(line)")
      }
      if line.contains("Báo cáo UBND tỉnh tổng hợp") {
        found.append("the People's Committee reads as the reporter: \(line)")
      }
      // 8. No unit is asked to consolidate children it does not have.
      if line.contains("đã báo cáo: 0/0") { found.append("children counted where there are none: \(line)") }
    }
    // 11. "còn N ngày": the days on which the duty can still be met, today included, up to the
    // last day allowed (the next working day when the letter's falls on a day off, point 12).
    let sent = Zone.vietnam.localDate(of: m.date)
    let counted = try! NSRegularExpression(
      pattern: #"(trước|chậm nhất) ngày ([0-9]{2})/([0-9]{2})/([0-9]{4})[^;]*; còn ([0-9]+) ngày"#)
    for line in body {
      for match in counted.matches(in: line, range: NSRange(line.startIndex..., in: line)) {
        let field = { (i: Int) in Int(line[Range(match.range(at: i), in: line)!])! }
        let named = LocalDate(year: field(4), month: field(3), day: field(2))!
        var last = line[Range(match.range(at: 1), in: line)!] == "trước" ? named.adding(days: -1) : named
        if let calendar = rendered.calendar, calendar.dayOff == .nextWorkingDay, !calendar.isWorkingDay(last) {
          last = calendar.workingDay(0, from: last)
        }
        let expected = last.dayNumber - sent.dayNumber + 1
        if field(5) != expected { found.append("còn \(field(5)) ngày where \(expected) days are left: \(line)") }
      }
    }
    return found
  }

  /// An extension of Sở Xây dựng's 2026 report to 30/11 and a budget line below the minimum.
  static let facts2026 = [
    Fact(
      kind: .extension, unitID: "51-SXD", ruleID: "iso-annual-report", period: "2026",
      at: Zone.vietnam.parseInstant("2026-11-10T08:30:00+07:00"), reference: "123/QĐ-SKHCN",
      due: LocalDate(iso: "2026-11-30"), decidedBy: "Giám đốc Sở Khoa học và Công nghệ"),
    Fact(
      kind: .budget, unitID: "51-SYT", ruleID: "iso-budget-estimate", period: "2027",
      at: Zone.vietnam.parseInstant("2026-06-01T09:00:00+07:00"), reference: "12/DT-SYT", amount: 2_000_000),
  ]

  @Test("every shipped template, for every kind of unit, in both directory eras, reads right", arguments: [2021, 2026])
  func season(year: Int) throws {
    let messages = try Self.season(year, facts: year == 2026 ? Self.facts2026 : [])
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
      #expect(
        messages.contains {
          $0.message.text.contains(
            "Đơn vị được gia hạn đến hết ngày 30/11/2026 theo Quyết định số 123/QĐ-SKHCN của Giám đốc Sở Khoa học và Công nghệ."
          )
        })
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

  /// Issue 27's points had messages to be checked on: each kind of message they are about.
  static func coverage(_ messages: [Rendered], year: Int) {
    let digests = messages.filter { $0.template == "digest" }
    // 1: digests of late work, and of work still on time.
    #expect(digests.contains { $0.message.subject.hasPrefix("[Quá hạn]") })
    #expect(digests.contains { $0.message.subject.hasPrefix("[Nhắc việc]") })
    // 3, 4: a territory's messages, with its head and focal point.
    #expect(
      messages.contains {
        ["commune", "ward"].contains($0.unitKind) && $0.message.text.contains("Kính gửi: Chủ tịch UBND ")
          && $0.message.text.contains(" hoàn thành")
      })
    // 7: the consolidated report's messages.
    #expect(
      messages.contains {
        $0.rule == "iso-consolidated-report" && $0.message.html.contains("Chưa nộp")
          && $0.message.html.contains("<p>Số liệu tổng hợp tính đến 08:00 ngày ")
          && $0.message.html.contains("tệp đính kèm (HTML, CSV)")
      })
    // 13: the inspections' digest.
    #expect(digests.contains { $0.rule == "iso-inspection" })
    if year == 2021 {
      // 8: Lý Sơn, a district without communes, is reminded of its own report.
      #expect(messages.contains { $0.rule == "iso-district-report" && $0.message.text.contains("huyện Lý Sơn") })
    }
  }

  @Test("issue 27's points hold on every message of a 2021 and a 2026 season", arguments: [2021, 2026])
  func issue27Season(year: Int) throws {
    let messages = try Self.season(year, facts: year == 2026 ? Self.facts2026 : [])
    let problems = messages.flatMap(Self.issue27).map { "\($0)" }
    #expect(problems.isEmpty, "\(problems.count) problems, first: \(problems.prefix(10).joined(separator: "\n"))")
    Self.coverage(messages, year: year)
  }

  /// Phường Cẩm Thành says it has sent its 2026 report; the Department returns the claim.
  static let returned = [
    Fact(
      kind: .claim, unitID: "21025", ruleID: "iso-annual-report", period: "2026",
      at: Zone.vietnam.parseInstant("2026-11-12T10:00:00+07:00"), reference: "45/BC-UBND",
      due: LocalDate(iso: "2026-11-12")),
    Fact(
      kind: .returned, unitID: "21025", ruleID: "iso-annual-report", period: "2026",
      at: Zone.vietnam.parseInstant("2026-11-13T15:00:00+07:00"), decidedBy: "Sở Khoa học và Công nghệ",
      reason: "Sở chưa nhận được văn bản số 45/BC-UBND"),
  ]

  @Test(
    "a daemon started mid-season sends messages that read right",
    arguments: [
      "2026-11-18T09:00:00+07:00", "2025-06-10T08:00:00+07:00", "2026-11-13T16:00:00+07:00",
      "2026-11-20T09:00:00+07:00",
    ])
  func started(at start: String) throws {
    let messages = try Self.start(start, facts: Self.facts2026 + Self.returned)
    #expect(!messages.isEmpty)
    if start.hasPrefix("2026-11-13") {
      let returned = try #require(messages.first { $0.template == "returned" })
      #expect(
        returned.message.subject
          == "[Trả lại] Báo cáo ISO năm 2026, hạn trước ngày 15/11/2026 — chưa được chấp nhận")
      #expect(returned.message.text.hasPrefix("Kính gửi: Chủ tịch UBND phường Cẩm Thành; Đầu mối ISO; Văn thư\n"))
    }
    let problems = messages.flatMap(Self.problems)
    #expect(problems.isEmpty, "\(problems.count) problems, first: \(problems.prefix(10).joined(separator: "\n"))")
    if start.hasPrefix("2026-11-20") {
      // 20/11, three working days after Monday 16/11, the last day allowed (15/11 was a Sunday):
      // the annual report is late everywhere and the Department hears it in one digest.
      let digest = try #require(messages.first { $0.template == "digest" && $0.rule == "iso-annual-report" })
      #expect(
        digest.message.subject
          == "[Quá hạn] Báo cáo ISO năm 2026, hạn trước ngày 15/11/2026 — 110 đơn vị quá hạn")
      #expect(digest.message.text.contains("; đã quá hạn 4 ngày\n"))
    }
    if start.hasPrefix("2026-11-18") {
      // 18/11: the annual report is late everywhere; each head hears it with the day it ended.
      let ward = try #require(
        messages.first { $0.template == "overdue" && $0.key.hasPrefix("iso-annual-report/21025@") })
      #expect(ward.message.text.hasPrefix("Kính gửi: Chủ tịch UBND phường Cẩm Thành; Đầu mối ISO\n"))
      #expect(ward.message.text.contains("UBND phường Cẩm Thành chưa hoàn thành \""))
      #expect(ward.message.text.contains("hạn trước ngày 15/11/2026; đã quá hạn 2 ngày.\n"))
      #expect(
        ward.message.text.contains(
          "\nHạn rơi vào ngày nghỉ nên được tính đến hết ngày 16/11/2026 (Thứ Hai), ngày làm việc tiếp theo"))
      // Sở Xây dựng, extended to 30/11, is reminded with the day it was allowed.
      let extended = try #require(messages.first { $0.key.hasPrefix("iso-annual-report/51-SXD@") })
      #expect(extended.message.text.contains("chậm nhất ngày 30/11/2026 (Thứ Hai); còn 13 ngày."))
      let inspections = try #require(messages.first { $0.template == "digest" && $0.rule == "iso-inspection" })
      #expect(
        inspections.message.text.contains(
          "\n- Kiểm tra việc duy trì, áp dụng và cải tiến Hệ thống quản lý chất lượng tại Sở Tư pháp năm 2026: hạn chậm nhất ngày 15/12/2026; còn 28 ngày"
        ))
    }
  }

  @Test("an extension to 30/11 allows 30/11: a report that day is on time")
  func extensionAllowsItsDay() throws {
    let shipped = try Shipped(
      facts: Self.facts2026 + [
        Fact(
          kind: .report, unitID: "51-SXD", ruleID: "iso-annual-report", period: "2026",
          at: Zone.vietnam.parseInstant("2026-11-30T16:00:00+07:00"), reference: "77/BC-SXD")
      ])
    let report = shipped.shipped.report(
      period: Period("2026")!, ruleIDs: ["iso-annual-report"], at: Zone.vietnam.parseInstant("2026-12-01T09:00")!)
    let row = try #require(report.sections.first?.rows.first { $0.unit == "51-SXD" })
    #expect(row.status == .onTime)
    #expect(row.duePhrase == "chậm nhất ngày 30/11/2026")
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
    let sent = Zone.vietnam.parseInstant("2026-11-18T09:00:00+07:00")!
    let ward = UnitRef(id: "21025", validFrom: LocalDate(iso: "2025-07-01"))
    let to = [
      Addressee(
        unit: ward, unitName: "Phường Cẩm Thành", role: "head", name: "Chủ tịch UBND phường Cẩm Thành", address: "a"),
      Addressee(unit: ward, unitName: "Phường Cẩm Thành", role: "iso-focal", name: "Đầu mối ISO", address: "b"),
    ]
    let digest = OutgoingMessage(
      key: "d", channel: "email", rule: "iso-inspection", unit: nil, period: "2026", step: "digest",
      reason: .digest, date: sent, to: to,
      subject:
        "[Nhắc việc] Kiểm tra việc duy trì, áp dụng và cải tiến Hệ thống quản lý chất lượng tại các cơ quan, đơn vị năm 2026 — 2 đơn vị cần theo dõi ngày 18/11/2026",
      text: """
        Kính gửi: Chủ tịch UBND phường Cẩm Thành; Đầu mối ISO, Phường Cẩm Thành

        - Sở Tư pháp: hạn chậm nhất ngày 15/12/2026; đã quá hạn 2 ngày
        - Phường Cẩm Thành: hạn trước ngày 20/11/2026; còn 1 ngày
        Phường Cẩm Thành cần hoàn thành việc. Đơn vị trực thuộc đã báo cáo: 0/0.
        Đơn vị được gia hạn đến 30/11/2026. Báo cáo đầy đủ ở phần HTML của thư; số liệu tính đến 09:00 18/11/2026.
        Số liệu tổng hợp tính đến 09:00 ngày 18/11/2026: Báo cáo UBND tỉnh tổng hợp, tệp đính kèm.
        """,
      html: "<html lang=\"vi\"></html>", payload: "")
    let caught = Self.issue27(
      Rendered(
        key: "d", rule: "iso-inspection", template: "digest", unitKind: "", message: digest,
        itemPrefix: "Kiểm tra việc duy trì"))
    for expected in [
      "a mixed digest does not say", "names the unit as if",
      "a territory asked to act", "named 2 times in the salutation", "a subject of", "an extension without",
      "the figures are in the text part only", "the attachments are named", "jargon", "without \"ngày\"",
      "reads as the reporter", "children counted", "còn 1 ngày where 2 days",
    ] {
      #expect(caught.contains { $0.contains(expected) }, "\(expected) not caught: \(caught)")
    }
  }
}

/// Issue 27's points on what the messages cite and when a deadline ends, checked over the
/// seasons and daemon starts the issue names.
extension ShippedTextTests {
  static let runs = ["2021", "2026", "2026-11-18T09:00:00+07:00", "2025-06-10T08:00:00+07:00"]

  static func messages(of run: String) throws -> [Rendered] {
    run.count == 4 ? try season(Int(run)!, facts: []) : try start(run)
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
    let civil = try Self.start(monday).filter { $0.rule == "iso-annual-report" }
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
    let wednesday = try Self.start("2026-11-18T09:00:00+07:00").filter {
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
    let literal = try Self.start(monday, configPath: config.path).filter {
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
