import Foundation
import NhacviecCore
import TestSupport
import Testing

@Suite("Template text")
struct TemplateTextTests {
  @Test("placeholders are filled, blanks in a name ignored, unknown names empty")
  func fills() {
    let values = ["unit.name": "UBND xã Tịnh Khê", "days.phrase": "còn 3 ngày", "detail": ""]
    #expect(
      TemplateText.render("{{unit.name}}: {{ days.phrase }}{{nothing}}", values) == "UBND xã Tịnh Khê: còn 3 ngày")
    #expect(TemplateText.placeholders(in: "a {{ x }} b {{y}} {{z") == ["x", "y"])
    #expect(TemplateText.render("{{unit.name", values) == "{{unit.name")
    #expect(TemplateText.render("}}{{{unit.name}}}", values) == "}}}")
  }

  @Test("a line whose placeholders are all empty goes, with its line break; a one-line template stays")
  func dropsEmptyLines() {
    let values = ["a": "A", "detail": ""]
    #expect(TemplateText.render("x {{a}}\n{{detail}}\nLabel: {{detail}}\ny\n", values) == "x A\ny\n")
    #expect(TemplateText.render("{{detail}}", values) == "")
    #expect(TemplateText.render("\n\n", values) == "\n\n")
    #expect(TemplateText.render("", values) == "")
  }

  @Test("HTML escapes values, not the template, and not values named *.html")
  func escapes() {
    let values = ["x": "<b>&\"'", "items.html": "<tr>"]
    #expect(
      TemplateText.render("<p>{{x}}</p>{{items.html}}", values, html: true) == "<p>&lt;b&gt;&amp;&quot;&#39;</p><tr>")
    #expect(TemplateText.render("{{x}}", values) == "<b>&\"'")
    #expect(TemplateText.escapeHTML("Sở <Tư> pháp & \"A\"") == "Sở &lt;Tư&gt; pháp &amp; &quot;A&quot;")
  }

  /// The character-based renderer nhacviec had before the one-pass one: the reference it must match.
  static func referenceNames(_ line: String) -> [String] {
    var names: [String] = []
    var rest = Substring(line)
    while let open = rest.range(of: "{{") {
      guard let close = rest[open.upperBound...].range(of: "}}") else { break }
      names.append(rest[open.upperBound..<close.lowerBound].trimmingCharacters(in: .whitespaces))
      rest = rest[close.upperBound...]
    }
    return names
  }

  static func reference(_ template: String, _ values: [String: String], html: Bool) -> String {
    func line(_ template: String) -> String {
      var output = ""
      var rest = Substring(template)
      while let open = rest.range(of: "{{") {
        guard let close = rest[open.upperBound...].range(of: "}}") else { break }
        output += rest[..<open.lowerBound]
        let name = rest[open.upperBound..<close.lowerBound].trimmingCharacters(in: .whitespaces)
        let value = values[name] ?? ""
        output += html && !name.hasSuffix(".html") ? TemplateText.escapeHTML(value) : value
        rest = rest[close.upperBound...]
      }
      return output + rest
    }
    guard template.contains("\n") else { return line(template) }
    var lines: [String] = []
    for part in template.split(separator: "\n", omittingEmptySubsequences: false) {
      let found = referenceNames(String(part))
      if !found.isEmpty, found.allSatisfy({ (values[$0] ?? "").isEmpty }) { continue }
      lines.append(line(String(part)))
    }
    return lines.joined(separator: "\n")
  }

  @Test("matches the character-based renderer on generated templates")
  func matchesReference() {
    var generator = SplitMix(seed: 0x6e68_6163)
    let pieces = ["{{", "}}", "{", "}", "\n", " ", "a", "x.html", "Đ", "ạ", "<", "&", "'", "\t", "b", "empty"]
    let values = ["a": "Ả<&>", "b": "", "x.html": "<i>", "empty": "", " a": "never"]
    for _ in 0..<5000 {
      let count = Int(generator.next() % 24)
      let template = (0..<count).map { _ in pieces[Int(generator.next() % UInt64(pieces.count))] }.joined()
      for html in [false, true] {
        #expect(
          TemplateText.render(template, values, html: html)
            == TemplateTextTests.reference(template, values, html: html), "template \(template.debugDescription)")
      }
      #expect(TemplateText.placeholders(in: template) == TemplateTextTests.referenceNames(template))
    }
  }
}
