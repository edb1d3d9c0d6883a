import Foundation
import TestSupport
import Testing

@Suite("nhacviec report")
struct ReportTests {
  static let fixtures = repositoryRoot.appendingPathComponent("Tests/CommandLineTests/Fixtures")

  /// The two eras: communes under their districts, with the districts' roll-ups (2024), and
  /// communes directly under the province (2026).
  static let cases: [(name: String, arguments: [String])] = [
    (
      "report-2024-districts",
      [
        "--period", "2024", "--as-of", "2024-11-20T09:00:00+07:00", "--rule", "iso-commune-report", "--rule",
        "iso-district-report",
      ]
    ),
    (
      "report-2026-province",
      ["--period", "2026", "--as-of", "2026-11-20T09:00:00+07:00", "--rule", "iso-annual-report"]
    ),
  ]

  func report(_ arguments: [String], format: String) throws -> String {
    let facts = ReportTests.fixtures.appendingPathComponent("report-facts.csv").path
    let run = try Run(["report", "--offline", "--facts", facts, "--format", format] + arguments)
    #expect(run.status == 0, "\(run.stderr)")
    return run.stdout
  }

  @Test("a fixed set of facts gives the known report in every format, in both directory eras")
  func golden() throws {
    for (name, arguments) in ReportTests.cases {
      for format in ["html", "csv", "md", "json"] {
        let text = try report(arguments, format: format)
        let golden = ReportTests.fixtures.appendingPathComponent("\(name).\(format)")
        if ProcessInfo.processInfo.environment["NHACVIEC_UPDATE_GOLDEN"] == "1" {
          try Data(text.utf8).write(to: golden)
        }
        // Byte for byte: the CSV's byte-order mark and CRLF are part of what is promised.
        let expected = String(decoding: try Data(contentsOf: golden), as: UTF8.self)
        #expect(Array(text.utf8) == Array(expected.utf8), "\(name).\(format)")
        func lines(_ text: String) -> [String] {
          text.replacingOccurrences(of: "\r\n", with: "\n").components(separatedBy: "\n")
        }
        let (a, b) = (lines(text), lines(expected))
        if let difference = zip(a, b).enumerated().first(where: { $0.element.0 != $0.element.1 }) {
          Issue.record(
            "\(name).\(format) line \(difference.offset + 1) differs:\n got: \(difference.element.0)\nwant: \(difference.element.1)"
          )
        }
      }
    }
  }

