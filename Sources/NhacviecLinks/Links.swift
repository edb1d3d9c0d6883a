import CSodium
public import Foundation
public import NhacviecCore

/// libsodium must be initialised once before any of its functions is called; it is safe to call
/// from several threads and more than once.
public enum Sodium {
  /// Whether libsodium is ready. It fails only when the system has no source of randomness.
  public static let ready: Bool = sodium_init() >= 0
}

/// The keys that sign and check units' links, read from the `link_keys_file` named by `web:`.
///
/// One `ID SECRET` per line; `#` starts a comment, blank lines are allowed. The first key signs,
/// every key listed verifies: to rotate, put a new key on top and keep the old one for as long
/// as the links it signed may still be clicked (30 days after the last rung they were sent on).
public struct LinkKeys: Sendable {
  public struct Key: Sendable {
    /// Named in every token, so that a token finds the key that signed it after rotation.
    public let id: String
    let secret: [UInt8]
  }

  /// In the file's order: the first signs.
  public let keys: [Key]

  /// The shortest secret accepted: HMAC-SHA256's own key size.
  public static let minimumSecretBytes = 32
  /// A key id's longest spelling: it travels in every link.
  public static let maximumIDLength = 16

  /// Reads the file's text; every mistake is reported at once, each naming `file` and its line.
  public init(parsing text: String, file: String) throws(ConfigErrors) {
    var keys: [Key] = []
    var errors: [ConfigError] = []
    var seen: Set<String> = []
    for (offset, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
      let at = SourceLocation(file: file, line: offset + 1)
      var line = Substring(raw)
      if let hash = line.firstIndex(of: "#") { line = line[..<hash] }
      let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" })
      if fields.isEmpty { continue }
      guard fields.count == 2 else {
        errors.append(ConfigError("a key line is `ID SECRET` (two fields), not \(fields.count)", at: at))
        continue
      }
      let id = String(fields[0])
      guard LinkKeys.isValidID(id) else {
        errors.append(
          ConfigError(
            "a key id is 1 to \(LinkKeys.maximumIDLength) of the letters A-Z, a-z, the digits, `-` and `_`, not `\(id)`",
            at: at))
        continue
      }
      guard !seen.contains(id) else {
        errors.append(ConfigError("key id `\(id)` is listed twice", at: at))
        continue
      }
      seen.insert(id)
      // The secret itself is never quoted back: an error message may reach a log.
      guard let secret = Base64.decode(String(fields[1]), urlSafe: nil) else {
        errors.append(ConfigError("the secret of key `\(id)` is not base64", at: at))
        continue
      }
      guard secret.count >= LinkKeys.minimumSecretBytes else {
        errors.append(
          ConfigError(
            "the secret of key `\(id)` has \(secret.count) bytes; at least \(LinkKeys.minimumSecretBytes) are needed (nhacviec link-key makes one)",
            at: at))
        continue
      }
      keys.append(Key(id: id, secret: secret))
    }
    if keys.isEmpty && errors.isEmpty {
      errors.append(
        ConfigError("no key: at least one line `ID SECRET` is needed", at: SourceLocation(file: file, line: 1)))
    }
    if !errors.isEmpty { throw ConfigErrors(errors) }
    self.keys = keys
  }

  /// Whether `id` may name a key: it travels in every link.
  public static func isValidID(_ id: String) -> Bool {
    (1...maximumIDLength).contains(id.utf8.count) && id.utf8.allSatisfy(isTokenByte)
  }

  /// A new key line, `ID SECRET`, with 32 random bytes from libsodium: what an operator puts on
  /// top of the file to rotate.
  public static func newLine(id: String) -> String? {
    guard Sodium.ready, isValidID(id) else { return nil }
    var secret = [UInt8](repeating: 0, count: minimumSecretBytes)
    randombytes_buf(&secret, secret.count)
    return "\(id) \(Base64.encode(secret, urlSafe: false))"
  }

  /// A key id for a key made on `date`: `k20261206`.
  public static func id(madeOn date: LocalDate) -> String {
    "k" + date.description.replacingOccurrences(of: "-", with: "")
  }
}

