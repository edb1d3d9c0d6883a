public import Foundation
public import NhacviecCore

/// A channel's configuration, read once from its map in the configuration file, every value
/// typed and every mistake placed at FILE:LINE:COL. Delivery builds the channel from it
/// (`ChannelRuntime` in NhacviecDelivery); planning only needs its `spec`.
public protocol ChannelConfiguration: Sendable {
  var spec: ChannelSpec { get }
  var location: SourceLocation { get }
  /// How many notices of this channel may be in flight at once.
  var connections: Int { get }
}

/// The kinds of channel a deployment knows, by `type:`: plugins like rule kinds.
public struct ChannelKindRegistry: Sendable {
  /// Reads one channel's map; `context` resolves paths and says where secrets come from.
  public typealias Parser =
    @Sendable (_ name: String, _ fields: Fields, _ context: ChannelContext) throws(ConfigError)
    -> any ChannelConfiguration
  private var parsers: [String: Parser] = [:]

  public init() {}

  public mutating func register(_ type: String, _ parser: @escaping Parser) { parsers[type] = parser }
  public func parser(for type: String) -> Parser? { parsers[type] }
  public var types: [String] { parsers.keys.sorted() }

  public static let builtIn: ChannelKindRegistry = {
    var registry = ChannelKindRegistry()
    registry.register("smtp") { name, fields, context throws(ConfigError) in
      try SMTPConfiguration(name: name, fields: fields, context: context)
    }
    registry.register("webhook") { name, fields, context throws(ConfigError) in
      try WebhookConfiguration(name: name, fields: fields, context: context)
    }
    registry.register("file") { name, fields, context throws(ConfigError) in
      try FileConfiguration(name: name, fields: fields, context: context)
    }
    registry.register("exec") { name, fields, context throws(ConfigError) in
      try ExecConfiguration(name: name, fields: fields, context: context)
    }
    return registry
  }()
}

/// What reading a channel's configuration needs from around it.
public struct ChannelContext: Sendable {
  /// Resolves a path relative to the configuration file.
  public let resolve: @Sendable (String) -> String
  /// `$CREDENTIALS_DIRECTORY` when systemd hands secrets over: a relative secret file is read
  /// from there instead of beside the configuration.
  public let credentials: String?

  public init(resolve: @escaping @Sendable (String) -> String, credentials: String?) {
    self.resolve = resolve
    self.credentials = credentials
  }

  /// Where a secret file is: absolute as given, else in the credentials folder, else beside the
  /// configuration.
  public func secretPath(_ path: String) -> String {
    if path.hasPrefix("/") { return path }
    if let credentials { return (credentials as NSString).appendingPathComponent(path) }
    return resolve(path)
  }
}

/// A secret named by a channel's configuration, read when the channel is built.
public struct SecretFile: Sendable, Hashable {
  public let setting: String
  public let path: String
  public let location: SourceLocation

  /// Its first line: a trailing newline is not part of a password.
  public func read() throws(ConfigError) -> String {
    guard let data = FileManager.default.contents(atPath: path) else {
      throw ConfigError("\(setting): cannot read \(path)", at: location)
    }
    let text = String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
    guard !text.isEmpty else { throw ConfigError("\(setting): \(path) is empty", at: location) }
    return text
  }
}

/// Reading helpers every channel kind shares.
extension Fields {
  func text(_ key: String) throws(ConfigError) -> String? { try optional(key)?.string(key) }

  func requiredText(_ key: String, _ channel: String) throws(ConfigError) -> String {
    guard let value = try text(key), !value.isEmpty else { throw node.error("channel \(channel) needs `\(key)`") }
    return value
  }

  /// `30`, `30s`, `2m`, `500ms`.
  func seconds(_ key: String, default value: TimeInterval) throws(ConfigError) -> TimeInterval {
    guard let node = optional(key) else { return value }
    let text = try node.string(key)
    let (digits, scale): (Substring, Double) =
      text.hasSuffix("ms")
      ? (text.dropLast(2), 0.001)
      : text.hasSuffix("s") ? (text.dropLast(), 1) : text.hasSuffix("m") ? (text.dropLast(), 60) : (Substring(text), 1)
    guard let number = Double(digits), number > 0, number * scale <= 3600 else {
      throw node.error("\(key) must be a duration up to an hour, such as 30s or 2m, not `\(text)`")
    }
    return number * scale
  }

