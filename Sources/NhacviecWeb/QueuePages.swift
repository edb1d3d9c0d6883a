import Foundation
import NhacviecControl
import NhacviecCore

extension Desk {
  // MARK: - The queue

  /// The failed and dead notices, to retry or acknowledge in bulk by ticking them.
  func queuePage(officer: Officer, message: HTML? = nil, status: Int = 200) throws -> HTTPResponse {
    var body: HTML = message ?? ""
    let notices = try backend.troubled(limit: 1000)
    guard !notices.isEmpty else {
      body += "<p>Không có thông báo nào gửi lỗi hoặc gửi không được.</p>\n"
      return page(status: status, title: "Hàng đợi gửi", officer: officer, body: body)
    }
    body += "<p>\(notices.count) thông báo gửi lỗi (sẽ thử lại) hoặc gửi không được.</p>\n"
    if officer.canWrite {
      body +=
        "<form method=\"post\" action=\"/queue\">\n<input type=\"hidden\" name=\"csrf\" value=\"\(officer.csrf)\">\n"
    }
    body += """
      <div class="wide"><table>
      <thead><tr>\(officer.canWrite ? HTML("<th>Chọn</th>") : .empty)<th>Thời điểm</th><th>Kênh</th><th>Đơn vị, tiêu đề</th><th>Trạng thái</th><th>Số lần gửi</th><th>Lỗi gần nhất</th></tr></thead>
      <tbody>

      """
    for (index, notice) in notices.enumerated() {
      body += "<tr>"
      if officer.canWrite {
        body += """
          <td><input id="k-\(index)" name="key" type="checkbox" value="\(notice.key)"><label for="k-\(index)" class="quiet">chọn</label></td>
          """
      }
      let acknowledged: HTML = notice.acknowledgedAt.map { "<br><small>đã xác nhận \(shown($0))</small>" } ?? .empty
      body += """
        <td>\(shown(notice.at))</td><td>\(notice.channel)</td><td>\(notice.subject ?? "")<br><small>\(notice.key)</small></td>\
        <td>\(Self.noticeState(notice.state))\(acknowledged)</td><td class="n">\(notice.attempts ?? 0)</td><td>\(notice.lastError ?? "")</td></tr>

        """
    }
    body += "</tbody>\n</table></div>\n"
    if officer.canWrite {
      body += """
        <p><button type="submit" name="action" value="retry">Gửi lại các thông báo đã chọn</button>
        <button type="submit" name="action" value="ack">Xác nhận đã biết (thông báo gửi không được)</button></p>
        </form>

        """
    }
    return page(status: status, title: "Hàng đợi gửi", officer: officer, body: body)
  }

  func queueAction(_ form: Form, officer: Officer) throws -> HTTPResponse {
    guard officer.canWrite else { throw DeskFailure.readOnly }
    let keys = form.values("key").filter { !$0.isEmpty }
    guard !keys.isEmpty else {
      return try queuePage(
        officer: officer, message: "<p class=\"error\" role=\"alert\">Chưa chọn thông báo nào.</p>\n", status: 422)
    }
    switch form["action"] {
    case "retry":
      let count = try backend.retry(keys: keys, officer: officer.name)
      log("desk: \(officer.name) retried \(count) notices")
      return try queuePage(
        officer: officer, message: "<p class=\"ok\" role=\"status\">Đã lên lịch gửi lại \(count) thông báo.</p>\n")
    case "ack":
      let count = try backend.acknowledge(keys: keys, officer: officer.name)
      log("desk: \(officer.name) acknowledged \(count) notices")
      return try queuePage(
        officer: officer,
        message: "<p class=\"ok\" role=\"status\">Đã xác nhận \(count) thông báo gửi không được.</p>\n")
    default:
      throw DeskFailure(status: 400, title: "Yêu cầu không hợp lệ", message: "Không rõ thao tác cần làm.")
    }
  }

  // MARK: - Silences

