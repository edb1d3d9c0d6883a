import Foundation
import TestSupport
import Testing

@Suite("status for monitoring: --plugin, --json, FAILING", .serialized)
struct StatusPluginTests {
  @Test("the daemon unreachable: --json prints JSON, --plugin one UNKNOWN line, both exit 3")
  func unreachable() throws {
    let fixture = try DaemonFixture()
    let json = try fixture.client(["status", "--json"])
    #expect(json.status == 3)
    let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
    #expect(object?["reachable"] as? Bool == false, "\(json.stdout)")
    #expect((object?["error"] as? String)?.contains(fixture.socket) == true, "\(json.stdout)")
    let plugin = try fixture.client(["status", "--plugin"])
    #expect(plugin.status == 3)
    #expect(plugin.stdout.hasPrefix("NHACVIEC UNKNOWN - cannot reach the daemon: "), "\(plugin.stdout)")
    #expect(plugin.stdout.split(separator: "\n").count == 1)
    let text = try fixture.client(["status"])
    #expect(text.status == 3)
    #expect(text.stdout.hasPrefix("UNREACHABLE: "))
    #expect(try fixture.client(["status", "--json", "--plugin"]).status == 2)
  }

  @Test(
    "--plugin: OK with performance data, WARNING for a dead notice until acknowledged, CRITICAL for a failing channel")
  func plugin() throws {
    let notify = try NotifyListener()
    do {
      let fixture = try DaemonFixture()
      let daemon = try fixture.start(at: "2026-11-09T08:00:00+07:00", notify: notify)
      defer { kill(daemon.processIdentifier, SIGKILL) }
      #expect(try fixture.waitForSent(20, seconds: 20) == 20)
      let ok = try fixture.client(["status", "--plugin"])
      #expect(ok.status == 0, "\(ok.stdout)")
      #expect(
        ok.stdout.hasPrefix("NHACVIEC OK - 1 rules; sent 20, planned 0; last pass 2026-11-09T08:0"), "\(ok.stdout)")
      #expect(ok.stdout.contains(" | sent=20;;;0 planned=0;;;0 failed=0;;;0 dead=0;;;0 dead_unacknowledged=0;1;;0 "))
      #expect(ok.stdout.split(separator: "\n").count == 1)
    }
    do {
      let setup = try temporaryFolder("program")
      let fixture = try DaemonFixture(channel: "{ type: exec, command: \(try refusingD1(in: setup)), timeout: 30s }")
      let daemon = try fixture.start(at: "2026-11-09T08:00:00+07:00", notify: notify)
      defer { kill(daemon.processIdentifier, SIGKILL) }
      #expect(try fixture.waitForChannel("email") { $0["dead"] as? Int == 1 }["dead"] as? Int == 1)
      #expect(try fixture.waitForSent(19, seconds: 20) == 19)
      let warning = try fixture.client(["status", "--plugin"])
      #expect(warning.status == 1)
      #expect(warning.stdout.hasPrefix("NHACVIEC WARNING - 1 dead notices not acknowledged | "), "\(warning.stdout)")
      #expect(warning.stdout.contains("dead_unacknowledged=1;1;;0"))
      #expect(try fixture.client(["ack", "--unit", "D1"]).status == 0)
      #expect(try fixture.client(["status", "--plugin"]).stdout.hasPrefix("NHACVIEC OK - "))
    }
    do {
      let port = closedPort()
      let fixture = try DaemonFixture(channel: "{ type: webhook, url: \"http://127.0.0.1:\(port)/hook\" }")
      let daemon = try fixture.start(at: "2026-11-09T08:00:00+07:00", notify: notify)
      defer { kill(daemon.processIdentifier, SIGKILL) }
      #expect(try fixture.waitForChannel("email") { $0["failed"] as? Int == 20 }["failed"] as? Int == 20)
      let critical = try fixture.client(["status", "--plugin"])
      #expect(critical.status == 2)
      #expect(critical.stdout.hasPrefix("NHACVIEC CRITICAL - channels failing: email | "), "\(critical.stdout)")
      #expect(critical.stdout.contains("channels_failing=1;;1;0"))
    }
  }

  @Test("a channel whose notices die at once is not FAILING beside \"channels failing: none\"")
  func consistent() throws {
    let setup = try temporaryFolder("program")
    // One unit, D1, whose notice the program refuses for good: the channel's only attempt failed,
    // and nothing waits for another.
    let fixture = try DaemonFixture(
      channel: "{ type: exec, command: \(try refusingD1(in: setup)), timeout: 30s }", units: 1)
    let notify = try NotifyListener()
    let daemon = try fixture.start(at: "2026-11-09T08:00:00+07:00", notify: notify)
    defer { kill(daemon.processIdentifier, SIGKILL) }
    let email = try fixture.waitForChannel("email") { $0["dead"] as? Int == 1 }
    #expect(email["failing_since"] as? String != nil, "\(email)")
    let text = try fixture.client(["status"])
    #expect(text.status == 1)
    #expect(text.stdout.contains("channels failing: none"), "\(text.stdout)")
    #expect(!text.stdout.contains("FAILING"), "\(text.stdout)")
    #expect(
      text.stdout.contains("channel email: sent 0, failed 0, dead 1; its attempts fail since 2026-11-09T08:0"),
      "\(text.stdout)")
  }
}
