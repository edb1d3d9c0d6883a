import Foundation
import NhacviecControl
import NhacviecCore

/// The page a unit's link opens (`/c/TOKEN`), and the claims the Department verifies (`/claims`).
///
/// The link is the unit's only key: it opens this one obligation's page and nothing else, with
/// no account and no cookie. What it records is the unit's word, a fact of kind `claim` or
/// `request` that stops its reminders (a claim) until an officer accepts or returns it here.
extension Desk {
  // MARK: - The unit's page

  func linkPage(token: String, method: String, request: HTTPRequest, peer: String?) throws -> HTTPResponse {
    let opening = backend.open(link: token)
    let obligation: LinkObligation
    switch opening {
    case .refused(let reason, let message, let expired):
      // The log says why and from where, never the token: it would open the page to whoever
      // reads the log.
      log("desk: link refused (\(reason)) from \(peer ?? "unknown")")
      return page(
        status: expired ? 410 : 403, title: expired ? "Đường dẫn đã hết hạn" : "Đường dẫn không hợp lệ",
        officer: nil, body: "<p>\(message)</p>\n")
    case .gone:
      return page(
        status: 410, title: "Không còn nghĩa vụ",
        officer: nil,
        body: "<p>Nghĩa vụ mà đường dẫn này nói đến không còn trong danh sách của hệ thống nhắc việc.</p>\n")
    case .open(let found):
      obligation = found
    }
    guard method == "POST" else { return unitPage(obligation, token: token, message: nil, status: 200) }
    let form = try Self.form(request)
    do {
      switch form["action"] {
      case "claim":
        let reference = (form["reference"] ?? "").trimmingCharacters(in: .whitespaces)
        guard !reference.isEmpty, reference.count <= 100 else {
          return unitPage(
            obligation, token: token, message: .error("Xin ghi số, ký hiệu văn bản báo cáo đã gửi."), status: 422,
            form: form)
        }
        let dateText = (form["date"] ?? "").trimmingCharacters(in: .whitespaces)
        let date = dateText.isEmpty ? nil : Self.vietnameseDate(dateText)
        if !dateText.isEmpty, date == nil {
          return unitPage(
            obligation, token: token,
            message: .error("Ngày văn bản cần ghi theo dạng ngày/tháng/năm, ví dụ 29/10/2026."),
            status: 422, form: form)
        }
        let recorded = try backend.claim(link: token, reference: reference, documentDate: date)
        log(
          "desk: \(obligation.unit) claimed \(obligation.rule) \(obligation.period) through its link\(recorded ? "" : " (again)")"
        )
      case "request":
        guard let until = Self.vietnameseDate((form["until"] ?? "").trimmingCharacters(in: .whitespaces)) else {
          return unitPage(
            obligation, token: token, message: .error("Xin ghi ngày đề nghị gia hạn theo dạng ngày/tháng/năm."),
            status: 422, form: form)
        }
        let reason = (form["reason"] ?? "").trimmingCharacters(in: .whitespaces)
        guard !reason.isEmpty, reason.count <= 500 else {
          return unitPage(
            obligation, token: token, message: .error("Xin ghi lý do đề nghị gia hạn."), status: 422, form: form)
        }
        let recorded = try backend.request(link: token, until: until, reason: reason)
        log(
          "desk: \(obligation.unit) asked for time on \(obligation.rule) \(obligation.period) through its link\(recorded ? "" : " (again)")"
        )
      default:
        throw DeskFailure(status: 400, title: "Biểu mẫu không hợp lệ", message: "Biểu mẫu không đọc được.")
      }
    } catch let failure as DeskFailure {
      throw failure
    } catch {
      return unitPage(
        obligation, token: token, message: .error("Không ghi nhận được: \(Self.reason(error))"), status: 422,
        form: form)
    }
    // Shown again as it now stands, so that the unit sees what the Department will see.
    guard case .open(let now) = backend.open(link: token) else {
      return unitPage(obligation, token: token, message: nil, status: 200)
    }
    return unitPage(now, token: token, message: .done, status: 200)
  }

  enum LinkMessage {
    case done
    case error(String)
  }

