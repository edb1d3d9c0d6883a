public import Foundation
public import NhacviecCore

/// The consolidated report as a document: HTML to print and read, CSV for spreadsheets,
/// Markdown to paste, JSON for other systems. Pure functions of the report.
public enum ReportFormat: String, Sendable, CaseIterable {
  case html, csv, md, json

  public var contentType: String {
    switch self {
    case .html: return "text/html; charset=utf-8"
    case .csv: return "text/csv; charset=utf-8"
    case .md: return "text/markdown; charset=utf-8"
    case .json: return "application/json"
    }
  }

  public var fileExtension: String { rawValue }
}

/// The consolidated report as a document in one deployment's time zone: the report's figures with
/// the words and dates an official reads.
public struct ReportDocument: Sendable {
  public let report: ConsolidatedReport
  public let zone: Zone

  public init(_ report: ConsolidatedReport, zone: Zone) {
    self.report = report
    self.zone = zone
  }

  public typealias Row = ConsolidatedReport.Row
  public typealias Section = ConsolidatedReport.Section
  public typealias Tally = ConsolidatedReport.Tally
  public typealias Status = ConsolidatedReport.Status

  var sections: [Section] { report.sections }
  var period: String { report.period.description }
  var periodName: String { report.periodName }

  public func rendered(as format: ReportFormat) -> String {
    switch format {
    case .html: return html()
    case .csv: return csv()
    case .md: return markdown()
    case .json: return json()
    }
  }

  /// `Báo cáo tổng hợp … năm 2026` (and the district, for a district's part).
  public var heading: String {
    "Báo cáo tổng hợp tình hình thực hiện \(periodName)" + (report.scopeName.map { " — \($0)" } ?? "")
  }

  /// `Tổng hợp năm 2026 - Huyện Sơn Tịnh - 16-11-2026.csv`
  public func fileName(on date: LocalDate, extension ext: String) -> String {
    let day = date.vietnamese.replacingOccurrences(of: "/", with: "-")
    return (["Tổng hợp \(periodName)"] + (report.scopeName.map { [$0] } ?? []) + [day]).joined(separator: " - ")
      + ".\(ext)"
  }

  /// `Trễ 3 ngày`, `Được gia hạn đến 30/11/2026`: what a row's status cell says.
  public static func statusText(_ row: Row) -> String {
    var text = row.status == .late ? "Trễ \(row.daysLate ?? 1) ngày" : row.status.vietnamese
    if let extendedTo = row.extendedTo {
      text +=
        row.status == .extended ? " đến \(extendedTo.vietnamese)" : " (gia hạn đến \(extendedTo.vietnamese))"
    }
    return text
  }

  public func when(_ instant: Date?) -> String { instant.map(zone.vietnamese) ?? "" }

  static func day(_ date: LocalDate?) -> String { date?.vietnamese ?? "" }

  static func kindName(_ kind: String) -> String { ConsolidatedReport.kindName(kind) }

  static func percent(_ share: Double) -> String {
    String(format: "%.1f", share).replacingOccurrences(of: ".", with: ",") + "%"
  }

  // MARK: - JSON

  /// The report as other systems read it: every instant in RFC 3339 with the zone's offset.
  struct Wire: Encodable {
    struct Row: Encodable {
      let unit: String
      let unitName: String
      let kind: String
      let parent: String?
      let parentName: String?
      let status: Status
      let statusText: String
      let deadline: String
      let receivedAt: String?
      let reference: String?
      let daysLate: Int?
      let extendedTo: String?
      let amount: Int64?
      let minimum: Int64?
      let childrenIn: Int?
      let childrenTotal: Int?
      let missingChildren: [String]?
      let note: String?
    }

    struct Section: Encodable {
      let rule: String
      let kind: String
      let title: String
      let basis: String
      let duePhrase: String
      let deadlineBasis: String?
      let deadline: String
      let rows: [Row]
      let groups: [ConsolidatedReport.Group]
      let byKind: [Tally]
      let byParent: [Tally]
      let total: Tally
      let error: String?
    }

    let period: String
    let periodName: String
    let asOf: String
    let scope: String?
    let scopeName: String?
    let sections: [Section]
  }

