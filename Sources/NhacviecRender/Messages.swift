import Foundation
public import NhacviecCore

/// Turns a decided notice into its message at the instant it is sent, with the Vietnamese default
/// texts: dates, day counts and "as of" lines are the send instant's, never the plan's.
public struct MessageRenderer: Sendable {
  public let ruleset: Ruleset
  /// For the working days a message speaks of ("the last working day before the deadline").
  public let calendar: WorkingCalendar
  public var zone: Zone { calendar.zone }
  /// The link by which a unit answers a message about its own obligation (`URL/c/TOKEN`), made
  /// at the edge where the signing keys are; nil: no `web:` section, and messages carry none.
  public let replyLink: (@Sendable (NoticeKey) -> String?)?

  public init(
    ruleset: Ruleset, calendar: WorkingCalendar, replyLink: (@Sendable (NoticeKey) -> String?)? = nil
  ) {
    self.ruleset = ruleset
    self.calendar = calendar
    self.replyLink = replyLink
  }

  /// The message for what `Engine.check` found at the send instant, for `addressees` (all of the
  /// decision's by default; fewer when a retry goes only to those not reached yet), with the
  /// optional `parts` its channel sends.
  public func render(
    _ evaluated: SendCheck.Evaluated, to addressees: [Addressee]? = nil, parts: MessageParts = .all
  ) -> OutgoingMessage {
    let decision = evaluated.decision
    let values = self.values(for: evaluated)
    let template: String
    let ruleID: String
    switch decision.content {
    case .obligation(let key, let name, _):
      template = name
      ruleID = key.rule
    case .summary(let key):
      template = "summary"
      ruleID = key.rule
    case .digest:
      template = "digest"
      ruleID = ""
    }
    let custom = ruleset.rule(ruleID)?.templates[template]
    let fallback = MessageRenderer.defaults[template] ?? MessageRenderer.defaults["reminder"]!
    // A subject is one line whatever the data holds: no CR or LF reaches a header.
    let subject = MessageRenderer.fitted(TemplateText.render(custom?.subject ?? fallback.subject!, values).oneLine)
    // A YAML block (`text: |`) ends in a line break that is not part of the message.
    var text = TemplateText.render(custom?.text ?? fallback.text!, values)
    while text.last?.isNewline == true { text.removeLast() }
    // A rule's own text that does not place the link still carries it: a unit must be able to
    // answer whatever its message says.
    let reply = values["reply.url", default: ""]
    if !reply.isEmpty, let own = custom?.text, !MessageRenderer.placesReply(own) {
      text = MessageRenderer.inserting(values["reply.line", default: ""], into: text)
    }
    let key = decision.noticeKey
    let sendDate = zone.localDate(of: evaluated.now)
    let document = evaluated.report.map { ReportDocument($0, zone: zone) }
    // A summary's HTML is the report itself, as `nhacviec report` prints it; a rule that attaches
    // a report keeps its own text and carries the page as a file too.
    let isSummary = template == "summary"
    var html =
      !parts.contains(.html)
      ? ""
      : (isSummary ? document?.html() : nil) ?? TemplateText.render(custom?.html ?? fallback.html!, values, html: true)
    if !reply.isEmpty, !html.isEmpty, let own = custom?.html, !MessageRenderer.placesReply(own) {
      html = MessageRenderer.inserting(html: values["reply.html", default: ""], into: html)
    }
    var attachments: [OutgoingMessage.Attachment] = []
    if let document {
      if !isSummary {
        attachments.append(
          OutgoingMessage.Attachment(
            filename: document.fileName(on: sendDate, extension: "html"), contentType: "text/html; charset=UTF-8",
            data: Data(document.html().utf8)))
      }
      attachments.append(
        OutgoingMessage.Attachment(
          filename: document.fileName(on: sendDate, extension: "csv"), contentType: "text/csv; charset=UTF-8",
          data: Data(document.csv().utf8)))
    }
    let message = OutgoingMessage(
      key: decision.key, channel: decision.channel, rule: ruleID, unit: key?.unit,
      period: key?.period.description ?? "",
      step: key?.step.description ?? "digest", reason: decision.reason, date: evaluated.now,
      to: addressees ?? decision.addressees, subject: subject, text: text, html: html, payload: "",
      attachments: attachments)
    let payload =
      parts.contains(.payload) ? WebhookPayload(message: message, evaluated: evaluated, zone: zone).json() : ""
    return OutgoingMessage(
      key: message.key, channel: message.channel, rule: message.rule, unit: message.unit, period: message.period,
      step: message.step, reason: message.reason, date: message.date, to: message.to, subject: subject, text: text,
      html: html, payload: payload, attachments: attachments)
  }

