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
  /// pipes are drained and the exit awaited on threads of their own. The program runs in a
  /// process group of its own, so that at the time limit its children are stopped with it.
  static func run(command: String, arguments: [String], input: Data, timeout: TimeInterval) async -> RunResult {
    await withCheckedContinuation { continuation in
      Thread.detachNewThread {
        continuation.resume(
          returning: runBlocking(command: command, arguments: arguments, input: input, timeout: timeout))
      }
    }
  }

  private static func runBlocking(
    command: String, arguments: [String], input: Data, timeout: TimeInterval
  )
    -> RunResult
  {
    var stdinPipe: [Int32] = [0, 0]
    var stdoutPipe: [Int32] = [0, 0]
    var stderrPipe: [Int32] = [0, 0]
    // Close-on-exec, so that a program started at the same moment for another notice does not
    // inherit these pipes and hold them open; dup2 onto 0, 1 and 2 clears the flag for our child.
    guard pipe(&stdinPipe) == 0, pipe(&stdoutPipe) == 0, pipe(&stderrPipe) == 0 else {
      return .failedToStart(String(cString: strerror(errno)))
    }
    for fd in stdinPipe + stdoutPipe + stderrPipe { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_adddup2(&actions, stdinPipe[0], 0)
    posix_spawn_file_actions_adddup2(&actions, stdoutPipe[1], 1)
    posix_spawn_file_actions_adddup2(&actions, stderrPipe[1], 2)
    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    // The program starts clean: its own process group, no blocked signals (threads of ours may
    // block some), and default dispositions (we ignore SIGPIPE; it must not).
    posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
    posix_spawnattr_setpgroup(&attributes, 0)
    var noSignals = sigset_t()
    sigemptyset(&noSignals)
    posix_spawnattr_setsigmask(&attributes, &noSignals)
    var defaults = sigset_t()
    sigemptyset(&defaults)
    for signal in [SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGCHLD] { sigaddset(&defaults, signal) }
    posix_spawnattr_setsigdefault(&attributes, &defaults)
    let argv = ([command] + arguments).map { strdup($0) } + [nil]
    defer { for pointer in argv { free(pointer) } }
    var pid: pid_t = 0
    var spawned = posix_spawn(&pid, command, &actions, &attributes, argv, environ)
    // ETXTBSY: another process still holds the program open for writing (it was just installed,
    // or a concurrent fork inherited the descriptor). It passes in a moment.
    for _ in 0..<20 where spawned == ETXTBSY {
      usleep(50_000)
      spawned = posix_spawn(&pid, command, &actions, &attributes, argv, environ)
    }
    close(stdinPipe[0])
    close(stdoutPipe[1])
    close(stderrPipe[1])
    guard spawned == 0 else {
      close(stdinPipe[1])
      close(stdoutPipe[0])
      close(stderrPipe[0])
      return .failedToStart(String(cString: strerror(spawned)))
    }
    let group = DispatchGroup()
    let output = Drained()
    let errors = Drained()
    for (fd, into) in [(stdoutPipe[0], output), (stderrPipe[0], errors)] {
      group.enter()
      Thread.detachNewThread {
        into.data = FileHandle(fileDescriptor: fd, closeOnDealloc: true).readDataToEndOfFile()
        group.leave()
      }
    }
    let stdinWriter = stdinPipe[1]
    let child = pid
    Thread.detachNewThread {
      let handle = FileHandle(fileDescriptor: stdinWriter, closeOnDealloc: true)
      try? handle.write(contentsOf: input)
      try? handle.close()
    }
    let exited = DispatchSemaphore(value: 0)
    let status = Drained()
    Thread.detachNewThread {
      var raw: Int32 = 0
      while waitpid(child, &raw, 0) == -1 && errno == EINTR {}
      status.code = raw
      exited.signal()
    }
    if exited.wait(timeout: .now() + timeout) == .timedOut {
      kill(-pid, SIGTERM)
      if exited.wait(timeout: .now() + 2) == .timedOut {
        kill(-pid, SIGKILL)
        exited.wait()
      }
      _ = group.wait(timeout: .now() + 2)
      return .timedOut
    }
    _ = group.wait(timeout: .now() + 5)
    let raw = status.code
    // WIFEXITED / WEXITSTATUS, which Swift does not import as functions.
    let exitStatus: Int32 = (raw & 0x7f) == 0 ? (raw >> 8) & 0xff : 128 + (raw & 0x7f)
    return .exited(
      exitStatus, String(decoding: output.data.prefix(65_536), as: UTF8.self),
      String(decoding: errors.data.prefix(65_536), as: UTF8.self))
  }
}

/// What one pipe gave, written by its reader thread and read after the group says it is done.
private final class Drained: @unchecked Sendable {
  var data = Data()
  var code: Int32 = 0
}
