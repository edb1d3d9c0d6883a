import Foundation
import TestSupport
import Testing

/// A copy of examples/eoffice-register in a temporary folder, so that a test may break its register.
struct EofficeExample {
  let folder: URL
  var config: String { folder.appendingPathComponent("nhacviec.yaml").path }
  var register: URL { folder.appendingPathComponent("register.csv") }
  var rules: URL { folder.appendingPathComponent("rules.yaml") }

  init() throws {
    folder = try temporaryFolder("eoffice")
    let example = repositoryRoot.appendingPathComponent("examples/eoffice-register")
    for name in ["eoffice-register.py", "register.csv", "rules.yaml"] {
      try FileManager.default.copyItem(
        at: example.appendingPathComponent(name), to: folder.appendingPathComponent(name))
    }
    let rules = repositoryRoot.appendingPathComponent("Rules").path
    try String(contentsOf: example.appendingPathComponent("nhacviec.yaml"), encoding: .utf8)
      .replacingOccurrences(of: "../../Rules", with: rules)
      .write(toFile: config, atomically: true, encoding: .utf8)
  }

  func check() throws -> Run {
    try Run(["check", "--config", config, "--now", "2026-11-20T09:00:00+07:00"])
  }

  func setTimeout(_ value: String) throws {
    let text = try String(contentsOf: rules, encoding: .utf8)
    try text.replacingOccurrences(of: "timeout: 10s", with: "timeout: \(value)")
      .write(to: rules, atomically: true, encoding: .utf8)
  }
}

@Suite("External rule kinds: the example plugin")
struct ExternalRuleCommandTests {
  @Test("the shipped example passes check and its own rule tests")
  func example() throws {
    let check = try Run(
      ["check", "--config", "examples/eoffice-register/nhacviec.yaml", "--now", "2026-11-20T09:00:00+07:00"])
    #expect(check.status == 0, "\(check.stderr)")
    #expect(check.stdout.contains("iso-report-eoffice [exec, yearly] period 2026"))
    #expect(check.stdout.contains("program answered for 14 units: 2 done, 12 not"))
    let test = try Run(["test", "examples/eoffice-register/tests/eoffice.yaml"])
    #expect(test.status == 0, "\(test.stdout)\(test.stderr)")
    let explain = try Run([
      "explain", "--config", "examples/eoffice-register/nhacviec.yaml", "--unit", "51-STP", "--at",
      "2026-11-20T09:00:00+07:00",
    ])
    #expect(explain.stdout.contains("iso-report-eoffice 2026: met-on-time"), "\(explain.stdout)")
    #expect(explain.stdout.contains("vào sổ văn bản đến"))
  }

  @Test("a program that fails is a clear error naming the rule, and nobody is judged")
  func failure() throws {
    let example = try EofficeExample()
    try FileManager.default.removeItem(at: example.register)
    let check = try example.check()
    #expect(check.status == 1)
    #expect(
      check.stderr.contains(
        "rules.yaml:4:3: rule iso-report-eoffice: \(example.folder.path)/eoffice-register.py exited with status 1: cannot read the register \(example.register.path): No such file or directory"
      ), "\(check.stderr)")
    let explain = try Run([
      "explain", "--config", example.config, "--unit", "51-SYT", "--at", "2026-11-20T09:00:00+07:00",
    ])
    #expect(explain.stdout.contains("iso-report-eoffice 2026: not-judged"), "\(explain.stdout)")
    let simulate = try Run([
      "simulate", "--config", example.config, "--from", "2026-11-01", "--to", "2026-11-20",
    ])
    #expect(simulate.status == 0)
    #expect(simulate.stdout.isEmpty)
    #expect(simulate.stderr.contains("warning: rule iso-report-eoffice period 2026 not judged"))
  }

  @Test("a program that does not answer in time is stopped, with its children")
  func timeLimit() throws {
    let example = try EofficeExample()
    try example.setTimeout("1s")
    // A register that never delivers a byte: opening a FIFO with no writer blocks, as a hung
    // network share would.
    try FileManager.default.removeItem(at: example.register)
    #expect(mkfifo(example.register.path, 0o600) == 0)
    let check = try example.check()
    #expect(check.status == 1)
    #expect(check.stderr.contains("eoffice-register.py did not answer within 1 s and was stopped"), "\(check.stderr)")
  }

  @Test("a program that answers nonsense is refused with the reason")
  func nonsense() throws {
    let example = try EofficeExample()
    let liar = try script(
      "cat >/dev/null; echo '{\"version\": 1, \"findings\": [{\"unit\": \"51-STP\"}]}'", in: example.folder)
    let text = try String(contentsOf: example.rules, encoding: .utf8)
    try text.replacingOccurrences(of: "./eoffice-register.py", with: liar)
      .write(to: example.rules, atomically: true, encoding: .utf8)
    let check = try example.check()
    #expect(check.status == 1)
    #expect(
      check.stderr.contains("\(liar): the answer has no finding for unit `51-VPUB` (nor for 12 more)"),
      "\(check.stderr)")
    // And a missing program is refused when the rules are loaded: a reload would keep the old ones.
    try FileManager.default.removeItem(atPath: liar)
    let missing = try example.check()
    #expect(missing.status == 1)
    #expect(missing.stderr.contains("rule iso-report-eoffice: program \(liar) does not exist"), "\(missing.stderr)")
  }
}

