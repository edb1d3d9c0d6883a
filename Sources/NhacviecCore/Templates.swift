import Foundation

/// A message's parts as templates with `{{name}}` placeholders. A nil part uses the default.
public struct MessageTemplate: Sendable, Hashable {
  public var subject: String?
  public var text: String?
  public var html: String?

  public init(subject: String? = nil, text: String? = nil, html: String? = nil) {
    self.subject = subject
    self.text = text
    self.html = html
  }

  public static let names = ["reminder", "overdue", "escalation", "digest"]
  /// The templates a rule can override; the digest gathers many rules and is the deployment's.
  public static let ruleTemplateNames = ["reminder", "overdue", "escalation", "summary"]
}

/// A notice rendered to what leaves through a channel.
public struct RenderedMessage: Sendable, Hashable {
  public let subject: String
  public let text: String
  public let html: String
}

/// `{{name}}` substitution: nothing more, so a template cannot run code or loop forever.
public enum TemplateText {
  /// The placeholder names a template uses.
  public static func placeholders(in template: String) -> [String] {
    var names: [String] = []
    var rest = Substring(template)
    while let open = rest.range(of: "{{") {
      guard let close = rest[open.upperBound...].range(of: "}}") else { break }
      names.append(rest[open.upperBound..<close.lowerBound].trimmingCharacters(in: .whitespaces))
      rest = rest[close.upperBound...]
    }
    return names
  }

  public static func render(_ template: String, _ values: [String: String], html: Bool = false) -> String {
    var output = ""
    var rest = Substring(template)
    while let open = rest.range(of: "{{") {
      guard let close = rest[open.upperBound...].range(of: "}}") else { break }
      output += rest[..<open.lowerBound]
      let name = rest[open.upperBound..<close.lowerBound].trimmingCharacters(in: .whitespaces)
      let value = values[name] ?? ""
      // Values named `*.html` are already markup built from escaped parts.
      output += html && !name.hasSuffix(".html") ? escapeHTML(value) : value
      rest = rest[close.upperBound...]
    }
    return output + rest
  }

  public static func escapeHTML(_ text: String) -> String {
    var result = ""
    result.reserveCapacity(text.utf8.count)
    for character in text {
      switch character {
      case "&": result += "&amp;"
      case "<": result += "&lt;"
      case ">": result += "&gt;"
      case "\"": result += "&quot;"
      case "'": result += "&#39;"
      default: result.append(character)
      }
    }
    return result
  }
}

/// Turns notices into messages, with the Vietnamese default texts.
public struct MessageRenderer: Sendable {
  public let ruleset: Ruleset
  public let zone: Zone

  public init(ruleset: Ruleset, zone: Zone) {
    self.ruleset = ruleset
    self.zone = zone
  }

  /// Names a template may use; `check` rejects any other.
  public static let variables: Set<String> = [
    "rule.id", "rule.title", "rule.basis", "unit.id", "unit.name", "parent.name", "period", "period.name",
    "due", "due.phrase", "due.weekday", "days.left", "days.overdue", "state", "step", "reason", "key",
    "recipients", "detail", "detail.html", "sent.date", "count", "items", "items.html", "summary", "report.heading",
    "report.as_of", "scope.name",
  ]

  /// Names a rule's title may use: the obligation's own, since a title is rendered before the
  /// message around it.
  public static let titleVariables: Set<String> = [
    "rule.id", "unit.id", "unit.name", "parent.name", "period", "period.name", "due", "due.phrase", "due.weekday",
  ]

  public func render(_ notice: Notice) -> RenderedMessage {
    let values = self.values(for: notice)
    let custom = ruleset.rule(notice.ruleID)?.templates[notice.template]
    let fallback = MessageRenderer.defaults[notice.template] ?? MessageRenderer.defaults["reminder"]!
    let subject = TemplateText.render(custom?.subject ?? fallback.subject!, values)
    return RenderedMessage(
      // A subject is one line whatever the data holds: no CR or LF reaches a header.
      subject: subject.split(whereSeparator: \.isNewline).joined(separator: " "),
      text: TemplateText.render(custom?.text ?? fallback.text!, values),
      // A summary's HTML is the report itself, as `nhacviec report` prints it.
      html: notice.report?.html(zone: zone) ?? TemplateText.render(custom?.html ?? fallback.html!, values, html: true))
  }