  /// The values a notice's template can use, as of the send instant.
  public func values(for evaluated: SendCheck.Evaluated) -> [String: String] {
    let decision = evaluated.decision
    let sendDate = zone.localDate(of: evaluated.now)
    // The groups of values below share no name, so the order they are added in does not matter;
    // an obligation's, the most, start the dictionary rather than being merged into it.
    var values: [String: String] = [:]
    var linked = false
    // Who acts for each unit named in the salutation: its People's Committee for a territory.
    var actors: [UnitRef: String] = [:]
    switch decision.content {
    case .obligation(let key, _, _), .summary(let key):
      if let finding = evaluated.findings[key] {
        values = self.values(for: finding, sendDate: sendDate)
        for unit in [finding.unit] + (finding.parent.map { [$0] } ?? []) { actors[UnitRef(unit)] = unit.actor }
      }
      if let report = evaluated.report { values.merge(self.values(for: report)) { _, new in new } }
      if case .obligation(_, _, .unit) = decision.content, let link = link(for: key, to: decision.addressees) {
        values["reply.url"] = link
        values["reply.line"] = MessageRenderer.replyLine(link)
        values["reply.html"] = MessageRenderer.replyHTML(link)
        linked = true
      }
    case .digest(let all):
      // One duty, many units: the duty is named once, as a report names its section.
      var namesUnit = false
      if let first = all.first, let rule = ruleset.rule(first.key.rule) {
        // The period's deadline: what and by when, as the subject says it first.
        values = rule.periodValues(period: first.key.period, calendar: calendar)
        namesUnit = rule.titleNamesUnit
        values["rule.title"] = rule.reportTitle(period: first.key.period, calendar: calendar)
        values["rule.short_title"] = rule.shortTitle(period: first.key.period, calendar: calendar)
        let cited = rule.cited(for: nil, parent: nil, period: first.key.period, calendar: calendar)
        let listed = evaluated.items.compactMap { evaluated.findings[$0.key] }.map { ($0.unit, $0.parent) }
        values["rule.basis"] = rule.citedBasis(for: listed, period: first.key.period, calendar: calendar)
        values["rule.deadline_basis"] = cited.deadlineBasis ?? ""
        values["rule.applies_basis"] = cited.appliesBasis ?? ""
        values["rule.send_to"] = rule.sendTo ?? ""
        values["period"] = first.key.period.description
        values["period.name"] = first.key.period.vietnamese
      }
      values["count"] = String(evaluated.items.count)
      var lines: [String] = []
      var rows: [String] = []
      var overdue = 0
      for item in evaluated.items {
        guard let finding = evaluated.findings[item.key] else { continue }
        for unit in [finding.unit] + (finding.parent.map { [$0] } ?? []) { actors[UnitRef(unit)] = unit.actor }
        if finding.state == .overdue { overdue += 1 }
        // Read with defaults, never forced: a renderer must not fall over a value its rules do
        // not give (its snapshot's engine judged the item, so they should).
        let v = self.values(for: finding, sendDate: sendDate)
        let status = v["days.phrase", default: ""]
        // A duty done about the unit by the reader (an inspection of it) is named by its own
        // title: the unit itself is not late.
        let unit = namesUnit ? v["rule.title", default: finding.unit.name] : v["unit.actor", default: finding.unit.name]
        let due = v["due.phrase", default: ""]
        let link = self.link(for: item.key, to: decision.addressees)
        lines.append(
          "- \(unit): hạn \(due); \(status)" + (link.map { "\n  \(MessageRenderer.replyPrompt)\n  \($0)" } ?? ""))
        let answer = link.map { "<br>" + MessageRenderer.replyAnchor($0, text: MessageRenderer.replyPrompt) } ?? ""
        rows.append(
          "<tr><td>\(TemplateText.escapeHTML(unit))</td>"
            + "<td>\(TemplateText.escapeHTML(due))</td><td>\(TemplateText.escapeHTML(status))\(answer)</td></tr>")
        linked = linked || link != nil
      }
      values["items"] = lines.joined(separator: "\n")
      values["items.html"] = rows.joined(separator: "\n")
      values["items.heading"] = namesUnit ? "Việc" : "Đơn vị"
      // Whether the digest chases late work or reminds of work to come, as a notice's subject does.
      let count = evaluated.items.count
      let noun = namesUnit ? "việc" : "đơn vị"
      values["digest.label"] = overdue == count ? "[Quá hạn]" : "[Nhắc việc]"
      // Short for the subject, whole for the text.
      values["count.phrase"] =
        overdue == count
        ? "\(count) \(noun) quá hạn" : overdue == 0 ? "\(count) \(noun)" : "\(count) \(noun), \(overdue) quá hạn"
      values["count.text"] =
        overdue == count
        ? "\(count) \(noun) chưa hoàn thành, đều đã quá hạn"
        : overdue == 0
          ? "\(count) \(noun) chưa hoàn thành"
          : "\(count) \(noun) chưa hoàn thành, trong đó \(overdue) \(noun) đã quá hạn"
    }
    values["key"] = decision.key
    values["step"] = decision.noticeKey?.step.description ?? "digest"
    if case .digest = decision.content {
      values["reply.note"] = linked ? MessageRenderer.replyNoteDigest : MessageRenderer.replyNote
    } else {
      values["reply.note"] = linked ? MessageRenderer.replyNoteWithLink : MessageRenderer.replyNote
    }
    values["reply.done"] = linked ? MessageRenderer.replyDoneWithLink : MessageRenderer.replyDone
    values["reason"] = decision.reason.rawValue
    values["sent.date"] = sendDate.vietnamese
    values["recipients"] = MessageRenderer.salutation(decision.addressees, actors: actors)
    return values
  }

