import Foundation
import NhacviecControl
import NhacviecCore
import NhacviecRender
import NhacviecStore

extension Desk {
  // MARK: - The frame

  /// A whole page: the same head, navigation and stylesheet everywhere, `lang="vi"`.
  func page(status: Int, title: String, officer: Officer?, body: HTML) -> HTTPResponse {
    var navigation: HTML = ""
    if let officer {
      navigation = """
        <nav>
        <a href="/">Tình hình nộp báo cáo</a>
        <a href="/claims">Xác nhận chờ xác minh</a>
        <a href="/facts">Dữ kiện</a>
        <a href="/queue">Hàng đợi gửi</a>
        <a href="/silences">Tạm dừng</a>
        <span class="who">\(officer.name) (\(officer.canWrite ? "được ghi" : "chỉ xem"))</span>
        <form method="post" action="/logout" class="inline">
        <input type="hidden" name="csrf" value="\(officer.csrf)">
        <button type="submit">Đăng xuất</button>
        </form>
        </nav>

        """
    }
    let html: HTML = """
      <!DOCTYPE html>
      <html lang="vi">
      <head>
      <meta charset="utf-8">
      <meta name="viewport" content="width=device-width, initial-scale=1">
      <title>\(title) — Hệ thống nhắc việc</title>
      <link rel="stylesheet" href="/desk.css">
      </head>
      <body>
      <header>
      <p class="brand">Hệ thống nhắc việc</p>
      \(navigation)</header>
      <main>
      <h1>\(title)</h1>
      \(body)</main>
      </body>
      </html>

      """
    return HTTPResponse(status: status, body: Array(html.markup.utf8), contentType: "text/html; charset=utf-8")
  }

  /// `08:00 15/11/2026` for an RFC 3339 instant from the control API; the text itself if it is not one.
  func shown(_ rfc3339: String?) -> String {
    guard let rfc3339 else { return "" }
    return backend.zone.parseInstant(rfc3339).map(backend.zone.vietnamese) ?? rfc3339
  }

  static func unitLink(_ id: String, _ name: String) -> HTML {
    "<a href=\"/units/\(Form.encode(id))\">\(name)</a>"
  }

  static func select(
    _ name: String, label: String, options: [(value: String, text: String)], selected: String?, any: String? = nil
  ) -> HTML {
    var out: HTML = "<label for=\"\(name)\">\(label)</label>\n<select id=\"\(name)\" name=\"\(name)\">\n"
    if let any { out += "<option value=\"\">\(any)</option>\n" }
    for option in options {
      out +=
        option.value == selected
        ? "<option value=\"\(option.value)\" selected>\(option.text)</option>\n"
        : "<option value=\"\(option.value)\">\(option.text)</option>\n"
    }
    return out + "</select>\n"
  }

  // MARK: - The season

