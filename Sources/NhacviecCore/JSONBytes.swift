/// A JSON writer for objects whose members are written in order: commas between members,
/// strings escaped and numbers written as Foundation's `JSONEncoder` writes them, so that text
/// written here is byte for byte what the encoder would have made (tests hold the two together).
/// For JSON made once per notice, where the encoder's generic machinery cost more than the rest.
package struct JSONBytes {
  package var bytes: [UInt8] = []
  /// Whether `/` is written `\/`, as `JSONEncoder` does unless told `.withoutEscapingSlashes`.
  private let escapesSlashes: Bool
  private var first = true

  package init(capacity: Int = 2048, escapesSlashes: Bool) {
    self.escapesSlashes = escapesSlashes
    bytes.reserveCapacity(capacity)
  }

  package mutating func open(_ bracket: Unicode.Scalar) {
    bytes.append(UInt8(ascii: bracket))
    first = true
  }

  package mutating func close(_ bracket: Unicode.Scalar) {
    bytes.append(UInt8(ascii: bracket))
    first = false
  }

  package mutating func comma() { bytes.append(UInt8(ascii: ",")) }

  package mutating func key(_ name: StaticString) {
    if !first { comma() }
    first = false
    bytes.append(UInt8(ascii: "\""))
    name.withUTF8Buffer { bytes.append(contentsOf: $0) }
    bytes.append(UInt8(ascii: "\""))
    bytes.append(UInt8(ascii: ":"))
  }

  /// A member whose value is an object, its members written by `members`.
  package mutating func object(_ name: StaticString, _ members: (inout JSONBytes) -> Void) {
    key(name)
    object(members)
  }

  /// An object, its members written by `members`.
  package mutating func object(_ members: (inout JSONBytes) -> Void) {
    open("{")
    members(&self)
    close("}")
  }

  /// A member whose value is an array of `count` elements, each written by `element` given its
  /// index.
  package mutating func array(_ name: StaticString, count: Int, _ element: (inout JSONBytes, Int) -> Void) {
    key(name)
    open("[")
    for index in 0..<count {
      if index > 0 { comma() }
      element(&self, index)
    }
    close("]")
  }

  package mutating func member(_ name: StaticString, _ value: String) {
    key(name)
    string(value)
  }

  package mutating func member(_ name: StaticString, _ value: Int) {
    key(name)
    number(value)
  }

  /// A member whose name is data (an address, say), escaped as a string is.
  package mutating func member(named name: String, _ value: String) {
    if !first { comma() }
    string(name)
    bytes.append(UInt8(ascii: ":"))
    string(value)
  }

  /// A dictionary of strings as one JSON object, its keys in the order of `JSONEncoder`'s
  /// `.sortedKeys` (by UTF-16 code units), or strings as one array: the journal's small columns
  /// written with every outcome.
  package static func text(_ members: [String: String]) -> String {
    var json = JSONBytes(capacity: 64 * max(1, members.count), escapesSlashes: true)
    json.object { object in
      for (name, value) in members.sorted(by: { $0.key.utf16.lexicographicallyPrecedes($1.key.utf16) }) {
        object.member(named: name, value)
      }
    }
    return String(decoding: json.bytes, as: UTF8.self)
  }

  package static func text(_ elements: [String]) -> String {
    var json = JSONBytes(capacity: 48 * max(1, elements.count), escapesSlashes: true)
    json.open("[")
    for (index, element) in elements.enumerated() {
      if index > 0 { json.comma() }
      json.string(element)
    }
    json.close("]")
    return String(decoding: json.bytes, as: UTF8.self)
  }

  package mutating func string(_ value: String) {
    string { $0.text(value) }
  }

  /// A string written in parts by `parts` (with `text`): one made of parts is not made a String
  /// first.
  package mutating func string(_ parts: (inout JSONBytes) -> Void) {
    bytes.append(UInt8(ascii: "\""))
    parts(&self)
    bytes.append(UInt8(ascii: "\""))
    first = false
  }

  /// Part of a string, escaped.
  package mutating func text(_ value: String) {
    var value = value
    // The runs between characters to escape are copied whole: most strings have none.
    value.withUTF8 { utf8 in
      var run = 0
      for index in utf8.indices {
        let byte = utf8[index]
        guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") || byte == UInt8(ascii: "/")
        else { continue }
        if byte == UInt8(ascii: "/") && !escapesSlashes { continue }
        bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[run..<index]))
        run = index + 1
        escape(byte)
      }
      bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[run...]))
    }
  }

  private mutating func escape(_ byte: UInt8) {
    switch byte {
    case UInt8(ascii: "\""): bytes.append(contentsOf: "\\\"".utf8)
    case UInt8(ascii: "\\"): bytes.append(contentsOf: "\\\\".utf8)
    case UInt8(ascii: "/"): bytes.append(contentsOf: "\\/".utf8)
    case 0x08: bytes.append(contentsOf: "\\b".utf8)
    case 0x0C: bytes.append(contentsOf: "\\f".utf8)
    case UInt8(ascii: "\n"): bytes.append(contentsOf: "\\n".utf8)
    case UInt8(ascii: "\r"): bytes.append(contentsOf: "\\r".utf8)
    case UInt8(ascii: "\t"): bytes.append(contentsOf: "\\t".utf8)
    default:
      bytes.append(contentsOf: "\\u00".utf8)
      bytes.append(UInt8(ascii: "0") + byte >> 4)
      let low = byte & 0xF
      bytes.append(low < 10 ? UInt8(ascii: "0") + low : UInt8(ascii: "a") + low - 10)
    }
  }

  /// An integer, in decimal.
  package mutating func number(_ value: Int) {
    Digits.append(value, width: 1, to: &bytes)
    first = false
  }

  /// A finite double as `JSONEncoder` writes it: its shortest text (`description`) without a
  /// trailing `.0`. A whole number of seconds, as planned instants are, is written as an integer
  /// without making that text.
  package mutating func number(_ value: Double) {
    if value.rounded(.towardZero) == value, value.magnitude < 1e15, value != 0 || value.sign == .plus {
      number(Int(value))
      return
    }
    var text = value.description
    if text.hasSuffix(".0") { text.removeLast(2) }
    bytes.append(contentsOf: text.utf8)
    first = false
  }
}
