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
}
