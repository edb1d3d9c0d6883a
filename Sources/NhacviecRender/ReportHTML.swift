import Foundation
public import NhacviecCore

extension ReportDocument {
  /// A self-contained page (no outside assets) that prints on A4: the picture first (a chart of
  /// on time, late and missing per district or kind of unit), then the tables.
  public func html() -> String {
    var out = """
      <!DOCTYPE html>
      <html lang="vi">
      <head>
      <meta charset="utf-8">
      <meta name="viewport" content="width=device-width, initial-scale=1">
      <meta name="generator" content="nhacviec">
      <title>\(Self.escape(heading))</title>
      <style>
      @page { size: A4; margin: 15mm 12mm 15mm 15mm; }
      body { font-family: "Times New Roman", Times, serif; font-size: 12pt; line-height: 1.35; color: #000; max-width: 183mm; margin: 0 auto; padding: 8mm 0; }
      header p { margin: 0; font-style: italic; text-align: right; font-size: 10.5pt; }
      h1 { font-size: 15pt; text-align: center; text-transform: uppercase; margin: 6pt 0 10pt; }
      h2 { font-size: 13pt; margin: 14pt 0 4pt; }
      h3 { font-size: 12pt; margin: 10pt 0 4pt; }
      section + section { break-before: page; }
      table { border-collapse: collapse; width: 100%; font-size: 10.5pt; }
      thead { display: table-header-group; }
      tr { break-inside: avoid; }
      th, td { border: 1px solid #555; padding: 2pt 4pt; vertical-align: top; text-align: left; }
      th { background: #eee; }
      td.n { text-align: right; white-space: nowrap; }
      tr.total td { font-weight: bold; }
      .on-time { color: #1b5e20; }
      .late { color: #8a4b00; }
      .missing { color: #b71c1c; font-weight: bold; }
      figure { margin: 6pt 0; break-inside: avoid; }
      figcaption { font-size: 10pt; font-style: italic; }
      svg { max-width: 100%; height: auto; }
      .error { border: 1px solid #b71c1c; padding: 4pt; }
      </style>
      </head>
      <body>
      <header><p>Hệ thống nhắc việc — số liệu tính đến \(Self.escape(when(report.asOf)))</p></header>
      <h1>\(Self.escape(heading))</h1>

      """
    for (index, section) in sections.enumerated() {
      out += "<section>\n<h2>\(index + 1). \(Self.escape(section.title))</h2>\n"
      out += "<p>Căn cứ: \(Self.escape(section.basis)). Thời hạn: \(Self.escape(section.dueLine)).</p>\n"
      if let error = section.error {
        out += "<p class=\"error\">Chưa đánh giá được: \(Self.escape(error))</p>\n</section>\n"
        continue
      }
      let perParent = section.byParent.count > 1
      let bars = perParent ? section.byParent : section.byKind
      out += "<figure>\n\(Self.chart(bars, title: section.title))\n"
      out +=
        "<figcaption>Hình \(index + 1). Tình hình nộp báo cáo theo \(perParent ? "đơn vị cấp trên" : "loại đơn vị").</figcaption>\n</figure>\n"
      out += "<h3>Tổng hợp</h3>\n<table>\n<thead><tr>"
      out += Self.tallyHeader(section).map { "<th>\(Self.escape($0))</th>" }.joined() + "</tr></thead>\n<tbody>\n"
      for tally in section.byKind + [section.total] {
        let cells = Self.tallyCells(tally, section)
        out += "<tr\(tally.key.isEmpty ? " class=\"total\"" : "")><td>\(Self.escape(cells[0]))</td>"
        out += cells.dropFirst().map { "<td class=\"n\">\(Self.escape($0))</td>" }.joined() + "</tr>\n"
      }
      out += "</tbody>\n</table>\n"
      if section.groups.count > 1 {
        out += "<h3>Theo đơn vị cấp trên</h3>\n<table>\n"
        out += "<thead><tr><th>Đơn vị cấp trên</th><th>Đã nộp</th><th>Chưa nộp</th></tr></thead>\n<tbody>\n"
        for group in section.groups {
          out += "<tr><td>\(Self.escape(group.unitName))</td><td class=\"n\">\(group.inCount)/\(group.owing)</td>"
          out += "<td>\(Self.escape(group.notIn.map(\.unitName).joined(separator: "; ")))</td></tr>\n"
        }
        out += "</tbody>\n</table>\n"
      }
      out += "<h3>Chi tiết</h3>\n<table>\n<thead><tr>"
      let columns = detailColumns(section)
      out += columns.map { "<th>\(Self.escape($0.title))</th>" }.joined() + "</tr></thead>\n<tbody>\n"
      for (i, row) in section.rows.enumerated() {
        out += "<tr>"
        for column in columns {
          let value = Self.escape(column.value(i, row))
          switch column.title {
          case "STT": out += "<td class=\"n\">\(value)</td>"
          case "Tình trạng": out += "<td class=\"\(row.status.rawValue)\">\(value)</td>"
          default: out += "<td>\(value)</td>"
          }
        }
        out += "</tr>\n"
      }
      out += "</tbody>\n</table>\n</section>\n"
    }
    out += "</body>\n</html>\n"
    return out
  }

  static func f1(_ value: Double) -> String { String(format: "%.1f", value) }

  static func escape(_ text: String) -> String { TemplateText.escapeHTML(text) }

  /// Stacked horizontal bars: on time, late, missing, and not yet due or extended, per row.
  /// Exempt units owe nothing and are left out.
  public static func chart(_ tallies: [Tally], title: String) -> String {
    let labelWidth = 190
    let barWidth = 400
    let rowHeight = 22
    let top = 8
    let width = labelWidth + barWidth + 60
    let legendY = top + tallies.count * rowHeight + 14
    let height = legendY + 20
    let most = max(1, tallies.map { $0.total - $0.count(.exempt) }.max() ?? 1)
    let segments: [(String, String, [Status])] = [
      ("Đúng hạn", "#2e7d32", [.onTime]), ("Trễ hạn", "#f9a825", [.late]), ("Chưa nộp", "#c62828", [.missing]),
      ("Dưới mức tối thiểu", "#6a1b9a", [.belowMinimum]), ("Báo đã gửi, chờ xác minh", "#1565c0", [.claimed]),
      ("Chưa đến hạn, gia hạn", "#9e9e9e", [.pending, .extended]),
    ].filter { segment in
      (segment.2 != [.belowMinimum] || tallies.contains { $0.count(.belowMinimum) > 0 })
        && (segment.2 != [.claimed] || tallies.contains { $0.count(.claimed) > 0 })
    }
    var out =
      "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(width) \(height)\" width=\"\(width)\" height=\"\(height)\" role=\"img\" aria-label=\"\(escape(title))\" font-family=\"Times New Roman, serif\" font-size=\"12\">\n"
    for (index, tally) in tallies.enumerated() {
      let y = top + index * rowHeight
      out +=
        "<text x=\"\(labelWidth - 6)\" y=\"\(y + 15)\" text-anchor=\"end\">\(escape(String(tally.label.prefix(32))))</text>\n"
      var x = Double(labelWidth)
      for (name, color, statuses) in segments {
        let count = statuses.map { tally.count($0) }.reduce(0, +)
        guard count > 0 else { continue }
        let w = Double(barWidth) * Double(count) / Double(most)
        out +=
          "<rect x=\"\(f1(x))\" y=\"\(y + 3)\" width=\"\(f1(w))\" height=\"\(rowHeight - 6)\" fill=\"\(color)\"><title>\(escape(name)): \(count)</title></rect>\n"
        if w >= 16 {
          out += "<text x=\"\(f1(x + w / 2))\" y=\"\(y + 15)\" text-anchor=\"middle\" fill=\"#fff\">\(count)</text>\n"
        }
        x += w
      }
      let owing = tally.total - tally.count(.exempt)
      let inCount = tally.count(.onTime) + tally.count(.late)
      out += "<text x=\"\(f1(x + 4))\" y=\"\(y + 15)\">\(inCount)/\(owing)</text>\n"
    }
    var legendX = labelWidth
    for (name, color, _) in segments {
      out += "<rect x=\"\(legendX)\" y=\"\(legendY)\" width=\"10\" height=\"10\" fill=\"\(color)\"/>"
      out += "<text x=\"\(legendX + 14)\" y=\"\(legendY + 9)\">\(escape(name))</text>\n"
      legendX += 14 + name.count * 6 + 18
    }
    out += "</svg>"
    return out
  }
}
