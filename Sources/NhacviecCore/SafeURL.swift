/// A URL as anyone may see it: its scheme, host, port and path, never its userinfo, query or
/// fragment, which is where a webhook's credentials live (`?token=…`, the usual form for chat
/// services). It keeps nothing else of the URL it was made from, so what is printed of it
/// cannot carry them: errors, receipts, the journal's texts, the log and the control API show
/// a URL only through this.
public struct SafeURL: Sendable, Hashable, CustomStringConvertible {
  public let description: String

  public init(_ url: String) {
    guard let separator = url.utf8.firstRange(of: "://".utf8) else {
      // Not a URL with an authority: only what comes before a query or a fragment.
      description = String(url.prefix { $0 != "?" && $0 != "#" })
      return
    }
    let rest = url[separator.upperBound...]
    let authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
    // Userinfo ends at the authority's last `@`.
    let server = authority.split(separator: "@", omittingEmptySubsequences: false).last ?? ""
    let path = rest[authority.endIndex...].prefix { $0 != "?" && $0 != "#" }
    description = String(url[..<separator.upperBound] + server + path)
  }

  /// An address as anyone may see it: a webhook's URL in its safe form, an email address as it is.
  public static func shown(_ address: String) -> String {
    address.contains("://") ? SafeURL(address).description : address
  }
}
