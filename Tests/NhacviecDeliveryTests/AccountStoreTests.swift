import Foundation
import NhacviecStore
import Testing

@Suite("the desk's accounts and sessions in the store")
struct AccountStoreTests {
  let t0 = Date(timeIntervalSince1970: 1_794_186_000)

  @Test("a session ends after its idle time without use, and after its lifetime whatever its use")
  func sessionExpiry() throws {
    let store = try TestStore.make()
    try store.addAccount(name: "can.bo", role: .writer, passwordHash: "$argon2id$x", now: t0)
    try store.createSession(idHash: "h1", account: "can.bo", csrf: "c1", now: t0, idle: 600, lifetime: 3600)
    // Used every 9 minutes it lives on, each use starting its idle time again, up to its lifetime.
    var now = t0
    for _ in 1...6 {
      now += 540
      #expect(try store.useSession(idHash: "h1", now: now, idle: 600)?.account == "can.bo", "\(now)")
    }
    #expect(try store.useSession(idHash: "h1", now: t0 + 3600, idle: 600) == nil)
    // Left alone past its idle time, it is gone though its lifetime is not over.
    try store.createSession(idHash: "h2", account: "can.bo", csrf: "c2", now: t0, idle: 600, lifetime: 3600)
    #expect(try store.useSession(idHash: "h2", now: t0 + 599, idle: 600)?.csrf == "c2")
    #expect(try store.useSession(idHash: "h2", now: t0 + 599 + 600, idle: 600) == nil)
  }

  @Test("failed logins are counted per address and per account within the window, and old ones forgotten")
  func failures() throws {
    let store = try TestStore.make()
    for i in 0..<3 {
      try store.noteLoginFailure(
        address: "10.0.0.1", account: "a", now: t0 + Double(i), forgetBefore: t0 - 900)
    }
    try store.noteLoginFailure(address: "10.0.0.2", account: "a", now: t0 + 10, forgetBefore: t0 - 900)
    let counted = try store.loginFailures(address: "10.0.0.1", account: "a", since: t0 - 1)
    #expect(counted.byAddress == 3)
    #expect(counted.byAccount == 4)
    #expect(counted.oldestAddress == t0)
    // A quarter of an hour after the last, none counts.
    let later = t0 + 10 + 900
    #expect(try store.loginFailures(address: "10.0.0.1", account: "a", since: later - 900).byAccount == 0)
  }

  @Test("removing an account or changing its password ends its sessions")
  func endSessions() throws {
    let store = try TestStore.make()
    try store.addAccount(name: "a", role: .reader, passwordHash: "h", now: t0)
    #expect(throws: Store.AccountError.exists) {
      try store.addAccount(name: "a", role: .reader, passwordHash: "h", now: t0)
    }
    try store.createSession(idHash: "s", account: "a", csrf: "c", now: t0, idle: 600, lifetime: 3600)
    try store.changeAccount(name: "a", passwordHash: "h2", role: .writer, now: t0)
    #expect(try store.useSession(idHash: "s", now: t0, idle: 600) == nil)
    #expect(try store.account(named: "a")?.role == .writer)
    try store.createSession(idHash: "s2", account: "a", csrf: "c", now: t0, idle: 600, lifetime: 3600)
    try store.removeAccount(name: "a")
    #expect(try store.sessionCount(account: "a") == 0)
    #expect(throws: Store.AccountError.noSuchAccount) { try store.removeAccount(name: "a") }
  }
}
