import Foundation
public import NhacviecCore

extension NoticeDecision {
  /// The decision as the journal holds it: what `JSONEncoder` with sorted keys and dates as
  /// seconds since 1970 writes, byte for byte (a test holds the two together, and the journal
  /// reads it back with `JSONDecoder`), written directly: a pass journals every notice it
  /// plans, and the encoder took 35 of the 89 µs a pass spent on each.
  public func json() throws -> String {
    let seconds = scheduledAt.timeIntervalSince1970
    guard seconds.isFinite else {
      // The number, not the date: a date that is not a number cannot even describe itself.
      throw EncodingError.invalidValue(
        seconds,
        .init(codingPath: [ScheduledAt()], debugDescription: "an instant that is not a finite number"))
    }
    var out = JSONBytes(capacity: 1024, escapesSlashes: true)
    out.object { out in
      out.array("addressees", count: addressees.count) { out, index in
        let addressee = addressees[index]
        out.object { out in
          out.member("address", addressee.address)
          if let name = addressee.name { out.member("name", name) }
          out.member("role", addressee.role)
          // The unit's text (`UnitRef.description`) in parts: made a String first, it took a
          // fifth of the time of writing the whole.
          out.key("unit")
          out.string { out in
            out.text(addressee.unit.id)
            if let from = addressee.unit.validFrom {
              out.text("@")
              out.text(from.description)
            }
          }
          out.member("unit_name", addressee.unitName)
        }
      }
      out.member("channel", channel)
      // An enum's case is an object of one member, named for the case, whose value is an object
      // of its associated values (empty for none), as Swift's synthesized `Codable` writes it.
      out.object("content") { out in
        switch content {
        case .obligation(let key, let template, let audience):
          out.object("obligation") { out in
            out.object("audience") { out in
              switch audience {
              case .unit: out.object("unit") { _ in }
              case .superiors(let after): out.object("superiors") { $0.member("rung", after.description) }
              }
            }
            out.member("key", key.description)
            out.member("template", template)
          }
        case .summary(let key):
          out.object("summary") { $0.member("key", key.description) }
        case .digest(let items):
          out.object("digest") { out in
            out.array("items", count: items.count) { out, index in
              let item = items[index]
              out.object { out in
                if !item.also.isEmpty {
                  out.array("also", count: item.also.count) { out, index in out.string(item.also[index].description) }
                }
                out.member("key", item.key.description)
                out.member("reason", item.reason.rawValue)
                if item.revision != 0 { out.member("revision", item.revision) }
                out.member("template", item.template)
              }
            }
          }
        }
      }
      out.member("key", key)
      out.member("reason", reason.rawValue)
      if revision != 0 { out.member("revision", revision) }
      out.key("scheduled_at")
      out.number(seconds)
    }
    return String(decoding: out.bytes, as: UTF8.self)
  }
}

/// The coding path an unwritable instant is reported at: the decision's `scheduled_at`.
private struct ScheduledAt: CodingKey {
  var stringValue: String { "scheduled_at" }
  var intValue: Int? { nil }
  init() {}
  init?(stringValue: String) { nil }
  init?(intValue: Int) { nil }
}
