import Foundation
import NhacviecConfig
import NhacviecCore
import NhacviecRender
import TestSupport
import Testing

/// Inputs that once crashed, wedged or fooled nhacviec: each is refused with a clear error now.
@Suite("Hostile and mistaken input")
struct HostileInputTests {
  // MARK: - Values

  @Test("a period is four digits, then nothing, -Qn or -MM: a sign alone is not one")
  func periods() {
    for text in [
      "-", "--", "-2026", "2026-", "+026", "+2026", " 2026", "2026 ", "2026-Q0", "2026-Q5", "2026-q1",
      "2026-00", "2026-13", "2026-1", "2026-001", "２０２６", "2026-Q1x", "20260", "",
    ] {
      #expect(Period(text) == nil, "\(text)")
    }
    #expect(Period("2026") == Period(kind: .yearly, year: 2026))
    #expect(Period("2026-Q3") == Period(kind: .quarterly, year: 2026, index: 3))
    #expect(Period("2026-09") == Period(kind: .monthly, year: 2026, index: 9))
  }

  @Test("an amount is whole đồng in groups of three: 5.5 is not 55 đồng")
  func amounts() {
    for text in [
      "5.5", "5.00.0000", "5,000,000", "5.000 000", "1.0000", ".500", "500.", "-5", "5e6", "",
      "99999999999999999999",
    ] {
      #expect(Money.parse(text) == nil, "\(text)")
    }
    #expect(Money.parse("5000000") == 5_000_000)
    #expect(Money.parse("5.000.000") == 5_000_000)
    #expect(Money.parse("5 000 000 đ") == 5_000_000)
    #expect(Money.parse("12.500.000đồng") == 12_500_000)
    #expect(Money.parse("999") == 999)
  }

