import Foundation
import NhacviecCore
import NhacviecDelivery
@_spi(Testing) import NhacviecStore
import NhacviecTesting
import Testing

/// A decided notice for unit D1's annual report, through `channel`, to `to`: the rung `label`
/// names (`remind-7d`, `escalate-1wd`), or, for any other label, the seven-day reminder of a rule
/// named by it, so that a test can make as many distinct notices as it needs.
func decision(
  _ label: String = "remind-7d", channel: String = "email", to: [String] = ["iso@d1.example"], unit: String = "D1",
  at: Date = Date(timeIntervalSince1970: 1_794_700_800)
) -> NoticeDecision {
  let step = StepID(label)
  let key = NoticeKey(
    rule: step == nil ? label : "annual", unit: UnitRef(id: unit, validFrom: nil), period: Period("2026")!,
    step: step ?? .remind(Offset(7, .days)), deadline: LocalDate(iso: "2026-11-15")!)
  return NoticeDecision(
    key: key.description, channel: channel, reason: .nextReminder, scheduledAt: at,
    addressees: to.map {
      Addressee(unit: key.unit, unitName: "Sở Tư pháp", role: "iso-focal", name: "Đầu mối ISO", address: $0)
    }, content: .obligation(key: key, template: "reminder", audience: .unit))
}

@Suite("The journal")
struct JournalTests {
  let t0 = Date(timeIntervalSince1970: 1_794_700_800)

  @Test("a notice is journaled once, whatever the number of plans that name it")
  func insertIfAbsent() throws {
    let store = try TestStore.make()
    #expect(try store.journal(due: [decision("a"), decision("b")], now: t0) == 2)
    #expect(try store.journal(due: [decision("a"), decision("c")], now: t0) == 1)
    #expect(try store.counts()[.planned] == 3)
    // The same key through another channel is another delivery.
    #expect(try store.journal(due: [decision("a", channel: "hook")], now: t0) == 1)
    // A superseded step is recorded as such, and not sent.
    try store.journal(due: [], superseded: [decision("old")], now: t0)
    #expect(try store.counts()[.superseded] == 1)
    #expect(try store.claim(channel: "email", limit: 100, now: t0).map(\.rule).sorted() == ["a", "b", "c"])
  }

  @Test(
    "a notice's age counts from when it was journaled, less its holds: a silence of 4 days and a wait for the window do not age it, a failure's wait does; retry starts it again"
  )
  func age() throws {
    let store = try TestStore.make()
    let notice = decision("remind-7d", at: t0.addingTimeInterval(-5 * 86_400))
    let row = JournalKey(key: notice.key, channel: "email")
    try store.journal(due: [notice], now: t0)
    func claim(at now: Date) throws -> JournalEntry {
      try #require(try store.claim(channel: "email", limit: 1, now: now).first)
    }
    func record(_ change: JournalOutcome.Change, attempted: Bool = false, at now: Date) throws {
      try store.record([JournalOutcome(entry: row, change: change, attempted: attempted, pending: nil, at: now)])
    }
    // Due five days before it was journaled: its age starts at 0 all the same.
    #expect(try claim(at: t0.addingTimeInterval(60)).age(at: t0.addingTimeInterval(60)) == 60)
    // Held by a silence for four days: none of it counts.
    try record(.silenced(until: t0.addingTimeInterval(4 * 86_400), reason: "silence 1"), at: t0.addingTimeInterval(60))
    #expect(try store.entry(key: row.key, channel: "email")?.age(at: t0.addingTimeInterval(86_400)) == 60)
    let back = try claim(at: t0.addingTimeInterval(4 * 86_400))
    #expect(back.age(at: t0.addingTimeInterval(4 * 86_400)) == 60)
    // A failure: the wait for its retry counts.
    try record(
      .failed(error: "SMTP 451", retryAt: t0.addingTimeInterval(4 * 86_400 + 600)), attempted: true,
      at: t0.addingTimeInterval(4 * 86_400))
    let retried = try claim(at: t0.addingTimeInterval(4 * 86_400 + 600))
    #expect(retried.age(at: t0.addingTimeInterval(4 * 86_400 + 600)) == 660)
    // Then outside the window until Monday: that wait does not.
    try record(
      .deferred(until: t0.addingTimeInterval(7 * 86_400), reason: "outside the send window"),
      at: t0.addingTimeInterval(4 * 86_400 + 600))
    let monday = try claim(at: t0.addingTimeInterval(7 * 86_400))
    #expect(monday.age(at: t0.addingTimeInterval(7 * 86_400)) == 660)
    // Dead, then given another chance: its age starts again.
    try record(.dead(error: "gave up"), attempted: true, at: t0.addingTimeInterval(7 * 86_400))
    #expect(try store.retryDead(key: row.key, now: t0.addingTimeInterval(8 * 86_400)) == 1)
    #expect(try store.entry(key: row.key, channel: "email")?.age(at: t0.addingTimeInterval(8 * 86_400 + 5)) == 5)
    // So does a retry by selection (`nhacviec retry --channel email`).
    _ = try claim(at: t0.addingTimeInterval(8 * 86_400 + 5))
    try record(.dead(error: "gave up"), attempted: true, at: t0.addingTimeInterval(9 * 86_400))
    var selection = JournalSelection()
    selection.channel = "email"
    #expect(try store.retry(selection, dryRun: false, now: t0.addingTimeInterval(10 * 86_400)).count == 1)
    #expect(try store.entry(key: row.key, channel: "email")?.age(at: t0.addingTimeInterval(10 * 86_400 + 7)) == 7)
  }

