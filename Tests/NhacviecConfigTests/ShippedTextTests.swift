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
  static func season(_ year: Int, facts: [Fact]) throws -> [Rendered] {
    let deployment = try DeploymentLoader().load(
      configPath: repositoryRoot.appendingPathComponent("Rules/nhacviec.yaml").path)
    let shipped = deployment.engine(facts: FactBook(facts))
    let settings = deployment.ruleset.settings
    let alone = Engine(
      ruleset: Ruleset(
        rules: deployment.ruleset.rules, channels: deployment.ruleset.channels,
        settings: PlanSettings(sendWindow: settings.sendWindow, digestMinimum: 0)),
      context: shipped.context)
    let renderer = MessageRenderer(ruleset: deployment.ruleset, calendar: deployment.calendar)
    let zone = deployment.zone
    let (from, to) = (zone.parseInstant("\(year)-04-01")!, zone.parseInstant("\(year + 1)-01-31T23:59")!)
    let digests = shipped.simulate(from: from, to: to).filter { $0.reason == .digest }
    var out: [Rendered] = []
    for decision in digests + alone.simulate(from: from, to: to) {
      let engine = decision.reason == .digest ? shipped : alone
      guard case .send(let evaluated) = engine.check(decision, at: decision.scheduledAt, window: false) else {
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