  func unitPage(
    _ o: LinkObligation, token: String, message: LinkMessage?, status: Int, form: Form? = nil
  ) -> HTTPResponse {
    var body: HTML = ""
    switch message {
    case .done:
      body += """
        <p class="ok" role="status">Đã ghi nhận. Sở Khoa học và Công nghệ sẽ xác minh; đơn vị sẽ nhận thư \
        nếu cần bổ sung.</p>

        """
    case .error(let text):
      body += "<p class=\"error\" role=\"alert\">\(text)</p>\n"
    case nil:
      break
    }
    let standing: String
    switch o.state {
    case .overdue: standing = "Đã quá hạn \(o.daysOverdue) ngày."
    case .metOnTime, .metLate: standing = "Sở đã ghi nhận báo cáo của đơn vị. Không cần làm gì thêm."
    case .exempt: standing = "Đơn vị được miễn nghĩa vụ này."
    case .claimed: standing = "Đơn vị đã báo đã gửi báo cáo; đang chờ Sở xác minh."
    case .extended: standing = "Đơn vị đã được gia hạn."
    default: standing = o.daysLeft > 1 ? "Còn \(o.daysLeft) ngày đến hạn." : "Hôm nay là hạn cuối."
    }
    body += """
      <section class="duty">
      <p>Kính gửi: <strong>\(o.unitName)</strong></p>
      <h2>\(o.title)</h2>
      <p>Hạn: <strong>\(o.duePhrase)</strong>. \(standing)</p>
      <p class="basis">Căn cứ: \(o.basis)</p>
      </section>

      """
    if let claim = o.claim {
      body += """
        <p class="status">Đơn vị đã báo đã gửi báo cáo số <strong>\(claim.reference)</strong>\
        \(claim.date.map { " ngày \($0)" } ?? ""); Sở đang xác minh.</p>

        """
    }
    if let request = o.request {
      body += """
        <p class="status">Đơn vị đã xin gia hạn đến <strong>\(request.until)</strong> (\(request.reason)); \
        Sở đang xem xét. Trong thời gian chờ, hạn cũ vẫn giữ nguyên.</p>

        """
    }
    if !o.state.isClosed {
      let action = "/c/" + token
      func value(_ name: String) -> String { form?[name] ?? "" }
      body += """
        <h2>Đơn vị đã gửi báo cáo</h2>
        <form method="post" action="\(action)" class="claim">
        <input type="hidden" name="action" value="claim">
        <p><label for="c-reference">Số, ký hiệu văn bản báo cáo</label>
        <input id="c-reference" name="reference" type="text" required maxlength="100" value="\(value("reference"))" \
        placeholder="ví dụ 123/BC-UBND"></p>
        <p><label for="c-date">Ngày văn bản</label>
        <input id="c-date" name="date" type="text" inputmode="numeric" maxlength="10" value="\(value("date"))" \
        placeholder="ngày/tháng/năm"></p>
        <p><button type="submit">Xác nhận đã gửi báo cáo</button></p>
        </form>
        <h2>Đơn vị cần thêm thời gian</h2>
        <form method="post" action="\(action)" class="request">
        <input type="hidden" name="action" value="request">
        <p><label for="r-until">Xin gia hạn đến ngày</label>
        <input id="r-until" name="until" type="text" inputmode="numeric" required maxlength="10" \
        value="\(value("until"))" placeholder="ngày/tháng/năm"></p>
        <p><label for="r-reason">Lý do</label>
        <input id="r-reason" name="reason" type="text" required maxlength="500" value="\(value("reason"))"></p>
        <p><button type="submit">Gửi đề nghị gia hạn</button></p>
        </form>
        <p class="note">Trang này chỉ dành cho đơn vị nhận thư nhắc việc. Sở Khoa học và Công nghệ xác minh \
        mọi xác nhận; nếu cần bổ sung, đơn vị sẽ nhận thư nêu rõ lý do.</p>

        """
    }
    return page(status: status, title: "Trả lời thư nhắc việc", officer: nil, body: body)
  }

  /// `29/10/2026` (or `2026-10-29`), as a unit writes a date.
  static func vietnameseDate(_ text: String) -> LocalDate? {
    if let iso = LocalDate(iso: text) { return iso }
    let parts = text.split(separator: "/", omittingEmptySubsequences: false)
    guard parts.count == 3, let day = Int(parts[0]), let month = Int(parts[1]), let year = Int(parts[2]),
      parts[2].count == 4, (1...2).contains(parts[0].count), (1...2).contains(parts[1].count)
    else { return nil }
    return LocalDate(iso: String(format: "%04d-%02d-%02d", year, month, day))
  }

  // MARK: - Claims to verify