  /// The consolidated report of a period (by default this year's), as `nhacviec report` has it,
  /// with filters by rule, state and kind of unit over the detail rows.
  func seasonPage(_ query: [String: String], officer: Officer) throws -> HTTPResponse {
    let now = backend.now()
    let zone = backend.zone
    let periodText = query["period"].flatMap { $0.isEmpty ? nil : $0 }
    let rules = backend.rules()
    let rule = query["rule"].flatMap { $0.isEmpty ? nil : $0 }
    if let rule, !rules.contains(where: { $0.id == rule }) {
      throw DeskFailure(status: 404, title: "Không có nghĩa vụ này", message: "Không có nghĩa vụ báo cáo \(rule).")
    }
    // A period asked for, or the current one of each kind the rules use: this year, this quarter,
    // this month.
    var periods: [Period] = []
    if let periodText {
      guard let parsed = Period(periodText) else {
        throw DeskFailure(
          status: 400, title: "Kỳ báo cáo không hợp lệ",
          message: "Kỳ báo cáo phải viết như 2026, 2026-Q4 hoặc 2026-11.")
      }
      periods = [parsed]
    } else {
      let today = zone.localDate(of: now)
      let used = Set(rules.filter { rule == nil || $0.id == rule }.map(\.period))
      for kind in PeriodKind.allCases where used.contains(kind) {
        switch kind {
        case .yearly: periods.append(Period(kind: .yearly, year: today.year))
        case .quarterly: periods.append(Period(kind: .quarterly, year: today.year, index: (today.month - 1) / 3 + 1))
        case .monthly: periods.append(Period(kind: .monthly, year: today.year, index: today.month))
        }
      }
      if periods.isEmpty { periods = [Period(kind: .yearly, year: today.year)] }
    }
    let state = query["state"].flatMap { $0.isEmpty ? nil : $0 }
    let status = try state.map { text throws -> ConsolidatedReport.Status in
      guard let status = ConsolidatedReport.Status(rawValue: text) else {
        throw DeskFailure(status: 400, title: "Tình trạng không hợp lệ", message: "Không có tình trạng \(text).")
      }
      return status
    }
    let kind = query["kind"].flatMap { $0.isEmpty ? nil : $0 }
    let documents = try periods.map {
      ReportDocument(try backend.report(period: $0, rules: rule.map { [$0] }, scope: nil), zone: zone)
    }
    let sections = documents.flatMap { document in document.report.sections.map { (document, $0) } }
    var kinds: [String] = []
    for (_, section) in sections {
      for row in section.rows where !kinds.contains(row.kind) { kinds.append(row.kind) }
    }
    var body: HTML = """
      <p class="asof">\(documents.map(\.heading).joined(separator: "; ")). Số liệu tính đến \(zone.vietnamese(now)).</p>
      <form method="get" action="/" class="filters">
      <p><label for="period">Kỳ báo cáo</label>
      <input id="period" name="period" type="text" value="\(periodText ?? "")" size="8" placeholder="kỳ hiện tại"></p>
      <p>\(Self.select("rule", label: "Nghĩa vụ", options: rules.map { ($0.id, $0.title) }, selected: rule, any: "Tất cả"))</p>
      <p>\(Self.select("state", label: "Tình trạng", options: ConsolidatedReport.Status.allCases.map { ($0.rawValue, $0.vietnamese) }, selected: state, any: "Tất cả"))</p>
      <p>\(Self.select("kind", label: "Loại đơn vị", options: kinds.map { ($0, ConsolidatedReport.kindName($0)) }, selected: kind, any: "Tất cả"))</p>
      <p><button type="submit">Xem</button></p>
      </form>

      """
    if sections.isEmpty {
      body += "<p>Không có nghĩa vụ báo cáo nào cho \(periods.map(\.vietnamese).joined(separator: ", ")).</p>\n"
    }
    for (index, (document, section)) in sections.enumerated() {
      body += "<section>\n<h2>\(index + 1). \(section.title)</h2>\n"
      body += "<p>Căn cứ: \(section.basis). Thời hạn: \(section.dueLine).</p>\n"
      if let error = section.error {
        body += "<p class=\"error\">Chưa đánh giá được: \(error)</p>\n</section>\n"
        continue
      }
      let bars = section.byParent.count > 1 ? section.byParent : section.byKind
      // The report's own chart: its text is escaped by ReportDocument, its colours are attributes.
      body += "<figure>\(HTML.trusted(ReportDocument.chart(bars, title: section.title)))</figure>\n"
      body += "<table class=\"tally\">\n<thead><tr>"
      body += HTML.join(ReportDocument.tallyHeader(section).map { "<th>\($0)</th>" }) + "</tr></thead>\n<tbody>\n"
      for tally in section.byKind + [section.total] {
        let cells = ReportDocument.tallyCells(tally, section)
        body += tally.key.isEmpty ? "<tr class=\"total\">" : "<tr>"
        body += "<td>\(cells[0])</td>" + HTML.join(cells.dropFirst().map { "<td class=\"n\">\($0)</td>" }) + "</tr>\n"
      }
      body += "</tbody>\n</table>\n"
      let rows = section.rows.filter { row in
        (status.map { $0 == row.status } ?? true) && (kind.map { $0 == row.kind } ?? true)
      }
      body += "<h3>Chi tiết (\(rows.count)/\(section.rows.count) đơn vị)</h3>\n"
      let columns = document.detailColumns(section)
      body += "<div class=\"wide\"><table>\n<thead><tr>"
      body += HTML.join(columns.map { "<th>\($0.title)</th>" }) + "</tr></thead>\n<tbody>\n"
      for (i, row) in rows.enumerated() {
        body += "<tr>"
        for column in columns {
          let value = column.value(i, row)
          switch column.title {
          case "STT": body += "<td class=\"n\">\(value)</td>"
          case "Đơn vị": body += "<td>\(Self.unitLink(row.unit, value))</td>"
          case "Tình trạng": body += "<td class=\"\(row.status.rawValue)\">\(value)</td>"
          default: body += "<td>\(value)</td>"
          }
        }
        body += "</tr>\n"
      }
      body += "</tbody>\n</table></div>\n</section>\n"
    }
    return page(status: 200, title: "Tình hình nộp báo cáo", officer: officer, body: body)
  }

