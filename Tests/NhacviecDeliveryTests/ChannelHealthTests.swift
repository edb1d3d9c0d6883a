import Foundation
import NhacviecCore
import NhacviecStore
import Testing

@Suite("Channel health and acknowledgements in the journal")
struct ChannelHealthTests {
  let t0 = Date(timeIntervalSince1970: 1_794_700_800)

  /// Claims `step` through `channel` and records `change` for it at `t0 + minutes`.
  func attempt(
    _ store: Store, _ step: String, channel: String = "email", _ change: JournalOutcome.Change, minutes: Double
  ) throws {
    let at = t0.addingTimeInterval(minutes * 60)
    let claimed = try store.claim(channel: channel, limit: 100, now: at)
    let entry = try #require(claimed.first { $0.rule == step }, "\(step) not claimable")
    try store.record([
      JournalOutcome(
        entry: JournalKey(key: entry.key, channel: channel), change: change, attempted: true, pending: nil, at: at)
    ])
    try store.reclaim(now: at)
  }

  @Test("the last error, and since when a channel fails: from its first failure after its last success")
  func failingSince() throws {
    let store = try TestStore.make()
    try store.journal(due: ["a", "b", "c", "d"].map { decision($0) } + [decision("x", channel: "hook")], now: t0)
    try attempt(store, "a", .sent(receipt: "250 ok", error: nil), minutes: 0)
    #expect(try store.channelHealth(channels: ["email", "sms"]).map(\.channel) == ["email", "hook", "sms"])
    var email = try #require(try store.channelHealth().first { $0.channel == "email" })
    #expect(email.lastError == nil && email.failingSince == nil)
    #expect(email.counts[.sent] == 1 && email.counts[.planned] == 3 && email.counts[.dead] == 0)

    try attempt(store, "b", .failed(error: "421 busy", retryAt: t0.addingTimeInterval(3600)), minutes: 1)
    try attempt(store, "c", .dead(error: "550 no such user"), minutes: 2)
    email = try #require(try store.channelHealth().first { $0.channel == "email" })
    #expect(email.lastError?.error == "550 no such user")
    #expect(email.lastError?.at == t0.addingTimeInterval(120))
    #expect(email.failingSince == t0.addingTimeInterval(60))
    #expect(email.deadUnacknowledged == 1)
    // Another channel's failures are its own.
    #expect(try store.channelHealth().first { $0.channel == "hook" }?.failingSince == nil)

    // A success ends the failing run; the last error stays to be read.
    try attempt(store, "d", .sent(receipt: "250 ok", error: nil), minutes: 3)
    email = try #require(try store.channelHealth().first { $0.channel == "email" })
    #expect(email.failingSince == nil)
    #expect(email.lastError?.error == "550 no such user")
  }

  @Test("an acknowledgement is kept with who and when, once; a retry clears it")
  func acknowledge() throws {
    let store = try TestStore.make()
    try store.journal(due: [decision("a"), decision("b")], now: t0)
    #expect(try store.acknowledge(key: decision("a").key, uid: 1000, now: t0) == .noDeadNotice)
    try attempt(store, "a", .dead(error: "550 no such user"), minutes: 0)
    let key = decision("a").key
    #expect(try store.acknowledge(key: key, uid: 1000, now: t0.addingTimeInterval(60)) == .acknowledged(1))
    #expect(
      try store.acknowledge(key: key, uid: 0, now: t0.addingTimeInterval(120))
        == .already(by: 1000, at: t0.addingTimeInterval(60)))
    let entry = try #require(try store.entry(key: key, channel: "email"))
    #expect(entry.state == .dead && entry.acknowledgedBy == 1000 && entry.acknowledgedAt == t0.addingTimeInterval(60))
    #expect(try store.channelHealth().first?.deadUnacknowledged == 0)
    #expect(try store.channelHealth().first?.counts[.dead] == 1)

    // Retried, it is a new chance: and if it dies again, nobody has seen that yet.
    #expect(try store.retryDead(key: key, now: t0.addingTimeInterval(180)) == 1)
    let retried = try #require(try store.entry(key: key, channel: "email"))
    #expect(retried.acknowledgedBy == nil && retried.acknowledgedAt == nil)
    try attempt(store, "a", .dead(error: "550 still no such user"), minutes: 4)
    #expect(try store.channelHealth().first?.deadUnacknowledged == 1)
  }
}
