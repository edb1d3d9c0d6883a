import Foundation
import FuzzSupport
import NhacviecCore
import NhacviecLinks

/// The signer every input is checked with: one key, so that a token that verifies must be the
/// very token signing its target again makes.
let signer = LinkSigner(
  keys: try! LinkKeys(parsing: "k2026 \(Data(repeating: 0x5a, count: 32).base64EncodedString())", file: "link-keys"))
/// November 2026.
let now = Date(timeIntervalSince1970: 1_793_000_000)

/// One input is, by its first byte: `K` a key file's text, `T` a token as a link's path carries
/// it (`/c/TOKEN`), anything else a payload that the target signs and then reads back. A key
/// file that reads must sign a token that verifies; a token or a payload that verifies must be
/// what signing its target again gives (one spelling per target: no second token opens it).
func fuzzLinks(_ bytes: [UInt8]) {
  guard let first = bytes.first else { return }
  let rest = Array(bytes.dropFirst())
  switch first {
  case UInt8(ascii: "K"):
    do {
      let keys = try LinkKeys(parsing: String(decoding: rest, as: UTF8.self), file: "link-keys")
      let target = LinkTarget(
        rule: "iso-annual-report", unit: UnitRef(id: "51-STP", validFrom: LocalDate(iso: "2025-07-01")),
        period: Period("2026")!, expires: now.addingTimeInterval(86_400))
      let own = LinkSigner(keys: keys)
      guard own.verify(own.token(for: target), at: now) == .success(target) else {
        fatalError("a key file that reads signs a token that does not verify")
      }
    } catch {
      consume(error.description)
    }
  case UInt8(ascii: "T"):
    let path = "/c/" + String(decoding: rest, as: UTF8.self)
    guard let token = ReplyLinks.token(inPath: path) else { return }
    check(token)
  default:
    check(signer.token(signingPayload: rest))
  }
}

func check(_ token: String) {
  switch signer.verify(token, at: now) {
  case .success(let target):
    guard signer.token(for: target) == token else { fatalError("a second spelling of a token verifies: \(token)") }
  case .failure(let refusal):
    consume(refusal.vietnamese)
  }
}

#if FUZZING
  @_cdecl("LLVMFuzzerTestOneInput")
  public func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    fuzzLinks(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
  }
#else
  @main
  enum LinksReplay {
    static func main() { Replay.main(fuzzLinks) }
  }
#endif