  func claimsPage(officer: Officer, message: HTML? = nil, status: Int = 200) throws -> HTTPResponse {
    var body: HTML = message ?? ""
    let words = try backend.pendingWords()
    body += """
      <p>Đơn vị báo đã gửi báo cáo (thư nhắc việc dừng lại trong khi chờ) hoặc xin gia hạn (hạn cũ giữ \
      nguyên cho đến khi được chấp nhận). Chấp nhận một xác nhận là ghi nhận báo cáo với số văn bản đơn vị \
      đã nêu; trả lại là nhắc việc tiếp tục và đơn vị nhận thư nêu lý do.</p>

      """
    if words.isEmpty {
      body += "<p>Không có xác nhận hoặc đề nghị nào đang chờ.</p>\n"
      return page(status: status, title: "Xác nhận chờ xác minh", officer: officer, body: body)
    }
    let verdictColumn: HTML = officer.canWrite ? "<th>Xác minh</th>" : .empty
    body += """
      <div class="wide"><table>
      <thead><tr><th>Đơn vị</th><th>Nghĩa vụ</th><th>Kỳ</th><th>Nội dung</th><th>Lúc</th><th>Hạn</th>\
      \(verdictColumn)</tr></thead>
      <tbody>

      """
    for (index, word) in words.enumerated() {
      let what: HTML =
        word.kind == "claim"
        ? "Đã gửi báo cáo số <strong>\(word.reference ?? "")</strong>\(word.due.map { " ngày \(Self.shownDate($0))" } ?? "")"
        : "Xin gia hạn đến <strong>\(word.due.map(Self.shownDate) ?? "")</strong>: \(word.reason ?? "")"
      body += """
        <tr><td>\(Self.unitLink(word.unit, word.unitName))</td><td>\(word.rule)</td><td>\(word.period)</td>\
        <td>\(what)</td><td>\(word.at.map(shown) ?? "")</td><td>\(word.deadline.isEmpty ? "" : shown(word.deadline))</td>
        """
      if officer.canWrite {
        let hidden: HTML = """
          <input type="hidden" name="csrf" value="\(officer.csrf)">
          <input type="hidden" name="rule" value="\(word.rule)">
          <input type="hidden" name="unit" value="\(word.unit)">
          <input type="hidden" name="period" value="\(word.period)">
          <input type="hidden" name="kind" value="\(word.kind)">
          """
        body += """
          <td><form method="post" action="/claims/accept" class="accept">
          \(hidden)
          <button type="submit">Chấp nhận</button>
          </form>
          <form method="post" action="/claims/return" class="return">
          \(hidden)
          <label for="why-\(index)">Lý do trả lại</label>
          <input id="why-\(index)" name="reason" type="text" required maxlength="500">
          <button type="submit">Trả lại</button>
          </form></td>
          """
      }
      body += "</tr>\n"
    }
    body += "</tbody>\n</table></div>\n"
    return page(status: status, title: "Xác nhận chờ xác minh", officer: officer, body: body)
  }

  func verdict(_ form: Form, accept: Bool, officer: Officer) throws -> HTTPResponse {
    guard officer.canWrite else { throw DeskFailure.readOnly }
    let word = WordOf(
      rule: form.given("rule") ?? "", unit: form.given("unit") ?? "", period: form.given("period") ?? "",
      kind: form.given("kind") ?? "claim")
    do {
      if accept {
        _ = try backend.accept(word, officer: officer.name)
        log("desk: \(officer.name) accepted the \(word.kind) of \(word.unit) for \(word.rule) \(word.period)")
        let done: HTML =
          word.kind == "claim"
          ? "<p class=\"ok\" role=\"status\">Đã chấp nhận: báo cáo của \(word.unit) được ghi nhận.</p>\n"
          : "<p class=\"ok\" role=\"status\">Đã chấp nhận: \(word.unit) được gia hạn.</p>\n"
        return try claimsPage(officer: officer, message: done)
      }
      guard let reason = form.given("reason") else {
        return try claimsPage(
          officer: officer, message: "<p class=\"error\" role=\"alert\">Xin ghi lý do trả lại.</p>\n", status: 422)
      }
      _ = try backend.giveBack(word, reason: reason, officer: officer.name)
      log("desk: \(officer.name) returned the \(word.kind) of \(word.unit) for \(word.rule) \(word.period)")
      return try claimsPage(
        officer: officer,
        message: "<p class=\"ok\" role=\"status\">Đã trả lại; \(word.unit) sẽ nhận thư nêu lý do.</p>\n")
    } catch let failure as DeskFailure {
      throw failure
    } catch {
      return try claimsPage(
        officer: officer,
        message: "<p class=\"error\" role=\"alert\">Không thực hiện được: \(Self.reason(error))</p>\n",
        status: 422)
    }
  }

  /// `2026-10-29` as `29/10/2026`.
  static func shownDate(_ iso: String) -> String { LocalDate(iso: iso)?.vietnamese ?? iso }
}
