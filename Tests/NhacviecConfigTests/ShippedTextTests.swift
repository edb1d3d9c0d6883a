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
  }

  /// The shipped configuration with `facts`: the engine as shipped, and one that sends every
  /// notice alone (digests off), so that each template is read for every kind of unit, not only
  /// those few enough to go alone.
  struct Shipped {
    let deployment: Deployment
    let shipped: Engine
    let alone: Engine
    let renderer: MessageRenderer

    init(facts: [Fact]) throws {
      deployment = try DeploymentLoader().load(
        configPath: repositoryRoot.appendingPathComponent("Rules/nhacviec.yaml").path)
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
            message: renderer.render(evaluated), itemPrefix: prefix))
      }
      return out
    }
  }

  /// Every message of the seasons from April to January of `year`, with a few facts that bring
  /// out the optional lines (an extension, a budget line below the minimum).
  static func season(_ year: Int, facts: [Fact]) throws -> [Rendered] {
    let shipped = try Shipped(facts: facts)
    let zone = shipped.deployment.zone
    let (from, to) = (zone.parseInstant("\(year)-04-01")!, zone.parseInstant("\(year + 1)-01-31T23:59")!)
    return shipped.rendered { $0.simulate(from: from, to: to) }
  }

  /// What a daemon started at `start` with an empty journal sends on its first pass: the newest
  /// rung of everything under way, the messages officials read after a restart.
  static func start(_ start: String, facts: [Fact] = []) throws -> [Rendered] {
    let shipped = try Shipped(facts: facts)
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
    // 11. "còn N ngày": the days on which the duty can still be met, today included.
    let sent = Zone.vietnam.localDate(of: m.date)
    let counted = try! NSRegularExpression(
      pattern: #"(trước|chậm nhất) ngày ([0-9]{2})/([0-9]{2})/([0-9]{4})[^;]*; còn ([0-9]+) ngày"#)
    for line in body {
      for match in counted.matches(in: line, range: NSRange(line.startIndex..., in: line)) {
        let field = { (i: Int) in Int(line[Range(match.range(at: i), in: line)!])! }
        let named = LocalDate(year: field(4), month: field(3), day: field(2))!
        let last = line[Range(match.range(at: 1), in: line)!] == "trước" ? named.adding(days: -1) : named
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
    arguments: ["2026-11-18T09:00:00+07:00", "2025-06-10T08:00:00+07:00", "2026-11-13T16:00:00+07:00"])
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
    if start.hasPrefix("2026-11-18") {
      // 18/11: the annual report is late everywhere; the digest says so.
      let digest = try #require(messages.first { $0.template == "digest" && $0.rule == "iso-annual-report" })
      #expect(
        digest.message.subject
          == "[Quá hạn] Báo cáo ISO năm 2026, hạn trước ngày 15/11/2026 — 109 đơn vị quá hạn")
      let ward = try #require(
        messages.first { $0.template == "overdue" && $0.key.hasPrefix("iso-annual-report/21025@") })
      #expect(ward.message.text.hasPrefix("Kính gửi: Chủ tịch UBND phường Cẩm Thành; Đầu mối ISO\n"))
      #expect(ward.message.text.contains("UBND phường Cẩm Thành chưa hoàn thành \""))
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