  /// The values a notice's template can use.
  public func values(for notice: Notice) -> [String: String] {
    let sendDate = zone.localDate(of: notice.at)
    var values: [String: String] = [
      "key": notice.key, "step": notice.step, "reason": notice.reason.rawValue, "sent.date": sendDate.vietnamese,
      "recipients": notice.recipients.map { "\($0.contact.name.map { "\($0), " } ?? "")\($0.unitName)" }
        .joined(separator: "; "),
    ]
    if notice.items.isEmpty, let finding = notice.finding {
      values.merge(self.values(for: finding, sendDate: sendDate)) { _, new in new }
      if let report = notice.report { values.merge(self.values(for: report)) { _, new in new } }
    } else {
      values["count"] = String(notice.items.count)
      var lines: [String] = []
      var rows: [String] = []
      for item in notice.items {
        guard let finding = item.finding else { continue }
        let v = self.values(for: finding, sendDate: sendDate)
        let status =
          finding.state == .overdue
          ? "quá hạn \(v["days.overdue"]!) ngày" : "còn \(v["days.left"]!) ngày"
        lines.append("- \(v["unit.name"]!): \(v["rule.title"]!) — hạn \(v["due"]!), \(status)")
        rows.append(
          "<tr><td>\(TemplateText.escapeHTML(v["unit.name"]!))</td><td>\(TemplateText.escapeHTML(v["rule.title"]!))</td>"
            + "<td>\(v["due"]!)</td><td>\(TemplateText.escapeHTML(status))</td></tr>")
      }
      values["items"] = lines.joined(separator: "\n")
      values["items.html"] = rows.joined(separator: "\n")
    }
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
      var lines = [
        "\(section.title) (hạn \(section.duePhrase)):",
        "- Đúng hạn: \(t.count(.onTime)); trễ hạn: \(t.count(.late)); chưa nộp: \(t.count(.missing)); chưa đến hạn: \(t.count(.pending)); được gia hạn: \(t.count(.extended)); được miễn: \(t.count(.exempt)) (trên tổng số \(t.total) đơn vị).",
      ]
      let missing = section.rows.filter { $0.status == .missing }.map(\.unitName)
      if !missing.isEmpty {
        let shown = missing.prefix(20).joined(separator: ", ")
        lines.append("- Chưa nộp: \(shown)\(missing.count > 20 ? " và \(missing.count - 20) đơn vị khác" : "").")
      }
      paragraphs.append(lines.joined(separator: "\n"))
    }
    return [
      "summary": paragraphs.joined(separator: "\n\n"), "report.heading": report.heading,
      "report.as_of": zone.parseInstant(report.asOf).map(zone.vietnamese) ?? report.asOf,
      "scope.name": report.scopeName ?? "",
    ]
  }

  public func values(for finding: Finding, sendDate: LocalDate) -> [String: String] {
    let rule = ruleset.rule(finding.ruleID)
    let namedDate: LocalDate
    let phrase: String
    let convention = rule?.due.convention ?? .before
    switch convention {
    case .before:
      namedDate = zone.localDate(of: finding.deadline)
      phrase = "trước ngày \(namedDate.vietnamese)"
    case .by:
      namedDate = zone.localDate(of: finding.deadline).adding(days: -1)
      phrase = "chậm nhất ngày \(namedDate.vietnamese)"
    case .at(let time):
      namedDate = zone.localDate(of: finding.deadline)
      phrase = "trước \(time) ngày \(namedDate.vietnamese)"
    }
    let deadlineDate = zone.localDate(of: finding.deadline)
    var values: [String: String] = [
      "rule.id": finding.ruleID, "unit.id": finding.unit.id, "unit.name": finding.unit.name,
      "period": finding.period.description, "period.name": finding.period.vietnamese, "due": namedDate.vietnamese,
      "due.phrase": phrase, "due.weekday": namedDate.weekday.vietnamese,
      "days.left": String(max(0, deadlineDate.dayNumber - sendDate.dayNumber)),
      "days.overdue": String(max(1, sendDate.dayNumber - deadlineDate.dayNumber)),
      "state": finding.state.vietnamese, "rule.basis": rule?.basis ?? "",
    ]
    values["parent.name"] = finding.parent?.name ?? ""
    let titleValues = values
    values["rule.title"] = TemplateText.render(rule?.title ?? finding.ruleID, titleValues)
    var detail: [String] = []
    let a = finding.assessment
    if let total = a.childrenTotal, let done = a.childrenIn {
      detail.append("Đơn vị trực thuộc đã báo cáo: \(done)/\(total).")
      if !a.missingChildren.isEmpty {
        detail.append("Chưa báo cáo: \(a.missingChildren.map(\.name).joined(separator: ", ")).")
      }
    }
    if let minimum = a.minimumAmount {
      detail.append("Mức kinh phí tối thiểu cho duy trì HTQLCL: \(Money.vietnamese(minimum)).")
    }
    if let note = a.note { detail.append("Ghi nhận hiện tại: \(note).") }
    if let ext = finding.extensionFact, let due = ext.due {
      detail.append(
        "Đơn vị được gia hạn đến \(due.vietnamese)\(ext.decidedBy.map { " theo quyết định của \($0)" } ?? "").")
    }
    values["detail"] = detail.joined(separator: "\n")
    values["detail.html"] = detail.map { "<p>\(TemplateText.escapeHTML($0))</p>" }.joined(separator: "\n")
    return values
  }

  static let footer = """
    Đây là thư nhắc việc tự động do hệ thống nhacviec gửi; xin không trả lời thư này.
    Mã thông báo: {{key}}
    """

  static let htmlFooter = """
    <p style="color:#666;font-size:small">Đây là thư nhắc việc tự động do hệ thống nhacviec gửi; xin không trả lời thư này.<br>Mã thông báo: {{key}}</p>
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
      subject: "[Nhắc việc] {{rule.title}} — hạn {{due.phrase}}",
      text: """
        Kính gửi: {{recipients}}

        Hệ thống nhắc việc tự động xin nhắc: {{unit.name}} cần hoàn thành "{{rule.title}}" {{due.phrase}} ({{due.weekday}}), còn {{days.left}} ngày.
        {{detail}}

        Căn cứ: {{rule.basis}}.
        Nếu đơn vị đã gửi, xin bỏ qua thư này.

        \(footer)
        """,
      html: html(
        """
        <p>Kính gửi: {{recipients}}</p>
        <p>Hệ thống nhắc việc tự động xin nhắc: <strong>{{unit.name}}</strong> cần hoàn thành “{{rule.title}}” <strong>{{due.phrase}}</strong> ({{due.weekday}}), còn {{days.left}} ngày.</p>
        {{detail.html}}
        <p>Căn cứ: {{rule.basis}}.<br>Nếu đơn vị đã gửi, xin bỏ qua thư này.</p>
        """)),
    "overdue": MessageTemplate(
      subject: "[Quá hạn] {{rule.title}} — quá hạn {{days.overdue}} ngày",
      text: """
        Kính gửi: {{recipients}}

        Hệ thống nhắc việc tự động thông báo: {{unit.name}} chưa hoàn thành "{{rule.title}}", hạn {{due.phrase}}; đến nay đã quá hạn {{days.overdue}} ngày.
        {{detail}}

        Căn cứ: {{rule.basis}}.
        Đề nghị đơn vị khẩn trương hoàn thành. Nếu đơn vị đã gửi, xin bỏ qua thư này.

        \(footer)
        """,
      html: html(
        """
        <p>Kính gửi: {{recipients}}</p>
        <p>Hệ thống nhắc việc tự động thông báo: <strong>{{unit.name}}</strong> chưa hoàn thành “{{rule.title}}”, hạn {{due.phrase}}; đến nay đã <strong>quá hạn {{days.overdue}} ngày</strong>.</p>
        {{detail.html}}
        <p>Căn cứ: {{rule.basis}}.<br>Đề nghị đơn vị khẩn trương hoàn thành. Nếu đơn vị đã gửi, xin bỏ qua thư này.</p>
        """)),
    "escalation": MessageTemplate(
      subject: "[Báo cáo quá hạn] {{unit.name}} — {{rule.title}}",
      text: """
        Kính gửi: {{recipients}}

        Hệ thống nhắc việc tự động báo cáo: {{unit.name}} chưa hoàn thành "{{rule.title}}", hạn {{due.phrase}}; đến nay đã quá hạn {{days.overdue}} ngày.
        {{detail}}

        Căn cứ: {{rule.basis}}.
        Đề nghị đồng chí chỉ đạo, đôn đốc đơn vị thực hiện.

        \(footer)
        """,
      html: html(
        """
        <p>Kính gửi: {{recipients}}</p>
        <p>Hệ thống nhắc việc tự động báo cáo: <strong>{{unit.name}}</strong> chưa hoàn thành “{{rule.title}}”, hạn {{due.phrase}}; đến nay đã <strong>quá hạn {{days.overdue}} ngày</strong>.</p>
        {{detail.html}}
        <p>Căn cứ: {{rule.basis}}.<br>Đề nghị đồng chí chỉ đạo, đôn đốc đơn vị thực hiện.</p>
        """)),
    "summary": MessageTemplate(
      subject: "[Nhắc việc] {{rule.title}} — số liệu đến {{sent.date}}",
      text: """
        Kính gửi: {{recipients}}

        Hệ thống nhắc việc tự động gửi {{report.heading}}, số liệu tính đến {{report.as_of}}.

        {{summary}}

        Báo cáo đầy đủ ở phần HTML của thư; bảng số liệu ở tệp CSV đính kèm.

        \(footer)
        """,
      html: ""),
    "digest": MessageTemplate(
      subject: "[Nhắc việc] Tổng hợp {{count}} việc cần theo dõi ngày {{sent.date}}",
      text: """
        Kính gửi: {{recipients}}

        Hệ thống nhắc việc tự động tổng hợp {{count}} việc cần theo dõi ngày {{sent.date}}:
        {{items}}

        \(footer)
        """,
      html: html(
        """
        <p>Kính gửi: {{recipients}}</p>
        <p>Hệ thống nhắc việc tự động tổng hợp {{count}} việc cần theo dõi ngày {{sent.date}}:</p>
        <table border="1" cellpadding="4" style="border-collapse:collapse">
        <tr><th>Đơn vị</th><th>Nội dung</th><th>Hạn</th><th>Tình trạng</th></tr>
        {{items.html}}
        </table>
        """)),
  ]
}

/// The webhook channel's JSON body, version 1: documented in docs/webhook.md.
public struct WebhookPayload: Codable, Sendable, Hashable {
  public struct Item: Codable, Sendable, Hashable {
    public let key: String
    public let rule: String
    public let unit: String
    public let unitName: String
    public let period: String
    public let due: String
    public let state: String

    enum CodingKeys: String, CodingKey {
      case key, rule, unit, period, due, state
      case unitName = "unit_name"
    }
  }

  public var version = 1
  public let key: String
  public let reason: String
  public let step: String
  public let rule: String
  public let unit: String
  public let unitName: String?
  public let period: String
  public let due: String?
  public let state: String?
  public let recipients: [String]
  public let subject: String
  public let text: String
  public let items: [Item]

  public init(notice: Notice, message: RenderedMessage, zone: Zone) {
    func item(_ n: Notice) -> Item? {
      guard let f = n.finding else { return nil }
      return Item(
        key: n.key, rule: n.ruleID, unit: n.unitID, unitName: f.unit.name, period: n.period,
        due: zone.rfc3339(f.deadline), state: f.state.rawValue)
    }
    key = notice.key
    reason = notice.reason.rawValue
    step = notice.step
    rule = notice.ruleID
    unit = notice.unitID
    unitName = notice.finding?.unit.name
    period = notice.period
    due = notice.finding.map { zone.rfc3339($0.deadline) }
    state = notice.finding?.state.rawValue
    recipients = notice.recipients.map { "\($0.unitID).\($0.role)" }
    subject = message.subject
    text = message.text
    items = notice.items.compactMap(item)
  }

  enum CodingKeys: String, CodingKey {
    case version, key, reason, step, rule, unit, period, due, state, recipients, subject, text, items
    case unitName = "unit_name"
  }

  public func json() -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    return String(decoding: try! encoder.encode(self), as: UTF8.self)
  }
}
