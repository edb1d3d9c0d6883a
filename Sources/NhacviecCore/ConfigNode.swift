/// A parsed configuration value with where it came from, so that any part of the domain that
/// reads configuration (the rule parser, every rule kind) can say `FILE:LINE:COL` when it objects.
public struct ConfigNode: Sendable {
  public indirect enum Value: Sendable {
    case null
    case scalar(String)
    case list([ConfigNode])
    case map([(key: String, keyLocation: SourceLocation, value: ConfigNode)])
  }

  public let value: Value
  public let location: SourceLocation

  public init(_ value: Value, at location: SourceLocation) {
    self.value = value
    self.location = location
  }

  public func error(_ message: String) -> ConfigError { ConfigError(message, at: location) }

  public var scalar: String? {
    if case .scalar(let text) = value { return text }
    return nil
  }

  public func string(_ what: String) throws(ConfigError) -> String {
    guard let text = scalar else { throw error("\(what) must be a single value") }
    return text
  }

  public func list(_ what: String) throws(ConfigError) -> [ConfigNode] {
    switch value {
    case .list(let items): return items
    case .scalar, .map: return [self]
    case .null: return []
    }
  }

  public func strings(_ what: String) throws(ConfigError) -> [String] {
    var result: [String] = []
    for item in try list(what) { result.append(try item.string(what)) }
    return result
  }

  /// Reads a map, refusing keys nobody asked for: a misspelt key is an error, not a silent default.
  public func fields(_ what: String) throws(ConfigError) -> Fields {
    guard case .map(let entries) = value else { throw error("\(what) must be a map of keys and values") }
    return Fields(node: self, what: what, entries: entries)
  }
}

/// The keys of one map, read one by one; `finish()` objects to any key left unread.
public final class Fields {
  public let node: ConfigNode
  let what: String
  private let entries: [(key: String, keyLocation: SourceLocation, value: ConfigNode)]
  private var read: Set<String> = []

  init(node: ConfigNode, what: String, entries: [(key: String, keyLocation: SourceLocation, value: ConfigNode)]) {
    self.node = node
    self.what = what
    self.entries = entries
  }

  public var keys: [String] { entries.map(\.key) }

  public func optional(_ key: String) -> ConfigNode? {
    read.insert(key)
    guard let entry = entries.first(where: { $0.key == key }) else { return nil }
    if case .null = entry.value.value { return nil }
    return entry.value
  }

  public func required(_ key: String) throws(ConfigError) -> ConfigNode {
    guard let value = optional(key) else { throw node.error("\(what) needs `\(key)`") }
    return value
  }

  /// Every entry, for maps whose keys are data (contacts by role, channels by name).
  public func all() -> [(key: String, keyLocation: SourceLocation, value: ConfigNode)] {
    for entry in entries { read.insert(entry.key) }
    return entries
  }

  /// The entries whose keys start with `prefix` (`header.` settings), marked read.
  public func prefixed(_ prefix: String) -> [(key: String, keyLocation: SourceLocation, value: ConfigNode)] {
    let matching = entries.filter { $0.key.hasPrefix(prefix) }
    for entry in matching { read.insert(entry.key) }
    return matching
  }

  public func finish() throws(ConfigError) {
    var seen: Set<String> = []
    for entry in entries {
      if !seen.insert(entry.key).inserted {
        throw ConfigError("`\(entry.key)` appears twice in \(what)", at: entry.keyLocation)
      }
    }
    if let stray = entries.first(where: { !read.contains($0.key) }) {
      let known = read.sorted().map { "`\($0)`" }.joined(separator: ", ")
      throw ConfigError("unknown key `\(stray.key)` in \(what) (known: \(known))", at: stray.keyLocation)
    }
  }
}
