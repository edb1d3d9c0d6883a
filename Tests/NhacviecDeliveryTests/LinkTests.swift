import Foundation
import NhacviecConfig
import NhacviecCore
import NhacviecLinks
import TestSupport
import Testing

/// A key line with a secret of `count` bytes, each `byte`.
private func keyLine(_ id: String, byte: UInt8, count: Int = 32) -> String {
  "\(id) \(Data(repeating: byte, count: count).base64EncodedString())"
}

private func signer(_ lines: String...) throws -> LinkSigner {
  LinkSigner(keys: try LinkKeys(parsing: lines.joined(separator: "\n"), file: "link-keys"))
}

private let now = Date(timeIntervalSince1970: 1_793_000_000)  // November 2026
private let target = LinkTarget(
  rule: "iso-annual-report", unit: UnitRef(id: "21025", validFrom: LocalDate(iso: "2025-07-01")),
  period: Period("2026")!, expires: now.addingTimeInterval(40 * 86_400))

@Suite("Signed links: tokens")
struct LinkTokenTests {
  @Test("a token verifies to what it was made for, is short and URL-safe")
  func roundTrip() throws {
    let links = try signer(keyLine("k1", byte: 1))
    let token = links.token(for: target)
    #expect(links.verify(token, at: now) == .success(target))
    #expect(token.count < 120, "\(token.count): \(token)")
    #expect(token.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) })
    // A record from the beginning, and periods of every kind, read back as they were.
    for (unit, period) in [("51-STP", "2026-Q3"), ("xa-tinh-khe", "2026-09"), ("51-SKHCN", "2027")] {
      let other = LinkTarget(
        rule: "iso-budget-estimate", unit: UnitRef(id: unit, validFrom: nil), period: Period(period)!,
        expires: now.addingTimeInterval(86_400))
      #expect(links.verify(links.token(for: other), at: now) == .success(other))
    }
  }

  @Test("the unit record is part of what is signed: 21025 of the 2021 era does not open 21025 of 2025")
  func unitRecord() throws {
    let links = try signer(keyLine("k1", byte: 1))
    let old = LinkTarget(
      rule: target.rule, unit: UnitRef(id: "21025", validFrom: nil), period: target.period, expires: target.expires)
    guard case .success(let read) = links.verify(links.token(for: old), at: now) else {
      Issue.record("refused")
      return
    }
    #expect(read.unit != target.unit)
    #expect(read.unit.validFrom == nil)
  }

  @Test("tampered, forged, truncated, expired and garbage tokens are each refused with their reason")
  func refusals() throws {
    let links = try signer(keyLine("k1", byte: 1))
    let token = links.token(for: target)
    let parts = token.split(separator: ".").map(String.init)
    #expect(parts.count == 3)
    // Another obligation's payload under this token's signature.
    let other = LinkTarget(
      rule: target.rule, unit: UnitRef(id: "51-STP", validFrom: nil), period: target.period, expires: target.expires)
    let otherParts = links.token(for: other).split(separator: ".").map(String.init)
    #expect(
      links.verify([otherParts[0], parts[1], parts[2]].joined(separator: "."), at: now) == .failure(.badSignature))
    // One character of the payload or of the signature changed.
    #expect(links.verify(flip(token, at: 3), at: now) == .failure(.badSignature))
    #expect(links.verify(flip(token, at: token.count - 5), at: now) == .failure(.badSignature))
    // The same payload signed by a key of the same id that is not ours.
    let forger = try signer(keyLine("k1", byte: 2))
    #expect(links.verify(forger.token(for: target), at: now) == .failure(.badSignature))
    // A key id the file does not list.
    let stranger = try signer(keyLine("k9", byte: 1))
    #expect(links.verify(stranger.token(for: target), at: now) == .failure(.unknownKey))
    // Expired: valid up to its last second, refused from its expiry.
    #expect(links.verify(token, at: target.expires.addingTimeInterval(-1)) == .success(target))
    #expect(links.verify(token, at: target.expires) == .failure(.expired))
    // Truncated, by a mail reader that cut a line or a user who copied half of it.
    #expect(links.verify(String(token.dropLast(4)), at: now) == .failure(.malformed))
    #expect(links.verify(parts[0] + "." + parts[1], at: now) == .failure(.malformed))
    #expect(links.verify(parts[0], at: now) == .failure(.malformed))
    // Garbage, and oversized input refused before it is decoded.
    for garbage in [
      "", ".", "..", "a.b.c", "<script>", token + ".x", token.replacingOccurrences(of: ".", with: "/"),
      token + "=", String(repeating: "A", count: 100_000), "é.k1." + parts[2],
    ] {
      #expect(links.verify(garbage, at: now) == .failure(.malformed), "\(garbage.prefix(40))")
    }
  }

  @Test("rotation: a token of the old key verifies while the old key is listed, new tokens use the new key")
  func rotation() throws {
    let before = try signer(keyLine("k2025", byte: 1))
    let old = before.token(for: target)
    let rotated = try signer(keyLine("k2026", byte: 7), keyLine("k2025", byte: 1))
    #expect(rotated.verify(old, at: now) == .success(target))
    let new = rotated.token(for: target)
    #expect(new.split(separator: ".")[1] == "k2026")
    #expect(rotated.verify(new, at: now) == .success(target))
    #expect(before.verify(new, at: now) == .failure(.unknownKey))
    let retired = try signer(keyLine("k2026", byte: 7))
    #expect(retired.verify(old, at: now) == .failure(.unknownKey))
  }

  @Test("a token's path: /c/TOKEN and nothing else")
  func path() throws {
    let links = ReplyLinks(base: "https://nhacviec.example.gov.vn/", signer: try signer(keyLine("k1", byte: 1)))
    let link = links.link(for: target)
    #expect(link.hasPrefix("https://nhacviec.example.gov.vn/c/"))
    let token = try #require(ReplyLinks.token(inPath: String(link.dropFirst("https://nhacviec.example.gov.vn".count))))
    #expect(links.signer.verify(token, at: now) == .success(target))
    #expect(ReplyLinks.token(inPath: "/c/") == nil)
    #expect(ReplyLinks.token(inPath: "/c/a/b") == nil)
    #expect(ReplyLinks.token(inPath: "/login") == nil)
  }

  /// The token with one base64 character at `index` replaced by another.
  private func flip(_ token: String, at index: Int) -> String {
    var characters = Array(token)
    characters[index] = characters[index] == "A" ? "B" : "A"
    return String(characters)
  }
}