  // MARK: - A unit

  func unitPage(_ raw: String, officer: Officer) throws -> HTTPResponse {
    guard let id = HTTPRequestParser.decodePath(raw), !id.isEmpty,
      let name = backend.unitName(id)
    else {
      throw DeskFailure(status: 404, title: "Không tìm thấy đơn vị", message: "Không có đơn vị này trong danh bạ.")
    }
    var body: HTML = "<p>Mã đơn vị: \(id)</p>\n<h2>Nghĩa vụ báo cáo</h2>\n"
    let findings = try backend.findings(unit: id)
    if findings.isEmpty {
      body += "<p>Đơn vị không có nghĩa vụ báo cáo nào trong kỳ hiện tại.</p>\n"
    } else {
      body += """
        <div class="wide"><table>
        <thead><tr><th>Nghĩa vụ</th><th>Kỳ</th><th>Tình trạng</th><th>Hạn</th><th>Đã nộp lúc</th><th>Số, ký hiệu văn bản</th></tr></thead>
        <tbody>

        """
      let titles = Dictionary(backend.rules().map { ($0.id, $0.title) }, uniquingKeysWith: { a, _ in a })
      for finding in findings {
        let period = Period(finding.period)?.vietnamese ?? finding.period
        body += """
          <tr><td>\(titles[finding.rule] ?? finding.rule)</td><td>\(period)</td><td class="\(finding.state.rawValue)">\(finding.state.vietnamese)</td>\
          <td>\(shown(finding.deadline))</td><td>\(shown(finding.satisfiedAt))</td><td>\(finding.reference ?? "")</td></tr>

          """
      }
      body += "</tbody>\n</table></div>\n"
    }
    body += "<h2>Dữ kiện đã ghi nhận</h2>\n"
    body += factsTable(try backend.recordedFacts(unit: id, retracted: true), officer: officer)
    body += "<h2>Thông báo đã gửi</h2>\n"
    let notices = try backend.notices(unit: id, limit: 200)
    if notices.isEmpty {
      body += "<p>Chưa có thông báo nào.</p>\n"
    } else {
      body += """
        <div class="wide"><table>
        <thead><tr><th>Thời điểm</th><th>Kênh</th><th>Tiêu đề</th><th>Trạng thái</th><th>Số lần gửi</th><th>Diễn biến</th></tr></thead>
        <tbody>

        """
      for notice in notices {
        var history: HTML = ""
        if let attempts = try backend.history(key: notice.key)?.attempts.filter({ $0.channel == notice.channel }),
          !attempts.isEmpty
        {
          history = "<ol class=\"attempts\">"
          for attempt in attempts {
            history +=
              "<li>\(shown(attempt.at)): \(attempt.outcome)\(attempt.detail.isEmpty ? "" : " — \(attempt.detail)")</li>"
          }
          history += "</ol>"
        }
        let error: HTML = notice.lastError.map { "<br><span class=\"error\">\($0)</span>" } ?? ""
        body += """
          <tr><td>\(shown(notice.at))</td><td>\(notice.channel)</td><td>\(notice.subject ?? "")<br><small>\(notice.key)</small></td>\
          <td>\(Self.noticeState(notice.state))\(error)</td><td class="n">\(notice.attempts ?? 0)</td><td>\(history)</td></tr>

          """
      }
      body += "</tbody>\n</table></div>\n"
    }
    return page(status: 200, title: name, officer: officer, body: body)
  }

  static func noticeState(_ state: NoticeState?) -> String {
    switch state {
    case .sent?: return "Đã gửi"
    case .planned?: return "Chờ gửi"
    case .sending?: return "Đang gửi"
    case .failed?: return "Gửi lỗi, sẽ thử lại"
    case .dead?: return "Gửi không được"
    case .silenced?: return "Tạm dừng"
    case .superseded?: return "Đã thay bằng lần nhắc sau"
    case .suppressed?: return "Không cần gửi nữa"
    case nil: return ""
    }
  }

  // MARK: - Facts

