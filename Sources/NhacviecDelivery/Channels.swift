public import Foundation
public import NhacviecConfig
public import NhacviecCore

/// What building channels needs: the one libcurl engine they share, the zone for dates in
/// messages, the daemon's state folder and its clock.
public struct ChannelRuntime: Sendable {
  public let client: CurlClient
  public let zone: Zone
  /// A file channel without a `path` writes to `outbox` in it.
  public let stateDirectory: String?
  public let clock: @Sendable () -> Date
  public let builders: [ObjectIdentifier: Builder]

  public init(
    client: CurlClient, zone: Zone, stateDirectory: String? = nil, clock: @escaping @Sendable () -> Date = { Date() },
    builders: [ObjectIdentifier: Builder] = ChannelRuntime.builtIn
  ) {
    self.client = client
    self.zone = zone
    self.stateDirectory = stateDirectory
    self.clock = clock
    self.builders = builders
  }

  /// Makes a channel from its configuration (by its kind's builder), reading its secrets.
  public typealias Builder =
    @Sendable (any ChannelConfiguration, ChannelRuntime) throws(ConfigError) -> any NoticeChannel

  /// The built-in kinds, by configuration type; a plugin registers its own beside them.
  public static let builtIn: [ObjectIdentifier: Builder] = [
    ObjectIdentifier(SMTPConfiguration.self): { config, runtime throws(ConfigError) in
      try SMTPChannel(config as! SMTPConfiguration, runtime: runtime)
    },
    ObjectIdentifier(WebhookConfiguration.self): { config, runtime throws(ConfigError) in
      try WebhookChannel(config as! WebhookConfiguration, runtime: runtime)
    },
    ObjectIdentifier(FileConfiguration.self): { config, runtime throws(ConfigError) in
      try FileChannel(config as! FileConfiguration, runtime: runtime)
    },
    ObjectIdentifier(ExecConfiguration.self): { config, runtime throws(ConfigError) in
      ExecChannel(config as! ExecConfiguration)
    },
  ]

  public func make(_ config: any ChannelConfiguration) throws(ConfigError) -> any NoticeChannel {
    guard let build = builders[ObjectIdentifier(type(of: config))] else {
      throw ConfigError(
        "channel \(config.spec.name): no way to build a \(config.spec.type) channel", at: config.location)
    }
    return try build(config, self)
  }

  /// The one place channels are built, for `run`, `check` and `send-test`: every channel of a
  /// deployment, and every error, each at its place in the configuration.
  public func channels(
    _ configs: [String: any ChannelConfiguration]
  ) -> (
    channels: [String: any NoticeChannel], errors: [ConfigError]
  ) {
    var channels: [String: any NoticeChannel] = [:]
    var errors: [ConfigError] = []
    for (name, config) in configs.sorted(by: { $0.key < $1.key }) {
      do {
        channels[name] = try make(config)
      } catch {
        errors.append(error)
      }
    }
    return (channels, errors)
  }
}
