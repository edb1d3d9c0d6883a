import Foundation
import NhacviecCore
@_spi(Testing) import NhacviecStore
import Testing

/// Several daemons on one PostgreSQL database, as the store sees them (the daemons themselves:
/// Tests/CommandLineTests/SharedStoreTests.swift).
@Suite("Several nodes on one store", .enabled(if: TestStore.onPostgres))
struct ClusterStoreTests {
  let t0 = Date(timeIntervalSince1970: 1_794_700_800)

  func twoNodes(lease: TimeInterval = 60) throws -> (Store, Store) {
    let server = try #require(TestStore.postgresServer)
    let url = try Store.postgresDatabase(server: server, name: "c_\(TestStore.fresh())")
    return (
      try Store(postgresql: url, password: nil, node: "a", lease: lease),
      try Store(postgresql: url, password: nil, node: "b", lease: lease)
    )
  }

  @Test("only the leader of the moment may plan: a deposed leader's journal and pass are refused")
  func fencing() throws {
    let (a, b) = try twoNodes()
    #expect(throws: Store.ClusterError.self) { try a.journal(due: [decision("x")], now: t0) }
    #expect(try a.becomeLeader() == 1)
    #expect(try a.journal(due: [decision("x")], now: t0) == 1)
    #expect(try b.becomeLeader() == 2)
    #expect(throws: Store.ClusterError.notLeader(node: "a", epoch: 1, current: 2)) {
      try a.journal(due: [decision("y")], now: t0)
    }
    #expect(throws: Store.ClusterError.self) { try a.recordPass(at: t0) }
    #expect(try b.journal(due: [decision("y")], now: t0) == 1)
    try b.recordPass(at: t0)
    #expect(try b.counts()[.planned] == 2)
  }

  @Test("a node reclaims only its own notices; another's come back when its lease ends")
  func leases() throws {
    let (a, b) = try twoNodes(lease: 3_600)
    try a.becomeLeader()
    try a.journal(due: (1...4).map { decision("n\($0)") }, now: t0)
    #expect(try a.claim(channel: "email", limit: 2, now: t0).count == 2)
    #expect(try b.claim(channel: "email", limit: 10, now: t0).count == 2)
    // b restarting takes back its own two, not a's, whose lease runs.
    #expect(try b.recoverInFlight(now: t0) == 2)
    #expect(try b.expireLeases(now: t0) == 0)
    #expect(try a.renewLeases() == 2)
    // An outcome from a node that no longer holds the notice changes nothing.
    let taken = try #require(try b.claim(channel: "email", limit: 1, now: t0).first)
    try a.record([
      JournalOutcome(
        entry: JournalKey(key: taken.key, channel: "email"), change: .sent(receipt: "250", error: nil),
        attempted: true, pending: nil, at: t0)
    ])
    #expect(try a.entry(key: taken.key, channel: "email")?.state == .sending)
  }

  @Test("a lease that has ended puts the notice back for any node, under the same key")
  func expiredLease() throws {
    let (dead, alive) = try twoNodes(lease: 0)
    try dead.becomeLeader()
    try dead.journal(due: [decision("k")], now: t0)
    #expect(try dead.claim(channel: "email", limit: 1, now: t0).count == 1)
    #expect(try alive.expireLeases(now: t0) == 1)
    let again = try #require(try alive.claim(channel: "email", limit: 1, now: t0).first)
    #expect(again.key == decision("k").key)
  }

  @Test("each node's heartbeat is seen by the others, with its role and the leader's epoch")
  func heartbeats() throws {
    let (a, b) = try twoNodes()
    try a.becomeLeader()
    try a.heartbeat(role: "leader", startedAt: t0)
    try b.heartbeat(role: "follower", startedAt: t0)
    let nodes = try a.nodes()
    #expect(Set(nodes.map(\.name)) == ["a", "b"])
    #expect(nodes.first { $0.name == "a" }?.epoch == 1)
    #expect(nodes.first { $0.name == "b" }?.role == "follower")
    #expect(nodes.allSatisfy { $0.age < 60 && $0.pid == Int(getpid()) })
  }

  @Test("one node holds the leader's lock at a time; it passes on when the holder lets go")
  func leaderLock() throws {
    let (a, b) = try twoNodes()
    let first = try #require(a.leaderLock())
    let second = try #require(b.leaderLock())
    #expect(try first.hold() == .taken)
    #expect(try first.hold() == .kept)
    #expect(try second.hold() == .none)
    first.release()
    #expect(try second.hold() == .taken)
    #expect(try first.hold() == .none)
  }
}
