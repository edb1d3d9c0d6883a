import Foundation

/// Decodes what `EmailMessage` writes, independently of it: unfolds headers and decodes RFC 2047
/// words, so a test can compare what a mail reader would show.
public enum MailReader {
  public static func headers(_ raw: String) -> [(String, String)] {
    let head = raw.components(separatedBy: "\r\n\r\n")[0]
    var result: [(String, String)] = []
    for line in head.components(separatedBy: "\r\n") {
      if line.hasPrefix(" ") || line.hasPrefix("\t"), let last = result.popLast() {
        result.append((last.0, last.1 + line))
      } else if let colon = line.firstIndex(of: ":") {
        result.append(
          (String(line[..<colon]), String(line[line.index(after: colon)...]).trimmingCharacters(in: .whitespaces)))
      }
    }
    return result
  }

  public static func decodeWords(_ value: String) -> String {
    var output = ""
    var pendingBytes: [UInt8] = []
    for token in value.split(separator: " ", omittingEmptySubsequences: true) {
      if token.hasPrefix("=?UTF-8?B?"), token.hasSuffix("?=") {
        let base64 = token.dropFirst(10).dropLast(2)
        pendingBytes += Data(base64Encoded: String(base64)).map { Array($0) } ?? []
      } else {
        if !pendingBytes.isEmpty {
          output += String(decoding: pendingBytes, as: UTF8.self)
          pendingBytes = []
        }
        output += (output.isEmpty ? "" : " ") + token
      }
    }
    if !pendingBytes.isEmpty { output += (output.isEmpty ? "" : " ") + String(decoding: pendingBytes, as: UTF8.self) }
    return output
  }

  public static func header(_ raw: String, _ name: String) -> String? {
    headers(raw).first { $0.0.lowercased() == name.lowercased() }.map { decodeWords($0.1) }
  }
}
