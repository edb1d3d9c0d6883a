public import Foundation
public import NhacviecCore

/// Builds RFC 5322 messages: UTF-8 text and HTML as multipart/alternative, headers encoded per
/// RFC 2047, and no way for data to start a header of its own.
public struct EmailMessage: Sendable {
  public var from: Mailbox
  public var to: [Mailbox]
  public var cc: [Mailbox] = []
  public var replyTo: Mailbox?
  public var subject: String
  public var text: String
  public var html: String?
  public var messageID: String
  public var date: Date
  public var extraHeaders: [(String, String)] = []
  public var attachments: [OutgoingMessage.Attachment] = []

  public init(from: Mailbox, to: [Mailbox], subject: String, text: String, html: String?, messageID: String, date: Date)
  {
    self.from = from
    self.to = to
    self.subject = subject
    self.text = text
    self.html = html
    self.messageID = messageID
    self.date = date
  }

  /// `<32 hex digits.nhacviec@DOMAIN>`: the same notice key and channel always give the same
  /// Message-ID, so a receiver can drop the duplicate that a crash mid-send may cause.
  public static func messageID(key: String, channel: String, domain: String) -> String {
    let digest = SHA256.hex(SHA256.hash(Array("\(key)\n\(channel)".utf8))).prefix(32)
    return "<\(digest).nhacviec@\(domain)>"
  }

  /// The bytes to send, lines ending in CRLF.
  public func rendered(zone: Zone) -> [UInt8] {
    let boundary = "nhacviec-" + SHA256.hex(SHA256.hash(Array(messageID.utf8))).prefix(24)
    var headers: [(String, String)] = [
      ("Date", zone.rfc5322(date)),
      ("From", EmailMessage.mailbox(from)),
      ("To", to.map(EmailMessage.mailbox).joined(separator: ",\r\n ")),
    ]
    if !cc.isEmpty { headers.append(("Cc", cc.map(EmailMessage.mailbox).joined(separator: ",\r\n "))) }
    if let replyTo { headers.append(("Reply-To", EmailMessage.mailbox(replyTo))) }
    headers += [
      ("Subject", EmailMessage.encodeWords(subject, used: "Subject: ".count)),
      ("Message-ID", EmailMessage.singleLine(messageID)),
      ("MIME-Version", "1.0"),
      ("Auto-Submitted", "auto-generated"),
      ("X-Auto-Response-Suppress", "All"),
    ]
    for (name, value) in extraHeaders {
      headers.append((name, EmailMessage.encodeWords(value, used: name.count + 2)))
    }
    var out = ""
    for (name, value) in headers { out += "\(name): \(value)\r\n" }
    var body = ""
    if let html {
      body += "Content-Type: multipart/alternative;\r\n boundary=\"\(boundary)\"\r\n\r\n"
      body += "This is a multi-part message in MIME format.\r\n"
      for (type, part) in [("text/plain", text), ("text/html", html)] {
        body += "--\(boundary)\r\n"
        body += "Content-Type: \(type); charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        body += EmailMessage.base64Lines(Data(part.utf8))
      }
      body += "--\(boundary)--\r\n"
    } else {
      body += "Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
      body += EmailMessage.base64Lines(Data(text.utf8))
    }
    if attachments.isEmpty {
      out += body
    } else {
      // multipart/mixed: the message as above, then each file.
      let outer = "\(boundary)-mixed"
      out += "Content-Type: multipart/mixed;\r\n boundary=\"\(outer)\"\r\n\r\n"
      out += "This is a multi-part message in MIME format.\r\n--\(outer)\r\n" + body
      for attachment in attachments {
        let (fallback, encoded) = EmailMessage.fileNameParameters(attachment.filename)
        out += "--\(outer)\r\n"
        out += "Content-Type: \(EmailMessage.singleLine(attachment.contentType));\r\n name=\"\(fallback)\"\r\n"
        // The name once, per RFC 2231: readers that also saw a plain `filename` may prefer it.
        // `name` above is the ASCII fallback for readers that know neither.
        out += "Content-Disposition: attachment;\r\n \(encoded)\r\n"
        out += "Content-Transfer-Encoding: base64\r\n\r\n"
        out += EmailMessage.base64Lines(attachment.data)
      }
      out += "--\(outer)--\r\n"
    }
    return Array(out.utf8)
  }

