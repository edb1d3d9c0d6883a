import Foundation
import NhacviecConfig
import NhacviecCore
import NhacviecDaemon
import NhacviecLinks
import NhacviecTesting
import TestSupport
import Testing

/// The shipped Rules/ copied into a folder of its own, with a `web:` section and its key file
/// when `keys` is given.
private func shippedCopy(keys: String?) throws -> (folder: URL, config: String) {
  let folder = FileManager.default.temporaryDirectory.appendingPathComponent("nhacviec-links-\(UUID().uuidString)")
  try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
  let copy = folder.appendingPathComponent("Rules")
  try FileManager.default.copyItem(at: repositoryRoot.appendingPathComponent("Rules"), to: copy)
  try? FileManager.default.removeItem(at: copy.appendingPathComponent(".nhacviec"))
  let config = copy.appendingPathComponent("nhacviec.yaml")
  if let keys {
    try Data(keys.utf8).write(to: copy.appendingPathComponent("link-keys"))
    let yaml =
      try String(contentsOf: config, encoding: .utf8) + """

        web:
          listen: 127.0.0.1:9470
          url: https://nhacviec.example.gov.vn/
          link_keys_file: link-keys

        """
    try Data(yaml.utf8).write(to: config)
  }
  return (copy, config.path)
}

private let keyText = """
  # the key that signs, then the one kept for links already sent
  k2026 \(Data(repeating: 0x5a, count: 32).base64EncodedString())
  k2025 \(Data(repeating: 0x33, count: 48).base64EncodedString())
  """

/// The links a message carries (`https://nhacviec.example.gov.vn/c/TOKEN`), in the order written.
private func links(in text: String) -> [String] {
  text.split(whereSeparator: { $0 == "\n" || $0 == " " || $0 == "\"" || $0 == "<" || $0 == ">" }).map(String.init)
    .filter { $0.hasPrefix("https://nhacviec.example.gov.vn/c/") }
}

/// A message's HTML part, decoded.
private func html(of mail: Mail) -> String {
  let parts = mail.raw.components(separatedBy: "Content-Transfer-Encoding: base64\r\n\r\n")
  guard parts.count > 2 else { return "" }
  let base64 = parts[2].components(separatedBy: "\r\n--")[0].replacingOccurrences(of: "\r\n", with: "")
  return String(decoding: Data(base64Encoded: base64) ?? Data(), as: UTF8.self)
}

@Suite("Signed links in units' messages", .serialized)
struct LinkMessageTests {
  @Test(
    "a unit's own reminders and escalations carry a link to its obligation; the Department's digest of others carries none"
  )
  func unitsMessages() throws {
    let (folder, config) = try shippedCopy(keys: keyText)
    let daemon = try DaemonHarness(configPath: config, folder: folder, at: "2026-10-30T10:00:00+07:00")
    defer { daemon.stop() }
    let signer = LinkSigner(keys: try LinkKeys(parsing: keyText, file: "link-keys"))
    let engine = daemon.daemon.deployment.engine()
    try daemon.settle()
    let early = try daemon.messages()
    #expect(early.count >= 110, "\(early.count)")
    let (name, stp) = try #require(early.first { $0.key.hasPrefix("iso-annual-report_51-STP_") })
    let text = stp.text
    let found = links(in: text)
    #expect(found.count == 1, "\(name): \(text)")
    let link = try #require(found.first)
    #expect(link.count < 160, "\(link.count)")
    // On a line of its own, under the question, and the footer no longer only says "do not reply".
    #expect(text.contains("Đơn vị đã gửi báo cáo hoặc cần xin gia hạn? Trả lời tại:\n\(link)\n"))
    #expect(text.contains("thư trả lời qua email không được đọc; xin trả lời qua đường dẫn ở trên."))
    #expect(!text.contains("xin không trả lời thư này."))
    // The HTML part carries the same link, as an anchor.
    #expect(html(of: stp).contains("<a href=\"\(link)\">\(link)</a>"))
    // It opens STP's 2026 annual report, of its 2025 record, until 30 days after its ladder's end.
    let token = String(link.dropFirst("https://nhacviec.example.gov.vn/c/".count))
    #expect(token.split(separator: ".")[1] == "k2026")
    // The running daemon's own signer, which the desk checks tokens with, takes it.
    #expect(try daemon.daemon.replyLinks?.signer.verify(token, at: daemon.clock.now()).get().unit.id == "51-STP")
    guard case .success(let target) = signer.verify(token, at: daemon.clock.now()) else {
      Issue.record("refused: \(signer.verify(token, at: daemon.clock.now()))")
      return
    }
    #expect(target.rule == "iso-annual-report")
    #expect(target.unit.id == "51-STP")
    #expect(
      target.unit
        == daemon.daemon.deployment.directory.units(on: LocalDate(iso: "2026-10-30")!).first { $0.id == "51-STP" }.map(
          UnitRef.init))
    #expect(target.period == Period("2026"))
    let rule = try #require(engine.ruleset.rule("iso-annual-report"))
    let ladder = engine.ladder(rule, period: Period("2026")!)
    #expect(target.expires == ladder.closes.addingTimeInterval(30 * 86_400))
    #expect(signer.verify(token, at: ladder.closes.addingTimeInterval(29 * 86_400)) == .success(target))
    #expect(signer.verify(token, at: ladder.closes.addingTimeInterval(30 * 86_400)) == .failure(.expired))
    // Every link sent opens the obligation of the very unit and rule the message is about.
    for (name, mail) in early {
      for link in links(in: mail.text) {
        guard case .success(let target) = signer.verify(String(link.dropFirst(34)), at: daemon.clock.now()) else {
          Issue.record("\(name): refused")
          continue
        }
        #expect(name.hasPrefix("\(target.rule)_\(target.unit.id)_"), "\(name) → \(target)")
      }
    }