  func factsTable(_ facts: [ControlAPI.RecordedFact], officer: Officer) -> HTML {
    guard !facts.isEmpty else { return "<p>Chưa có dữ kiện nào.</p>\n" }
    var out: HTML = """
      <div class="wide"><table>
      <thead><tr><th>Số</th><th>Loại</th><th>Đơn vị</th><th>Nghĩa vụ</th><th>Kỳ</th><th>Nội dung</th><th>Ghi nhận</th>\(officer.canWrite ? HTML("<th>Thu hồi</th>") : .empty)</tr></thead>
      <tbody>

      """
    for fact in facts {
      var what: [String] = []
      if let at = fact.at { what.append("lúc \(shown(at))") }
      if let reference = fact.reference { what.append("số \(reference)") }
      if let amount = fact.amount { what.append("\(amount) đồng") }
      if let due = fact.due { what.append("hạn mới \(LocalDate(iso: due)?.vietnamese ?? due)") }
      if let by = fact.by { what.append("do \(by) quyết định") }
      if let reason = fact.reason { what.append("lý do: \(reason)") }
      let recorded = "\(shown(fact.recordedAt)), \(fact.source)"
      var retraction: HTML = ""
      if let retracted = fact.retracted {
        retraction = "<br><strong>Đã thu hồi</strong> \(shown(retracted.at)): \(retracted.reason)"
      }
      out += """
        <tr><td class="n">\(Int(fact.id))</td><td>\(Self.factKind(fact.kind))</td><td>\(Self.unitLink(fact.unit, fact.unit))</td>\
        <td>\(fact.rule)</td><td>\(fact.period)</td><td>\(what.joined(separator: "; "))</td><td>\(recorded)\(retraction)</td>
        """
      if officer.canWrite {
        if fact.retracted == nil {
          out += """
            <td><form method="post" action="/facts/retract">
            <input type="hidden" name="csrf" value="\(officer.csrf)">
            <input type="hidden" name="id" value="\(Int(fact.id))">
            <label for="reason-\(Int(fact.id))">Lý do thu hồi</label>
            <input id="reason-\(Int(fact.id))" name="reason" type="text" required>
            <button type="submit">Thu hồi</button>
            </form></td>
            """
        } else {
          out += "<td></td>"
        }
      }
      out += "</tr>\n"
    }
    return out + "</tbody>\n</table></div>\n"
  }

  static func factKind(_ kind: String) -> String {
    switch kind {
    case "report": return "Báo cáo đã nhận"
    case "budget": return "Kinh phí"
    case "extension": return "Gia hạn"
    case "exemption": return "Miễn"
    default: return kind
    }
  }

  func factsPage(
    officer: Officer, query: [String: String], message: HTML? = nil, status: Int = 200, form: Form? = nil
  ) throws -> HTTPResponse {
    var body: HTML = message ?? ""
    if officer.canWrite {
      let rules = backend.rules()
      let kinds = ["report", "budget", "extension", "exemption"].map { ($0, Self.factKind($0)) }
      func field(_ name: String, _ label: String, _ hint: String = "", required: Bool = false) -> HTML {
        let value = form?[name] ?? ""
        let attributes: HTML = required ? " required" : .empty
        let note: HTML = hint.isEmpty ? .empty : " <small>\(hint)</small>"
        return """
          <p><label for="f-\(name)">\(label)</label>
          <input id="f-\(name)" name="\(name)" type="text" value="\(value)"\(attributes)>\(note)</p>

          """
      }
      body += """
        <h2>Ghi nhận dữ kiện</h2>
        <form method="post" action="/facts" class="record">
        <input type="hidden" name="csrf" value="\(officer.csrf)">
        <p>\(Self.select("kind", label: "Loại dữ kiện", options: kinds, selected: form?["kind"] ?? "report"))</p>
        \(field("unit", "Mã đơn vị", "ví dụ 51-STP", required: true))\
        <p>\(Self.select("rule", label: "Nghĩa vụ", options: rules.map { ($0.id, $0.title) }, selected: form?["rule"]))</p>
        \(field("period", "Kỳ báo cáo", "2026, 2026-Q4 hoặc 2026-11", required: true))\
        \(field("at", "Thời điểm nhận", "ví dụ 2026-10-20T09:00:00+07:00; để trống là bây giờ"))\
        \(field("reference", "Số, ký hiệu văn bản"))\
        \(field("amount", "Kinh phí (đồng)"))\
        \(field("due", "Hạn mới (gia hạn)", "YYYY-MM-DD"))\
        \(field("by", "Người quyết định (gia hạn, miễn)"))\
        \(field("reason", "Lý do"))\
        <p><button type="submit">Ghi nhận</button></p>
        </form>
        <h2>Ghi nhận cả một tệp CSV</h2>
        <form method="post" action="/facts/import" enctype="multipart/form-data" class="upload">
        <input type="hidden" name="csrf" value="\(officer.csrf)">
        <p><label for="f-csv">Tệp CSV</label>
        <input id="f-csv" name="csv" type="file" accept=".csv,text/csv" required>
        <small>cột kind,unit,rule,period,at,reference,amount,due,by,reason; ghi nhận tất cả hoặc không \
        dữ kiện nào, dòng sai được chỉ rõ</small></p>
        <p><button type="submit">Ghi nhận cả tệp</button></p>
        </form>

        """
    }
    let unit = query["unit"].flatMap { $0.isEmpty ? nil : $0 }
    body += """
      <h2>Dữ kiện đã ghi nhận</h2>
      <form method="get" action="/facts" class="filters">
      <p><label for="unit">Mã đơn vị</label> <input id="unit" name="unit" type="text" value="\(unit ?? "")">
      <button type="submit">Lọc</button></p>
      </form>

      """
    let facts = try backend.recordedFacts(unit: unit, retracted: true)
    body += factsTable(Array(facts.suffix(200).reversed()), officer: officer)
    return page(status: status, title: "Dữ kiện", officer: officer, body: body)
  }

