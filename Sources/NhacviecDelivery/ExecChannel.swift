import Foundation
import NhacviecConfig
public import NhacviecCore
import NhacviecExternal

/// Hands each message to an external program: the way to add a channel without recompiling.
///
/// The program gets one JSON object (version 1, see docs/channels.md) on standard input. Exit 0
/// means sent, and its standard output becomes the receipt; 75 (EX_TEMPFAIL) means try again
/// later; anything else is a permanent failure. A program still running at the time limit is
/// stopped and the attempt counts as transient.
public struct ExecChannel: NoticeChannel {
  public let name: String
  let command: String
  let arguments: [String]
  let timeout: TimeInterval

  init(_ config: ExecConfiguration) {
    name = config.spec.name
    command = config.command
    arguments = config.arguments
    timeout = config.timeout
  }

  /// An addressee as version 1 of the request names it.
  struct Recipient: Encodable {
    let unitID: String
    let unitName: String
    let role: String
    let name: String?
    let address: String

    enum CodingKeys: String, CodingKey {
      case role, name, address
      case unitID = "unit_id"
      case unitName = "unit_name"
    }
  }

  struct Request: Encodable {
    let version = 1
    let key: String
    let channel: String
    let rule: String
    let unit: String
    let period: String
    let step: String
    let reason: String
    let to: [Recipient]
    let subject: String
    let text: String
    let html: String
    let payload: String
  }

  public func deliver(_ message: OutgoingMessage) async -> DeliveryOutcome {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    let input: Data
    do {
      input = try encoder.encode(
        Request(
          key: message.key, channel: name, rule: message.rule, unit: message.unit?.id ?? "", period: message.period,
          step: message.step, reason: message.reason.rawValue,
          to: message.to.map {
            Recipient(unitID: $0.unit.id, unitName: $0.unitName, role: $0.role, name: $0.name, address: $0.address)
          }, subject: message.subject,
          text: message.text,
          html: message.html, payload: message.payload))
    } catch {
      return .permanent(reason: "cannot encode the request: \(error)")
    }
    let result = await ChildProcess.run(command: command, arguments: arguments, input: input, timeout: timeout)
    switch result {
    case .failedToStart(let reason):
      return .permanent(reason: "cannot run \(command): \(reason)")
    case .timedOut:
      return .transient(reason: "\(command) did not finish within \(Int(timeout)) s", retryAfter: nil)
    case .exited(let status, let outputData, let errorData):
      let output = String(decoding: outputData.prefix(65_536), as: UTF8.self)
      let errors = String(decoding: errorData.prefix(65_536), as: UTF8.self)
      let out = output.trimmingCharacters(in: .whitespacesAndNewlines)
      let err = errors.trimmingCharacters(in: .whitespacesAndNewlines)
      switch status {
      case 0: return .sent(receipt: out.isEmpty ? "exit 0" : String(out.prefix(1000)))
      case 75: return .transient(reason: "exit 75\(err.isEmpty ? "" : ": \(err.prefix(500))")", retryAfter: nil)
      default: return .permanent(reason: "exit \(status)\(err.isEmpty ? "" : ": \(err.prefix(500))")")
      }
    }
  }
}
