import Foundation
import NhacviecCore
@_spi(Testing) import NhacviecStore
import Testing

/// The write-ahead log is copied into the database file when the writer pauses, not in the
/// delivery loop's commits, and never grows without bound.
@Suite("Checkpoints of the journal's log")
struct CheckpointTests {
  let t0 = Date(timeIntervalSince1970: 1_794_700_800)

  /// A journal in a new file whose log is due for a checkpoint at 100 pages.
  func journal(quiet: Double, inlinePages: Int32 = CheckpointPolicy().inlinePages) throws -> (Store, path: String) {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("checkpoint-\(UUID().uuidString).sqlite")
      .path
    var policy = CheckpointPolicy()
    policy.pages = 100
    policy.quiet = quiet
    policy.inlinePages = inlinePages
    return (try Store(path: path, checkpoints: policy), path)
  }

  func size(_ path: String) -> Int {
    ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int) ?? 0
  }

  /// Journals notices 40 at a time, a transaction each, until the log holds `pages` pages or
  /// `transactions` have been committed; returns how many were, and the sizes of the database
  /// file seen after each.
  func write(
    _ store: Store, at path: String, untilLogPages pages: Int = 1 << 40, transactions: Int = 3_000, from first: Int = 0
  ) throws -> (transactions: Int, fileSizes: Set<Int>) {
    var committed = 0
    var sizes: Set<Int> = []
    while size(path + "-wal") < pages * 4_096 && committed < transactions {
      let next = first + committed * 40
      try store.journal(due: (next..<next + 40).map { decision("s\($0)") }, now: t0)
      committed += 1
      sizes.insert(size(path))
    }
    return (committed, sizes)
  }

  @Test("the log is copied into the database file once the writer pauses, not while it commits")
  func afterPause() throws {
    // A pause long enough that none between two transactions of this test reaches it.
    let (store, path) = try journal(quiet: 4)
    let before = size(path)
    let (_, sizes) = try write(store, at: path, untilLogPages: 1_200)
    // SQLite's own checkpoint would have copied the log into the file at 1,000 pages, in the
    // commit: the file would have grown while the writer went on.
    #expect(sizes.max() == before)
    #expect(store.checkpointsAfterPause == 0)
    // After the pause, the thread copies it.
    let deadline = Date().addingTimeInterval(30)
    while store.checkpointsAfterPause == 0 && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
    #expect(store.checkpointsAfterPause == 1)
    #expect(size(path) > before + 100 * 4_096)
    // And what was copied is what was journaled.
    #expect(try store.counts()[.planned] ?? 0 >= 1_000)
    // The next write starts the log again, cut back to 4 MiB: a burst's log is not kept.
    #expect(size(path + "-wal") > 4 * 1_048_576)
    try store.journal(due: [decision("after")], now: t0)
    #expect(size(path + "-wal") <= 4 * 1_048_576)
  }

  @Test("a writer that never pauses has its log copied in its own commits past the limit")
  func withoutPause() throws {
    let (store, path) = try journal(quiet: 3_600, inlinePages: 500)
    let before = size(path)
    let (toCap, _) = try write(store, at: path, untilLogPages: 450)
    // Five times as many again would take the log past 2,000 pages without the cap.
    let (_, sizes) = try write(store, at: path, transactions: 5 * toCap, from: toCap * 40)
    #expect(size(path + "-wal") < 1_000 * 4_096)
    #expect((sizes.max() ?? 0) > before + 400 * 4_096)
    #expect(store.checkpointsAfterPause == 0)
  }
}
