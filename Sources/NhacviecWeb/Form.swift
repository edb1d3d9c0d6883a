import Foundation
import NhacviecControl

/// A form posted as `application/x-www-form-urlencoded`: its fields in order, a name possibly
/// repeated (checkboxes). UTF-8 only; `+` is a space, `%XX` a byte.
public struct Form: Sendable, Equatable {
  public let fields: [(name: String, value: String)]

  public static func == (lhs: Form, rhs: Form) -> Bool {
    lhs.fields.map(\.name) == rhs.fields.map(\.name) && lhs.fields.map(\.value) == rhs.fields.map(\.value)
  }

  public struct Limits: Sendable {
    public var bytes = 65_536
    public var fields = 512
    public var valueBytes = 8_192

    public init() {}
  }

  public enum Failure: Error, Equatable, CustomStringConvertible {
    case tooLarge
    case tooManyFields
    case badEncoding

    public var description: String {
      switch self {
      case .tooLarge: return "the form is too large"
      case .tooManyFields: return "the form has too many fields"
      case .badEncoding: return "the form is not valid UTF-8 URL encoding"
      }
    }
  }

  public init(fields: [(name: String, value: String)]) { self.fields = fields }

  /// Parses a body; a broken escape, bytes that are not UTF-8 or a form over the limits are refused whole.
  public static func parse(_ body: [UInt8], limits: Limits = Limits()) throws(Failure) -> Form {
    guard body.count <= limits.bytes else { throw .tooLarge }
    var fields: [(String, String)] = []
    for pair in body.split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: true) {
      guard fields.count < limits.fields else { throw .tooManyFields }
      let equals = pair.firstIndex(of: UInt8(ascii: "="))
      guard let name = decode(pair[pair.startIndex..<(equals ?? pair.endIndex)]),
        let value = equals.map({ decode(pair[($0 + 1)...]) }) ?? ""
      else { throw .badEncoding }
      guard value.utf8.count <= limits.valueBytes else { throw .tooLarge }
      if name.isEmpty { continue }
      fields.append((name, value))
    }
    return Form(fields: fields)
  }

  /// Parses a `multipart/form-data` body (a file input's form): each part's `name` and its content
  /// as text; a file must be UTF-8 (a CSV). The same limits hold, a file's content counting
  /// against the whole body only.
  public static func parseMultipart(
    _ body: [UInt8], boundary: String, limits: Limits = Limits()
  ) throws(Failure) -> Form {
    guard body.count <= limits.bytes else { throw .tooLarge }
    guard !boundary.isEmpty, boundary.utf8.count <= 70 else { throw .badEncoding }
    let delimiter = Array("--\(boundary)".utf8)
    let separator = Array("\r\n--\(boundary)".utf8)
    guard body.starts(with: delimiter) else { throw .badEncoding }
    var fields: [(String, String)] = []
    var position = delimiter.count
    while true {
      // After a delimiter: `--` ends the body, CRLF starts a part.
      if body[position...].starts(with: Array("--".utf8)) { break }
      guard body[position...].starts(with: [13, 10]) else { throw .badEncoding }
      position += 2
      guard let end = Form.find(separator, in: body, from: position) else { throw .badEncoding }
      let part = body[position..<end]
      guard let split = Form.find([13, 10, 13, 10], in: Array(part), from: 0) else { throw .badEncoding }
      let head = String(decoding: part.prefix(split), as: UTF8.self)
      let content = Array(part.dropFirst(split + 4))
      var name: String?
      var file: String?
      for line in head.split(separator: "\r\n") where line.lowercased().hasPrefix("content-disposition:") {
        for parameter in line.split(separator: ";").dropFirst() {
          let pair = parameter.trimmingCharacters(in: .whitespaces)
          let unquoted = { (text: Substring) in text.trimmingCharacters(in: CharacterSet(charactersIn: "\"")) }
          if pair.hasPrefix("name=") { name = unquoted(pair.dropFirst(5)) }
          if pair.hasPrefix("filename=") { file = unquoted(pair.dropFirst(9)) }
        }
      }
      guard let name, let value = String(validating: content, as: UTF8.self) else { throw .badEncoding }
      guard fields.count + 1 < limits.fields else { throw .tooManyFields }
      fields.append((name, value))
      // A file's name, as the browser gave it, for the messages that point into it.
      if let file { fields.append((name + ".filename", file)) }
      position = end + separator.count
    }
    return Form(fields: fields)
  }

  static func find(_ needle: [UInt8], in haystack: [UInt8], from start: Int) -> Int? {
    guard !needle.isEmpty, haystack.count >= needle.count, start <= haystack.count - needle.count else { return nil }
    var i = start
    while i <= haystack.count - needle.count {
      if haystack[i] == needle[0], haystack[i..<(i + needle.count)].elementsEqual(needle) { return i }
      i += 1
    }
    return nil
  }

  /// The first value of a field.
  public subscript(_ name: String) -> String? { fields.first { $0.name == name }?.value }

  /// Every value of a field, in order.
  public func values(_ name: String) -> [String] { fields.filter { $0.name == name }.map(\.value) }

  /// A field's value trimmed, nil when absent or blank.
  public func given(_ name: String) -> String? {
    guard let value = self[name]?.trimmingCharacters(in: .whitespacesAndNewlines), !value.isEmpty else { return nil }
    return value
  }

  /// The query string's decoder: one way to read `+` and `%XX` on the desk and the socket.
  static func decode(_ bytes: ArraySlice<UInt8>) -> String? { HTTPRequestParser.decode(bytes) }

  /// Percent-encodes a value for a query string or a form.
  public static func encode(_ text: String) -> String {
    var out = ""
    for byte in text.utf8 {
      switch byte {
      case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
        UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."),
        UInt8(ascii: "~"):
        out.unicodeScalars.append(Unicode.Scalar(byte))
      default:
        out += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
      }
    }
    return out
  }
}

/// The `Cookie` header's pairs. A name sent twice counts once, the first (as browsers send the
/// most specific path first); a malformed pair is skipped, not fatal.
public enum Cookies {
  public static func parse(_ header: String) -> [String: String] {
    var cookies: [String: String] = [:]
    for part in header.split(separator: ";") {
      let pair = part.trimmingCharacters(in: .whitespaces)
      guard let equals = pair.firstIndex(of: "=") else { continue }
      let name = String(pair[..<equals])
      var value = String(pair[pair.index(after: equals)...])
      if value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") { value = String(value.dropFirst().dropLast()) }
      guard !name.isEmpty, name.utf8.count <= 64, value.utf8.count <= 512, cookies[name] == nil else { continue }
      cookies[name] = value
    }
    return cookies
  }
}

extension String {
  fileprivate func leftPadded(to width: Int) -> String {
    count >= width ? self : String(repeating: "0", count: width - count) + self
  }
}
