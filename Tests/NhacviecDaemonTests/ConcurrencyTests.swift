import Foundation
import NhacviecControl
import NhacviecExternal
import TestSupport
import Testing

@testable import NhacviecDaemon

/// Threads that outlive what they worked for. CI also runs this suite under ThreadSanitizer
/// (`scripts/test`).
@Suite("Concurrency", .serialized)
struct ConcurrencyTests {
  @Test("a notify socket nobody reads does not stall the notifier (a reload under a slow test waited on it)")
  func notifyNeverWaits() throws {
    let path = try temporaryFolder("notify").appendingPathComponent("n.sock").path
    let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
    defer { close(fd) }
    var address = try #require(UnixAddress.make(path))
    let bound = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
    }
    #expect(bound == 0)
    let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": path])
    // Far more than the receiver's queue holds (net.unix.max_dgram_qlen, 512 by default).
    let done = DispatchSemaphore(value: 0)
    Thread.detachNewThread {
      for _ in 0..<5_000 { notifier.send("WATCHDOG=1") }
      done.signal()
    }
    #expect(done.wait(timeout: .now() + 20) == .success, "send waited for a reader")
  }

  @Test("a handler that ends after the server stopped writes its wake-up into nothing of anyone else's")
  func wakeAfterStop() throws {
    let folder = try temporaryFolder("wake")
    let path = folder.appendingPathComponent("s.sock").path
    let entered = DispatchSemaphore(value: 0)
    let gate = DispatchSemaphore(value: 0)
    let server = ControlServer(path: path) { _ in
      entered.signal()
      gate.wait()
      return HTTPResponse(status: 200, body: Array("{}".utf8))
    }
    try server.start()
    Thread.detachNewThread { _ = try? ControlClient.request(socket: path, method: "GET", target: "/v1/status") }
    #expect(entered.wait(timeout: .now() + 10) == .success)
    server.stop()
    // The lowest free descriptors go to whatever the process opens next: pairs of sockets here,
    // so that a byte written into either end arrives at the other.
    var pairs: [[Int32]] = []
    for _ in 0..<8 {
      var ends: [Int32] = [0, 0]
      #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &ends) == 0)
      pairs.append(ends)
    }
    defer { for pair in pairs { pair.forEach { close($0) } } }
    gate.signal()
    // The handler ends and says so; nothing of ours may hear it.
    var fds = pairs.flatMap { $0 }.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
    let ready = poll(&fds, nfds_t(fds.count), 1000)
    #expect(ready == 0, "a descriptor of ours received the server's wake-up")
  }

  @Test(
    "a program that exits leaving a process behind on its output: what it wrote is returned, and the leftover stopped")
  func leftoverHoldsOutput() throws {
    let started = Date()
    let result = ChildProcess.runBlocking(
      command: "/bin/sh", arguments: ["-c", "echo written; (sleep 30) & echo $!"], input: Data(), timeout: 20)
    guard case .exited(let status, let output, _) = result else {
      Issue.record("\(result)")
      return
    }
    #expect(status == 0)
    let lines = String(decoding: output, as: UTF8.self).split(separator: "\n")
    #expect(lines.first == "written")
    let leftover = try #require(lines.last.flatMap { pid_t($0) })
    // Stopped with its group: gone, or a zombie waiting for whoever inherited it to reap it.
    func stopped() -> Bool {
      guard kill(leftover, 0) == 0 else { return errno == ESRCH }
      let stat = (try? String(contentsOfFile: "/proc/\(leftover)/stat", encoding: .utf8)) ?? ""
      return stat.split(separator: ")").last?.split(separator: " ").first == "Z"
    }
    var gone = false
    for _ in 0..<100 where !gone {
      gone = stopped()
      if !gone { usleep(10_000) }
    }
    #expect(gone)
    #expect(Date().timeIntervalSince(started) < 20)
  }
}
