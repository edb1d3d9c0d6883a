import Foundation
public import NhacviecCore

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

  init(name: String, settings: inout ChannelSettings) throws {
    self.name = name
    command = try settings.required("command")
    guard command.hasPrefix("/") || command.contains("/") else {
      throw settings.error("command must be a path to a program, such as /usr/local/lib/nhacviec/sms")
    }
    arguments = (settings.optional("arguments") ?? "").split(separator: " ").map(String.init)
    timeout = try settings.seconds("timeout", default: 30)
    // A program that exits without reading its input must not kill us with SIGPIPE.
    signal(SIGPIPE, SIG_IGN)
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
    let to: [OutgoingMessage.Addressee]
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
          key: message.key, channel: name, rule: message.ruleID, unit: message.unitID, period: message.period,
          step: message.step, reason: message.reason, to: message.to, subject: message.subject, text: message.text,
          html: message.html, payload: message.payload))
    } catch {
      return .permanent(reason: "cannot encode the request: \(error)")
    }
    let result = await ExecChannel.run(command: command, arguments: arguments, input: input, timeout: timeout)
    switch result {
    case .failedToStart(let reason):
      return .permanent(reason: "cannot run \(command): \(reason)")
    case .timedOut:
      return .transient(reason: "\(command) did not finish within \(Int(timeout)) s", retryAfter: nil)
    case .exited(let status, let output, let errors):
      let out = output.trimmingCharacters(in: .whitespacesAndNewlines)
      let err = errors.trimmingCharacters(in: .whitespacesAndNewlines)
      switch status {
      case 0: return .sent(receipt: out.isEmpty ? "exit 0" : String(out.prefix(1000)))
      case 75: return .transient(reason: "exit 75\(err.isEmpty ? "" : ": \(err.prefix(500))")", retryAfter: nil)
      default: return .permanent(reason: "exit \(status)\(err.isEmpty ? "" : ": \(err.prefix(500))")")
      }
    }
  }

  enum RunResult {
    case failedToStart(String)
    case timedOut
    case exited(Int32, String, String)
  }

  /// Runs a program to completion or to its time limit without blocking a task of the pool:
  /// the pipes are drained and the exit awaited on threads of their own.
  static func run(command: String, arguments: [String], input: Data, timeout: TimeInterval) async -> RunResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: command)
    process.arguments = arguments
    let stdin = Pipe()
    let stdout = Pipe()
    let stderr = Pipe()
    process.standardInput = stdin
    process.standardOutput = stdout
    process.standardError = stderr
    let exited = DispatchSemaphore(value: 0)
    process.terminationHandler = { _ in exited.signal() }
    do {
      try process.run()
    } catch {
      return .failedToStart("\(error)")
    }
    return await withCheckedContinuation { continuation in
      DispatchQueue.global().async {
        let group = DispatchGroup()
        let output = Drained()
        let errors = Drained()
        for (pipe, into) in [(stdout, output), (stderr, errors)] {
          group.enter()
          DispatchQueue.global().async {
            into.data = pipe.fileHandleForReading.readDataToEndOfFile()
            group.leave()
          }
        }
        DispatchQueue.global().async {
          try? stdin.fileHandleForWriting.write(contentsOf: input)
          try? stdin.fileHandleForWriting.close()
        }
        if exited.wait(timeout: .now() + timeout) == .timedOut {
          process.terminate()
          if exited.wait(timeout: .now() + 2) == .timedOut {
            kill(process.processIdentifier, SIGKILL)
            exited.wait()
          }
          // Children the program left behind may hold the pipes open: do not wait for them.
          _ = group.wait(timeout: .now() + 1)
          continuation.resume(returning: .timedOut)
          return
        }
        _ = group.wait(timeout: .now() + 5)
        continuation.resume(
          returning: .exited(
            process.terminationStatus, String(decoding: output.data.prefix(65_536), as: UTF8.self),
            String(decoding: errors.data.prefix(65_536), as: UTF8.self)))
      }
    }
  }
}

/// What one pipe gave, written by its reader thread and read after the group says it is done.
private final class Drained: @unchecked Sendable {
  var data = Data()
}
