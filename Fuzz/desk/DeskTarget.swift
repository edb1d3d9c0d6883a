import FuzzSupport
import NhacviecWeb

/// One input is what a browser sends the desk: a form body (URL-encoded, and multipart as a file
/// upload sends it), read as a `Cookie` header and as a
/// `next=` path too. Forms that parse must read back the same once encoded again; a cookie's
/// value stays within its bound; a path to go back to after login is always on this site; and
/// text put into a page never becomes markup.
func fuzzDesk(_ bytes: [UInt8]) {
  if let form = try? Form.parse(bytes) {
    let again = form.fields.map { "\(Form.encode($0.name))=\(Form.encode($0.value))" }.joined(separator: "&")
    guard let reread = try? Form.parse(Array(again.utf8)), reread == form else {
      preconditionFailure("a form does not read back the same once encoded: \(form.fields)")
    }
    note("\(form.fields.count) fields")
  }
  // The same bytes as a file input's form (the facts CSV upload), under a fixed boundary and
  // after a delimiter: whatever parses holds no more fields than the limit.
  for body in [bytes, Array("--b\r\n".utf8) + bytes] {
    if let form = try? Form.parseMultipart(body, boundary: "b") {
      precondition(form.fields.count <= Form.Limits().fields, "a multipart form beyond its limit")
      note("\(form.fields.count) multipart fields")
    }
  }
  let text = String(decoding: bytes, as: UTF8.self)
  for (name, value) in Cookies.parse(text) {
    precondition(!name.isEmpty && name.utf8.count <= 64 && value.utf8.count <= 512, "cookie \(name) out of bounds")
  }
  if let path = Desk.localPath(text) {
    let utf8 = Array(path.utf8)
    precondition(utf8.first == UInt8(ascii: "/"), "next=\(path) is not a path")
    precondition(
      utf8.count == 1 || (utf8[1] != UInt8(ascii: "/") && utf8[1] != UInt8(ascii: "\\")),
      "next=\(path) leads to another site")
    precondition(utf8.allSatisfy { $0 > 32 && $0 < 127 }, "next=\(path) holds a byte a browser may read otherwise")
  }
  let page: HTML = "<p title=\"\(text)\">\(text)</p>"
  let inner = page.markup.dropFirst("<p title=\"".count).dropLast("</p>".count)
  precondition(!inner.contains("<") && inner.filter({ $0 == "\"" }).count == 1, "text became markup: \(page.markup)")
}

#if FUZZING
  @_cdecl("LLVMFuzzerTestOneInput")
  public func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    fuzzDesk(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
  }
#else
  @main
  enum DeskReplay {
    static func main() { Replay.main(fuzzDesk) }
  }
#endif
