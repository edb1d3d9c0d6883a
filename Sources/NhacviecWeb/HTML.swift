import NhacviecCore

/// A piece of HTML. Text interpolated into it is escaped; only HTML interpolates as is. The
/// literal parts are the desk's own source, so a unit's name, a reference or a reason read from
/// the store can never become markup, whichever page shows it.
public struct HTML: Sendable, ExpressibleByStringInterpolation, CustomStringConvertible {
  public private(set) var markup: String

  public init(stringLiteral value: String) { markup = value }

  public init(stringInterpolation: Interpolation) { markup = stringInterpolation.markup }

  private init(markup: String) { self.markup = markup }

  public var description: String { markup }

  public static let empty = HTML(markup: "")

  /// Pieces one after another.
  public static func join(_ pieces: [HTML], separator: HTML = .empty) -> HTML {
    HTML(markup: pieces.map(\.markup).joined(separator: separator.markup))
  }

  public static func + (lhs: HTML, rhs: HTML) -> HTML { HTML(markup: lhs.markup + rhs.markup) }

  public static func += (lhs: inout HTML, rhs: HTML) { lhs.markup += rhs.markup }

  /// Markup made elsewhere and trusted as such: the report's chart, which escapes its own text.
  static func trusted(_ markup: String) -> HTML { HTML(markup: markup) }

  public struct Interpolation: StringInterpolationProtocol {
    var markup = ""

    public init(literalCapacity: Int, interpolationCount: Int) { markup.reserveCapacity(literalCapacity * 2) }

    public mutating func appendLiteral(_ literal: String) { markup += literal }

    public mutating func appendInterpolation(_ html: HTML) { markup += html.markup }

    public mutating func appendInterpolation(_ text: String) { markup += HTML.escape(text) }

    public mutating func appendInterpolation(_ number: Int) { markup += String(number) }

    public mutating func appendInterpolation(_ pieces: [HTML]) { markup += pieces.map(\.markup).joined() }
  }

  /// Escapes the five characters that matter in text and in quoted attribute values: the same
  /// escaping as every message's HTML part (`TemplateText.escapeHTML`).
  public static func escape(_ text: String) -> String { TemplateText.escapeHTML(text) }

}
