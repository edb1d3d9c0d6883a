import Foundation
import NhacviecConfig
import NhacviecCore
import TestSupport
import Testing

/// The JSON Schemas in schemas/ that editors use must say what the parser says.
@Suite("JSON Schemas")
struct SchemaTests {
  let schemas = repositoryRoot.appendingPathComponent("schemas")

  func validate(_ schema: String, _ files: [String]) throws -> (Int32, String) {
    let run = try ProgramRun("/usr/bin/python3", [schemas.appendingPathComponent("validate.py").path, schema] + files)
    return (run.status, run.stdout + run.stderr)
  }

  func shipped(_ folder: String) throws -> [String] {
    try FileManager.default.contentsOfDirectory(atPath: repositoryRoot.appendingPathComponent(folder).path)
      .filter { $0.hasSuffix(".yaml") }.sorted().map { repositoryRoot.appendingPathComponent("\(folder)/\($0)").path }
  }

  @Test("every shipped YAML file validates against its schema, and names it for editors")
  func shippedFiles() throws {
    let sets: [(String, [String])] = [
      ("config.schema.json", [repositoryRoot.appendingPathComponent("Rules/nhacviec.yaml").path]),
      ("rules.schema.json", try shipped("Rules/rules")),
      ("calendar.schema.json", try shipped("Rules/calendar")),
      ("test.schema.json", try shipped("Rules/tests")),
      // The example external rule kind.
      ("config.schema.json", [repositoryRoot.appendingPathComponent("examples/eoffice-register/nhacviec.yaml").path]),
      ("rules.schema.json", [repositoryRoot.appendingPathComponent("examples/eoffice-register/rules.yaml").path]),
      ("test.schema.json", try shipped("examples/eoffice-register/tests")),
    ]
    for (schema, files) in sets {
      #expect(!files.isEmpty)
      let (status, output) = try validate(schema, files)
      #expect(status == 0, "\(schema): \(output)")
      for file in files {
        let head = try String(contentsOfFile: file, encoding: .utf8).split(separator: "\n").first ?? ""
        #expect(head.hasPrefix("# yaml-language-server: $schema=") && head.hasSuffix(schema), "\(file)")
      }
    }
    // And a mistake is caught, where it is.
    let bad = FileManager.default.temporaryDirectory.appendingPathComponent("bad-\(UUID().uuidString).yaml")
    try
      "- { id: r, kind: deadline, title: T, basis: B, applies_to: { kinds: [dept] }, period: yearly, due: { date: \"11-15\", convention: trước }, channels: [email] }\n"
      .write(to: bad, atomically: true, encoding: .utf8)
    let (status, output) = try validate("rules.schema.json", [bad.path])
    #expect(status == 1)
    #expect(output.contains("0/due/convention"))
  }

  /// The keys the parser accepts in one place: from its own error for a key it does not know.
  func parserKeys(_ load: (String) throws -> Void, yaml: String) -> Set<String> {
    let file = FileManager.default.temporaryDirectory.appendingPathComponent("probe-\(UUID().uuidString).yaml")
    try? yaml.write(to: file, atomically: true, encoding: .utf8)
    var messages: [String] = []
    do { try load(file.path) } catch let error as ConfigErrors {
      messages = error.errors.map(\.message)
    } catch let error as ConfigError {
      messages = [error.message]
    } catch {
      messages = ["\(error)"]
    }
    guard let message = messages.first(where: { $0.contains("unknown key `zz_probe`") }),
      let known = message.range(of: "(known: ")
    else { return ["<no unknown-key error: \(messages)>"] }
    return Set(
      message[known.upperBound...].dropLast().split(separator: ",").map {
        $0.trimmingCharacters(in: CharacterSet(charactersIn: " `"))
      })
  }

