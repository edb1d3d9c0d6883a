public import Foundation
public import NhacviecCore

/// A channel's configuration, read once from its map in the configuration file, every value
/// typed and every mistake placed at FILE:LINE:COL. Delivery builds the channel from it
/// (`ChannelRuntime` in NhacviecDelivery); planning only needs its `spec`.
public protocol ChannelConfiguration: Sendable {
  var spec: ChannelSpec { get }
  var location: SourceLocation { get }
  /// Connections, pace and retries: read by `Fields.deliverySettings` for every kind.
  var delivery: DeliverySettings { get }
}

extension ChannelConfiguration {
  /// How many notices of this channel may be in flight at once, and connections to one server.
  public var connections: Int { delivery.connections }
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

  /// `30`, `30s`, `2m`, `500ms`: a time limit, up to an hour.
  func seconds(_ key: String, default value: TimeInterval) throws(ConfigError) -> TimeInterval {
    guard let node = optional(key) else { return value }
    let text = try node.string(key)
    // Under a millisecond, libcurl would be given 0 ms: no limit at all.
    guard let seconds = DurationText.seconds(text), seconds >= 0.001, seconds <= 3600 else {
      throw node.error("\(key) must be a duration up to an hour, such as 30s or 2m, not `\(text)`")
    }
    return seconds
  }

  /// A duration within `range`: `500ms`, `30s`, `5m`, `2h`, `3d`. `label` names it in errors.
  func duration(
    _ key: String, label: String? = nil, default value: TimeInterval, in range: ClosedRange<TimeInterval>
  ) throws(ConfigError) -> TimeInterval {
    guard let node = optional(key) else { return value }
    let name = label ?? key
    let text = try node.string(name)
    guard let seconds = DurationText.seconds(text), range.contains(seconds) else {
      throw node.error(
        "\(name) must be a duration from \(DurationText.text(range.lowerBound)) to \(DurationText.text(range.upperBound)), such as 30s, 5m or 2h, not `\(text)`"
      )
    }
    return seconds
  }

  func integer(
    _ key: String, label: String? = nil, default value: Int, in range: ClosedRange<Int>
  ) throws(ConfigError) -> Int {
    guard let node = optional(key) else { return value }
    let name = label ?? key
    let text = try node.string(name)
    guard let number = Int(text), range.contains(number) else {
      throw node.error("\(name) must be a whole number from \(range.lowerBound) to \(range.upperBound), not `\(text)`")
    }
    return number
  }

  func number(
    _ key: String, label: String, default value: Double, in range: ClosedRange<Double>
  ) throws(ConfigError) -> Double {
    guard let node = optional(key) else { return value }
    let text = try node.string(label)
    guard let number = Double(text), number.isFinite, range.contains(number) else {
      throw node.error(
        "\(label) must be a number from \(DurationText.plain(range.lowerBound)) to \(DurationText.plain(range.upperBound)), not `\(text)`"
      )
    }
    return number
  }