/// What a link is bound to: one obligation of one unit record. A token opens this and nothing
/// else, and only until `expires`.
public struct LinkTarget: Sendable, Hashable {
  public let rule: String
  /// The unit record (its id and the first day of its validity): a statistics code reused after
  /// the 2025 reorganisation names another record, so its link opens nothing of the other era.
  public let unit: UnitRef
  public let period: Period
  public let expires: Date

  public init(rule: String, unit: UnitRef, period: Period, expires: Date) {
    self.rule = rule
    self.unit = unit
    self.period = period
    // Whole seconds: what the token carries, so a target reads back equal to what was signed.
    self.expires = Date(timeIntervalSince1970: expires.timeIntervalSince1970.rounded(.down))
  }

  /// The obligation the target names, as the configuration has it now: its rule and the unit
  /// record on the rule's roster for the period. Nil when the rule is gone or is not an
  /// obligation, or when the roster holds no such record (a code reused by another record, a unit
  /// merged away): a token opens its own obligation or nothing.
  public func obligation(in engine: Engine) -> (rule: Rule, unit: OrgUnit)? {
    guard let rule = engine.ruleset.rule(self.rule), rule.kind.isObligation else { return nil }
    let ladder = engine.ladder(rule, period: period)
    guard let unit = engine.roster(of: rule, deadline: ladder.deadline).first(where: { UnitRef($0) == self.unit })
    else { return nil }
    return (rule, unit)
  }

  /// How long a link lives after the last rung of the ladder it was sent on.
  public static let lifetimeAfterLastRung: TimeInterval = 30 * 86_400

  /// The target of a notice's rung: valid until 30 days after its ladder's last rung, so that a
  /// unit can still answer the last message it received.
  public static func of(_ key: NoticeKey, engine: Engine) -> LinkTarget? {
    guard let rule = engine.ruleset.rule(key.rule) else { return nil }
    let ladder = engine.ladder(rule, period: key.period, named: key.deadline)
    return LinkTarget(
      rule: key.rule, unit: key.unit, period: key.period, expires: ladder.closes + lifetimeAfterLastRung)
  }
}

/// Why a token was refused. The page a unit sees says only that the link is not valid or has
/// expired; the log says which, without the token.
public enum LinkRefusal: String, Error, Sendable, CaseIterable {
  case malformed
  case unknownKey = "unknown-key"
  case badSignature = "bad-signature"
  case expired

  /// What the unit is told, in Vietnamese: nothing that helps to forge one.
  public var vietnamese: String {
    switch self {
    case .expired:
      return "Đường dẫn này đã hết hạn. Xin liên hệ Sở Khoa học và Công nghệ nếu đơn vị cần báo cáo hoặc xin gia hạn."
    case .malformed, .unknownKey, .badSignature:
      return "Đường dẫn này không hợp lệ. Xin mở lại đúng đường dẫn trong thư nhắc việc mà đơn vị đã nhận."
    }
  }
}

/// Signs and checks the tokens of units' links: `PAYLOAD.KEY.MAC`, each part URL-safe base64
/// without padding (the key id as it is), the MAC HMAC-SHA256 over the text before it.
public struct LinkSigner: Sendable {
  public let keys: LinkKeys

  /// Anything longer is refused before it is decoded: no real token comes near it.
  public static let maximumTokenLength = 400
  /// The payload's format; a token of another is malformed.
  static let version: UInt8 = 1
  /// Put before what is MACed, so that a MAC made with these keys for anything else never
  /// checks as a link's.
  static let context = Array("nhacviec-link\u{0}".utf8)

  public init(keys: LinkKeys) {
    precondition(Sodium.ready, "libsodium could not be initialised")
    self.keys = keys
  }

  /// A token for `target`, signed with the first key.
  public func token(for target: LinkTarget) -> String { token(signingPayload: LinkSigner.payload(target)) }