  func integer(_ key: String, default value: Int, in range: ClosedRange<Int>) throws(ConfigError) -> Int {
    guard let node = optional(key) else { return value }
    let text = try node.string(key)
    guard let number = Int(text), range.contains(number) else {
      throw node.error("\(key) must be a whole number from \(range.lowerBound) to \(range.upperBound), not `\(text)`")
    }
    return number
  }

  func secret(_ key: String, _ context: ChannelContext) throws(ConfigError) -> SecretFile? {
    guard let node = optional(key) else { return nil }
    return SecretFile(setting: key, path: context.secretPath(try node.string(key)), location: node.location)
  }

  func mailbox(_ key: String) throws(ConfigError) -> Mailbox? {
    guard let node = optional(key) else { return nil }
    let text = try node.string(key)
    guard let mailbox = Mailbox(text) else {
      throw node.error("\(key) must be an address, or a name and an address: Nhắc việc <nhacviec@example.org>")
    }
    return mailbox
  }

  /// `address: email | webhook`: what kind of address the planner gives this channel.
  func addressKind(default kind: AddressKind) throws(ConfigError) -> AddressKind {
    guard let node = optional("address") else { return kind }
    guard let parsed = AddressKind(rawValue: try node.string("address")) else {
      throw node.error("address must be email or webhook")
    }
    return parsed
  }
}

public struct SMTPConfiguration: ChannelConfiguration {
  public enum TLS: String, Sendable {
    /// STARTTLS or fail: the transfer never continues in clear.
    case required
    /// STARTTLS when the server offers it.
    case opportunistic
    /// Plain text only.
    case none
  }

  public let spec: ChannelSpec
  public let location: SourceLocation
  public let connections: Int
  public let url: String
  public let from: Mailbox
  public let replyTo: Mailbox?
  public let cc: [Mailbox]
  public let username: String?
  public let password: SecretFile?
  public let caFile: String?
  public let tls: TLS
  public let timeout: TimeInterval

  init(name: String, fields: Fields, context: ChannelContext) throws(ConfigError) {
    location = fields.node.location
    url = try fields.requiredText("url", name)
    guard url.hasPrefix("smtp://") || url.hasPrefix("smtps://"), WebhookURL.isValid("http" + url.drop { $0 != ":" })
    else {
      throw fields.node.error("channel \(name): url must be smtp://HOST[:PORT] or smtps://HOST[:PORT], not `\(url)`")
    }
    guard let from = try fields.mailbox("from") else { throw fields.node.error("channel \(name) needs `from`") }
    self.from = from
    replyTo = try fields.mailbox("reply_to")
    var copies: [Mailbox] = []
    if let node = fields.optional("cc") {
      for text in try node.string("cc").split(separator: ",") {
        guard let mailbox = Mailbox(String(text)) else { throw node.error("cc has a bad address: \(text)") }
        copies.append(mailbox)
      }
    }
    cc = copies
    username = try fields.text("username")
    password = try fields.secret("password_file", context)
    if (username == nil) != (password == nil) {
      throw fields.node.error("channel \(name): username and password_file go together")
    }
    caFile = try fields.text("ca_file").map(context.resolve)
    timeout = try fields.seconds("timeout", default: 60)
    let tlsNode = fields.optional("tls")
    let tlsText = try tlsNode?.string("tls") ?? (username != nil ? "required" : "opportunistic")
    guard let tls = TLS(rawValue: tlsText) else {
      throw (tlsNode ?? fields.node).error("tls must be required, opportunistic or none, not \(tlsText)")
    }
    self.tls = tls
    // A password never crosses the network in clear: STARTTLS is mandatory unless TLS is implicit.
    if username != nil && !url.hasPrefix("smtps://") && tls != .required {
      throw fields.node.error(
        "channel \(name): refusing to send credentials in clear: use tls: required or an smtps:// url")
    }
    connections = try fields.integer("connections", default: 8, in: 1...256)
    spec = ChannelSpec(name: name, type: "smtp", addressKind: try fields.addressKind(default: .email))
  }
}

public struct WebhookConfiguration: ChannelConfiguration {
  public let spec: ChannelSpec
  public let location: SourceLocation
  public let connections: Int
  public let url: String?
  public let secret: SecretFile?
  public let bearerToken: SecretFile?
  public let bodyTemplate: String?
  /// `Name: value` lines from `header.NAME` settings.
  public let headers: [String]
  public let timeout: TimeInterval
  public let maxRedirects: Int
  public let caFile: String?