  func silencesPage(
    officer: Officer, all: Bool, message: HTML? = nil, status: Int = 200, form: Form? = nil
  ) throws -> HTTPResponse {
    var body: HTML = message ?? ""
    if officer.canWrite {
      let rules = backend.rules()
      func field(_ name: String, _ label: String, _ hint: String) -> HTML {
        """
        <p><label for="s-\(name)">\(label)</label>
        <input id="s-\(name)" name="\(name)" type="text" value="\(form?[name] ?? "")"> <small>\(hint)</small></p>

        """
      }
      body += """
        <h2>Tạm dừng thông báo</h2>
        <form method="post" action="/silences" class="record">
        <input type="hidden" name="csrf" value="\(officer.csrf)">
        <p>\(Self.select("rule", label: "Nghĩa vụ", options: rules.map { ($0.id, $0.title) }, selected: form?["rule"], any: "Mọi nghĩa vụ"))</p>
        \(field("unit", "Mã đơn vị", "để trống là mọi đơn vị; cần nghĩa vụ hoặc đơn vị"))\
        \(field("period", "Kỳ báo cáo", "để trống là mọi kỳ"))\
        \(field("until", "Đến", "ngày (2026-11-20) hoặc thời điểm"))\
        <p><label for="s-reason">Lý do</label>
        <input id="s-reason" name="reason" type="text" required value="\(form?["reason"] ?? "")"></p>
        <p><button type="submit">Tạm dừng</button></p>
        </form>

        """
    }
    let silences = try backend.silences(all: all)
    body += "<h2>\(all ? "Mọi lần tạm dừng" : "Đang và sắp tạm dừng")</h2>\n"
    body +=
      all
      ? "<p><a href=\"/silences\">Chỉ xem đang và sắp tạm dừng</a></p>\n"
      : "<p><a href=\"/silences?all=true\">Xem cả các lần đã hết</a></p>\n"
    guard !silences.isEmpty else {
      body += "<p>Không có.</p>\n"
      return page(status: status, title: "Tạm dừng thông báo", officer: officer, body: body)
    }
    body += """
      <div class="wide"><table>
      <thead><tr><th>Số</th><th>Phạm vi</th><th>Từ</th><th>Đến</th><th>Tình trạng</th><th>Lý do</th>\(officer.canWrite ? HTML("<th>Kết thúc</th>") : .empty)</tr></thead>
      <tbody>

      """
    for silence in silences {
      let scope = [
        silence.rule.map { "nghĩa vụ \($0)" }, silence.unit.map { "đơn vị \($0)" }, silence.period.map { "kỳ \($0)" },
      ].compactMap { $0 }.joined(separator: ", ")
      let state = silence.active ? "đang tạm dừng" : silence.expired ? "đã kết thúc sớm" : "đã hết hoặc chưa bắt đầu"
      body += """
        <tr><td class="n">\(Int(silence.id))</td><td>\(scope)</td><td>\(shown(silence.starts))</td><td>\(shown(silence.ends))</td>\
        <td>\(state)</td><td>\(silence.reason)</td>
        """
      if officer.canWrite {
        if silence.active {
          body += """
            <td><form method="post" action="/silences/expire">
            <input type="hidden" name="csrf" value="\(officer.csrf)">
            <input type="hidden" name="id" value="\(Int(silence.id))">
            <button type="submit">Kết thúc ngay</button>
            </form></td>
            """
        } else {
          body += "<td></td>"
        }
      }
      body += "</tr>\n"
    }
    body += "</tbody>\n</table></div>\n"
    return page(status: status, title: "Tạm dừng thông báo", officer: officer, body: body)
  }

  func addSilence(_ form: Form, officer: Officer) throws -> HTTPResponse {
    guard officer.canWrite else { throw DeskFailure.readOnly }
    guard form.given("rule") != nil || form.given("unit") != nil, let until = form.given("until"),
      let reason = form.given("reason")
    else {
      return try silencesPage(
        officer: officer, all: false,
        message: "<p class=\"error\" role=\"alert\">Cần chọn nghĩa vụ hoặc đơn vị, thời điểm kết thúc và lý do.</p>\n",
        status: 422, form: form)
    }
    do {
      let silence = try backend.addSilence(
        ControlAPI.SilenceRequest(
          rule: form.given("rule"), unit: form.given("unit"), period: form.given("period"), until: until,
          reason: reason), officer: officer.name)
      log("desk: \(officer.name) added silence \(silence.id)")
      return try silencesPage(
        officer: officer, all: false,
        message: "<p class=\"ok\" role=\"status\">Đã tạm dừng thông báo đến \(shown(silence.ends)).</p>\n", status: 201)
    } catch {
      return try silencesPage(
        officer: officer, all: false,
        message: "<p class=\"error\" role=\"alert\">Không tạm dừng được: \(Self.reason(error))</p>\n", status: 422,
        form: form)
    }
  }

  func expireSilence(_ form: Form, officer: Officer) throws -> HTTPResponse {
    guard officer.canWrite else { throw DeskFailure.readOnly }
    guard let text = form.given("id"), let id = Int64(text), id > 0 else {
      throw DeskFailure(status: 400, title: "Yêu cầu không hợp lệ", message: "Thiếu số của lần tạm dừng.")
    }
    do {
      _ = try backend.expireSilence(id: id, officer: officer.name)
      return try silencesPage(
        officer: officer, all: false,
        message: "<p class=\"ok\" role=\"status\">Đã kết thúc lần tạm dừng số \(Int(id)).</p>\n")
    } catch {
      return try silencesPage(
        officer: officer, all: false,
        message: "<p class=\"error\" role=\"alert\">Không kết thúc được: \(Self.reason(error))</p>\n", status: 422)
    }
  }
}