  @Test("the figures add up: districts' communes in, late by N days, extended, exempt, and shares")
  func figures() throws {
    let text = try report(ReportTests.cases[0].arguments, format: "json")
    let root = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    let sections = try #require(root["sections"] as? [[String: Any]])
    #expect(sections.map { $0["rule"] as? String } == ["iso-commune-report", "iso-district-report"])
    let communes = sections[0]
    let rows = try #require(communes["rows"] as? [[String: Any]])
    func row(_ unit: String) -> [String: Any]? { rows.first { $0["unit"] as? String == unit } }
    // "Trước ngày 05/11": 04/11 is the last day, so 06/11 is two days late and 08/11 four.
    #expect(row("21181")?["status_text"] as? String == "Trễ 2 ngày")
    #expect(row("21205")?["days_late"] as? Int == 4)
    #expect(row("21244")?["status_text"] as? String == "Được gia hạn đến 25/11/2024")
    #expect(row("21226")?["status"] as? String == "exempt")
    #expect(row("21175")?["reference"] as? String == "31/BC-UBND")
    #expect(row("21175")?["received_at"] as? String == "2024-10-25T09:00:00+07:00")
    let groups = try #require(communes["groups"] as? [[String: Any]])
    let sonTinh = try #require(groups.first { $0["unit"] as? String == "527" })
    // Eleven communes, one exempt: all ten that owe are in.
    #expect(sonTinh["in_count"] as? Int == 10)
    #expect(sonTinh["owing"] as? Int == 10)
    let tuNghia = try #require(groups.first { $0["unit"] as? String == "528" })
    #expect(tuNghia["in_count"] as? Int == 2)
    #expect((tuNghia["not_in"] as? [[String: Any]])?.count == 12)
    let total = try #require(communes["total"] as? [String: Any])
    #expect(total["total"] as? Int == 173)
    let counts = try #require(total["counts"] as? [String: Int])
    #expect(
      counts == [
        "on-time": 9, "late": 3, "missing": 159, "pending": 0, "extended": 1, "exempt": 1, "below-minimum": 0,
        "claimed": 0,
      ])
    // 9 of the 172 that owe, to one decimal.
    #expect(total["on_time_share"] as? Double == 5.2)
    // The districts' roll-up: Sơn Tịnh consolidated on time with every commune that owes in; the
    // exempt one owes nothing, as in the table by district above (10 of 10, not 11 of 11).
    let districts = try #require(sections[1]["rows"] as? [[String: Any]])
    let district = try #require(districts.first { $0["unit"] as? String == "527" })
    #expect(district["status"] as? String == "on-time")
    #expect(district["children_in"] as? Int == sonTinh["in_count"] as? Int)
    #expect(district["children_total"] as? Int == sonTinh["owing"] as? Int)
    // A district's part: its communes only, named as they were in 2024.
    let part = try report(
      ["--period", "2024", "--as-of", "2024-11-20T09:00:00+07:00", "--rule", "iso-commune-report", "--scope", "527"],
      format: "json")
    let scoped = try #require(try JSONSerialization.jsonObject(with: Data(part.utf8)) as? [String: Any])
    #expect(scoped["scope_name"] as? String == "Huyện Sơn Tịnh")
    let section = try #require((scoped["sections"] as? [[String: Any]])?.first)
    #expect((section["rows"] as? [[String: Any]])?.count == 11)
    #expect((section["total"] as? [String: Any])?["label"] as? String == "Toàn Huyện Sơn Tịnh")
  }

  @Test("the HTML passes a validator and is self-contained; a broken page does not pass")
  func validHTML() throws {
    let folder = try temporaryFolder("report-html")
    for (name, arguments) in ReportTests.cases {
      let file = folder.appendingPathComponent("\(name).html")
      try report(arguments, format: "html").write(to: file, atomically: true, encoding: .utf8)
      let check = try ProgramRun("/usr/bin/python3", [serversPath("check_html.py"), file.path])
      #expect(check.status == 0, "\(check.stdout)\(check.stderr)")
      let html = try String(contentsOf: file, encoding: .utf8)
      #expect(html.contains("<svg xmlns=\"http://www.w3.org/2000/svg\""))
      #expect(html.contains("@page { size: A4;"))
    }
    // The checker can fail: an unclosed element and an outside image.
    let bad = folder.appendingPathComponent("bad.html")
    try """
    <!DOCTYPE html>
    <html lang="vi"><head><meta charset="utf-8"><title>x</title></head>
    <body><p>a</div><img src="https://example.com/logo.png" alt=""></body></html>
    """.write(to: bad, atomically: true, encoding: .utf8)
    let check = try ProgramRun("/usr/bin/python3", [serversPath("check_html.py"), bad.path])
    #expect(check.status == 1)
    #expect(check.stdout.contains("end-tag-too-early"))
    #expect(check.stdout.contains("points outside the document"))
  }

  @Test("the CSV round-trips through a CSV parser with every Vietnamese name intact")
  func csvRoundTrip() throws {
    for (_, arguments) in ReportTests.cases {
      let folder = try temporaryFolder("report-csv")
      let file = folder.appendingPathComponent("report.csv")
      let csv = try report(arguments, format: "csv")
      #expect(csv.hasPrefix("\u{FEFF}"))
      #expect(csv.contains("\r\n"))
      try csv.write(to: file, atomically: true, encoding: .utf8)
      let parsed = try ProgramRun(
        "/usr/bin/python3",
        [
          "-c",
          "import csv, json, sys; print(json.dumps(list(csv.reader(open(sys.argv[1], encoding='utf-8-sig', newline=''))), ensure_ascii=False))",
          file.path,
        ])
      #expect(parsed.status == 0, "\(parsed.stderr)")
      let table = try #require(try JSONSerialization.jsonObject(with: Data(parsed.stdout.utf8)) as? [[String]])
      let json = try report(arguments, format: "json")
      let root = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
      let rows = (root["sections"] as? [[String: Any]] ?? []).flatMap { $0["rows"] as? [[String: Any]] ?? [] }
      #expect(table.first?[3] == "Tên đơn vị")
      #expect(table.count == rows.count + 1)
      #expect(table.dropFirst().map { $0[3] } == rows.map { $0["unit_name"] as? String ?? "" })
      #expect(table.dropFirst().map { $0[2] } == rows.map { $0["unit"] as? String ?? "" })
      #expect(table.allSatisfy { $0.count == table[0].count })
    }
  }

  /// docs/reports.md's CSV column table: name and type, in order.
  static func documentedColumns() throws -> [(name: String, type: String)] {
    let doc = try String(contentsOf: repositoryRoot.appendingPathComponent("docs/reports.md"), encoding: .utf8)
    let section = try #require(doc.components(separatedBy: "| column | type | holds |").dropFirst().first)
    return section.split(separator: "\n").dropFirst().prefix { $0.hasPrefix("|") }.map { line in
      let cells = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
      return (cells[0], cells[1])
    }
  }

  @Test("every CSV cell is a value of its documented column's type, as a spreadsheet reads it")
  func csvTypes() throws {
    let columns = try Self.documentedColumns()
    #expect(columns.count == 21)
    let folder = try temporaryFolder("report-csv-types")
    let spec = folder.appendingPathComponent("columns.json")
    try JSONSerialization.data(withJSONObject: columns.map { [$0.name, $0.type] }).write(to: spec)
    // A season's facts with a late commune, an extension, an exemption, and budget lines above
    // and below the minimum: every column holds a value somewhere.
    let facts = folder.appendingPathComponent("facts.csv")
    try """
    kind,unit,rule,period,at,reference,amount,due,by,reason
    budget,51-STP,iso-budget-estimate,2026,2025-06-10T09:00:00+07:00,45/DT-STP,8.000.000,,,
    budget,51-SYT,iso-budget-estimate,2026,2025-06-10T09:00:00+07:00,12/DT-SYT,2.000.000,,,
    """.write(to: facts, atomically: true, encoding: .utf8)
    var files: [URL] = []
    for (index, arguments) in (ReportTests.cases.map(\.arguments) + [["--period", "2026", "--as-of", "2026-12-20"]])
      .enumerated()
    {
      let factsFile =
        index < ReportTests.cases.count ? ReportTests.fixtures.appendingPathComponent("report-facts.csv") : facts
      let run = try Run(["report", "--offline", "--facts", factsFile.path, "--format", "csv"] + arguments)
      #expect(run.status == 0, "\(run.stderr)")
      let file = folder.appendingPathComponent("report-\(index).csv")
      try run.stdout.write(to: file, atomically: true, encoding: .utf8)
      files.append(file)
    }
    let check = try ProgramRun(
      "/usr/bin/python3",
      [
        "-c",
        """
        import csv, datetime, json, re, sys
        columns = json.load(open(sys.argv[1]))
        used = set()
        for path in sys.argv[2:]:
            rows = list(csv.reader(open(path, encoding="utf-8-sig", newline="")))
            assert rows[0] == [name for name, _ in columns], ("header", rows[0])
            for number, row in enumerate(rows[1:], start=2):
                for (name, kind), cell in zip(columns, row):
                    if cell == "":
                        continue
                    used.add(name)
                    if kind == "integer":
                        assert re.fullmatch(r"-?[0-9]+", cell), (path, number, name, cell)
                    elif kind == "date":
                        datetime.date.fromisoformat(cell)
                        assert re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", cell), (path, number, name, cell)
                    elif kind == "date-time":
                        datetime.datetime.strptime(cell, "%Y-%m-%d %H:%M:%S")
                    else:
                        assert kind == "text", kind
        print(json.dumps(sorted(used), ensure_ascii=False))
        """,
        spec.path,
      ] + files.map(\.path))
    #expect(check.status == 0, "\(check.stdout)\(check.stderr)")
    // Every column holds a value in these reports: the check has something to check.
    let used = try #require(try JSONSerialization.jsonObject(with: Data(check.stdout.utf8)) as? [String])
    #expect(Set(columns.map(\.name)).subtracting(used).isEmpty, "\(used)")
  }

  @Test("a year's report: titles about every unit, no empty section, a budget line below the minimum said so")
  func wholeYear() throws {
    let folder = try temporaryFolder("report-year")
    let facts = folder.appendingPathComponent("facts.csv")
    try """
    kind,unit,rule,period,at,reference,amount,due,by,reason
    budget,51-STP,iso-budget-estimate,2026,2025-06-10T09:00:00+07:00,45/DT-STP,8.000.000,,,
    budget,51-SYT,iso-budget-estimate,2026,2025-06-10T09:00:00+07:00,12/DT-SYT,2.000.000,,,
    """.write(to: facts, atomically: true, encoding: .utf8)
    let run = try Run([
      "report", "--offline", "--facts", facts.path, "--format", "json", "--period", "2026", "--as-of",
      "2026-12-20T09:00:00+07:00",
    ])
    #expect(run.status == 0, "\(run.stderr)")
    let root = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
    let sections = try #require(root["sections"] as? [[String: Any]])
    // No unit owes the districts' rules in 2026: they have no section.
    #expect(
      sections.compactMap { $0["rule"] as? String } == [
        "iso-annual-report", "iso-budget-estimate", "iso-training", "iso-inspection", "iso-consolidated-report",
        "iso-inspection-report",
      ])
    for section in sections {
      let rows = section["rows"] as? [[String: Any]] ?? []
      #expect(!rows.isEmpty)
      // A title names no unit: not the first row's, not any.
      let title = section["title"] as? String ?? ""
      #expect(!rows.contains { title.contains($0["unit_name"] as? String ?? "") }, "\(title)")
      #expect(!(section["due_phrase"] as? String ?? "").isEmpty)
    }
    let inspection = try #require(sections.first { $0["rule"] as? String == "iso-inspection" })
    #expect(
      inspection["title"] as? String
        == "Kiểm tra việc duy trì, áp dụng và cải tiến Hệ thống quản lý chất lượng tại các cơ quan, đơn vị năm 2026")
    let budget = try #require(
      sections.first { $0["rule"] as? String == "iso-budget-estimate" }?["rows"] as? [[String: Any]])
    let syt = try #require(budget.first { $0["unit"] as? String == "51-SYT" })
    #expect(syt["status"] as? String == "below-minimum")
    #expect(syt["status_text"] as? String == "Dưới mức tối thiểu")
    #expect(budget.first { $0["unit"] as? String == "51-STP" }?["status"] as? String == "on-time")
    #expect(budget.first { $0["unit"] as? String == "51-STC" }?["status"] as? String == "missing")
  }

  @Test("the daemon serves the same report from its store")
  func fromDaemon() throws {
    let fixture = try DaemonFixture()
    let notify = try NotifyListener()
    let daemon = try fixture.start(at: "2026-11-17T09:00:00+07:00", notify: notify)
    defer { kill(daemon.processIdentifier, SIGKILL) }
    let recorded = try fixture.client([
      "record", "report", "--unit", "D3", "--rule", "annual", "--period", "2026", "--at", "2026-11-16T08:30:00+07:00",
      "--reference", "12/BC-D3",
    ])
    #expect(recorded.status == 0, "\(recorded.stderr)")
    let asOf = "2026-11-17T10:00:00+07:00"
    let served = try fixture.client(["report", "--period", "2026", "--as-of", asOf, "--format", "csv"])
    #expect(served.status == 0, "\(served.stderr)")
    #expect(served.stdout.contains("D3,Sở số 3,"))
    // Due before 15/11, so the last day was 14/11; in on 16/11: two days late.
    #expect(
      served.stdout.contains(
        "late,Trễ hạn,trước ngày 15/11/2026,2026-11-14,2026-11-16 08:30:00,12/BC-D3,2,"))
    let facts = fixture.folder.appendingPathComponent("facts.csv")
    try """
    kind,unit,rule,period,at,reference,amount,due,by,reason
    report,D3,annual,2026,2026-11-16T08:30:00+07:00,12/BC-D3,,,,
    """.write(to: facts, atomically: true, encoding: .utf8)
    let offline = try Run([
      "report", "--config", fixture.config, "--facts", facts.path, "--period", "2026", "--as-of", asOf, "--format",
      "csv",
    ])
    #expect(offline.stdout == served.stdout)
    // Through the API as well, with its content type.
    let curl = try ProgramRun(
      "/usr/bin/curl",
      ["-s", "-i", "--unix-socket", fixture.socket, "http://localhost/v1/report?period=2026&format=html"])
    #expect(curl.stdout.contains("Content-Type: text/html; charset=utf-8"))
    #expect(curl.stdout.contains("<!DOCTYPE html>"))
    let bad = try ProgramRun(
      "/usr/bin/curl", ["-s", "--unix-socket", fixture.socket, "http://localhost/v1/report?period=soon"])
    #expect(bad.stdout.contains("period must read 2026, 2026-Q3 or 2026-09, not soon"))
  }
}

