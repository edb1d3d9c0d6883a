import Foundation
import NhacviecCore
import Testing

/// Rosters are kept by the directory between passes: what it answers must be what filtering
/// every record would answer, on every day asked, in any order, from any thread.
@Suite("Rosters kept by the directory")
struct RosterCacheTests {
  let directory: Directory = {
    let old = LocalDate(iso: "2025-06-30")!
    let new = LocalDate(iso: "2025-07-01")!
    var units = [OrgUnit(id: "51", name: "Tỉnh", kind: "province")]
    for d in 0..<3 {
      units.append(OrgUnit(id: "H\(d)", name: "Huyện \(d)", kind: "district", parentID: "51", validTo: old))
      for c in 0..<4 {
        units.append(
          OrgUnit(id: "X\(d)-\(c)", name: "Xã \(d)-\(c)", kind: "commune", parentID: "H\(d)", validTo: old))
      }
    }
    for c in 0..<5 {
      units.append(OrgUnit(id: "N\(c)", name: "Xã mới \(c)", kind: "commune", parentID: "51", validFrom: new))
    }
    return try! Directory(units: units)
  }()

  func filtered(_ selectors: [UnitSelector], on date: LocalDate) -> [String] {
    directory.units(on: date).filter { unit in
      selectors.contains { $0.matches(unit, parent: directory.parent(of: unit, on: date)) }
    }
    .map(\.id)
  }

  @Test("each roster is the filtered directory of its day, asked again or across eras")
  func sameAsFiltering() {
    let communes = [UnitSelector(kinds: ["commune"])]
    let underDistricts = [UnitSelector(parentKinds: ["district"])]
    let days = ["2025-06-29", "2025-06-30", "2025-07-01", "2026-11-18", "2025-06-30", "2021-01-01", "2026-11-18"]
    for selectors in [communes, underDistricts, communes] {
      for text in days {
        let day = LocalDate(iso: text)!
        #expect(directory.roster(matching: selectors, on: day).map(\.id) == filtered(selectors, on: day), "\(text)")
      }
    }
  }

  @Test("threads asking at once get the same rosters")
  func concurrent() async {
    let directory = self.directory
    let day = LocalDate(iso: "2025-06-30")!
    let expected = filtered([UnitSelector(kinds: ["commune"])], on: day)
    let answers = await withTaskGroup(of: [String].self) { group in
      for _ in 0..<16 {
        group.addTask { directory.roster(matching: [UnitSelector(kinds: ["commune"])], on: day).map(\.id) }
      }
      var all: [[String]] = []
      for await answer in group { all.append(answer) }
      return all
    }
    #expect(answers.count == 16)
    #expect(answers.allSatisfy { $0 == expected })
  }
}
