public import Foundation
import NhacviecCore

/// The `web:` section: where the desk listens, the public address its links use, and the keys
/// that sign the links in units' messages.
///
/// The desk is meant to listen on loopback behind nginx or Apache, which hold the TLS
/// certificate; `url` is the address officers and units type or click, so links are built from
/// it and never from a request's Host header.
public struct WebSettings: Sendable {
  public let listen: ListenAddress
  /// The public base URL, without a trailing slash: `https://nhacviec.quangngai.gov.vn`.
  public let url: String
  /// The signing keys of units' links (a secret file, read from `$CREDENTIALS_DIRECTORY` under
  /// systemd): one `ID SECRET` per line, the first signs, every one verifies.
  public let linkKeys: SecretFile
  /// How long a login lasts without being used.
  public let sessionIdle: TimeInterval
  /// A reverse proxy trusted to name the signed-in officer (a province's single sign-on): its
  /// numeric address, and the header it sets. Nil: only the desk's own logins.
  public let trustedProxy: TrustedProxy?

  public struct TrustedProxy: Sendable, Hashable {
    public let address: String
    public let header: String
  }

  /// Whether links and cookies travel over TLS: the session cookie is then `Secure`.
  public var isHTTPS: Bool { url.hasPrefix("https://") }

  public init(
    listen: ListenAddress, url: String, linkKeys: SecretFile, sessionIdle: TimeInterval = 8 * 3600,
    trustedProxy: TrustedProxy? = nil
  ) {
    self.listen = listen
    self.url = url
    self.linkKeys = linkKeys
    self.sessionIdle = sessionIdle
    self.trustedProxy = trustedProxy
  }

  init(node: ConfigNode, context: ChannelContext) throws(ConfigError) {
    let fields = try node.fields("web")
    let listenNode = try fields.required("listen")
    switch ListenAddress.parse(try listenNode.string("listen")) {
    case .success(let address): listen = address
    case .failure(let why): throw listenNode.error("web.listen: \(why)")
    }
    let urlNode = try fields.required("url")
    var url = try urlNode.string("url")
    while url.hasSuffix("/") { url.removeLast() }
    guard let parsed = URLComponents(string: url), let scheme = parsed.scheme, ["http", "https"].contains(scheme),
      parsed.host?.isEmpty == false, parsed.query == nil, parsed.fragment == nil, parsed.user == nil,
      parsed.password == nil
    else {
      throw urlNode.error(
        "web.url must be the public address of the desk, such as https://nhacviec.example.gov.vn, not `\(url)`")
    }
    self.url = url
    let keysNode = try fields.required("link_keys_file")
    linkKeys = SecretFile(
      setting: "link_keys_file", path: context.secretPath(try keysNode.string("link_keys_file")),
      location: keysNode.location)
    sessionIdle = try fields.duration(
      "session_idle", label: "web.session_idle", default: 8 * 3600, in: 300...(30 * 86400))
    if let proxyNode = fields.optional("trusted_proxy") {
      let proxy = try proxyNode.fields("web.trusted_proxy")
      let addressNode = try proxy.required("address")
      let address = try addressNode.string("address")
      var v4 = in_addr()
      var v6 = in6_addr()
      guard inet_pton(AF_INET, address, &v4) == 1 || inet_pton(AF_INET6, address, &v6) == 1 else {
        throw addressNode.error("web.trusted_proxy.address must be a numeric IP address, not `\(address)`")
      }
      let headerNode = try proxy.required("header")
      let header = try headerNode.string("header")
      guard !header.isEmpty, header.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }) else {
        throw headerNode.error("web.trusted_proxy.header must be a header name such as X-Remote-User")
      }
      try proxy.finish()
      trustedProxy = TrustedProxy(address: address, header: header)
    } else {
      trustedProxy = nil
    }
    try fields.finish()
  }
}