@Suite("Signed links: the key file")
struct LinkKeysTests {
  @Test("comments, blank lines and the four base64 spellings are read; the first key signs")
  func reads() throws {
    let secret = Data((0..<32).map { UInt8(($0 * 7 + 250) & 0xff) })
    let text = """
      # rotated 06/12/2026: k2026 signs, k2025 still verifies
      k2026 \(secret.base64EncodedString())   # a comment after the secret

      k2025 \(secret.base64EncodedString().replacingOccurrences(of: "=", with: ""))
      k_url-1\t\(secret.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_"))
      """
    let keys = try LinkKeys(parsing: text, file: "link-keys")
    #expect(keys.keys.map(\.id) == ["k2026", "k2025", "k_url-1"])
  }

  @Test("each mistake is reported with the file and its line, and the secret is never quoted")
  func errors() throws {
    let text = [
      "# keys", keyLine("good", byte: 1), "k1", keyLine("bad.id", byte: 1), keyLine("good", byte: 2),
      "short \(Data(repeating: 3, count: 16).base64EncodedString())", "k3 not*base64!",
      keyLine("k4", byte: 1) + " extra",
      keyLine(String(repeating: "x", count: 17), byte: 1),
    ].joined(separator: "\n")
    do {
      _ = try LinkKeys(parsing: text, file: "/etc/nhacviec/secrets/link-keys")
      Issue.record("accepted")
    } catch {
      let lines = error.errors.map(\.description)
      #expect(lines.count == 7, "\(lines)")
      #expect(lines[0].hasPrefix("/etc/nhacviec/secrets/link-keys:3:1: a key line is `ID SECRET`"))
      #expect(lines[1].hasPrefix("/etc/nhacviec/secrets/link-keys:4:1: a key id is"))
      #expect(lines[2] == "/etc/nhacviec/secrets/link-keys:5:1: key id `good` is listed twice")
      #expect(lines[3].hasPrefix("/etc/nhacviec/secrets/link-keys:6:1: the secret of key `short` has 16 bytes"))
      #expect(lines[4] == "/etc/nhacviec/secrets/link-keys:7:1: the secret of key `k3` is not base64")
      #expect(lines[5].hasPrefix("/etc/nhacviec/secrets/link-keys:8:1: a key line is `ID SECRET` (two fields), not 3"))
      #expect(lines[6].hasPrefix("/etc/nhacviec/secrets/link-keys:9:1: a key id is"))
      #expect(!lines.joined().contains("not*base64"))
    }
    #expect(throws: ConfigErrors.self) { try LinkKeys(parsing: "# nothing but a comment\n\n", file: "k") }
  }

  @Test("a new key line is random, 32 bytes, and reads back")
  func newLine() throws {
    let a = try #require(LinkKeys.newLine(id: "k20261206"))
    let b = try #require(LinkKeys.newLine(id: "k20261206"))
    #expect(a != b)
    #expect(a.hasPrefix("k20261206 "))
    #expect(Data(base64Encoded: String(a.dropFirst(10)))?.count == 32)
    #expect(try LinkKeys(parsing: a, file: "k").keys.map(\.id) == ["k20261206"])
    #expect(LinkKeys.newLine(id: "not valid") == nil)
    #expect(LinkKeys.id(madeOn: LocalDate(iso: "2026-12-06")!) == "k20261206")
  }
}

@Suite("Signed links: the obligation a target names")
struct LinkObligationTests {
  @Test("21025 of 2025 owes its 2026 report; 21025 of the 2021 era, a summary rule or an unknown rule opens nothing")
  func reusedCode() throws {
    let deployment = try DeploymentLoader().load(
      configPath: repositoryRoot.appendingPathComponent("Rules/nhacviec.yaml").path)
    let engine = deployment.engine()
    func target(_ rule: String, _ unit: UnitRef, _ period: String = "2026") -> LinkTarget {
      LinkTarget(rule: rule, unit: unit, period: Period(period)!, expires: now)
    }
    let ward2025 = UnitRef(id: "21025", validFrom: LocalDate(iso: "2025-07-01"))
    let found = try #require(target("iso-annual-report", ward2025).obligation(in: engine))
    #expect(found.rule.id == "iso-annual-report")
    #expect(found.unit.name == "Phường Cẩm Thành")
    #expect(target("iso-annual-report", UnitRef(id: "21025", validFrom: nil)).obligation(in: engine) == nil)
    #expect(
      target("iso-summary-standing-agency", UnitRef(id: "51-SKHCN", validFrom: LocalDate(iso: "2025-07-01")))
        .obligation(in: engine) == nil)
    #expect(target("no-such-rule", ward2025).obligation(in: engine) == nil)
    // The 2021 record owed the FY2026 budget line, due in June 2025, before the reorganisation.
    let ward2021 = try #require(
      target("iso-budget-estimate", UnitRef(id: "21025", validFrom: nil)).obligation(in: engine))
    #expect(ward2021.unit.name == "Phường Nguyễn Nghiêm")
  }
}
