public import Foundation
import NhacviecCore

/// Runs a program to completion or to its time limit: the exec channel and external rule kinds.
public enum ChildProcess {
  public enum Result: Sendable {
    case failedToStart(String)
    case timedOut
    /// The exit status (128 + N for signal N), standard output and standard error.
    case exited(Int32, Data, Data)
  }

  /// Runs a program to completion or to its time limit without blocking a task of the pool:
  /// pipes are drained and the exit awaited on threads of their own. The program runs in a
  /// process group of its own, so that at the time limit its children are stopped with it.
  public static func run(command: String, arguments: [String], input: Data, timeout: TimeInterval) async -> Result {
    await withCheckedContinuation { continuation in
      Thread.detachNewThread {
        continuation.resume(
          returning: runBlocking(command: command, arguments: arguments, input: input, timeout: timeout))
      }
    }
  }

  /// The same, blocking the calling thread: for callers that are on a thread of their own.
  public static func runBlocking(
    command: String, arguments: [String], input: Data, timeout: TimeInterval
  )
    -> Result
  {
    // A program that exits without reading its input must not kill us with SIGPIPE.
    signal(SIGPIPE, SIG_IGN)
    // Pipes are made close-on-exec in two steps; another program spawned between them would
    // inherit this one's pipes and hold its output open until it ends. One spawn at a time.
    spawning.lock()
    var locked = true
    defer { if locked { spawning.unlock() } }
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
    spawning.unlock()
    locked = false
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
        into.drain(fd)
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
    let status = Locked<Int32>(0)
    Thread.detachNewThread {
      var raw: Int32 = 0
      while waitpid(child, &raw, 0) == -1 && errno == EINTR {}
      status.withLock { $0 = raw }
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
    // A program that has exited but left a process behind holding its output open (a daemon it
    // started, `cmd &`) would keep our readers waiting: its group is stopped, and what it wrote
    // before is read to the end.
    if group.wait(timeout: .now() + drainTime) == .timedOut {
      kill(-pid, SIGKILL)
      _ = group.wait(timeout: .now() + 2)
    }
    let raw = status.withLock { $0 }
    // WIFEXITED / WEXITSTATUS, which Swift does not import as functions.
    let exitStatus: Int32 = (raw & 0x7f) == 0 ? (raw >> 8) & 0xff : 128 + (raw & 0x7f)
    return .exited(exitStatus, output.data, errors.data)
  }

  /// How long the pipes may stay open after the program exited before what holds them is stopped.
  static let drainTime: TimeInterval = 1
}

private let spawning = NSLock()

/// What one pipe gave, read as it comes by its reader thread: whoever asks gets what has been read
/// so far, even while the reader still waits for more.
private final class Drained: Sendable {
  private let bytes = Locked(Data())

  var data: Data { bytes.withLock { $0 } }

  /// Reads `fd` to its end (and closes it), keeping each chunk as it arrives.
  func drain(_ fd: Int32) {
    var chunk = [UInt8](repeating: 0, count: 65_536)
    while true {
      let count = read(fd, &chunk, chunk.count)
      if count > 0 {
        bytes.withLock { $0.append(contentsOf: chunk[0..<count]) }
      } else if count < 0 && errno == EINTR {
        continue
      } else {
        break
      }
    }
    close(fd)
  }
}