  /// A summary's figures: `summary` holds one paragraph per rule summarised.
  func values(for report: ConsolidatedReport) -> [String: String] {
    var paragraphs: [String] = []
    for section in report.sections {
      if let error = section.error {
        paragraphs.append("\(section.title): chưa đánh giá được (\(error)).")
        continue
      }
      let t = section.total
      // On time, late and missing always; the rest only when some unit is so.
      let counts = ReportDocument.statuses(section).filter {
        [.onTime, .late, .missing].contains($0) || t.count($0) > 0
      }.map { "\($0.vietnamese.lowercased()): \(t.count($0))" }
      var lines = [
        "\(section.title) (hạn \(section.duePhrase)):",
        "- " + counts.joined(separator: "; ").prefix(1).uppercased() + counts.joined(separator: "; ").dropFirst()
          + " (trên tổng số \(t.total) đơn vị).",
      ]
      let missing = section.rows.filter { $0.status == .missing }.map(\.unitName)
      if !missing.isEmpty {
        // "; " between names: a unit's own name may hold a comma (Sở Văn hóa, Thể thao và Du lịch).
        let shown = missing.prefix(20).joined(separator: "; ")
        lines.append("- Chưa nộp: \(shown)\(missing.count > 20 ? " và \(missing.count - 20) đơn vị khác" : "").")
      }
      paragraphs.append(lines.joined(separator: "\n"))
    }
    if paragraphs.isEmpty { paragraphs.append("Trong kỳ này không có đơn vị nào phải thực hiện.") }
    let document = ReportDocument(report, zone: zone)
    let summary = paragraphs.joined(separator: "\n\n")
    let asOf = "\(zone.timeOfDay(of: report.asOf)) ngày \(zone.localDate(of: report.asOf).vietnamese)"
    return [
      "summary": summary, "report.heading": document.heading, "report.as_of": asOf,
      "scope.name": report.scopeName ?? "",
      // A notice that carries the report gives its figures in both parts, text and HTML: most
      // mail clients show only the HTML one.
      "report.figures": "\nSố liệu tổng hợp tính đến \(asOf):\n\n\(summary)",
      "report.figures.html": "<p>Số liệu tổng hợp tính đến \(TemplateText.escapeHTML(asOf)):</p>\n"
        + paragraphs.map {
          "<p>" + TemplateText.escapeHTML($0).replacingOccurrences(of: "\n", with: "<br>\n") + "</p>"
        }.joined(separator: "\n"),
      "report.files": "Báo cáo tổng hợp đầy đủ và bảng số liệu ở các tệp đính kèm (HTML, CSV).",
    ]
  }

