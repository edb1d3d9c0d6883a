import Foundation
import TestSupport
import Testing

/// The fuzz targets' kept inputs, run through the same code as when fuzzing, by the targets' own
/// replay programs (built beside this test bundle). Each crash file runs in a process of its own,
/// so a crash fails its own test and names its file.
@Suite("fuzz inputs replayed")
struct FuzzReplayTests {
  static let targets = ["config", "deployment", "facts", "control", "links", "desk"]

  static func program(_ target: String) -> String {
    var folder = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    while !FileManager.default.fileExists(atPath: folder.appendingPathComponent("fuzz-\(target)").path),
      folder.path != "/"
    {
      folder = folder.deletingLastPathComponent()
    }
    return folder.appendingPathComponent("fuzz-\(target)").path
  }

  static func inputs(_ target: String, _ folder: String) -> [String] {
    let path = repositoryRoot.appendingPathComponent("Fuzz/\(target)/\(folder)").path
    let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
    return names.filter { !$0.hasPrefix(".") && $0 != "README.md" }.sorted().map { "Fuzz/\(target)/\(folder)/\($0)" }
  }

  /// Every input that once crashed, hung or ran out of memory, as `target/file`.
  static let crashes = targets.flatMap { inputs($0, "crashes") }

  @Test("each target runs its whole corpus", arguments: targets)
  func corpus(_ target: String) throws {
    #expect(!Self.inputs(target, "corpus").isEmpty)
    let run = try ProgramRun(Self.program(target), ["Fuzz/\(target)/corpus"], in: repositoryRoot)
    #expect(run.status == 0, "\(run.stderr.split(separator: "\n").suffix(30).joined(separator: "\n"))")
  }

  @Test("each kept crash now runs", arguments: crashes)
  func crash(_ file: String) throws {
    let target = file.split(separator: "/")[1]
    let run = try ProgramRun(Self.program(String(target)), [file], in: repositoryRoot)
    #expect(run.status == 0, "\(run.stderr.split(separator: "\n").suffix(30).joined(separator: "\n"))")
  }
}
