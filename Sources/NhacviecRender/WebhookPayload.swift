import Foundation
public import NhacviecCore

/// The webhook channel's JSON body, version 1 (docs/channels.md): the notice's identity, the
/// obligation as of the send instant, and the rendered text.
public struct WebhookPayload: Codable, Sendable, Hashable {
  public struct Item: Codable, Sendable, Hashable {
    public let key: String
    public let rule: String
    public let unit: String
    public let unitName: String
    public let period: String
    public let due: String
    public let state: String

    enum CodingKeys: String, CodingKey {
      case key, rule, unit, period, due, state
      case unitName = "unit_name"
    }
  }

  public var version = 1
  public let key: String
  public let reason: String
  public let step: String
  public let rule: String
  public let unit: String
  public let unitName: String?
  public let period: String
  public let due: String?
  public let state: String?
  public let recipients: [String]
  public let subject: String
  public let text: String
  public let items: [Item]

  public init(message: OutgoingMessage, evaluated: SendCheck.Evaluated, zone: Zone) {
    let decision = evaluated.decision
    let finding = decision.noticeKey.flatMap { evaluated.findings[$0] }
    key = message.key
    reason = message.reason.rawValue
    step = message.step
    rule = message.rule
    unit = message.unit?.id ?? decision.addressees.first?.unit.id ?? ""
    unitName = finding?.unit.name
    period = message.period
    due = finding.map { zone.rfc3339($0.deadline) }
    state = finding?.state.rawValue
    recipients = message.to.map { "\($0.unit.id).\($0.role)" }
    subject = message.subject
    text = message.text
    items = evaluated.items.compactMap { item in
      guard let f = evaluated.findings[item.key] else { return nil }
      return Item(
        key: item.key.description, rule: item.key.rule, unit: item.key.unit.id, unitName: f.unit.name,
        period: item.key.period.description, due: zone.rfc3339(f.deadline), state: f.state.rawValue)
    }
  }

  enum CodingKeys: String, CodingKey {
    case version, key, reason, step, rule, unit, period, due, state, recipients, subject, text, items
    case unitName = "unit_name"
  }

  /// The body as `JSONEncoder` with sorted keys and unescaped slashes writes it, byte for byte
  /// (a test holds the two together), written directly: it is made for every webhook sent.
  public func json() -> String {
    var out = JSONBytes(escapesSlashes: false)
    out.object { out in
      if let due { out.member("due", due) }
      out.array("items", count: items.count) { out, index in
        let item = items[index]
        out.object { out in
          out.member("due", item.due)
          out.member("key", item.key)
          out.member("period", item.period)
          out.member("rule", item.rule)
          out.member("state", item.state)
          out.member("unit", item.unit)
          out.member("unit_name", item.unitName)
        }
      }
      out.member("key", key)
      out.member("period", period)
      out.member("reason", reason)
      out.array("recipients", count: recipients.count) { out, index in out.string(recipients[index]) }
      out.member("rule", rule)
      if let state { out.member("state", state) }
      out.member("step", step)
      out.member("subject", subject)
      out.member("text", text)
      out.member("unit", unit)
      if let unitName { out.member("unit_name", unitName) }
      out.key("version")
      out.number(version)
    }
    return String(decoding: out.bytes, as: UTF8.self)
  }
}