func serversPath(_ name: String) -> String { repositoryRoot.appendingPathComponent("Tests/Servers/\(name)").path }

@Suite("Summaries by email", .serialized)
struct SummaryEmailTests {
  @Test(
    "a summary arrives at a real SMTP server with the report as HTML and the CSV attached under its Vietnamese name")
  func summaryEmail() throws {
    let maildir = try temporaryFolder("summary-mail")
    let server = try TestServer("smtp_server.py", ["--maildir", maildir.path])
    defer { server.stop() }
    let fixture = try DaemonFixture(
      channel:
        "{ type: smtp, url: \"smtp://127.0.0.1:\(server.port)\", from: \"Hệ thống nhắc việc <nhacviec@p.example>\" }")
    try """
    - id: weekly
      kind: summary
      params: { rules: [annual], every: mon, from: "11-01" }
      title: Tổng hợp báo cáo ISO {{period.name}}
      basis: Công văn, khoản 4
      applies_to: { ids: [P] }
      period: yearly
      due: { date: "12-15", convention: by }
      remind_to: [unit.head]
      stop_after: 0d
      channels: [email]
    """.write(to: fixture.folder.appendingPathComponent("rules/weekly.yaml"), atomically: true, encoding: .utf8)
    // D2 reported on time before the daemon starts; the first pass is Monday 16/11 at 08:00.
    let notify = try NotifyListener()
    let daemon = try fixture.start(at: "2026-11-16T08:00:00+07:00", notify: notify)
    defer { kill(daemon.processIdentifier, SIGKILL) }
    var messages: [URL] = []
    for _ in 0..<200 {
      messages = try FileManager.default.contentsOfDirectory(at: maildir, includingPropertiesForKeys: nil)
        .filter { $0.pathExtension == "eml" }
      let summaries = try messages.filter {
        try String(contentsOf: $0, encoding: .utf8).contains("X-Nhacviec-Key: weekly/P/2026/summary-2026-11-16")
      }
      if let summary = summaries.first {
        messages = [summary]
        break
      }
      usleep(50_000)
    }
    let message = try #require(messages.first, "no summary arrived")
    let reader = """
      import csv, email, io, json, sys
      from email import policy
      msg = email.message_from_binary_file(open(sys.argv[1], 'rb'), policy=policy.default)
      out = {"subject": msg["subject"], "parts": []}
      for part in msg.walk():
          if part.is_multipart():
              out["parts"].append(part.get_content_type())
              continue
          item = {"type": part.get_content_type(), "filename": part.get_filename(),
                  "disposition": part.get_content_disposition()}
          if part.get_content_type() == "text/html":
              item["html"] = part.get_content()
          if part.get_filename():
              data = part.get_payload(decode=True)
              item["bom"] = data.startswith(b"\\xef\\xbb\\xbf")
              item["rows"] = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
          out["parts"].append(item)
      print(json.dumps(out, ensure_ascii=False))
      """
    let parsed = try ProgramRun("/usr/bin/python3", ["-c", reader, message.path])
    #expect(parsed.status == 0, "\(parsed.stderr)")
    let root = try #require(try JSONSerialization.jsonObject(with: Data(parsed.stdout.utf8)) as? [String: Any])
    #expect(root["subject"] as? String == "[Nhắc việc] Tổng hợp báo cáo ISO năm 2026 — số liệu đến ngày 16/11/2026")
    let parts = try #require(root["parts"] as? [Any])
    #expect(parts.compactMap { $0 as? String } == ["multipart/mixed", "multipart/alternative"])
    let leaves = parts.compactMap { $0 as? [String: Any] }
    #expect(leaves.compactMap { $0["type"] as? String } == ["text/plain", "text/html", "text/csv"])
    let html = try #require(leaves.first { $0["type"] as? String == "text/html" }?["html"] as? String)
    #expect(html.hasPrefix("<!DOCTYPE html>"))
    #expect(html.contains("<svg"))
    #expect(html.contains("Sở số 20"))
    let attachment = try #require(leaves.first { $0["type"] as? String == "text/csv" })
    #expect(attachment["disposition"] as? String == "attachment")
    // Decoded from RFC 2231 continuations: every diacritic intact.
    #expect(attachment["filename"] as? String == "Tổng hợp năm 2026 - 16-11-2026.csv")
    #expect(attachment["bom"] as? Bool == true)
    let rows = try #require(attachment["rows"] as? [[String]])
    #expect(rows.first?[3] == "Tên đơn vị")
    #expect(rows.count == 21)
    #expect(rows.dropFirst().map { $0[3] } == (1...20).map { "Sở số \($0)" })
    // The raw header: an ASCII fallback and the RFC 2231 form.
    let raw = try String(contentsOf: message, encoding: .utf8)
    #expect(raw.contains("filename*0*=UTF-8''T%E1%BB%95ng%20h%E1%BB%A3p"))
    #expect(raw.contains("name=\"Tong hop nam 2026 - 16-11-2026.csv\""))
  }
}