  /// The property names of the object schema at a path of `$defs` names (or the root).
  func schemaKeys(_ file: String, _ path: [String]) throws -> Set<String> {
    let data = try Data(contentsOf: schemas.appendingPathComponent(file))
    var node = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    for step in path { node = try #require(node[step] as? [String: Any], "\(file): \(path)") }
    return Set(try #require(node["properties"] as? [String: Any]).keys)
  }

  @Test("each schema lists exactly the keys the parser accepts")
  func inStep() throws {
    let scratch = try Scratch()
    let config: (String) throws -> Void = { _ = try DeploymentLoader().load(configPath: $0) }
    let rules: (String) throws -> Void = { _ = try RuleParser().parse(file: $0) }
    let base = try String(contentsOfFile: scratch.configPath, encoding: .utf8)
      .replacingOccurrences(of: "units.csv", with: scratch.folder.appendingPathComponent("units.csv").path)
      .replacingOccurrences(of: "rules: rules", with: "rules: \(scratch.folder.appendingPathComponent("rules").path)")
    let rule = """
      - id: r
        kind: deadline
        title: T
        basis: B
        applies_to: { kinds: [dept] }
        period: yearly
        due: { date: "11-15", convention: before }
        channels: [email]
      """
    let checks: [(String, [String], Set<String>)] = [
      ("config.schema.json", [], parserKeys(config, yaml: base + "\nzz_probe: 1\n")),
      (
        "config.schema.json", ["properties", "calendar"],
        parserKeys(config, yaml: base + "\ncalendar: { zz_probe: 1 }\n")
      ),
      (
        "config.schema.json", ["properties", "daemon"],
        parserKeys(config, yaml: base + "\ndaemon: { zz_probe: 1 }\n")
      ),
      (
        "config.schema.json", ["properties", "send_window"],
        parserKeys(config, yaml: base + "\nsend_window: { zz_probe: 1 }\n")
      ),
      ("rules.schema.json", ["$defs", "rule"], parserKeys(rules, yaml: rule + "\n  zz_probe: 1\n")),
      (
        "rules.schema.json", ["$defs", "due"],
        parserKeys(
          rules, yaml: rule.replacingOccurrences(of: "convention: before", with: "convention: before, zz_probe: 1"))
      ),
      (
        "rules.schema.json", ["$defs", "selector"],
        parserKeys(rules, yaml: rule.replacingOccurrences(of: "kinds: [dept]", with: "kinds: [dept], zz_probe: 1"))
      ),
      (
        "rules.schema.json", ["$defs", "execParams"],
        parserKeys(
          rules,
          yaml: rule.replacingOccurrences(of: "kind: deadline", with: "kind: exec")
            + "\n  params: { command: /bin/true, zz_probe: 1 }\n")
      ),
      (
        "rules.schema.json", ["$defs", "summaryParams"],
        parserKeys(
          rules,
          yaml: rule.replacingOccurrences(of: "kind: deadline", with: "kind: summary")
            + "\n  params: { rules: [r], every: mon, from: 11-01, zz_probe: 1 }\n")
      ),
      (
        "rules.schema.json", ["$defs", "step"],
        parserKeys(rules, yaml: rule + "\n  escalate: [{ after: 1wd, to: [unit.head], zz_probe: 1 }]\n")
      ),
      (
        "calendar.schema.json", [],
        parserKeys({ _ = try CalendarLoader.override(file: $0, zone: .vietnam) }, yaml: "year: 2026\nzz_probe: 1\n")
      ),
      (
        "calendar.schema.json", ["$defs", "day"],
        parserKeys(
          { _ = try CalendarLoader.override(file: $0, zone: .vietnam) },
          yaml: "year: 2026\ndays_off: [{ date: 2026-01-02, name: x, zz_probe: 1 }]\n")
      ),
      (
        "common.schema.json", ["$defs", "fact"],
        parserKeys(
          { _ = try FactsLoader.load(file: $0, zone: .vietnam) },
          yaml: "- { kind: report, unit: D, rule: annual, period: \"2026\", at: 2026-01-02, zz_probe: 1 }\n")
      ),
      (
        "directory.schema.json", ["$defs", "unit"],
        parserKeys(
          { _ = try DirectoryLoader.load(file: $0) }, yaml: "- { id: P, name: T, kind: province, zz_probe: 1 }\n")
      ),
      (
        "test.schema.json", [],
        parserKeys(
          { _ = try RuleTestFile.load(path: $0, defaultConfig: scratch.configPath) },
          yaml: "from: 2026-09-01\ncheckpoints: []\nzz_probe: 1\n")
      ),
      (
        "test.schema.json", ["$defs", "checkpoint"],
        parserKeys(
          { _ = try RuleTestFile.load(path: $0, defaultConfig: scratch.configPath) },
          yaml: "from: 2026-09-01\ncheckpoints: [{ at: 2026-10-01, zz_probe: 1 }]\n")
      ),
      (
        "test.schema.json", ["$defs", "notice"],
        parserKeys(
          { _ = try RuleTestFile.load(path: $0, defaultConfig: scratch.configPath) },
          yaml:
            "from: 2026-09-01\ncheckpoints: [{ at: 2026-10-01, notices: [{ unit: D, rule: annual, step: s, zz_probe: 1 }] }]\n"
        )
      ),
    ]
    for (file, path, parser) in checks {
      #expect(try schemaKeys(file, path) == parser, "\(file) \(path)")
    }
  }

  @Test("an override's `replaces` lists exactly the holiday ids of the rules")
  func holidayIDs() throws {
    let data = try Data(contentsOf: schemas.appendingPathComponent("calendar.schema.json"))
    let root = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    let properties = try #require(root["properties"] as? [String: Any])
    let replaces = try #require(properties["replaces"] as? [String: Any])
    let items = try #require(replaces["items"] as? [String: Any])
    #expect(Set(try #require(items["enum"] as? [String])) == HolidayRules.vietnam.ids)
  }
}
