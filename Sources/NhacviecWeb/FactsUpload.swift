import Foundation
import NhacviecConfig
import NhacviecControl

/// A facts file uploaded on the desk: every fact recorded, or none, as `nhacviec import facts`
/// does, the wrong line named in the file's own numbering.
extension Desk {
  func importFacts(_ form: Form, officer: Officer) throws -> HTTPResponse {
    guard officer.canWrite else { throw DeskFailure.readOnly }
    let name = Self.uploadName(form["csv.filename"])
    func refused(_ why: String) throws -> HTTPResponse {
      try factsPage(
        officer: officer, query: [:],
        message: "<p class=\"error\" role=\"alert\">Không ghi nhận dữ kiện nào từ \(name): \(why)</p>\n", status: 422)
    }
    guard let text = form["csv"], !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
      return try refused("tệp trống.")
    }
    let (records, parseError) = CSVReader.parse(text)
    if let parseError { return try refused("dòng \(parseError.line): \(parseError.message)") }
    guard let header = records.first?.fields.map({ $0.trimmingCharacters(in: .whitespaces) }) else {
      return try refused("tệp trống.")
    }
    if let unknown = header.first(where: { !FactsLoader.columns.contains($0) }) {
      return try refused(
        "dòng 1: cột \(unknown) không có (các cột: \(FactsLoader.columns.joined(separator: ","))).")
    }
    var requests: [ControlAPI.FactRequest] = []
    for record in records.dropFirst()
    where !record.fields.allSatisfy({ $0.trimmingCharacters(in: .whitespaces).isEmpty }) {
      guard record.fields.count == header.count else {
        return try refused("dòng \(record.line): có \(record.fields.count) cột, dòng tiêu đề có \(header.count).")
      }
      var values: [String: String] = [:]
      for (column, value) in zip(header, record.fields) {
        let trimmed = value.trimmingCharacters(in: .whitespaces)
        if !trimmed.isEmpty { values[column] = trimmed }
      }
      var request = ControlAPI.FactRequest(
        kind: values["kind"] ?? "", unit: values["unit"] ?? "", rule: values["rule"] ?? "",
        period: values["period"] ?? "")
      request.at = values["at"]
      request.reference = values["reference"]
      request.amount = values["amount"]
      request.due = values["due"]
      request.by = values["by"]
      request.reason = values["reason"]
      request.line = record.line
      requests.append(request)
    }
    guard !requests.isEmpty else { return try refused("tệp không có dòng dữ kiện nào.") }
    do {
      let what = try backend.importFacts(requests, file: name, officer: officer.name)
      log("desk: \(officer.name): \(what)")
      return try factsPage(
        officer: officer, query: [:],
        message: "<p class=\"ok\" role=\"status\">Đã ghi nhận \(requests.count) dòng từ \(name).</p>\n", status: 201)
    } catch let failure as DeskFailure {
      throw failure
    } catch {
      return try refused(Self.reason(error))
    }
  }

  /// The file's name as the browser gave it, its folders dropped, for the messages: never a path
  /// the daemon opens.
  static func uploadName(_ given: String?) -> String {
    let base = (given ?? "").split(whereSeparator: { $0 == "/" || $0 == "\\" }).last.map(String.init) ?? ""
    let clean = base.filter { !$0.isNewline && $0 != ":" }.prefix(100)
    return clean.isEmpty ? "tệp tải lên" : String(clean)
  }
}
