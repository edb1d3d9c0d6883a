public import NhacviecConfig

/// The desk: the Department's web pages and the page a unit's link opens.
public struct Desk: Sendable {
  public let settings: WebSettings

  public init(settings: WebSettings) {
    self.settings = settings
  }
}