  /// `connections`, `rate` and `retry`, which every kind of channel takes; a plugin's kind reads
  /// them with this too. `connections` is the kind's own default.
  public func deliverySettings(
    _ channel: String, connections defaultConnections: Int
  ) throws(ConfigError) -> DeliverySettings {
    let connections = try integer("connections", default: defaultConnections, in: 1...256)
    var rate: RateLimit?
    if let node = optional("rate") {
      let text = try node.string("rate")
      guard let parsed = RateLimit(text), parsed.spacing >= 0.001 else {
        throw node.error(
          "rate must be a number of messages per s, min or h, such as 30/min or 2/s (at most 1000/s), not `\(text)`")
      }
      rate = parsed
    }
    var retry = RetryPolicy()
    if let node = optional("retry") {
      let fields = try node.fields("retry of channel \(channel)")
      retry.firstDelay = try fields.duration(
        "initial", label: "retry.initial", default: retry.firstDelay, in: 1...86_400)
      retry.multiplier = try fields.number("factor", label: "retry.factor", default: retry.multiplier, in: 1...10)
      retry.maximumDelay = try fields.duration(
        "cap", label: "retry.cap", default: max(retry.maximumDelay, retry.firstDelay), in: 1...(7 * 86_400))
      retry.maximumAttempts = try fields.integer(
        "max_attempts", label: "retry.max_attempts", default: retry.maximumAttempts, in: 1...1000)
      retry.maximumAge = try fields.duration(
        "max_age", label: "retry.max_age", default: retry.maximumAge, in: 60...(90 * 86_400))
      if retry.maximumDelay < retry.firstDelay {
        throw (fields.optional("cap") ?? node).error(
          "retry.cap (\(DurationText.text(retry.maximumDelay))) is shorter than retry.initial (\(DurationText.text(retry.firstDelay)))"
        )
      }
      try fields.finish()
    }
    return DeliverySettings(connections: connections, rate: rate, retry: retry)
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
  public let delivery: DeliverySettings
  public let url: String
  public let from: Mailbox
  public let replyTo: Mailbox?
  public let cc: [Mailbox]
  public let username: String?
  public let password: SecretFile?
  public let caFile: String?
  public let tls: TLS
  public let timeout: TimeInterval
  /// The name given in EHLO; nil: the machine's fully qualified name, else its host name.
  public let helo: String?

  init(name: String, fields: Fields, context: ChannelContext) throws(ConfigError) {
    location = fields.node.location
    url = try fields.requiredText("url", name)
    guard url.hasPrefix("smtp://") || url.hasPrefix("smtps://"), WebhookURL.isValid("http" + url.drop { $0 != ":" })
    else {
      throw fields.node.error("channel \(name): url must be smtp://HOST[:PORT] or smtps://HOST[:PORT], not `\(url)`")
    }
    // libcurl takes the EHLO name from the URL's path: that is `helo`'s business alone.
    let path = url.drop { $0 != ":" }.dropFirst(3).drop { $0 != "/" }
    guard path.isEmpty || path == "/" else {
      throw fields.node.error(
        "channel \(name): url must be smtp://HOST[:PORT] or smtps://HOST[:PORT] without a path (the EHLO name is set by `helo`), not `\(url)`"
      )
    }
    if let node = fields.optional("helo") {
      let text = try node.string("helo")
      guard SMTPConfiguration.isHostName(text) || SMTPConfiguration.isAddressLiteral(text) else {
        throw node.error(
          "helo must be a fully qualified host name such as mail.skhcn.quangngai.gov.vn, or an address literal such as [192.0.2.25], not `\(text)`"
        )
      }
      helo = text
    } else {
      helo = nil
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
    delivery = try fields.deliverySettings(name, connections: 8)
    spec = ChannelSpec(name: name, type: "smtp", addressKind: try fields.addressKind(default: .email))
  }

  /// Letters, digits and hyphens in dot-separated labels of up to 63, at most 253 in all.
  public static func isHostName(_ text: String) -> Bool {
    guard !text.isEmpty, text.count <= 253 else { return false }
    return text.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { label in
      !label.isEmpty && label.count <= 63 && !label.hasPrefix("-") && !label.hasSuffix("-")
        && label.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }
    }
  }

  /// `[192.0.2.25]` or `[IPv6:2001:db8::25]` (RFC 5321, 4.1.3).
  public static func isAddressLiteral(_ text: String) -> Bool {
    guard text.hasPrefix("["), text.hasSuffix("]") else { return false }
    let inner = String(text.dropFirst().dropLast())
    var v4 = in_addr()
    var v6 = in6_addr()
    if inner.hasPrefix("IPv6:") { return inet_pton(AF_INET6, String(inner.dropFirst(5)), &v6) == 1 }
    return inet_pton(AF_INET, inner, &v4) == 1
  }
}

public struct WebhookConfiguration: ChannelConfiguration {
  public let spec: ChannelSpec
  public let location: SourceLocation
  public let delivery: DeliverySettings
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
    delivery = try fields.deliverySettings(name, connections: 16)
    spec = ChannelSpec(name: name, type: "webhook", addressKind: try fields.addressKind(default: .webhook), url: url)
  }
}

public struct FileConfiguration: ChannelConfiguration {
  public enum Format: String, Sendable { case eml, json }

  public let spec: ChannelSpec
  public let location: SourceLocation
  public let delivery: DeliverySettings
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
    delivery = try fields.deliverySettings(name, connections: 32)
    spec = ChannelSpec(
      name: name, type: "file", addressKind: try fields.addressKind(default: format == .json ? .webhook : .email))
  }
}

public struct ExecConfiguration: ChannelConfiguration {
  public let spec: ChannelSpec
  public let location: SourceLocation
  public let delivery: DeliverySettings
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
    delivery = try fields.deliverySettings(name, connections: 8)
    spec = ChannelSpec(name: name, type: "exec", addressKind: try fields.addressKind(default: .email))
  }
}