  /// One obligation's values, its day counts from `sendDate`.
  ///
  /// Days are counted from the named day `D` ("còn 16 ngày" on 30/10 for 15/11). The last day on
  /// which the duty can be done on time (the day before `D` for "trước ngày D", `D` itself for
  /// "chậm nhất ngày D") reads "hôm nay là hạn cuối"; a working day after which none is left
  /// before it, "hôm nay là ngày làm việc cuối cùng trước hạn". Lateness is counted from the last
  /// day: for "trước ngày 15/11", 15/11 is the first day late ("đã quá hạn 1 ngày").
  public func values(for finding: Finding, sendDate: LocalDate) -> [String: String] {
    let rule = ruleset.rule(finding.ruleID)
    var values = rule?.titleValues(for: finding, zone: zone) ?? [:]
    // The duty's name from its own values, as `Rule.title(for:zone:)` would compute them again.
    let title = rule.map { TemplateText.render($0.title, values) } ?? finding.ruleID
    // Room for all of them and a notice's own: the table is not rebuilt as they are added.
    values.reserveCapacity(32)
    let due = rule?.due(for: finding) ?? DueSpec(anchor: .date(month: 1, day: 1, yearOffset: 0), convention: .before)
    let last = due.lastDay(ofDeadline: finding.deadline, calendar: calendar)
    let (left, late) = due.dayCounts(ofDeadline: finding.deadline, calendar: calendar, on: sendDate)
    values["days.left"] = String(left)
    values["days.overdue"] = String(late)
    values["due.last_day"] = last.vietnamese
    let phrase: String
    if sendDate > last {
      phrase = "đã quá hạn \(late) ngày"
    } else if sendDate == last {
      phrase = "hôm nay là hạn cuối"
    } else if calendar.isWorkingDay(sendDate),
      calendar.workingDays(from: sendDate.adding(days: 1), to: last.adding(days: 1)) == 0
    {
      phrase = "hôm nay là ngày làm việc cuối cùng trước hạn"
    } else {
      phrase = "còn \(left) ngày"
    }
    values["days.phrase"] = phrase
    values["state"] = finding.state.vietnamese
    let cited = rule?.cited(for: finding.unit, parent: finding.parent, period: finding.period, calendar: calendar)
    values["rule.basis"] = cited?.basis ?? ""
    values["rule.deadline_basis"] = cited?.deadlineBasis ?? ""
    values["rule.applies_basis"] = cited?.appliesBasis ?? ""
    values["rule.send_to"] = rule?.sendTo ?? ""
    values["rule.title"] = title
    values["rule.short_title"] = rule?.shortTitle(period: finding.period, calendar: calendar) ?? title
    values["unit.actor"] = finding.unit.actor
    var detail: [String] = []
    let a = finding.assessment
    if let total = a.childrenTotal, let done = a.childrenIn, total > 0 {
      detail.append("Đơn vị trực thuộc đã báo cáo: \(done)/\(total).")
      if !a.missingChildren.isEmpty {
        detail.append("Chưa báo cáo: \(a.missingChildren.map(\.name).joined(separator: "; ")).")
      }
    }
    if let minimum = a.minimumAmount {
      let basis = (rule?.kind as? BudgetKind)?.minimumBasis.map { " (\($0))" } ?? ""
      detail.append("Mức kinh phí tối thiểu: \(Money.vietnamese(minimum))\(basis).")
    }
    if let note = a.note { detail.append("Ghi nhận hiện tại: \(note).") }
    // The letter's day is still cited; the reader learns why the last day is a later one.
    if last != due.lastDay(ofDeadline: finding.deadline, zone: zone) {
      let until = due.time.map { "\($0) ngày" } ?? "hết ngày"
      detail.append(
        "Hạn rơi vào ngày nghỉ nên được tính đến \(until) \(last.vietnamese) (\(last.weekday.vietnamese)), ngày làm "
          + "việc tiếp theo (khoản 5 Điều 148 Bộ luật Dân sự năm 2015).")
    }
    if let ext = finding.extensionFact, let due = ext.due {
      // The decision that allowed it, as officials cite one: its number, then who signed it.
      let decision = [ext.reference.map { "số \($0)" }, ext.decidedBy.map { "của \($0)" }].compactMap { $0 }
      detail.append(
        "Đơn vị được gia hạn đến hết ngày \(due.vietnamese)"
          + (decision.isEmpty ? "" : " theo Quyết định " + decision.joined(separator: " ")) + ".")
    }
    if let returned = finding.returnedFact {
      if let word = finding.returnedWord, word.kind == .request {
        values["verdict.what"] = "Đề nghị gia hạn" + (word.due.map { " đến ngày \($0.vietnamese)" } ?? "")
      } else {
        let word = finding.returnedWord
        var what = "Thông tin đơn vị báo đã gửi báo cáo"
        if let reference = word?.reference {
          what += " (số \(reference)" + (word?.due.map { ", ngày \($0.vietnamese)" } ?? "") + ")"
        }
        values["verdict.what"] = what
      }
      values["verdict.reason"] = returned.reason ?? ""
      values["verdict.date"] = returned.at.map { zone.localDate(of: $0).vietnamese } ?? ""
    }
    values["detail"] = detail.joined(separator: "\n")
    values["detail.html"] = detail.map { "<p>\(TemplateText.escapeHTML($0))</p>" }.joined(separator: "\n")
    return values
  }

