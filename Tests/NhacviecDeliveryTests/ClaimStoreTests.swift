import Foundation
import NhacviecCore
@_spi(Testing) import NhacviecStore
import Testing

/// The store keeps a unit's word and the verdict on it beside every other fact.
@Suite("Claims in the store")
struct ClaimStoreTests {
  static let now = Date(timeIntervalSince1970: 1_794_900_000)

  @Test("a store of the release before claims is migrated (v9-claims): every fact kept, field for field")
  func migrationKeepsFacts() throws {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("v8-\(UUID().uuidString).sqlite").path
    try Store.writeV8Store(at: path)
    let store = try Store(path: path)
    let all = try store.recordedFacts(retracted: true)
    #expect(all.map(\.id) == [1, 2])
    let report = all[0]
    #expect(report.fact.kind == .report)
    #expect(report.fact.unitID == "51-STP")
    #expect(report.fact.reference == "123/BC-STP")
    #expect(report.fact.at == Date(timeIntervalSince1970: 1_794_800_000))
    #expect(report.recordedAt == Date(timeIntervalSince1970: 1_794_800_100))
    #expect(report.recordedBy == 1000)
    #expect(report.source == "socket")
    #expect(report.recordedByName == nil)
    #expect(report.retraction == nil)
    let retracted = all[1]
    #expect(retracted.fact.kind == .extension)
    #expect(retracted.fact.due == LocalDate(iso: "2026-11-30"))
    #expect(retracted.fact.decidedBy == "Giám đốc Sở")
    #expect(retracted.fact.reason == "bão")
    #expect(retracted.source == "import facts.csv")
    #expect(retracted.retraction?.by == 1001)
    #expect(retracted.retraction?.reason == "wrong unit")
    #expect(try store.facts().count == 1)

    // The new kinds are accepted, with who recorded them by name; ids go on from the old ones.
    let claim = Fact(
      kind: .claim, unitID: "51-STP", ruleID: "iso-annual-report", period: "2026", at: Self.now,
      reference: "130/BC-STP")
    let (recorded, new) = try store.recordUnitsWord(
      claim, by: .init(uid: nil, source: "link", name: "unit"), now: Self.now)
    #expect(new)
    #expect(recorded.id == 3)
    #expect(recorded.source == "link")
    #expect(recorded.recordedByName == "unit")
    let returned = Fact(
      kind: .returned, unitID: "51-STP", ruleID: "iso-annual-report", period: "2026", at: Self.now, decidedBy: "hoa.nt",
      reason: "Chưa nhận được văn bản")
    try store.record([returned], by: .init(uid: nil, source: "desk", name: "hoa.nt"), now: Self.now)
    #expect(try store.recordedFacts().last?.recordedByName == "hoa.nt")
  }

  @Test("the same claim submitted twice is one claim; made again after a return, it is a new one")
  func idempotentClaim() throws {
    let store = try TestStore.make()
    let claim = Fact(
      kind: .claim, unitID: "D1", ruleID: "annual", period: "2026", at: Self.now, reference: "12/BC")
    let by = Store.Provenance(uid: nil, source: "link", name: "unit")
    let first = try store.recordUnitsWord(claim, by: by, now: Self.now)
    let again = Fact(
      kind: .claim, unitID: "D1", ruleID: "annual", period: "2026", at: Self.now.addingTimeInterval(60),
      reference: "12/BC")
    let second = try store.recordUnitsWord(again, by: by, now: Self.now.addingTimeInterval(60))
    #expect(first.recorded)
    #expect(!second.recorded)
    #expect(second.fact.id == first.fact.id)
    #expect(try store.facts().filter { $0.kind == .claim }.count == 1)
    // One rejudge row for the claim: the unit's obligations are judged again at the next pass.
    #expect(try store.rejudges().count == 1)

    try store.record(
      [
        Fact(
          kind: .returned, unitID: "D1", ruleID: "annual", period: "2026", at: Self.now.addingTimeInterval(120),
          decidedBy: "hoa.nt", reason: "Sai số văn bản")
      ], by: .init(uid: nil, source: "desk", name: "hoa.nt"), now: Self.now.addingTimeInterval(120))
    // A second officer deciding on the same claim after the first is refused, and records nothing.
    let late = Fact(
      kind: .report, unitID: "D1", ruleID: "annual", period: "2026", at: Self.now, reference: "12/BC")
    #expect(throws: Store.VerdictError.alreadyAnswered) {
      try store.recordVerdict(
        late, answering: first.fact.id, by: .init(uid: nil, source: "desk", name: "lan.pt"),
        now: Self.now.addingTimeInterval(150))
    }
    #expect(try store.facts().filter { $0.kind == .report }.isEmpty)
    let third = try store.recordUnitsWord(
      Fact(
        kind: .claim, unitID: "D1", ruleID: "annual", period: "2026", at: Self.now.addingTimeInterval(180),
        reference: "12/BC"), by: by, now: Self.now.addingTimeInterval(180))
    #expect(third.recorded)
    #expect(try store.facts().filter { $0.kind == .claim }.count == 2)
  }
}
