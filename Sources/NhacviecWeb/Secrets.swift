import CSodium
import Foundation
import NhacviecLinks

/// Officers' passwords and the desk's random tokens, all through libsodium.
public enum Passwords {
  /// Passwords shorter than this are refused: with argon2id's cost, ten characters is what an
  /// officer can type and an attacker with the database cannot try through.
  public static let minimumLength = 10
  public static let maximumLength = 1024

  public struct Failure: Error, CustomStringConvertible {
    public let description: String
  }

  /// Checks a new password's length; the reason in English for the CLI.
  public static func check(_ password: String) throws(Failure) {
    guard !password.isEmpty else { throw Failure(description: "the password is empty") }
    guard password.count >= minimumLength else {
      throw Failure(description: "the password must be at least \(minimumLength) characters")
    }
    guard password.utf8.count <= maximumLength else {
      throw Failure(description: "the password is longer than \(maximumLength) bytes")
    }
  }

  /// argon2id with libsodium's INTERACTIVE limits (2 passes over 64 MiB, 0.16 s measured here):
  /// MODERATE (3 passes over 256 MiB, 1.0 s) would let four logins at once take a gigabyte of a small
  /// server's memory. The string carries its own parameters, so raising them later still
  /// verifies the old hashes.
  public static func hash(_ password: String) throws(Failure) -> String {
    guard Sodium.ready else { throw Failure(description: "libsodium could not start") }
    slots.wait()
    defer { slots.signal() }
    var out = [CChar](repeating: 0, count: crypto_pwhash_strbytes())
    // Every byte, a NUL too: the length is given, so nothing is cut at a NUL.
    let chars = password.utf8.map { CChar(bitPattern: $0) } + [0]
    let result = crypto_pwhash_str(
      &out, chars, UInt64(chars.count - 1), UInt64(crypto_pwhash_opslimit_interactive()),
      crypto_pwhash_memlimit_interactive())
    guard result == 0 else { throw Failure(description: "argon2id failed (out of memory?)") }
    return String(decoding: out.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
  }

  public static func verify(_ password: String, hash: String) -> Bool {
    guard Sodium.ready, password.utf8.count <= maximumLength else { return false }
    slots.wait()
    defer { slots.signal() }
    let chars = password.utf8.map { CChar(bitPattern: $0) } + [0]
    return crypto_pwhash_str_verify(hash, chars, UInt64(chars.count - 1)) == 0
  }

  /// At most two hashes at once (128 MiB): eight logins at the same moment would otherwise take
  /// the 512 MiB the service unit allows the whole daemon. The others wait on their own threads.
  static let slots = DispatchSemaphore(value: 2)

  /// A hash to verify against when the account does not exist, so that a wrong name takes as
  /// long as a wrong password and does not tell which names exist.
  static let decoy: String = (try? hash("nhacviec-decoy-password")) ?? ""
}

/// Random tokens (session ids, CSRF tokens) and their hashes.
public enum Tokens {
  /// 32 random bytes, base64url without padding: fits a cookie and a form field as is.
  public static func random() -> String {
    precondition(Sodium.ready, "libsodium could not start")
    var bytes = [UInt8](repeating: 0, count: 32)
    randombytes_buf(&bytes, bytes.count)
    return base64url(bytes)
  }

  /// SHA-256 of a token, hex: what the store keeps of a session id.
  public static func digest(_ token: String) -> String {
    precondition(Sodium.ready, "libsodium could not start")
    var out = [UInt8](repeating: 0, count: Int(crypto_hash_sha256_BYTES))
    let bytes = Array(token.utf8)
    _ = crypto_hash_sha256(&out, bytes, UInt64(bytes.count))
    return out.map { String(format: "%02x", $0) }.joined()
  }

  /// Compares two tokens in constant time (a CSRF field against the session's).
  public static func same(_ a: String, _ b: String) -> Bool {
    let x = Array(a.utf8)
    let y = Array(b.utf8)
    guard x.count == y.count, !x.isEmpty else { return false }
    return sodium_memcmp(x, y, x.count) == 0
  }

  static func base64url(_ bytes: [UInt8]) -> String {
    Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
      .replacingOccurrences(of: "=", with: "")
  }

  /// Whether a value looks like one of our tokens, before any lookup.
  static func wellFormed(_ token: String) -> Bool {
    token.utf8.count == 43
      && token.utf8.allSatisfy {
        ($0 >= 48 && $0 <= 57) || ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) || $0 == 45 || $0 == 95
      }
  }
}