    // After the deadline: the unit's own escalation carries its link; the Department's digest
    // of other units' lateness carries none of theirs.
    try daemon.advance(to: "2026-11-20T10:00:00+07:00")
    try daemon.settle()
    let late = try daemon.messages().filter { !early.keys.contains($0.key) }
    let own = try #require(
      late.first { $0.key.hasPrefix("iso-annual-report_51-STP_") && $0.key.contains("_escalate-1wd_") })
    let ownLinks = links(in: own.value.text)
    #expect(ownLinks.count == 1)
    #expect(ownLinks.first.map { $0.hasPrefix("https://nhacviec.example.gov.vn/c/") } == true)
    let digest = try #require(
      late.first { $0.key.hasPrefix("digest_iso_51-skhcn.quangngai.example_iso-annual-report_") }?.value)
    // The last day allowed was Monday 16/11 (14/11 and 15/11 are a weekend).
    #expect(digest.text.contains("- Sở Tư pháp: hạn trước ngày 15/11/2026; đã quá hạn 4 ngày"))
    for link in links(in: digest.text) + links(in: html(of: digest)) {
      let target = try signer.verify(String(link.dropFirst(34)), at: daemon.clock.now()).get()
      // Only the Department's own obligation, if it is late too: never another unit's.
      #expect(target.unit.id == "51-SKHCN")
    }
    #expect(!digest.text.contains("Sở Tư pháp: hạn trước ngày 15/11/2026; đã quá hạn 6 ngày\n  Đơn vị đã gửi"))

    // 9 December: the Department's own consolidated report, whose rule has a text of its own
    // that names no link, still carries one, before its footer; the inspection reminders, to
    // the Department about the units it inspects, carry none.
    try daemon.advance(to: "2026-12-09T10:00:00+07:00")
    try daemon.settle()
    let all = try daemon.messages()
    let consolidated = try #require(
      all.first { $0.key.hasPrefix("iso-consolidated-report_51-SKHCN_") && $0.key.contains("_remind-") }?.value)
    let consolidatedLink = try #require(links(in: consolidated.text).first)
    #expect(
      consolidated.text.contains(
        "Trả lời tại:\n\(consolidatedLink)\n\nĐây là thư nhắc việc tự động do hệ thống nhacviec gửi"))
    let consolidatedTarget = try signer.verify(String(consolidatedLink.dropFirst(34)), at: daemon.clock.now()).get()
    #expect(consolidatedTarget.rule == "iso-consolidated-report")
    #expect(consolidatedTarget.unit.id == "51-SKHCN")
    let inspections = all.filter { $0.key.contains("iso-inspection") }
    #expect(!inspections.isEmpty)
    for (name, mail) in inspections {
      #expect(links(in: mail.text).isEmpty && links(in: html(of: mail)).isEmpty, "\(name)")
    }
  }

  @Test("without a web: section, messages are as they were: no link, and the footer asks for no reply")
  func withoutWeb() throws {
    let (folder, config) = try shippedCopy(keys: nil)
    let daemon = try DaemonHarness(configPath: config, folder: folder, at: "2026-10-30T10:00:00+07:00")
    defer { daemon.stop() }
    try daemon.settle()
    let messages = try daemon.messages()
    let (name, stp) = try #require(messages.first { $0.key.hasPrefix("iso-annual-report_51-STP_") })
    let key = try #require(stp.header("X-Nhacviec-Key"))
    #expect(
      stp.text.hasSuffix(
        "Nếu đơn vị đã hoàn thành, xin bỏ qua thư này.\n\nĐây là thư nhắc việc tự động do hệ thống nhacviec gửi; xin không trả lời thư này.\nMã thông báo: \(key)"
      ), "\(name)")
    for (name, mail) in messages {
      #expect(!mail.raw.contains("/c/") && !mail.text.contains("/c/") && !html(of: mail).contains("/c/"), "\(name)")
    }
  }

  @Test("a broken key file refuses the start and a reload, naming the file and its line")
  func brokenKeys() throws {
    let (folder, config) = try shippedCopy(keys: "# keys\nk1 tooshort\n")
    do {
      let daemon = try DaemonHarness(configPath: config, folder: folder, at: "2026-10-30T10:00:00+07:00")
      daemon.stop()
      Issue.record("started")
    } catch {
      #expect("\(error)".contains("link-keys:2:1: the secret of key `k1`"), "\(error)")
    }
    // A running daemon keeps its keys when the file is broken by an edit.
    try Data(keyText.utf8).write(to: folder.appendingPathComponent("link-keys"))
    let daemon = try DaemonHarness(configPath: config, folder: folder, at: "2026-10-30T10:00:00+07:00")
    defer { daemon.stop() }
    try Data("k2026\n".utf8).write(to: folder.appendingPathComponent("link-keys"))
    #expect(throws: (any Error).self) { try daemon.reload() }
    #expect(daemon.daemon.replyLinks?.signer.keys.keys.map(\.id) == ["k2026", "k2025"])
    let missing = folder.appendingPathComponent("link-keys")
    try FileManager.default.removeItem(at: missing)
    do {
      try daemon.reload()
      Issue.record("reloaded")
    } catch {
      #expect("\(error)".contains("link_keys_file: cannot read \(missing.path)"), "\(error)")
    }
  }
}
