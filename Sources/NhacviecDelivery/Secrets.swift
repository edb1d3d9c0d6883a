import Foundation
public import NhacviecCore

/// What a request carries that nobody but its server may see: a password, a bearer token, the
/// values of `header.NAME` settings, a URL's query and fragment.
///
/// Nothing nhacviec writes itself ever holds them: an outcome, a receipt, an error, a log line
/// or the journal is built from parts known to be safe (reply codes, a URL's `SafeURL`, words of
/// its own). What a server writes (an SMTP reply, an HTTP answer's first bytes, libcurl's
/// message about them) is another matter: a server may echo what it was sent. Such text is kept
/// only when it repeats none of these values, however short, as they are, in base64 (aligned or
/// within a longer blob such as AUTH PLAIN's) or percent-encoded; otherwise it is withheld
/// whole, never searched and patched.
public struct Secrets: Sendable {
  /// Every form a value may be echoed in.
  private let forms: [String]

  public init(_ values: [String]) {
    var forms: Set<String> = []
    for value in values where !value.isEmpty {
      forms.insert(value)
      if let decoded = value.removingPercentEncoding, !decoded.isEmpty { forms.insert(decoded) }
      if let encoded = value.addingPercentEncoding(withAllowedCharacters: .alphanumerics) { forms.insert(encoded) }
      let bytes = Array(value.utf8)
      let aligned = Data(bytes).base64EncodedString()
      forms.insert(aligned)
      forms.insert(String(aligned.prefix { $0 != "=" }))
      // Inside a longer blob, the value's bytes start at any of three offsets: the characters
      // they alone decide are the same whatever surrounds them. Too few of them would match
      // innocent text, so only values of three bytes or more are looked for this way.
      if bytes.count >= 3 {
        for offset in 0..<3 {
          let encoded = Array(Data(Array(repeating: 0, count: offset) + bytes).base64EncodedString())
          let first = (offset * 8 + 5) / 6
          let end = (offset + bytes.count) * 8 / 6
          if end - first >= 4 { forms.insert(String(encoded[first..<end])) }
        }
      }
    }
    self.forms = forms.sorted()
  }

  /// A request's query and fragment, each value of its query as written and decoded.
  public static func ofURL(_ url: String) -> [String] {
    guard let start = url.firstIndex(where: { $0 == "?" || $0 == "#" }) else { return [] }
    var values: [String] = []
    let tail = url[url.index(after: start)...]
    let query = url[start] == "?" ? tail.prefix { $0 != "#" } : ""
    if let hash = url.firstIndex(of: "#") { values.append(String(url[url.index(after: hash)...])) }
    if !query.isEmpty { values.append(String(query)) }
    for item in query.split(separator: "&") {
      let value = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).last ?? ""
      values.append(String(value).replacingOccurrences(of: "+", with: " "))
      values.append(String(value))
    }
    return values
  }

  public var isEmpty: Bool { forms.isEmpty }

  /// Whether `text` repeats any of the values, in any of their forms.
  public func appear(in text: String) -> Bool { forms.contains { text.contains($0) } }

  /// `text` if it repeats none of the values; else nil, for the caller to say something of its own.
  public func cleared(_ text: String) -> String? { appear(in: text) ? nil : text }
}

extension CurlRequest {
  /// What this request carries that only its server may see: its password (and the AUTH PLAIN
  /// blob made of it), its URL's query and fragment, and what its channel named secret.
  public var secrets: Secrets {
    var values = secretValues + Secrets.ofURL(url)
    if let password {
      values.append(password)
      values.append("\0" + (username ?? "") + "\0" + password)
    }
    return Secrets(values)
  }
}

extension SafeURL {
  /// `text` with every URL in it (`scheme://…` up to a space or a quote) in its safe form: for
  /// libcurl's messages, which may name the URL they were given.
  public static func inText(_ text: String) -> String {
    guard text.contains("://") else { return text }
    var result = ""
    var rest = Substring(text)
    while let separator = rest.range(of: "://") {
      // The scheme: the letters, digits and `+.-` right before `://`.
      var start = separator.lowerBound
      while start > rest.startIndex {
        let before = rest[rest.index(before: start)]
        guard before.isASCII, before.isLetter || before.isNumber || "+.-".contains(before) else { break }
        start = rest.index(before: start)
      }
      let end = rest[separator.upperBound...].firstIndex { $0.isWhitespace || "'\"<>`".contains($0) } ?? rest.endIndex
      result += rest[..<start]
      result += SafeURL(String(rest[start..<end])).description
      rest = rest[end...]
    }
    return result + rest
  }
}