  /// A file name as MIME parameters: an ASCII fallback for old readers (`name="…"`), and the
  /// name itself as RFC 2231 `filename*0*=UTF-8''…` continuations, each line under 78 characters.
  static func fileNameParameters(_ name: String) -> (fallback: String, encoded: String) {
    let folded = name.replacingOccurrences(of: "đ", with: "d").replacingOccurrences(of: "Đ", with: "D")
      .folding(options: [.diacriticInsensitive], locale: nil)
    let fallback = String(
      folded.unicodeScalars.map { scalar -> Character in
        let ok =
          scalar.isASCII && (CharacterSet.alphanumerics.contains(scalar) || "-_.() ".unicodeScalars.contains(scalar))
        return ok ? Character(scalar) : "_"
      })
    var pieces: [String] = []
    for byte in name.utf8 {
      let character = Character(Unicode.Scalar(byte))
      let plain = byte < 0x80 && (character.isLetter || character.isNumber || "!#$&+-.^_`|~".contains(character))
      pieces.append(plain ? String(character) : String(format: "%%%02X", byte))
    }
    var chunks: [String] = []
    var chunk = "UTF-8''"
    for piece in pieces {
      if chunk.count + piece.count > 54 {
        chunks.append(chunk)
        chunk = ""
      }
      chunk += piece
    }
    chunks.append(chunk)
    let encoded = chunks.enumerated().map { "filename*\($0.offset)*=\($0.element)" }.joined(separator: ";\r\n ")
    return (fallback, encoded)
  }

  /// Line breaks in a value become spaces: a value is one header, never two.
  static func singleLine(_ text: String) -> String {
    // Nearly every header has no line break: it is not broken into characters to find none.
    guard text.utf8.contains(where: { $0 == 0x0A || $0 == 0x0D }) else { return text }
    return text.split(whereSeparator: { $0 == "\r" || $0 == "\n" || $0 == "\r\n" }).joined(separator: " ")
  }

  /// RFC 2047 encoded words for any text that is not plain printable ASCII, each line within 76
  /// characters (`used`: what the line holds before the value, as `Subject: `).
  ///
  /// Each encoded word holds whole words, the space before a word carried inside it: the
  /// whitespace between two encoded words is not part of the text (RFC 2047, 6.2), and readers
  /// that show each word as it comes (some ticketing and archiving tools) must not see "Qu ảng".
  /// Only a word longer than a whole line is split, between characters, never inside one.
  static func encodeWords(_ raw: String, used: Int = 0) -> String {
    let text = singleLine(raw)
    // Words, each with the spaces before it.
    var tokens: [[UInt8]] = []
    var current: [UInt8] = []
    for character in text {
      if character == " ", let last = current.last, last != 0x20 {
        tokens.append(current)
        current = []
      }
      current += character.utf8
    }
    if !current.isEmpty { tokens.append(current) }
    let plain = text.unicodeScalars.allSatisfy { $0.value >= 0x20 && $0.value < 0x7f } && !text.contains("=?")
    if plain {
      // Folded before a space, where unfolding gives the same text back; a word longer than a
      // line stays whole (a header line may reach 998).
      var lines: [String] = []
      var line = ""
      var width = used
      for token in tokens.map({ String(decoding: $0, as: UTF8.self) }) {
        if !line.isEmpty, width + token.count > 76 {
          lines.append(line)
          line = ""
          width = 0
        }
        line += token
        width += token.count
      }
      lines.append(line)
      return lines.joined(separator: "\r\n")
    }
    // Bytes of text an encoded word may hold on a line that has `taken` characters before it:
    // `=?UTF-8?B?` and `?=` are 12, and base64 writes 4 characters for every 3 bytes.
    func capacity(_ taken: Int) -> Int { max(3, (76 - taken - 12) / 4 * 3) }
    var words: [[UInt8]] = []
    var chunk: [UInt8] = []
    var limit = capacity(used)
    func flush() {
      guard !chunk.isEmpty else { return }
      words.append(chunk)
      chunk = []
      limit = capacity(1)
    }
    for token in tokens {
      if chunk.count + token.count <= limit {
        chunk += token
        continue
      }
      flush()
      if token.count <= limit {
        chunk = token
        continue
      }
      // A word longer than a line: cut between characters.
      for character in String(decoding: token, as: UTF8.self) {
        let bytes = Array(character.utf8)
        if chunk.count + bytes.count > limit { flush() }
        chunk += bytes
      }
    }
    flush()
    return words.map { "=?UTF-8?B?\(Data($0).base64EncodedString())?=" }.joined(separator: "\r\n ")
  }

  static func mailbox(_ mailbox: Mailbox) -> String {
    let address = singleLine(mailbox.address).filter { $0 != "<" && $0 != ">" && $0 != "," && $0 != " " }
    guard let name = mailbox.name.map(singleLine), !name.isEmpty else { return "<\(address)>" }
    let safe = name.unicodeScalars.allSatisfy {
      $0.value >= 0x20 && $0.value < 0x7f && !"\"\\()<>[]:;@,.".unicodeScalars.contains($0)
    }
    // Within 76 after any address header's name (`Reply-To: `, the longest, is 10).
    return safe ? "\(name) <\(address)>" : "\(encodeWords(name, used: 12))\r\n <\(address)>"
  }

  /// Base64 in lines of 76 characters, each ended by CRLF.
  package static func base64Lines(_ data: Data) -> String {
    guard !data.isEmpty else { return "" }
    return data.base64EncodedString(options: [
      .lineLength76Characters, .endLineWithCarriageReturn, .endLineWithLineFeed,
    ])
      + "\r\n"
  }

}
