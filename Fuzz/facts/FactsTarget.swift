import FuzzSupport
import NhacviecConfig
import NhacviecCore

/// One input is a facts file, as `import facts`, `check --facts`, `simulate --facts` and
/// `report --facts` read it: CSV when its first line holds no colon (a CSV header names columns;
/// a YAML file's first line is a key or a list item with one), YAML otherwise. Facts that load
/// and fit the shipped deployment are then evaluated, reported in every format, simulated and
/// explained.
func fuzzFacts(_ bytes: [UInt8]) {
  let firstLine = bytes.prefix { $0 != UInt8(ascii: "\n") }
  let name = firstLine.contains(UInt8(ascii: ":")) ? "facts.yaml" : "facts.csv"
  let file = Scratch.write(bytes, to: name)
  let deployment = Shipped.deployment
  let facts: [Fact]
  do {
    facts = try FactsLoader.load(file: file, zone: deployment.zone)
  } catch {
    consume(error.printed())
    return
  }
  let problems = FactsLoader.check(facts, against: deployment)
  guard problems.isEmpty else {
    consume(ConfigErrors(problems).printed())
    return
  }
  // Around the first fact's day, when it has one: its reminders, deadline and escalations.
  let day = facts.compactMap(\.at).min().map { deployment.zone.localDate(of: $0) } ?? Exercise.seasonDate
  Exercise(deployment, facts: FactBook(facts)).run(around: day)
}

#if FUZZING
  @_cdecl("LLVMFuzzerTestOneInput")
  public func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    fuzzFacts(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
  }
#else
  @main
  enum FactsReplay {
    static func main() { Replay.main(fuzzFacts) }
  }
#endif
