public import Foundation
public import NhacviecCore

/// Builds channels from their configuration, sharing one libcurl engine.
public struct ChannelFactory: Sendable {
  public let client: CurlClient
  public let zone: Zone
  public let clock: @Sendable () -> Date
  /// The daemon's state folder: a file channel without a `path` writes to `outbox` in it.
  public let stateDirectory: String?

  public init(
    client: CurlClient, zone: Zone, stateDirectory: String? = nil, clock: @escaping @Sendable () -> Date = { Date() }
  ) {
    self.client = client
    self.zone = zone
    self.stateDirectory = stateDirectory
    self.clock = clock
  }

  public func make(name: String, type: String, settings values: [String: String]) throws -> any NoticeChannel {
    var settings = ChannelSettings(channel: name, values: values)
    let channel: any NoticeChannel
    switch type {
    case "smtp": channel = try SMTPChannel(name: name, settings: &settings, client: client, zone: zone)
    case "webhook": channel = try WebhookChannel(name: name, settings: &settings, client: client, clock: clock)
    case "file":
      channel = try FileChannel(
        name: name, settings: &settings, zone: zone,
        defaultFolder: stateDirectory.map { ($0 as NSString).appendingPathComponent("outbox") })
    case "exec": channel = try ExecChannel(name: name, settings: &settings)
    default: throw ChannelConfigurationError(channel: name, message: "unknown type \(type)")
    }
    // `address` is the planner's, not the channel's.
    _ = settings.optional("address")
    try settings.finish()
    return channel
  }
}
