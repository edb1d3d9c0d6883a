import Foundation
import NhacviecControl
import NhacviecCore
import TestSupport
import Testing

/// `nhacviec claims` against a real daemon process: a unit's word recorded over the socket, the
/// verdicts given from the command line by a writer, refused to a reader.
@Suite("nhacviec claims", .serialized)
struct ClaimsCommandTests {
  func post(_ fixture: DaemonFixture, _ path: String, _ body: String) throws -> ProgramRun {
    try ProgramRun(
      "/usr/bin/curl",
      [
        "-s", "-w", "\n%{http_code}", "-X", "POST", "--unix-socket", fixture.socket, "-d", body,
        "http://localhost" + path,
      ])
  }

  @Test(
    "a claim stops the unit's reminders and is listed; return resumes them; accept records the report by the writer")
  func claimsFromTheCommandLine() throws {
    let fixture = try DaemonFixture()
    let notify = try NotifyListener()
    let daemon = try fixture.start(at: "2026-11-10T09:00:00+07:00", notify: notify)
    defer { kill(daemon.processIdentifier, SIGKILL) }
    #expect(try fixture.client(["upcoming", "--days", "10"]).stdout.contains("annual/D3/2026/remind-1wd"))
    let claim =
      #"{"kind":"claim","rule":"annual","unit":"D3","period":"2026","reference":"12/BC-D3","due":"2026-11-09"}"#
    let first = try post(fixture, "/v1/claims", claim)
    #expect(first.stdout.hasSuffix("\n201"), "\(first.stdout)")
    // Posted twice: one claim.
    #expect(try post(fixture, "/v1/claims", claim).stdout.hasSuffix("\n200"))
    let upcoming = try fixture.client(["upcoming", "--days", "10"]).stdout
    #expect(!upcoming.contains("annual/D3/"))
    #expect(upcoming.contains("annual/D4/2026/remind-1wd"))

    let listed = try fixture.client(["claims"])
    #expect(listed.status == 0, "\(listed.stderr)")
    #expect(listed.stdout.contains("claim annual D3 2026 12/BC-D3 dated 2026-11-09"), "\(listed.stdout)")
    #expect(listed.stdout.contains("via socket"))
    let json = try fixture.client(["claims", "--json"])
    let pending = try JSONDecoder().decode([ControlAPI.PendingWord].self, from: Data(json.stdout.utf8))
    #expect(pending.map(\.unit) == ["D3"])
    #expect(pending.first?.state == .claimed)
    let facts = try fixture.client(["facts", "--unit", "D3"]).stdout
    #expect(facts.contains("claim D3 annual 2026"), "\(facts)")

    // A reader may list but not decide.
    let reader = try ProgramRun(
      "/usr/bin/setpriv",
      [
        "--reuid=65534", "--regid=0", "--clear-groups", Run.binary.path, "claims", "accept", "annual", "D3", "2026",
        "--socket", fixture.socket,
      ])
    #expect(reader.status == 1)
    #expect(reader.stderr.contains("403"))

    let returned = try fixture.client(["claims", "return", "annual", "D3", "2026", "--reason", "Sai số văn bản"])
    #expect(returned.status == 0, "\(returned.stderr)")
    #expect(try fixture.client(["claims"]).stdout == "no claims or requests wait for a verdict\n")
    #expect(try fixture.client(["upcoming", "--days", "10"]).stdout.contains("annual/D3/2026/remind-1wd"))
    let noneLeft = try fixture.client(["claims", "accept", "annual", "D3", "2026"])
    #expect(noneLeft.status == 1)
    #expect(noneLeft.stderr.contains("no claim or request of D3 for annual 2026 waits for a verdict"))

    // Claimed again, and accepted: the report is the claimed reference, recorded by the writer.
    let again = #"{"kind":"claim","rule":"annual","unit":"D3","period":"2026","reference":"13/BC-D3"}"#
    #expect(try post(fixture, "/v1/claims", again).stdout.hasSuffix("\n201"))
    let accepted = try fixture.client(["claims", "accept", "annual", "D3", "2026"])
    #expect(accepted.status == 0, "\(accepted.stderr)")
    #expect(accepted.stdout.hasPrefix("accepted: recorded report"))
    let user = String(cString: getpwuid(getuid())!.pointee.pw_name)
    let all = try fixture.client(["facts", "--unit", "D3"]).stdout
    #expect(all.contains("report D3 annual 2026"), "\(all)")
    #expect(all.contains("13/BC-D3"))
    #expect(all.contains("by \(user) via socket"))
    #expect(all.contains("returned D3 annual 2026"))
    #expect(all.contains("(Sai số văn bản)"))
    let findings = try fixture.client(["findings", "--unit", "D3", "--rule", "annual", "--period", "2026", "--json"])
    #expect(findings.stdout.contains(#""state":"met-on-time""#), "\(findings.stdout)")
  }
}