  /// A token of any payload, signed with the first key: for the fuzz target, which reaches the
  /// payload's reader with what no signer of ours would write.
  package func token(signingPayload payload: [UInt8]) -> String {
    let key = keys.keys[0]
    let signed = Base64.encode(payload, urlSafe: true) + "." + key.id
    return signed + "." + Base64.encode(LinkSigner.mac(Array(signed.utf8), key: key.secret), urlSafe: true)
  }

  /// What `token` is bound to, if one of the keys signed it and it has not expired at `now`.
  public func verify(_ token: String, at now: Date) -> Result<LinkTarget, LinkRefusal> {
    let bytes = Array(token.utf8)
    guard bytes.count <= LinkSigner.maximumTokenLength,
      bytes.allSatisfy({ isTokenByte($0) || $0 == UInt8(ascii: ".") })
    else { return .failure(.malformed) }
    let parts = bytes.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
    guard parts.count == 3, !parts[0].isEmpty,
      let payload = Base64.decode(String(decoding: parts[0], as: UTF8.self), urlSafe: true),
      let mac = Base64.decode(String(decoding: parts[2], as: UTF8.self), urlSafe: true),
      mac.count == Int(crypto_auth_hmacsha256_BYTES)
    else { return .failure(.malformed) }
    let id = String(decoding: parts[1], as: UTF8.self)
    guard let key = keys.keys.first(where: { $0.id == id }) else { return .failure(.unknownKey) }
    let signed = Array(bytes[..<(parts[0].count + 1 + parts[1].count)])
    let expected = LinkSigner.mac(signed, key: key.secret)
    // Constant time, as crypto_auth_hmacsha256_verify compares: a key longer than 32 bytes is
    // HMAC's own to take (init/update/final), which the one-shot verify cannot.
    guard crypto_verify_32(expected, mac) == 0 else { return .failure(.badSignature) }
    guard let target = LinkSigner.target(payload) else { return .failure(.malformed) }
    guard now < target.expires else { return .failure(.expired) }
    return .success(target)
  }

  static func mac(_ message: [UInt8], key: [UInt8]) -> [UInt8] {
    var state = crypto_auth_hmacsha256_state()
    var out = [UInt8](repeating: 0, count: Int(crypto_auth_hmacsha256_BYTES))
    crypto_auth_hmacsha256_init(&state, key, key.count)
    crypto_auth_hmacsha256_update(&state, context, UInt64(context.count))
    crypto_auth_hmacsha256_update(&state, message, UInt64(message.count))
    crypto_auth_hmacsha256_final(&state, &out)
    sodium_memzero(&state, MemoryLayout<crypto_auth_hmacsha256_state>.size)
    return out
  }

  /// Version, rule, unit id (each a length byte and UTF-8), the record's first day (a flag byte
  /// and 3 bytes of day number), the period's text (a length byte), and the expiry in seconds
  /// (5 bytes): about 40 bytes for the shipped rules, so a link stays under 120 characters.
  static func payload(_ target: LinkTarget) -> [UInt8] {
    var out: [UInt8] = [version]
    func text(_ value: String) {
      let bytes = Array(value.utf8.prefix(255))
      out.append(UInt8(bytes.count))
      out += bytes
    }
    func number(_ value: Int, bytes: Int) {
      for shift in stride(from: (bytes - 1) * 8, through: 0, by: -8) { out.append(UInt8((value >> shift) & 0xff)) }
    }
    text(target.rule)
    text(target.unit.id)
    if let from = target.unit.validFrom {
      out.append(1)
      number(from.dayNumber, bytes: 3)
    } else {
      out.append(0)
    }
    text(target.period.description)
    number(max(0, Int(target.expires.timeIntervalSince1970)), bytes: 5)
    return out
  }