  /// The salutation: each unit named once, as an official letter names it. A title that holds
  /// the unit's name stands alone and names it ("Chủ tịch UBND xã Tịnh Khê; Đầu mối ISO"); roles
  /// that do not are gathered before the unit's name ("Đầu mối ISO và Văn thư, Sở Tư pháp"), which
  /// for a territory is its People's Committee's (`actors`).
  static func salutation(_ addressees: [Addressee], actors: [UnitRef: String] = [:]) -> String {
    var order: [UnitRef] = []
    var byUnit: [UnitRef: [Addressee]] = [:]
    for addressee in addressees {
      if byUnit[addressee.unit] == nil { order.append(addressee.unit) }
      byUnit[addressee.unit, default: []].append(addressee)
    }
    return order.map { ref in
      let group = byUnit[ref] ?? []
      let unitName = group.first?.unitName ?? ""
      let unit = actors[ref] ?? unitName
      var titled: [String] = []
      var roles: [String] = []
      for addressee in group {
        guard let name = addressee.name, !name.isEmpty else { continue }
        let folded = name.lowercased()
        if !unitName.isEmpty, folded.contains(unitName.lowercased()) || folded.contains(unit.lowercased()) {
          if !titled.contains(name) { titled.append(name) }
        } else if !roles.contains(name) {
          roles.append(name)
        }
      }
      if !titled.isEmpty { return (titled + roles).joined(separator: "; ") }
      if roles.isEmpty || unit.isEmpty { return roles.isEmpty ? unit : roles.joined(separator: " và ") }
      return roles.joined(separator: " và ") + ", " + unit
    }.joined(separator: "; ")
  }

  /// A subject that fits an inbox line: at most `limit` characters, cut at a word with "…" when
  /// a long name makes it longer. Subjects say what and by when first, so a cut loses the least.
  static func fitted(_ subject: String, limit: Int = 100) -> String {
    guard subject.count > limit else { return subject }
    var cut = String(subject.prefix(limit - 1))
    if let space = cut.lastIndex(of: " ") { cut = String(cut[..<space]) }
    while let last = cut.last, [",", ";", ":", "—", " "].contains(last) { cut.removeLast() }
    return cut + "…"
  }

