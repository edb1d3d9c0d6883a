import Foundation
import TestSupport
import Testing

@Suite("nhacviec check and link-key with a web: section")
struct LinkKeyCommandTests {
  /// The shipped Rules/ copied, with a `web:` section naming `link-keys` beside it.
  func shippedWithWeb() throws -> URL {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("nhacviec-cli-web-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    let copy = folder.appendingPathComponent("Rules")
    try FileManager.default.copyItem(at: repositoryRoot.appendingPathComponent("Rules"), to: copy)
    try? FileManager.default.removeItem(at: copy.appendingPathComponent(".nhacviec"))
    let config = copy.appendingPathComponent("nhacviec.yaml")
    let yaml =
      try String(contentsOf: config, encoding: .utf8)
      + "\nweb:\n  listen: 127.0.0.1:9470\n  url: https://nhacviec.example.gov.vn\n  link_keys_file: link-keys\n"
    try yaml.write(to: config, atomically: true, encoding: .utf8)
    return copy
  }

  @Test("link-key prints a line the key file takes; check reads the file, and names its line when it is wrong")
  func checkReadsKeys() throws {
    let folder = try shippedWithWeb()
    let made = try Run(["link-key", "--id", "k2026"])
    #expect(made.status == 0, "\(made.stderr)")
    let line = made.stdout.trimmingCharacters(in: .newlines)
    #expect(line.hasPrefix("k2026 ") && line.count == 6 + 44, "\(line)")
    let older = try Run(["link-key", "--id", "k2025"]).stdout
    try ("# signing key first\n" + line + "\n" + older).write(
      to: folder.appendingPathComponent("link-keys"), atomically: true, encoding: .utf8)
    let good = try Run(["check", "--config", "nhacviec.yaml", "--now", "2026-10-30"], in: folder)
    #expect(good.status == 0, "\(good.stderr)")
    #expect(
      good.stdout.contains(
        "web: https://nhacviec.example.gov.vn, listening on 127.0.0.1:9470; links signed with key k2026, also verifying k2025"
      ), "\(good.stdout)")

    try ("# signing key first\n" + line + "\nk2025 c2hvcnQ=\n").write(
      to: folder.appendingPathComponent("link-keys"), atomically: true, encoding: .utf8)
    let bad = try Run(["check", "--config", "nhacviec.yaml"], in: folder)
    #expect(bad.status == 1)
    #expect(
      bad.stderr.contains("link-keys:3:1: the secret of key `k2025` has 5 bytes; at least 32 are needed"),
      "\(bad.stderr)")
    #expect(!bad.stderr.contains("c2hvcnQ="))

    try FileManager.default.removeItem(at: folder.appendingPathComponent("link-keys"))
    let missing = try Run(["check", "--config", "nhacviec.yaml"], in: folder)
    #expect(missing.status == 1)
    #expect(missing.stderr.contains("link_keys_file: cannot read"), "\(missing.stderr)")

    let refused = try Run(["link-key", "--id", "no spaces"])
    #expect(refused.status == 2)
  }
}
