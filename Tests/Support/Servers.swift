public import Foundation

/// The repository's root, for tests that need its files.
public let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
  .deletingLastPathComponent()
let serversFolder = repositoryRoot.appendingPathComponent("Tests/Servers")

/// A real server from Tests/Servers, run as a process of Debian's python3 on a free loopback port.
public final class TestServer: @unchecked Sendable {
  let process = Process()
  public let port: Int
  public let folder: URL

  public init(_ script: String, _ arguments: [String]) throws {
    folder = try temporaryFolder("server")
    let portFile = folder.appendingPathComponent("port").path
    process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
    process.arguments = [serversFolder.appendingPathComponent(script).path, "--port-file", portFile] + arguments
    process.standardOutput = FileHandle.nullDevice
    try process.run()
    let deadline = Date().addingTimeInterval(20)
    while true {
      if let text = try? String(contentsOfFile: portFile, encoding: .utf8),
        let port = Int(text.trimmingCharacters(in: .whitespacesAndNewlines))
      {
        self.port = port
        break
      }
      guard process.isRunning, Date() < deadline else {
        kill(process.processIdentifier, SIGKILL)
        throw ServerError(description: "\(script) did not start")
      }
      usleep(20_000)
    }
  }

  deinit { stop() }

  /// SIGKILL: a child of the test process may inherit a mask that blocks SIGTERM.
  public func stop() {
    if process.isRunning {
      kill(process.processIdentifier, SIGKILL)
      process.waitUntilExit()
    }
  }

  struct ServerError: Error, CustomStringConvertible {
    let description: String
  }
}

/// The throw-away certificate authority and a certificate for localhost, made once per run.
public enum TestCA {
  public static let folder: URL = {
    let folder = try! temporaryFolder("ca")
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/bash")
    process.arguments = [serversFolder.appendingPathComponent("make-test-ca.sh").path, folder.path]
    try! process.run()
    process.waitUntilExit()
    precondition(process.terminationStatus == 0, "make-test-ca.sh failed")
    return folder
  }()

  public static var ca: String { folder.appendingPathComponent("ca.pem").path }
  public static var cert: String { folder.appendingPathComponent("server.pem").path }
  public static var key: String { folder.appendingPathComponent("server.key").path }
}

/// A port nothing listens on: bound, then released.
public func closedPort() -> Int {
  let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
  var address = sockaddr_in()
  address.sin_family = sa_family_t(AF_INET)
  address.sin_addr.s_addr = inet_addr("127.0.0.1")
  address.sin_port = 0
  var length = socklen_t(MemoryLayout<sockaddr_in>.size)
  _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
  _ = withUnsafeMutablePointer(to: &address) {
    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
  }
  close(fd)
  return Int(UInt16(bigEndian: address.sin_port))
}

public func secretFile(_ value: String) throws -> String {
  let path = try temporaryFolder("secret").appendingPathComponent("secret").path
  try (value + "\n").write(toFile: path, atomically: true, encoding: .utf8)
  return path
}

public func temporaryFolder(_ name: String) throws -> URL {
  let url = FileManager.default.temporaryDirectory.appendingPathComponent("nhacviec-\(name)-\(UUID().uuidString)")
  try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
  return url
}

/// An executable shell script, for exec channels and plugins under test.
public func script(_ body: String, in folder: URL) throws -> String {
  let path = folder.appendingPathComponent("program-\(UUID().uuidString).sh").path
  try "#!/bin/sh\n\(body)\n".write(toFile: path, atomically: true, encoding: .utf8)
  try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: path)
  return path
}

/// A program run to its end, with what it printed.
public struct ProgramRun: Sendable {
  public let status: Int32
  public let stdout: String
  public let stderr: String

  public init(_ executable: String, _ arguments: [String], in directory: URL? = nil) throws {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let directory { process.currentDirectoryURL = directory }
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    // Both pipes drained at once: a child that fills one while we wait on the other would block.
    let errors = Drained()
    let group = DispatchGroup()
    group.enter()
    DispatchQueue.global().async {
      errors.data = err.fileHandleForReading.readDataToEndOfFile()
      group.leave()
    }
    let output = out.fileHandleForReading.readDataToEndOfFile()
    group.wait()
    process.waitUntilExit()
    status = process.terminationStatus
    stdout = String(decoding: output, as: UTF8.self)
    stderr = String(decoding: errors.data, as: UTF8.self)
  }
}

private final class Drained: @unchecked Sendable {
  var data = Data()
}