  @Test("an instant's fields have their digits and ranges; an offset is at most ±23:59")
  func instants() {
    let zone = Zone.vietnam
    for text in [
      "2026-10-20T09:00:00+25:00", "2026-10-20T09:00:00+07:60", "2026-10-20T9:00", "2026-10-20T09:0",
      "2026-10-20T24:00", "2026-10-20T09:00:00+0700", "2026-10-20T09:00:00+07", "2026-10-20T09:00Zjunk",
      "2026-10-20T09:00:00.", "2026-10-20X09:00", "2026-02-30T09:00",
    ] {
      #expect(zone.parseInstant(text) == nil, "\(text)")
    }
    #expect(zone.parseInstant("2026-10-20T09:00:00+07:00") == zone.parseInstant("2026-10-20T02:00:00Z"))
    #expect(
      zone.parseInstant("2026-10-20T02:00:00.5Z")?.timeIntervalSince1970.truncatingRemainder(dividingBy: 1) == 0.5)
    #expect(zone.parseInstant("2026-10-20 09:00") == zone.parseInstant("2026-10-20T09:00:00+07:00"))
  }

  // MARK: - Facts

  func fact(_ fields: [String: String]) -> String? {
    var values = ["kind": "report", "unit": "D", "rule": "annual", "period": "2026", "at": "2026-10-20T09:00:00+07:00"]
    for (key, value) in fields { values[key] = value.isEmpty ? nil : value }
    do {
      _ = try FactsLoader.fact(values, zone: .vietnam, at: nil)
      return nil
    } catch {
      return error.message
    }
  }

  @Test("facts that make no sense are refused, each naming its field and why")
  func facts() throws {
    for period in ["-2026", "2026-", "+026", "-", "--"] {
      #expect(fact(["period": period])?.hasPrefix("period: must read 2026") == true, "\(period)")
    }
    #expect(fact(["at": "0000-10-20T09:00:00+07:00"]) == "at: year 0 is outside 2000–2100")
    #expect(fact(["at": "9999-10-20T09:00:00+07:00"]) == "at: year 9999 is outside 2000–2100")
    #expect(fact(["period": "9999"]) == "period: year 9999 is outside 2000–2100")
    #expect(fact(["at": "2026-10-20T09:00:00+25:00"])?.hasPrefix("at: must be an instant") == true)
    #expect(fact(["kind": "budget", "at": "", "amount": "5.5"])?.hasPrefix("amount: must be whole đồng") == true)
    #expect(fact(["kind": "budget", "at": "", "amount": "5.00.0000"])?.hasPrefix("amount: must be whole đồng") == true)
    #expect(fact(["amount": "5000000"]) == "amount: a report fact has no amount (it takes at, reason, reference)")
    #expect(fact(["due": "2026-12-01"])?.hasPrefix("due: a report fact has no due") == true)
    #expect(fact(["kind": "extension", "at": "", "by": "Giám đốc"]) == "a fact needs `due`")
    #expect(fact(["unit": ""]) == "a fact needs `unit`")
  }

  @Test("facts that do not fit the deployment are refused: kind, rule, roster, extension")
  func factsAgainstDeployment() throws {
    let scratch = try Scratch(
      rules: Scratch.rules + """

        - id: money
          kind: budget
          params: { minimum: 5000000 }
          title: Kinh phí {{period.name}}
          basis: Công văn, khoản 3
          applies_to: { kinds: [dept] }
          period: yearly
          due: { date: "07-15", year_offset: -1, convention: by }
          channels: [email]
        """)
    let deployment = try scratch.load()
    func check(_ fact: Fact) -> String? { FactsLoader.check([fact], against: deployment).first?.message }
    #expect(
      check(Fact(kind: .budget, unitID: "D", ruleID: "annual", period: "2026", amount: 5_000_000))
        == "kind: rule annual (deadline) takes report, extension, exemption, claim, request, returned facts, not budget"
    )
    #expect(
      check(Fact(kind: .report, unitID: "D", ruleID: "money", period: "2027", at: Date()))
        == "kind: rule money (budget) takes budget, extension, exemption facts, not report")
    #expect(
      check(Fact(kind: .report, unitID: "P", ruleID: "annual", period: "2026", at: Date()))
        == "unit: P does not owe annual for 2026")
    #expect(
      check(Fact(kind: .extension, unitID: "D", ruleID: "annual", period: "2026", due: LocalDate(iso: "2026-11-10")))
        == "due: an extension moves the deadline later than 2026-11-15, not to 2026-11-10")
    #expect(
      check(Fact(kind: .extension, unitID: "D", ruleID: "annual", period: "2026", due: LocalDate(iso: "2026-11-15")))
        != nil)
    #expect(
      check(Fact(kind: .extension, unitID: "D", ruleID: "annual", period: "2026", due: LocalDate(iso: "2026-11-30")))
        == nil)
    #expect(
      check(Fact(kind: .report, unitID: "D", ruleID: "nope", period: "2026", at: Date())) == "rule: unknown rule nope")
  }

  // MARK: - Files

  @Test("a YAML alias bomb is refused at once, where the limit is hit")
  func aliasBomb() throws {
    var text = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
    for level in 1..<9 {
      text += "a\(level): &a\(level) [" + Array(repeating: "*a\(level - 1)", count: 10).joined(separator: ", ") + "]\n"
    }
    #expect(text.utf8.count < 1_700)
    do {
      _ = try YAMLReader.parse(text, file: "bomb.yaml")
      Issue.record("the bomb was accepted")
    } catch {
      let message = error.description
      #expect(message.hasPrefix("bomb.yaml:"))
      #expect(message.contains("aliases expand to more than 100000 nodes"))
      #expect(error.errors.count == 1)
    }
    // The same as a key, where Yams would hash it.
    do {
      _ = try YAMLReader.parse(text + "? *a8\n: 1\n", file: "key.yaml")
      Issue.record("the bomb was accepted")
    } catch {
      #expect(error.description.contains("aliases expand"))
    }
    // Ordinary reuse is fine.
    let reuse = try YAMLReader.parse("ladder: &l [7d, 1wd]\nother: *l\nthird: *l\n", file: "ok.yaml")
    guard case .map(let entries) = reuse.value, case .list(let items) = entries[2].value.value else {
      Issue.record("not a map of lists")
      return
    }
    #expect(items.count == 2)
  }

  @Test("nesting is bounded instead of exhausting the stack")
  func nesting() {
    let text = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
    do {
      _ = try YAMLReader.parse(text, file: "deep.yaml")
      Issue.record("accepted")
    } catch {
      #expect(error.description.hasPrefix("deep.yaml:1:"))
      #expect(error.description.contains("nesting"))
    }
  }

  @Test("a duplicated key is one line naming the key, not the whole file")
  func duplicateKey() {
    let text = (0..<200).map { "k\($0): 1" }.joined(separator: "\n") + "\nk7: 2\n"
    do {
      _ = try YAMLReader.parse(text, file: "dup.yaml")
      Issue.record("accepted")
    } catch {
      #expect(error.description.split(separator: "\n").count == 1)
      #expect(error.description.contains("duplicate key `k7`"))
      #expect(error.description.hasPrefix("dup.yaml:"))
    }
  }

  @Test("control characters in an error are escaped, with their true line and column")
  func controlCharacters() throws {
    let scratch = try Scratch(
      rules: Scratch.rules.replacingOccurrences(of: "kind: deadline", with: "kind: dead\u{1b}[2Jline"))
    #expect(scratch.errors() == ["rules/main.yaml:2:13: invalid YAML: control characters are not allowed (U+001B)"])
    // One that YAML reads as a line break (NEL) and editors do not: the line is the editor's (3),
    // not libyaml's (4).
    do {
      _ = try YAMLReader.parse("a: 1\nb: x\u{85}y\nc: [\n", file: "nel.yaml")
      Issue.record("accepted")
    } catch {
      #expect(error.description.hasPrefix("nel.yaml:3:1: invalid YAML: "), "\(error.description)")
    }
    // A value quoted back into an error is escaped.
    let bell = try Scratch(
      rules: Scratch.rules.replacingOccurrences(of: "kind: deadline", with: "kind: \"dead\\aline\""))
    #expect(
      bell.errors() == [
        "rules/main.yaml:2:9: unknown rule kind `dead\\u{7}line` (known: budget, deadline, exec, rollup, summary)"
      ])
  }

  @Test("a directory file that is missing or not UTF-8 is named, with the configuration line naming it")
  func referencedFiles() throws {
    let missing = try Scratch()
    try FileManager.default.removeItem(at: missing.folder.appendingPathComponent("units.csv"))
    let lines = missing.errors()
    #expect(lines.first?.hasPrefix("nhacviec.yaml:3:11: ") == true, "\(lines)")
    #expect(lines.first?.hasSuffix("units.csv does not exist") == true, "\(lines)")

    let latin = try Scratch()
    var bytes = Array(Scratch.directory.utf8)
    bytes += Array("\nX,Huy".utf8) + [0xea] + Array("n X,district,P,,\n".utf8)
    try Data(bytes).write(to: latin.folder.appendingPathComponent("units.csv"))
    let errors = latin.errors()
    #expect(errors.first?.hasPrefix("units.csv:5:6: not UTF-8 text (byte 0xEA) (named at ") == true, "\(errors)")
    #expect(errors.first?.contains("nhacviec.yaml:3:11") == true, "\(errors)")
  }

  /// A file of `size` bytes that occupies no disk: reading it would cost its size in memory.
  func sparse(_ url: URL, size: Int) throws {
    #expect(FileManager.default.createFile(atPath: url.path, contents: nil))
    #expect(truncate(url.path, off_t(size)) == 0)
  }

  @Test("a file over its size limit is refused unread, naming the file, its size and the limit")
  func oversizedFiles() throws {
    // A rules file of 1 GiB: refused from its size, at once.
    let rules = try Scratch()
    try sparse(rules.folder.appendingPathComponent("rules/huge.yaml"), size: 1 << 30)
    let started = Date()
    #expect(
      rules.errors() == [
        "rules/huge.yaml is 1073741824 bytes, over the 4 MiB (4194304 bytes) that a YAML file may hold; see docs/rules.md"
      ])
    #expect(Date().timeIntervalSince(started) < 5)
    // A directory file, with the configuration's line that names it.
    let directory = try Scratch()
    try sparse(directory.folder.appendingPathComponent("units.csv"), size: 5 << 20)
    #expect(
      directory.errors().first
        == "nhacviec.yaml:3:11: units.csv is 5242880 bytes, over the 4 MiB (4194304 bytes) that a directory file may hold; see docs/rules.md"
    )
    // A facts file in CSV may be larger; one over 16 MiB is refused too.
    let facts = directory.folder.appendingPathComponent("facts.csv")
    try sparse(facts, size: 17 << 20)
    do {
      _ = try FactsLoader.load(file: facts.path, zone: .vietnam)
      Issue.record("accepted")
    } catch {
      #expect(
        error.description.hasSuffix(
          "facts.csv is 17825792 bytes, over the 16 MiB (16777216 bytes) that a facts file in CSV may hold; see docs/rules.md"
        ))
    }
    // At the limit a file is read; one byte over it is not, nor a file with no size that goes on.
    let file = directory.folder.appendingPathComponent("limit.txt")
    try Data(repeating: UInt8(ascii: "a"), count: 100).write(to: file)
    #expect(try TextFile.read(file.path, referencedFrom: nil, limit: 100, kind: "a test file").utf8.count == 100)
    #expect(throws: ConfigErrors.self) {
      try TextFile.read(file.path, referencedFrom: nil, limit: 99, kind: "a test file")
    }
    do {
      _ = try TextFile.read("/dev/zero", referencedFrom: nil, limit: 1000, kind: "a test file")
      Issue.record("accepted")
    } catch {
      #expect(
        error.description
          == "/dev/zero is more than 1000 bytes, over the 1000 bytes that a test file may hold; see docs/rules.md")
    }
  }

  @Test("a unit id with a Cyrillic letter among Latin ones is refused at its row, in CSV and in YAML")
  func mixedScriptIDs() throws {
    let csv = try Scratch(directoryCSV: Scratch.directory + "\n51-S\u{0422}P,Sở Tư pháp giả,dept,P,,\n")
    #expect(
      csv.errors() == [
        "units.csv:5:1: unit id `51-SТP` mixes scripts: `Т` (U+0422) is a Cyrillic letter among Latin letters; an id is written in one script"
      ])
    let yaml = try Scratch()
    try yaml.write(
      "units.yaml",
      "units:\n  - { id: P, name: Tỉnh, kind: province }\n  - { id: \"D\u{0399}\", name: Sở, kind: dept, parent: P }\n")
    let config = try String(contentsOfFile: yaml.configPath, encoding: .utf8)
    try yaml.write("nhacviec.yaml", config.replacingOccurrences(of: "units.csv", with: "units.yaml"))
    #expect(
      yaml.errors().first?.hasPrefix("units.yaml:3:5: unit id `DΙ` mixes scripts: `Ι` (U+0399) is a Greek letter")
        == true, "\(yaml.errors())")
  }

  @Test("a directory of thousands of repeated rows reports each duplicate once, naming the first")
  func repeatedRows() throws {
    var csv = Scratch.directory
    for _ in 0..<3000 { csv += "\nD,Sở Tư pháp,dept,P,head@d.example,iso@d.example" }
    let scratch = try Scratch(directoryCSV: csv)
    do {
      _ = try scratch.load()
      Issue.record("accepted")
    } catch let error as ConfigErrors {
      #expect(error.errors.count == 3000)
      #expect(
        error.errors.allSatisfy {
          $0.message.hasSuffix("units.csv:4:1)") && $0.message.hasPrefix("duplicate unit id D")
        })
      // Printed, it stops after a screenful and says how many more.
      let printed = error.description.split(separator: "\n")
      #expect(printed.count == ConfigErrors.shown + 1)
      #expect(printed.last == "… and 2950 more errors")
    }
  }

  @Test("a webhook with a space, CR or LF in the directory fails check, not at send time")
  func webhookURLs() throws {
    for bad in [
      "https://hooks.example/a b", "https://hooks.example/a\rb", "http://", "https:///path", "ftp://x.example/",
    ] {
      let csv = """
        id,name,kind,parent_id,head.webhook
        P,Tỉnh,province,,"\(bad)"
        S,Sở,dept,P,
        D,Sở Tư pháp,dept,P,
        """
      let errors = try Scratch(directoryCSV: csv).errors()
      #expect(
        errors.contains { $0.contains("webhook for head must be an http:// or https:// URL") }, "\(bad): \(errors)")
    }
  }

  @Test("a channel name must be a word: an empty one is refused by check")
  func channelNames() throws {
    let scratch = try Scratch(extraConfig: "")
    try scratch.write(
      "nhacviec.yaml",
      """
      directory: [{ file: units.csv }]
      rules: rules
      digest: { minimum: 1 }
      channels:
        "": { type: file, path: out }
        email: { type: file, path: out }
      """)
    #expect(scratch.errors().contains { $0.contains("a channel name uses letters, digits, - and _ only: ``") })
  }

  @Test("the Markdown report escapes markup from unit names and references, as the HTML report does")
  func markdownEscapes() throws {
    let scratch = try Scratch(
      directoryCSV: Scratch.directory + "\nX,<script>alert(1)</script> Sở | X,dept,P,head@x.example,iso@x.example\n")
    let deployment = try scratch.load()
    let facts = [
      Fact(
        kind: .report, unitID: "X", ruleID: "annual", period: "2026",
        at: Zone.vietnam.parseInstant("2026-11-10T09:00"), reference: "<img src=x onerror=alert(2)>")
    ]
    let engine = deployment.engine(facts: FactBook(facts))
    let report = engine.report(period: Period("2026")!, at: Zone.vietnam.parseInstant("2026-11-20T09:00")!)
    let markdown = ReportDocument(report, zone: .vietnam).markdown()
    #expect(!markdown.contains("<script>") && !markdown.contains("<img"))
    #expect(markdown.contains("&lt;script&gt;alert(1)&lt;/script&gt; Sở \\| X"))
    #expect(markdown.contains("&lt;img src=x onerror=alert(2)&gt;"))
  }
}