  @Test("the journal holds the decision, typed, and gives it back whole")
  func typed() throws {
    let store = try TestStore.make()
    let original = decision("remind-7d", to: ["iso@d1.example", "vanthu@d1.example"])
    try store.journal(due: [original], now: t0)
    let entry = try #require(try store.claim(channel: "email", limit: 1, now: t0).first)
    guard case .decided(let read) = entry.payload else {
      Issue.record("not a decision")
      return
    }
    #expect(read == original)
    #expect(entry.rule == "annual" && entry.unit == "D1" && entry.period == "2026")
  }

  @Test("a pass hands delivery the decisions it journaled new; a claim takes those instead of decoding them")
  func handed() throws {
    let store = try TestStore.make()
    try store.journal(due: [decision("a")], now: t0)
    let new = try store.journalNew(due: [decision("a"), decision("b"), decision("c")], now: t0).inserted
    #expect(new.map { $0.noticeKey?.rule } == ["b", "c"])
    var asked: [String] = []
    let claimed = try store.claim(channel: "email", limit: 10, now: t0) { row in
      asked.append(row.key)
      return new.first { $0.key == row.key && $0.channel == row.channel }
    }
    #expect(asked.count == 3)
    // The same entries as a claim that decodes every row.
    let other = try TestStore.make()
    try other.journal(due: [decision("a"), decision("b"), decision("c")], now: t0)
    func decisions(_ entries: [JournalEntry]) -> [NoticeDecision?] {
      entries.map {
        guard case .decided(let decision) = $0.payload else { return nil }
        return decision
      }
    }
    let decoded = try other.claim(channel: "email", limit: 10, now: t0)
    #expect(decisions(claimed) == decisions(decoded) && !decisions(claimed).contains(nil))
    #expect(claimed.map(\.key) == decoded.map(\.key) && claimed.map(\.state) == decoded.map(\.state))
  }

  @Test("a claim takes the oldest due notices whatever their state, and none not yet due")
  func claimOrder() throws {
    let store = try TestStore.make()
    let at = { (seconds: Double) in self.t0.addingTimeInterval(seconds) }
    try store.journal(
      due: [decision("a", at: at(0)), decision("b", at: at(10)), decision("c", at: at(20))], now: at(0))
    // "a" fails and is due again at 30; "c" fails and is due again only at 100.
    let first = try store.claim(channel: "email", limit: 3, now: at(20))
    #expect(first.map(\.rule) == ["a", "b", "c"])
    try store.record([
      JournalOutcome(
        entry: JournalKey(key: first[0].key, channel: "email"), change: .failed(error: "421", retryAt: at(30)),
        attempted: true, pending: nil, at: at(21)),
      JournalOutcome(
        entry: JournalKey(key: first[2].key, channel: "email"), change: .failed(error: "421", retryAt: at(100)),
        attempted: true, pending: nil, at: at(21)),
    ])
    try store.journal(due: [decision("d", at: at(25)), decision("e", at: at(5))], now: at(25))
    // At 40: "a" (scheduled at 0, failed, due again) and "e" (5) and "d" (25), oldest first;
    // "b" is still being sent and "c" waits for 100.
    #expect(try store.claim(channel: "email", limit: 2, now: at(40)).map(\.rule) == ["a", "e"])
    #expect(try store.claim(channel: "email", limit: 10, now: at(40)).map(\.rule) == ["d"])
    #expect(try store.claim(channel: "email", limit: 10, now: at(100)).map(\.rule) == ["c"])
  }

  @Test("one settle records its outcomes before it claims: a notice failed and due again at once is claimed in it")
  func settleOrder() throws {
    let store = try TestStore.make()
    try store.journal(due: [decision("a"), decision("b"), decision("c")], now: t0)
    let first = try store.claim(channel: "email", limit: 2, now: t0)
    #expect(first.map(\.rule) == ["a", "b"])
    let failed = JournalOutcome(
      entry: JournalKey(key: first[0].key, channel: "email"), change: .failed(error: "421", retryAt: t0),
      attempted: true, pending: nil, at: t0)
    let sent = JournalOutcome(
      entry: JournalKey(key: first[1].key, channel: "email"), change: .sent(receipt: "250", error: nil),
      attempted: true, pending: nil, at: t0)
    let claimed = try store.settle([failed, sent], claims: [("email", 5), ("webhook", 5)], now: t0)
    // "a" failed and is due again: claimed again, oldest first, with its attempt counted.
    #expect(claimed["email"]?.map(\.rule) == ["a", "c"])
    #expect(claimed["email"]?.first?.attempts == 1)
    #expect(claimed["webhook"] == nil)
    #expect(try store.entry(key: first[1].key, channel: "email")?.state == .sent)
    #expect(try store.history(key: first[0].key).map(\.outcome) == ["failed"])
    #expect(try store.counts()[.sending] == 2)
  }