  /// Names a `body_template` may use.
  public static let templateVariables: Set<String> = [
    "key", "rule", "unit", "period", "step", "reason", "subject", "text", "subject.json", "text.json",
  ]

  /// Redirects a transfer may follow at most: a loop ends here, not after thousands of requests.
  public static let maximumRedirects = 10

  init(name: String, fields: Fields, context: ChannelContext) throws(ConfigError) {
    location = fields.node.location
    if let node = fields.optional("url") {
      let text = try node.string("url")
      guard WebhookURL.isValid(text) else {
        throw node.error("url must be an http:// or https:// URL without spaces or control characters")
      }
      url = text
    } else {
      url = nil
    }
    secret = try fields.secret("secret_file", context)
    bearerToken = try fields.secret("bearer_token_file", context)
    if let node = fields.optional("body_template") {
      let text = try node.string("body_template")
      if let unknown = TemplateText.placeholders(in: text).first(where: { !Self.templateVariables.contains($0) }) {
        throw node.error(
          "body_template: unknown placeholder {{\(unknown)}} (known: \(Self.templateVariables.sorted().joined(separator: ", ")))"
        )
      }
      bodyTemplate = text
    } else {
      bodyTemplate = nil
    }
    timeout = try fields.seconds("timeout", default: 15)
    maxRedirects = try fields.integer("max_redirects", default: 3, in: 0...Self.maximumRedirects)
    caFile = try fields.text("ca_file").map(context.resolve)
    var headers: [String] = []
    for entry in fields.prefixed("header.").sorted(by: { $0.key < $1.key }) {
      let header = String(entry.key.dropFirst("header.".count))
      let value = try entry.value.string(entry.key)
      guard !header.isEmpty, header.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }),
        !value.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7f })
      else { throw ConfigError("bad header \(entry.key)", at: entry.keyLocation) }
      headers.append("\(header): \(value)")
    }
    self.headers = headers
    connections = try fields.integer("connections", default: 16, in: 1...256)
    spec = ChannelSpec(name: name, type: "webhook", addressKind: try fields.addressKind(default: .webhook), url: url)
  }
}

public struct FileConfiguration: ChannelConfiguration {
  public enum Format: String, Sendable { case eml, json }

  public let spec: ChannelSpec
  public let location: SourceLocation
  public let connections: Int
  /// Nil: `outbox` in the daemon's state folder.
  public let path: String?
  public let format: Format
  public let from: Mailbox

  init(name: String, fields: Fields, context: ChannelContext) throws(ConfigError) {
    location = fields.node.location
    path = try fields.text("path").map(context.resolve)
    let formatNode = fields.optional("format")
    let formatText = try formatNode?.string("format") ?? "eml"
    guard let format = Format(rawValue: formatText) else {
      throw (formatNode ?? fields.node).error("channel \(name): format must be eml or json")
    }
    self.format = format
    from = try fields.mailbox("from") ?? Mailbox(name: "Hệ thống nhắc việc", address: "nhacviec@localhost.invalid")
    connections = try fields.integer("connections", default: 32, in: 1...256)
    spec = ChannelSpec(
      name: name, type: "file", addressKind: try fields.addressKind(default: format == .json ? .webhook : .email))
  }
}

public struct ExecConfiguration: ChannelConfiguration {
  public let spec: ChannelSpec
  public let location: SourceLocation
  public let connections: Int
  public let command: String
  public let arguments: [String]
  public let timeout: TimeInterval

  init(name: String, fields: Fields, context: ChannelContext) throws(ConfigError) {
    location = fields.node.location
    let program = try fields.requiredText("command", name)
    guard program.contains("/") else {
      throw fields.node.error(
        "channel \(name): command must be a path to a program, such as /usr/local/lib/nhacviec/sms")
    }
    command = program.hasPrefix("/") ? program : context.resolve(program)
    arguments = (try fields.text("arguments") ?? "").split(separator: " ").map(String.init)
    timeout = try fields.seconds("timeout", default: 30)
    connections = try fields.integer("connections", default: 8, in: 1...256)
    spec = ChannelSpec(name: name, type: "exec", addressKind: try fields.addressKind(default: .email))
  }
}
