import Foundation
import TestSupport
import Testing

@Suite("retry and ack by filter", .serialized)
struct BulkRetryTests {
  @Test("a mail outage that killed every notice is recovered by one retry --channel; --dry-run changes nothing")
  func outage() throws {
    let setup = try temporaryFolder("program")
    let down = setup.appendingPathComponent("down").path
    #expect(FileManager.default.createFile(atPath: down, contents: Data()))
    // The mail server: refuses every notice while `down` exists, takes them once it is gone.
    let program = try script(
      """
      key=$(sed -n 's/.*"key":"\\([^"]*\\)".*/\\1/p')
      if [ -e '\(down)' ]; then echo "mail server down for $key" >&2; exit 1; fi
      echo "queued $key"
      """, in: setup)
    let units = 115
    let fixture = try DaemonFixture(channel: "{ type: exec, command: \(program), timeout: 30s }", units: units)
    let notify = try NotifyListener()
    let daemon = try fixture.start(at: "2026-11-09T08:00:00+07:00", notify: notify)
    defer { kill(daemon.processIdentifier, SIGKILL) }
    #expect(try fixture.waitForChannel("email") { $0["dead"] as? Int == units }["dead"] as? Int == units)

    // A dry run counts and lists them, and changes nothing.
    let dry = try fixture.client(["retry", "--channel", "email", "--dry-run"])
    #expect(dry.status == 0, "\(dry.stderr)")
    let lines = dry.stdout.split(separator: "\n")
    #expect(lines.first == "\(units) dead notices would be planned again", "\(dry.stdout)")
    #expect(lines.count == units + 1)
    #expect(lines.dropFirst().allSatisfy { $0.hasPrefix("  annual/D") && $0.contains("mail server down") })
    #expect(try fixture.channel("email")["dead"] as? Int == units)
    let json = try fixture.client(["retry", "--channel", "email", "--rule", "annual", "--dry-run", "--json"])
    let answer = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
    #expect(answer?["count"] as? Int == units)
    #expect(answer?["dry_run"] as? Bool == true)

    // Filters narrow: one unit acknowledged, the dry run first.
    let ackDry = try fixture.client(["ack", "--unit", "D7", "--dry-run"])
    #expect(ackDry.stdout.hasPrefix("1 dead notice would be acknowledged\n  annual/D7/"), "\(ackDry.stdout)")
    #expect(try fixture.channel("email")["dead_unacknowledged"] as? Int == units)
    let ack = try fixture.client(["ack", "--unit", "D7", "--channel", "email", "--period", "2026"])
    #expect(ack.stdout.hasPrefix("1 dead notice acknowledged"), "\(ack.stdout) \(ack.stderr)")
    #expect(try fixture.channel("email")["dead_unacknowledged"] as? Int == units - 1)
    #expect(try fixture.client(["ack", "--unit", "D7"]).stdout.hasPrefix("no dead notice not yet acknowledged"))

    // Nothing selected, a state a retry does not take, no selection at all.
    let other = try fixture.client(["retry", "--channel", "webhook"])
    #expect(other.status == 0)
    #expect(other.stdout == "no dead notice matches channel webhook\n", "\(other.stdout)")
    let sent = try fixture.client(["retry", "--channel", "email", "--state", "sent"])
    #expect(sent.status == 1)
    #expect(sent.stderr.contains("400: state must be dead or failed, not sent"), "\(sent.stderr)")
    #expect(try fixture.client(["retry"]).status == 2)
    #expect(try fixture.client(["ack", "--channel", "email", "--state", "failed"]).status == 1)

    // The server is back: one command sends them all.
    try FileManager.default.removeItem(atPath: down)
    let retry = try fixture.client(["retry", "--channel", "email"])
    #expect(retry.status == 0, "\(retry.stderr)")
    #expect(retry.stdout.hasPrefix("\(units) dead notices planned again\n"), "\(retry.stdout)")
    #expect(try fixture.waitForSent(units, seconds: 30) == units)
    #expect(try fixture.channel("email")["dead"] as? Int == 0)
    #expect(try fixture.client(["status"]).status == 0)
    #expect(try fixture.client(["retry", "--channel", "email"]).stdout == "no dead notice matches channel email\n")
  }

  @Test("retry --state failed tries now the notices waiting an hour for their next attempt")
  func failedNow() throws {
    let port = closedPort()
    let fixture = try DaemonFixture(
      channel: "{ type: webhook, url: \"http://127.0.0.1:\(port)/hook\", retry: { initial: 1h } }")
    let notify = try NotifyListener()
    let daemon = try fixture.start(at: "2026-11-09T08:00:00+07:00", notify: notify)
    defer { kill(daemon.processIdentifier, SIGKILL) }
    #expect(try fixture.waitForChannel("email") { $0["failed"] as? Int == 20 }["failed"] as? Int == 20)
    // Dead is the default state: none of these.
    #expect(try fixture.client(["retry", "--rule", "annual"]).stdout == "no dead notice matches rule annual\n")
    let dry = try fixture.client(["retry", "--rule", "annual", "--state", "failed", "--dry-run"])
    #expect(dry.stdout.hasPrefix("20 failed notices would be planned again\n"), "\(dry.stdout) \(dry.stderr)")
    let retry = try fixture.client(["retry", "--rule", "annual", "--unit", "D3", "--state", "failed"])
    #expect(retry.stdout.hasPrefix("1 failed notice planned again\n  annual/D3/"), "\(retry.stdout) \(retry.stderr)")
    let line = try #require(retry.stdout.split(separator: "\n").dropFirst().first)
    let key = String(try #require(line.split(separator: " ").first))
    // Its second attempt comes at once, not in an hour (asked until it shows, 20 s at most).
    func attempts() throws -> Int {
      let history = try fixture.client(["notices", "--key", key, "--json"])
      let object = try JSONSerialization.jsonObject(with: Data(history.stdout.utf8)) as? [String: Any]
      return (object?["attempts"] as? [Any])?.count ?? 0
    }
    let until = Date().addingTimeInterval(20)
    var count = try attempts()
    while count < 2 && Date() < until {
      usleep(50_000)
      count = try attempts()
    }
    #expect(count == 2)
  }
}
