import Foundation
import TestSupport
import Testing

@Suite("systemd unit")
struct SystemdTests {
  func analyze(_ arguments: [String]) throws -> (status: Int32, output: String) {
    let run = try ProgramRun("/usr/bin/systemd-analyze", arguments)
    return (run.status, run.stdout + run.stderr)
  }

  @Test("systemd-analyze verify is clean and the exposure is 1.5 or lower")
  func unit() throws {
    // verify wants the program where ExecStart= says: point a copy at the binary just built.
    let text = try String(
      contentsOf: repositoryRoot.appendingPathComponent("systemd/nhacviec.service"), encoding: .utf8
    ).replacingOccurrences(of: "/usr/bin/nhacviec", with: Run.binary.path)
    let unit = try temporaryFolder("systemd").appendingPathComponent("nhacviec.service")
    try text.write(to: unit, atomically: true, encoding: .utf8)
    let verify = try analyze(["verify", unit.path])
    #expect(verify.status == 0)
    #expect(verify.output.isEmpty, "\(verify.output)")
    let security = try analyze(["security", "--offline=true", unit.path])
    let line = try #require(security.output.split(separator: "\n").first { $0.contains("Overall exposure level") })
    let figure = try #require(line.split(separator: ":").last?.split(separator: " ").first.flatMap { Double($0) })
    #expect(figure <= 1.5, "\(line)")
  }

  @Test("the unit reloads through the socket, lets SIGABRT end the daemon, and lets Dispatch renice its threads")
  func serviceSettings() throws {
    let text = try String(
      contentsOf: repositoryRoot.appendingPathComponent("systemd/nhacviec.service"), encoding: .utf8)
    let lines = Set(text.split(separator: "\n").map(String.init))
    // kill -HUP cannot fail; `nhacviec reload` exits 1 when the daemon refuses the configuration.
    #expect(lines.contains("ExecReload=/usr/bin/nhacviec reload --config /etc/nhacviec/nhacviec.yaml"))
    #expect(lines.filter { $0.hasPrefix("ExecReload=") }.count == 1)
    // Without Swift's crash handler the watchdog's SIGABRT ends the process at once.
    #expect(lines.contains("Environment=SWIFT_BACKTRACE=enable=no"))
    #expect(lines.contains("SystemCallFilter=setpriority"))
    #expect(lines.contains("LimitNICE=-4"))
    for line in lines where line.hasPrefix("Documentation=") {
      for url in line.dropFirst("Documentation=".count).split(separator: " ") {
        #expect(url.hasPrefix("file:///usr/share/doc/nhacviec/"), "\(url)")
      }
    }
  }
}