  static func target(_ payload: [UInt8]) -> LinkTarget? {
    var index = 0
    func byte() -> UInt8? {
      guard index < payload.count else { return nil }
      defer { index += 1 }
      return payload[index]
    }
    func text() -> String? {
      guard let count = byte().map(Int.init), index + count <= payload.count else { return nil }
      defer { index += count }
      return String(validating: payload[index..<index + count], as: UTF8.self)
    }
    func number(bytes: Int) -> Int? {
      var value = 0
      for _ in 0..<bytes {
        guard let next = byte() else { return nil }
        value = value << 8 | Int(next)
      }
      return value
    }
    guard byte() == version, let rule = text(), !rule.isEmpty, let unit = text(), !unit.isEmpty,
      let flag = byte(), flag <= 1
    else { return nil }
    var from: LocalDate?
    if flag == 1 {
      guard let day = number(bytes: 3) else { return nil }
      from = LocalDate(dayNumber: day)
    }
    guard let periodText = text(), let period = Period(periodText), period.description == periodText,
      let expires = number(bytes: 5), index == payload.count
    else { return nil }
    return LinkTarget(
      rule: rule, unit: UnitRef(id: unit, validFrom: from), period: period,
      expires: Date(timeIntervalSince1970: TimeInterval(expires)))
  }
}

/// Makes the link a unit's message carries: `URL/c/TOKEN`.
public struct ReplyLinks: Sendable {
  /// The desk's public address, without a trailing slash.
  public let base: String
  public let signer: LinkSigner

  public init(base: String, signer: LinkSigner) {
    var base = base
    while base.hasSuffix("/") { base.removeLast() }
    self.base = base
    self.signer = signer
  }

  /// The path a link opens: `/c/` and the token.
  public static let pathPrefix = "/c/"

  public func link(for target: LinkTarget) -> String { base + ReplyLinks.pathPrefix + signer.token(for: target) }

  /// The link for a notice's rung, or nil for a rule the engine does not know.
  public func link(for key: NoticeKey, engine: Engine) -> String? {
    LinkTarget.of(key, engine: engine).map(link(for:))
  }

  /// The token of a path the desk was asked for (`/c/TOKEN`), or nil for any other path.
  public static func token(inPath path: String) -> String? {
    guard path.hasPrefix(pathPrefix) else { return nil }
    let token = String(path.dropFirst(pathPrefix.count))
    return token.isEmpty || token.contains("/") ? nil : token
  }
}

/// `A-Z a-z 0-9 - _`: base64url's alphabet, and a key id's.
func isTokenByte(_ byte: UInt8) -> Bool {
  switch byte {
  case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
    UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"):
    return true
  default: return false
  }
}

/// Base64 through libsodium, whose decoder is strict (no stray characters, no bits left over).
enum Base64 {
  static func encode(_ bytes: [UInt8], urlSafe: Bool) -> String {
    let variant = urlSafe ? sodium_base64_VARIANT_URLSAFE_NO_PADDING : sodium_base64_VARIANT_ORIGINAL
    let length = sodium_base64_encoded_len(bytes.count, variant)
    var out = [CChar](repeating: 0, count: length)
    _ = sodium_bin2base64(&out, length, bytes, bytes.count, variant)
    return String(decoding: out.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
  }

  /// URL-safe without padding (`urlSafe: true`), or any of the four spellings (`nil`): a key
  /// file may hold what `openssl rand -base64 32` printed.
  static func decode(_ text: String, urlSafe: Bool?) -> [UInt8]? {
    let variants =
      urlSafe == true
      ? [sodium_base64_VARIANT_URLSAFE_NO_PADDING]
      : [
        sodium_base64_VARIANT_ORIGINAL, sodium_base64_VARIANT_ORIGINAL_NO_PADDING, sodium_base64_VARIANT_URLSAFE,
        sodium_base64_VARIANT_URLSAFE_NO_PADDING,
      ]
    let input = Array(text.utf8)
    guard !input.isEmpty else { return nil }
    for variant in variants {
      var out = [UInt8](repeating: 0, count: input.count)
      var length = 0
      let ok = input.withUnsafeBufferPointer { source in
        source.withMemoryRebound(to: CChar.self) { chars in
          sodium_base642bin(&out, out.count, chars.baseAddress, chars.count, nil, &length, nil, Int32(variant)) == 0
        }
      }
      if ok { return Array(out.prefix(length)) }
    }
    return nil
  }
}
