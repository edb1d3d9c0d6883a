import FuzzSupport
import NhacviecConfig
import NhacviecCore

/// One input is the text of a rule file. It is read as `check` and the daemon read the files of
/// `rules:` (from a file, so that text that is not UTF-8 takes the loader's own path), checked
/// against the shipped directory and channels, and when nothing is wrong with it, run: every
/// configuration `check` accepts must run.
func fuzzConfig(_ bytes: [UInt8]) {
  let file = Scratch.write(bytes, to: "rules.yaml")
  let parsed = RuleParser().parseCollecting(file: file)
  let deployment = Shipped.deployment
  let problems =
    parsed.errors
    + RuleParser.crossCheck(
      rules: parsed.rules, directory: deployment.directory, channels: deployment.ruleset.channels)
  guard problems.isEmpty else {
    consume(ConfigErrors(problems).printed())
    return
  }
  let ruleset = Ruleset(
    rules: parsed.rules, channels: deployment.ruleset.channels, settings: deployment.ruleset.settings)
  Exercise(ruleset: ruleset, directory: deployment.directory, calendar: deployment.calendar).run()
}

#if FUZZING
  @_cdecl("LLVMFuzzerTestOneInput")
  public func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    fuzzConfig(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
  }
#else
  @main
  enum ConfigReplay {
    static func main() { Replay.main(fuzzConfig) }
  }
#endif