  /// The link for an obligation's rung when the message speaks to the unit that owes it, and to
  /// no one else: a link lets whoever holds it answer for the unit, so it never goes to a
  /// superior, to the Department about another unit, or to a mailbox shared with another unit.
  func link(for key: NoticeKey, to addressees: [Addressee]) -> String? {
    guard let replyLink, !addressees.isEmpty, addressees.allSatisfy({ $0.unit == key.unit }) else { return nil }
    return replyLink(key)
  }

  static let replyPrompt = "Đơn vị đã gửi báo cáo hoặc cần xin gia hạn? Trả lời tại:"
  static let replyNote = "xin không trả lời thư này."
  static let replyNoteDigest = "thư trả lời qua email không được đọc; đơn vị trả lời qua đường dẫn ghi dưới tên đơn vị."
  /// What a unit that has done its duty should do: ignore the message, or say so by its link.
  static let replyDone = "Nếu đơn vị đã hoàn thành, xin bỏ qua thư này."
  static let replyDoneWithLink = "Nếu đơn vị đã hoàn thành, xin xác nhận qua đường dẫn dưới đây."
  static let replyNoteWithLink = "thư trả lời qua email không được đọc; xin trả lời qua đường dẫn ở trên."

  /// The link on a line of its own: nothing around it for a mail reader to take into the address.
  static func replyLine(_ link: String) -> String { "\(replyPrompt)\n\(link)\n" }

  /// An anchor showing the address itself unless `text` is given: a printed message still
  /// carries it.
  static func replyAnchor(_ link: String, text: String? = nil) -> String {
    let escaped = TemplateText.escapeHTML(link)
    return "<a href=\"\(escaped)\">\(text.map(TemplateText.escapeHTML) ?? escaped)</a>"
  }

  static func replyHTML(_ link: String) -> String {
    "<p>\(TemplateText.escapeHTML(replyPrompt)) \(replyAnchor(link))</p>"
  }

  /// Whether a template says where the link goes.
  static func placesReply(_ template: String) -> Bool {
    TemplateText.placeholders(in: template).contains { ["reply.url", "reply.line", "reply.html"].contains($0) }
  }

  /// `line` before the footer of a rule's own text (its line "Đây là thư nhắc việc tự động"),
  /// else at its end.
  static func inserting(_ line: String, into text: String) -> String {
    var lines = text.components(separatedBy: "\n")
    let block = line.hasSuffix("\n") ? String(line.dropLast()) : line
    if let footer = lines.firstIndex(where: { $0.hasPrefix("Đây là thư nhắc việc tự động") }) {
      lines.insert(contentsOf: block.components(separatedBy: "\n") + [""], at: footer)
      return lines.joined(separator: "\n")
    }
    return text + "\n\n" + block
  }

  /// `paragraph` before `</body>` of a rule's own HTML, else at its end.
  static func inserting(html paragraph: String, into html: String) -> String {
    guard let body = html.range(of: "</body>", options: [.caseInsensitive, .backwards]) else {
      return html + "\n" + paragraph
    }
    return html.replacingCharacters(in: body, with: paragraph + "\n</body>")
  }

  static let footer = """
    {{reply.line}}
    Đây là thư nhắc việc tự động do hệ thống nhacviec gửi; {{reply.note}}
    Mã thông báo: {{key}}
    """

  static let htmlFooter = """
    {{reply.html}}
    <p style="color:#666;font-size:small">Đây là thư nhắc việc tự động do hệ thống nhacviec gửi; {{reply.note}}<br>Mã thông báo: {{key}}</p>
    """

  static func html(_ body: String) -> String {
    """
    <!DOCTYPE html>
    <html lang="vi"><head><meta charset="utf-8"><title>{{rule.title}}</title></head>
    <body style="font-family:sans-serif">
    \(body)
    \(htmlFooter)
    </body></html>
    """
  }