  func recordFact(_ form: Form, officer: Officer) throws -> HTTPResponse {
    guard officer.canWrite else { throw DeskFailure.readOnly }
    var request = ControlAPI.FactRequest(
      kind: form.given("kind") ?? "", unit: form.given("unit") ?? "", rule: form.given("rule") ?? "",
      period: form.given("period") ?? "")
    request.at = form.given("at")
    request.reference = form.given("reference")
    request.amount = form.given("amount")
    request.due = form.given("due")
    request.by = form.given("by")
    request.reason = form.given("reason")
    do {
      let what = try backend.record(request, officer: officer.name)
      log("desk: \(officer.name): \(what)")
      let message: HTML =
        what.hasPrefix("already")
        ? "<p class=\"ok\" role=\"status\">Dữ kiện này đã được ghi nhận trước đó; không có gì thay đổi.</p>\n"
        : "<p class=\"ok\" role=\"status\">Đã ghi nhận: \(Self.factKind(request.kind)) của \(request.unit), \(request.rule), kỳ \(request.period).</p>\n"
      return try factsPage(officer: officer, query: [:], message: message, status: 201)
    } catch let failure as DeskFailure {
      throw failure
    } catch {
      return try factsPage(
        officer: officer, query: [:],
        message: "<p class=\"error\" role=\"alert\">Không ghi nhận được: \(Self.reason(error))</p>\n", status: 422,
        form: form)
    }
  }

  func retractFact(_ form: Form, officer: Officer) throws -> HTTPResponse {
    guard officer.canWrite else { throw DeskFailure.readOnly }
    guard let text = form.given("id"), let id = Int64(text), id > 0 else {
      throw DeskFailure(status: 400, title: "Yêu cầu không hợp lệ", message: "Thiếu số của dữ kiện cần thu hồi.")
    }
    guard let reason = form.given("reason") else {
      return try factsPage(
        officer: officer, query: [:], message: "<p class=\"error\" role=\"alert\">Cần nêu lý do thu hồi.</p>\n",
        status: 422)
    }
    do {
      let fact = try backend.retract(id: id, reason: reason, officer: officer.name)
      log("desk: \(officer.name) retracted fact \(id)")
      return try factsPage(
        officer: officer, query: [:],
        message:
          "<p class=\"ok\" role=\"status\">Đã thu hồi dữ kiện số \(Int(fact.id)) (\(Self.factKind(fact.kind)) của \(fact.unit)).</p>\n"
      )
    } catch {
      return try factsPage(
        officer: officer, query: [:],
        message: "<p class=\"error\" role=\"alert\">Không thu hồi được: \(Self.reason(error))</p>\n", status: 422)
    }
  }

  /// The words of a refusal from the daemon (the control API's, in English, naming the field).
  static func reason(_ error: any Error) -> String {
    if let failure = error as? HTTPFailure { return failure.message }
    return "\(error)"
  }
}
