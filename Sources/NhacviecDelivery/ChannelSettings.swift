import Foundation
public import NhacviecCore

/// A channel's configuration is wrong: said at start-up and by `check`, never at send time.
public struct ChannelConfigurationError: Error, CustomStringConvertible {
  public let channel: String
  public let message: String

  public var description: String { "channel \(channel): \(message)" }
}

/// Reads a channel's settings (the string values of its map in the configuration file).
struct ChannelSettings {
  let channel: String
  let values: [String: String]
  private(set) var read: Set<String> = ["type"]

  init(channel: String, values: [String: String]) {
    self.channel = channel
    self.values = values
  }

  func error(_ message: String) -> ChannelConfigurationError {
    ChannelConfigurationError(channel: channel, message: message)
  }

  mutating func optional(_ key: String) -> String? {
    read.insert(key)
    return values[key]
  }

  mutating func required(_ key: String) throws -> String {
    guard let value = optional(key), !value.isEmpty else { throw error("needs `\(key)`") }
    return value
  }

  /// `30`, `30s`, `2m`.
  mutating func seconds(_ key: String, default value: TimeInterval) throws -> TimeInterval {
    guard let text = optional(key) else { return value }
    let (digits, scale): (Substring, Double) =
      text.hasSuffix("ms")
      ? (text.dropLast(2), 0.001)
      : text.hasSuffix("s") ? (text.dropLast(), 1) : text.hasSuffix("m") ? (text.dropLast(), 60) : (Substring(text), 1)
    guard let number = Double(digits), number > 0 else { throw error("\(key) must be a duration such as 30s") }
    return number * scale
  }

  mutating func integer(_ key: String, default value: Int) throws -> Int {
    guard let text = optional(key) else { return value }
    guard let number = Int(text), number >= 0 else { throw error("\(key) must be a whole number") }
    return number
  }

  /// Reads a secret from a file (systemd's `LoadCredential=` puts them in
  /// `$CREDENTIALS_DIRECTORY`, which a relative path is taken from when it is set).
  mutating func secret(_ key: String) throws -> String? {
    guard let path = optional(key) else { return nil }
    var resolved = path
    if !path.hasPrefix("/"), let directory = ProcessInfo.processInfo.environment["CREDENTIALS_DIRECTORY"] {
      resolved = (directory as NSString).appendingPathComponent(path)
    }
    guard let data = FileManager.default.contents(atPath: resolved) else {
      throw error("cannot read \(key) \(resolved)")
    }
    // Only the first line: a trailing newline is not part of a password.
    let text = String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
    guard !text.isEmpty else { throw error("\(key) \(resolved) is empty") }
    return text
  }

  func finish() throws {
    if let stray = values.keys.sorted().first(where: { !read.contains($0) && !$0.hasPrefix("header.") }) {
      throw error("unknown setting `\(stray)` (known: \(read.sorted().joined(separator: ", ")))")
    }
  }
}

/// Removes secrets from any text that could reach a log, an error, the journal or status.
public struct Redactor: Sendable {
  private let secrets: [String]

  public init(_ secrets: [String]) { self.secrets = secrets.filter { $0.count >= 3 } }

  public func callAsFunction(_ text: String) -> String {
    var text = text
    for secret in secrets { text = text.replacingOccurrences(of: secret, with: "[redacted]") }
    return text
  }

  public func callAsFunction(_ outcome: DeliveryOutcome) -> DeliveryOutcome {
    switch outcome {
    case .sent(let receipt): return .sent(receipt: self(receipt))
    case .transient(let reason, let after): return .transient(reason: self(reason), retryAfter: after)
    case .permanent(let reason): return .permanent(reason: self(reason))
    }
  }
}