@Suite("External rule kinds in the daemon", .serialized)
struct ExternalRuleDaemonTests {
  @Test("a failing program holds its rule's notices back, status says so, and they go out once it answers")
  func heldBack() throws {
    let fixture = try DaemonFixture()
    let plugin = fixture.folder.appendingPathComponent("eoffice-register.py")
    try FileManager.default.copyItem(
      at: repositoryRoot.appendingPathComponent("examples/eoffice-register/eoffice-register.py"), to: plugin)
    let register = fixture.folder.appendingPathComponent("register.csv")
    try """
    - id: external
      kind: exec
      params:
        command: ../eoffice-register.py
        timeout: 5s
        options: { register: \(register.path), pattern: 'ISO 9001.*năm {period}' }
      title: Báo cáo ISO {{period.name}}
      basis: Công văn, khoản 1
      applies_to: { kinds: [dept] }
      period: yearly
      due: { date: "11-15", convention: before }
      remind: [7d]
      remind_to: [unit.iso-focal]
      channels: [email]
    """.write(to: fixture.folder.appendingPathComponent("rules/external.yaml"), atomically: true, encoding: .utf8)
    let notify = try NotifyListener()
    let daemon = try fixture.start(at: "2026-11-09T08:00:00+07:00", notify: notify)
    defer { kill(daemon.processIdentifier, SIGKILL) }
    let status = try fixture.client(["status"])
    #expect(status.status == 1)
    #expect(
      status.stdout.contains(
        "rule failing: external period 2026, notices held since the first start: \(plugin.path) exited with status 1: cannot read the register"
      ), "\(status.stdout)")
    var sent = try FileManager.default.contentsOfDirectory(atPath: fixture.outbox.path)
    #expect(sent.filter { $0.hasPrefix("annual_") }.count == 20)
    #expect(sent.filter { $0.hasPrefix("external_") }.isEmpty)
    // The register comes back: D1 has reported. A reload wakes the daemon for a pass.
    try """
    so_ky_hieu,don_vi_gui,trich_yeu,ngay_den
    7/BC-D1,D1,Báo cáo ISO 9001 năm 2026,2026-11-05T09:00:00+07:00
    """.write(to: register, atomically: true, encoding: .utf8)
    #expect(try fixture.client(["reload"]).status == 0)
    #expect(notify.wait(for: "STATUS=next wake-up") != nil)
    #expect(try fixture.waitForSent(39, seconds: 20) == 39)
    sent = try FileManager.default.contentsOfDirectory(atPath: fixture.outbox.path)
    let external = sent.filter { $0.hasPrefix("external_") }.sorted()
    #expect(external.count == 19, "\(external)")
    #expect(external.contains("external_D2_2026_remind-7d_2026-11-15--email.eml"))
    #expect(!external.contains { $0.hasPrefix("external_D1_") })
    let after = try fixture.client(["status", "--json"])
    #expect(after.status == 0, "\(after.stdout)")
    #expect(after.stdout.contains(#""rules_failing":[]"#))
  }
}