  @Test("two processes sharing the database can never both claim a notice")
  func exclusiveClaim() throws {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("journal-\(UUID().uuidString).sqlite").path
    let first = try TestStore.open(path: path)
    let second = try TestStore.open(path: path)
    try first.journal(due: (0..<200).map { decision("k\($0)") }, now: t0)
    let results = ConcurrentResults()
    DispatchQueue.concurrentPerform(iterations: 2) { i in
      let store = i == 0 ? first : second
      var mine: [String] = []
      while let batch = try? store.claim(channel: "email", limit: 7, now: t0), !batch.isEmpty {
        mine += batch.map(\.key)
      }
      results.add(mine)
    }
    #expect(results.all.count == 200)
    #expect(Set(results.all).count == 200)
    #expect(try first.counts()[.sending] == 200)
  }

  @Test("a row that cannot be read goes dead alone, with why, and the others are claimed")
  func corruptRow() throws {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("corrupt-\(UUID().uuidString).sqlite").path
    let store = try TestStore.open(path: path)
    try store.journal(due: [decision("good-1"), decision("bad"), decision("good-2")], now: t0)
    try store.damage(key: decision("bad").key, decision: "{not json")
    let claimed = try store.claim(channel: "email", limit: 10, now: t0)
    #expect(claimed.map(\.rule) == ["good-1", "good-2"])
    #expect(try store.counts()[.dead] == 1)
    let reason = try store.rawLastError(key: decision("bad").key)
    #expect(reason?.hasPrefix("cannot read this journal row:") == true)
  }

  @Test("rows left sending that no one holds are reclaimed; those in flight are not")
  func reclaim() throws {
    let store = try TestStore.make()
    try store.journal(due: [decision("held"), decision("stranded")], now: t0)
    _ = try store.claim(channel: "email", limit: 10, now: t0)
    let held = JournalKey(key: decision("held").key, channel: "email")
    #expect(try store.reclaim(except: [held], now: t0) == 1)
    #expect(try store.entry(key: decision("stranded").key, channel: "email")?.state == .planned)
    #expect(try store.entry(key: decision("held").key, channel: "email")?.state == .sending)
  }

  @Test("after a crash, what was being sent goes out again under the same key; what was sent never does")
  func crashRecovery() throws {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("crash-\(UUID().uuidString).sqlite").path
    do {
      let store = try TestStore.open(path: path)
      try store.journal(due: [decision("sent"), decision("inflight")], now: t0)
      #expect(try store.claim(channel: "email", limit: 10, now: t0).count == 2)
      try store.record([
        JournalOutcome(
          entry: JournalKey(key: decision("sent").key, channel: "email"), change: .sent(receipt: "250 ok", error: nil),
          attempted: true, pending: nil, at: t0)
      ])
      // The process dies here with "inflight" in `sending`.
    }
    let reopened = try TestStore.open(path: path)
    #expect(try reopened.entry(key: decision("inflight").key, channel: "email")?.state == .sending)
    #expect(try reopened.recoverInFlight(now: t0 + 60) == 1)
    #expect(try reopened.claim(channel: "email", limit: 10, now: t0 + 60).map(\.rule) == ["inflight"])
    #expect(try reopened.entry(key: decision("sent").key, channel: "email")?.state == .sent)
    #expect(try reopened.entry(key: decision("sent").key, channel: "email")?.attempts == 1)
  }

  @Test("a journal of nhacviec 0.1 is migrated: its rows keep their rendered message and can still be sent")
  func legacy() throws {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("legacy-\(UUID().uuidString).sqlite").path
    try Store.writeLegacyJournal(at: path, key: "annual/D1/2026/remind-7d", state: "planned", at: t0)
    let store = try Store(path: path)
    let entry = try #require(try store.claim(channel: "email", limit: 10, now: t0).first)
    guard case .rendered(let message) = entry.payload else {
      Issue.record("not the rendered message")
      return
    }
    #expect(message.subject == "[Nhắc việc] Báo cáo năm 2026")
    #expect(message.to.map(\.address) == ["iso@d1.example"])
    #expect(entry.subject == "[Nhắc việc] Báo cáo năm 2026")
  }
}

final class ConcurrentResults: @unchecked Sendable {
  private let lock = NSLock()
  private var items: [String] = []
  func add(_ more: [String]) { lock.withLock { items += more } }
  var all: [String] { lock.withLock { items } }
}

extension Store {
  /// Writes over a row's decision, as a disk error or an older program might.
  func damage(key: String, decision: String) throws {
    try execute(sql: "UPDATE journal SET decision = ? WHERE key = ?", arguments: [decision, key])
  }

  func rawLastError(key: String) throws -> String? {
    try value(sql: "SELECT last_error FROM journal WHERE key = ?", arguments: [key])
  }
}