  /// The default texts, in Vietnamese, for each kind of step.
  public static let defaults: [String: MessageTemplate] = [
    "reminder": MessageTemplate(
      subject: "[Nhắc việc] {{rule.short_title}} — hạn {{due.phrase}}",
      text: """
        Kính gửi: {{recipients}}

        Hệ thống nhắc việc tự động xin nhắc: {{unit.actor}} cần hoàn thành "{{rule.title}}" {{due.phrase}} ({{due.weekday}}); {{days.phrase}}.
        {{detail}}
        {{report.figures}}

        Căn cứ: {{rule.basis}}.
        Thời hạn: {{rule.deadline_basis}}.
        Phạm vi áp dụng: {{rule.applies_basis}}.
        Nơi nhận báo cáo: {{rule.send_to}}.
        {{report.files}}
        {{reply.done}}

        \(footer)
        """,
      html: html(
        """
        <p>Kính gửi: {{recipients}}</p>
        <p>Hệ thống nhắc việc tự động xin nhắc: <strong>{{unit.actor}}</strong> cần hoàn thành “{{rule.title}}” <strong>{{due.phrase}}</strong> ({{due.weekday}}); {{days.phrase}}.</p>
        {{detail.html}}
        {{report.figures.html}}
        <p>Căn cứ: {{rule.basis}}.</p>
        <p>Thời hạn: {{rule.deadline_basis}}.</p>
        <p>Phạm vi áp dụng: {{rule.applies_basis}}.</p>
        <p>Nơi nhận báo cáo: {{rule.send_to}}.</p>
        <p>{{report.files}}</p>
        <p>{{reply.done}}</p>
        """)),
    "overdue": MessageTemplate(
      subject: "[Quá hạn] {{rule.short_title}}, hạn {{due.phrase}}",
      text: """
        Kính gửi: {{recipients}}

        Hệ thống nhắc việc tự động thông báo: {{unit.actor}} chưa hoàn thành "{{rule.title}}", hạn {{due.phrase}}; {{days.phrase}}.
        {{detail}}
        {{report.figures}}

        Căn cứ: {{rule.basis}}.
        Thời hạn: {{rule.deadline_basis}}.
        Phạm vi áp dụng: {{rule.applies_basis}}.
        Nơi nhận báo cáo: {{rule.send_to}}.
        {{report.files}}
        Đề nghị đơn vị khẩn trương hoàn thành. {{reply.done}}

        \(footer)
        """,
      html: html(
        """
        <p>Kính gửi: {{recipients}}</p>
        <p>Hệ thống nhắc việc tự động thông báo: <strong>{{unit.actor}}</strong> chưa hoàn thành “{{rule.title}}”, hạn {{due.phrase}}; <strong>{{days.phrase}}</strong>.</p>
        {{detail.html}}
        {{report.figures.html}}
        <p>Căn cứ: {{rule.basis}}.</p>
        <p>Thời hạn: {{rule.deadline_basis}}.</p>
        <p>Phạm vi áp dụng: {{rule.applies_basis}}.</p>
        <p>Nơi nhận báo cáo: {{rule.send_to}}.</p>
        <p>{{report.files}}</p>
        <p>Đề nghị đơn vị khẩn trương hoàn thành. {{reply.done}}</p>
        """)),
    "escalation": MessageTemplate(
      subject: "[Quá hạn] {{rule.short_title}}, hạn {{due.phrase}} — {{unit.actor}}",
      text: """
        Kính gửi: {{recipients}}

        Hệ thống nhắc việc tự động xin báo cáo: {{unit.actor}} chưa hoàn thành "{{rule.title}}", hạn {{due.phrase}}; {{days.phrase}}.
        {{detail}}
        {{report.figures}}

        Căn cứ: {{rule.basis}}.
        Thời hạn: {{rule.deadline_basis}}.
        Phạm vi áp dụng: {{rule.applies_basis}}.
        Nơi nhận báo cáo: {{rule.send_to}}.
        {{report.files}}
        Đề nghị đôn đốc đơn vị khẩn trương thực hiện.

        \(footer)
        """,
      html: html(
        """
        <p>Kính gửi: {{recipients}}</p>
        <p>Hệ thống nhắc việc tự động xin báo cáo: <strong>{{unit.actor}}</strong> chưa hoàn thành “{{rule.title}}”, hạn {{due.phrase}}; <strong>{{days.phrase}}</strong>.</p>
        {{detail.html}}
        {{report.figures.html}}
        <p>Căn cứ: {{rule.basis}}.</p>
        <p>Thời hạn: {{rule.deadline_basis}}.</p>
        <p>Phạm vi áp dụng: {{rule.applies_basis}}.</p>
        <p>Nơi nhận báo cáo: {{rule.send_to}}.</p>
        <p>{{report.files}}</p>
        <p>Đề nghị đôn đốc đơn vị khẩn trương thực hiện.</p>
        """)),
    "returned": MessageTemplate(
      subject: "[Trả lại] {{rule.short_title}}, hạn {{due.phrase}} — chưa được chấp nhận",
      text: """
        Kính gửi: {{recipients}}

        {{verdict.what}} của {{unit.actor}} về việc "{{rule.title}}" đã được xem xét ngày {{verdict.date}} và chưa được chấp nhận.
        Lý do: {{verdict.reason}}

        {{unit.actor}} cần hoàn thành "{{rule.title}}" {{due.phrase}} ({{due.weekday}}); {{days.phrase}}. Hệ thống tiếp tục nhắc việc cho đến khi đơn vị hoàn thành.
        {{detail}}

        Căn cứ: {{rule.basis}}.
        Thời hạn: {{rule.deadline_basis}}.
        Phạm vi áp dụng: {{rule.applies_basis}}.
        Nơi nhận báo cáo: {{rule.send_to}}.

        \(footer)
        """,
      html: html(
        """
        <p>Kính gửi: {{recipients}}</p>
        <p>{{verdict.what}} của <strong>{{unit.actor}}</strong> về việc “{{rule.title}}” đã được xem xét ngày {{verdict.date}} và <strong>chưa được chấp nhận</strong>.</p>
        <p>Lý do: {{verdict.reason}}</p>
        <p><strong>{{unit.actor}}</strong> cần hoàn thành “{{rule.title}}” <strong>{{due.phrase}}</strong> ({{due.weekday}}); <strong>{{days.phrase}}</strong>. Hệ thống tiếp tục nhắc việc cho đến khi đơn vị hoàn thành.</p>
        {{detail.html}}
        <p>Căn cứ: {{rule.basis}}.</p>
        <p>Thời hạn: {{rule.deadline_basis}}.</p>
        <p>Phạm vi áp dụng: {{rule.applies_basis}}.</p>
        <p>Nơi nhận báo cáo: {{rule.send_to}}.</p>
        """)),
    "summary": MessageTemplate(
      subject: "[Nhắc việc] {{rule.short_title}} — số liệu đến ngày {{sent.date}}",
      text: """
        Kính gửi: {{recipients}}

        Hệ thống nhắc việc tự động gửi {{report.heading}}, số liệu tính đến {{report.as_of}}.

        {{summary}}

        Bảng số liệu chi tiết của từng đơn vị ở tệp CSV đính kèm.

        \(footer)
        """,
      html: ""),
    "digest": MessageTemplate(
      subject: "{{digest.label}} {{rule.short_title}}, hạn {{due.phrase}} — {{count.phrase}}",
      text: """
        Kính gửi: {{recipients}}

        Hệ thống nhắc việc tự động tổng hợp tình hình thực hiện "{{rule.title}}", hạn {{due.phrase}}, đến ngày {{sent.date}}: {{count.text}}.
        {{items}}

        Căn cứ: {{rule.basis}}.
        Thời hạn: {{rule.deadline_basis}}.
        Phạm vi áp dụng: {{rule.applies_basis}}.
        Nơi nhận báo cáo: {{rule.send_to}}.

        \(footer)
        """,
      html: html(
        """
        <p>Kính gửi: {{recipients}}</p>
        <p>Hệ thống nhắc việc tự động tổng hợp tình hình thực hiện “{{rule.title}}”, hạn {{due.phrase}}, đến ngày {{sent.date}}: {{count.text}}.</p>
        <table border="1" cellpadding="4" style="border-collapse:collapse">
        <tr><th>{{items.heading}}</th><th>Thời hạn</th><th>Tình trạng</th></tr>
        {{items.html}}
        </table>
        <p>Căn cứ: {{rule.basis}}.</p>
        <p>Thời hạn: {{rule.deadline_basis}}.</p>
        <p>Phạm vi áp dụng: {{rule.applies_basis}}.</p>
        <p>Nơi nhận báo cáo: {{rule.send_to}}.</p>
        """)),
  ]
}