  var wire: Wire {
    Wire(
      period: period, periodName: periodName, asOf: zone.rfc3339(report.asOf), scope: report.scope,
      scopeName: report.scopeName,
      sections: sections.map { section in
        Wire.Section(
          rule: section.rule, kind: section.kind, title: section.title, basis: section.basis,
          duePhrase: section.duePhrase, deadlineBasis: section.deadlineBasis, deadline: zone.rfc3339(section.deadline),
          rows: section.rows.map { row in
            Wire.Row(
              unit: row.unit, unitName: row.unitName, kind: row.kind, parent: row.parent, parentName: row.parentName,
              status: row.status, statusText: Self.statusText(row), deadline: zone.rfc3339(row.deadline),
              receivedAt: row.receivedAt.map(zone.rfc3339), reference: row.reference, daysLate: row.daysLate,
              extendedTo: row.extendedTo?.description, amount: row.amount, minimum: row.minimum,
              childrenIn: row.childrenIn, childrenTotal: row.childrenTotal, missingChildren: row.missingChildren,
              note: row.note)
          }, groups: section.groups, byKind: section.byKind, byParent: section.byParent, total: section.total,
          error: section.error)
      })
  }

  public func json() -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    encoder.keyEncodingStrategy = .convertToSnakeCase
    return ((try? encoder.encode(wire)).map { String(decoding: $0, as: UTF8.self) } ?? "{}") + "\n"
  }

  // MARK: - CSV

  /// The CSV's columns and what each holds: text, an integer, a date (`2026-11-15`) or a date and
  /// time in the deployment's zone (`2026-11-10 09:30:00`), forms every spreadsheet reads as
  /// values. docs/reports.md lists them; a test reads every cell by this list.
  public static let csvColumns: [(name: String, type: CSVColumnType)] = [
    ("Quy định", .text), ("Kỳ", .text), ("Mã đơn vị", .text), ("Tên đơn vị", .text), ("Loại đơn vị", .text),
    ("Mã đơn vị cấp trên", .text), ("Đơn vị cấp trên", .text), ("Mã tình trạng", .text), ("Tình trạng", .text),
    ("Thời hạn", .text), ("Hạn cuối", .date), ("Ngày nhận", .dateTime), ("Số, ký hiệu văn bản", .text),
    ("Số ngày trễ", .integer), ("Gia hạn đến", .date), ("Kinh phí (đồng)", .integer),
    ("Mức tối thiểu (đồng)", .integer), ("Số đơn vị cấp dưới đã nộp", .integer),
    ("Số đơn vị cấp dưới phải nộp", .integer), ("Đơn vị cấp dưới chưa nộp", .text), ("Ghi chú", .text),
  ]

  public enum CSVColumnType: String, Sendable { case text, integer, date, dateTime = "date-time" }

  /// RFC 4180 with a UTF-8 byte-order mark and CRLF: what spreadsheet programs open with their
  /// diacritics intact. One line per unit and rule; an empty cell is a value that does not apply.
  public func csv() -> String {
    func number<T: BinaryInteger>(_ value: T?) -> String { value.map { String($0) } ?? "" }
    var lines = [Self.csvColumns.map { Self.csvField($0.name) }.joined(separator: ",")]
    for section in sections {
      for row in section.rows {
        let fields = [
          section.rule, period, row.unit, row.unitName, Self.kindName(row.kind), row.parent ?? "",
          row.parentName ?? "", row.status.rawValue, row.status.vietnamese, row.duePhrase,
          row.lastDay.description, row.receivedAt.map(dateTime) ?? "", row.reference ?? "", number(row.daysLate),
          row.extendedTo?.description ?? "", number(row.amount), number(row.minimum), number(row.childrenIn),
          number(row.childrenTotal), (row.missingChildren ?? []).joined(separator: "; "), row.note ?? "",
        ]
        lines.append(fields.map(Self.csvField).joined(separator: ","))
      }
    }
    return "\u{FEFF}" + lines.joined(separator: "\r\n") + "\r\n"
  }

  /// `2026-11-10 09:30:00`, local time: a spreadsheet's date and time value.
  func dateTime(_ instant: Date) -> String {
    let text = zone.rfc3339(instant)
    return text.prefix(10) + " " + text.dropFirst(11).prefix(8)
  }

  /// Quoted when it must be. A field that a spreadsheet would run as a formula starts with `'`.
  static func csvField(_ raw: String) -> String {
    var text = raw
    if let first = text.first, "=+-@".contains(first), Int64(text) == nil { text = "'" + text }
    guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" || $0 == ";" }) else {
      return text
    }
    return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
  }

  // MARK: - Markdown

  /// Markdown renderers pass HTML through: text from the data (unit names, references) is
  /// escaped as the HTML report escapes it, so that it can only ever read as text.
  static func markdownText(_ text: String) -> String {
    TemplateText.escapeHTML(text).replacingOccurrences(of: "\r", with: " ").replacingOccurrences(of: "\n", with: " ")
  }

  public func markdown() -> String {
    func cell(_ text: String) -> String {
      Self.markdownText(text).replacingOccurrences(of: "|", with: "\\|")
    }
    func table(_ header: [String], _ rows: [[String]]) -> String {
      var out = "| " + header.map(cell).joined(separator: " | ") + " |\n"
      out += "|" + header.map { _ in "---|" }.joined() + "\n"
      for row in rows { out += "| " + row.map(cell).joined(separator: " | ") + " |\n" }
      return out
    }
    let text = Self.markdownText
    var out = "# \(text(heading))\n\nSố liệu tính đến \(when(report.asOf)).\n"
    for (index, section) in sections.enumerated() {
      out += "\n## \(index + 1). \(text(section.title))\n\n"
      out += "Căn cứ: \(text(section.basis)). Thời hạn: \(text(section.dueLine)).\n"
      if let error = section.error {
        out += "\n**Chưa đánh giá được:** \(text(error))\n"
        continue
      }
      out += "\n### Tổng hợp\n\n"
      out += table(
        Self.tallyHeader(section), (section.byKind + [section.total]).map { Self.tallyCells($0, section) })
      if section.groups.count > 1 {
        out += "\n### Theo đơn vị cấp trên\n\n"
        out += table(
          ["Đơn vị cấp trên", "Đã nộp", "Chưa nộp"],
          section.groups.map {
            ["\($0.unitName)", "\($0.inCount)/\($0.owing)", $0.notIn.map(\.unitName).joined(separator: "; ")]
          })
      }
      out += "\n### Chi tiết\n\n"
      let columns = detailColumns(section)
      out += table(columns.map(\.title), section.rows.enumerated().map { i, row in columns.map { $0.value(i, row) } })
    }
    return out
  }

  /// The statuses a section's tallies count: "below the minimum" only where there is one, and
  /// "claimed" only where a unit's claim waits (a season without links reads as it always did).
  static func statuses(_ section: Section) -> [Status] {
    let budget = section.rows.contains { $0.minimum != nil }
    let claims = section.rows.contains { $0.status == .claimed }
    return Status.allCases.filter { ($0 != .belowMinimum || budget) && ($0 != .claimed || claims) }
  }

  public static func tallyHeader(_ section: Section) -> [String] {
    ["Loại đơn vị", "Số đơn vị"] + statuses(section).map(\.vietnamese) + [
      "Tỷ lệ đúng hạn", "Tỷ lệ trễ hạn", "Tỷ lệ chưa nộp",
    ]
  }

  public static func tallyCells(_ tally: Tally, _ section: Section) -> [String] {
    [tally.label, String(tally.total)] + statuses(section).map { String(tally.count($0)) }
      + [percent(tally.onTimeShare), percent(tally.lateShare), percent(tally.missingShare)]
  }

  public struct Column {
    public let title: String
    public let value: (Int, Row) -> String
  }

  /// The detail table's columns: amounts only for a budget, children only for a roll-up.
  public func detailColumns(_ section: Section) -> [Column] {
    var columns = [
      Column(title: "STT") { i, _ in String(i + 1) },
      Column(title: "Đơn vị") { _, row in row.unitName },
    ]
    // Communes of many districts: say whose each one is.
    if section.groups.count > 1 {
      columns.append(Column(title: "Đơn vị cấp trên") { _, row in row.parentName ?? "" })
    }
    columns += [
      Column(title: "Tình trạng") { _, row in Self.statusText(row) },
      Column(title: "Ngày nhận") { [self] _, row in when(row.receivedAt) },
      Column(title: "Số, ký hiệu văn bản") { _, row in row.reference ?? "" },
    ]
    if section.rows.contains(where: { $0.amount != nil || $0.minimum != nil }) {
      columns.append(Column(title: "Kinh phí") { _, row in row.amount.map(Money.vietnamese) ?? "" })
    }
    if section.rows.contains(where: { $0.childrenTotal != nil }) {
      columns.append(
        Column(title: "Đơn vị cấp dưới đã nộp") { _, row in
          guard let total = row.childrenTotal else { return "" }
          let missing = row.missingChildren ?? []
          return "\(row.childrenIn ?? 0)/\(total)"
            + (missing.isEmpty ? "" : "; chưa nộp: \(missing.joined(separator: "; "))")
        })
    }
    columns.append(Column(title: "Ghi chú") { _, row in row.note ?? "" })
    return columns
  }
}

extension ConsolidatedReport.Section {
  /// `trước ngày 15/11/2026`, with where the date comes from when the letter sets none.
  public var dueLine: String { duePhrase + (deadlineBasis.map { " (\($0))" } ?? "") }
}
