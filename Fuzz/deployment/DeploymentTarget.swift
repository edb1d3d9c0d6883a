import FuzzSupport
import NhacviecConfig
import NhacviecCore

/// One input is the text of a main configuration file (`nhacviec.yaml`: timezone, directory,
/// calendar, send_window, digest, rules, channels, daemon), and after a line `#--- rules.yaml`,
/// if it has one, a rule file of its own, so that channels and the rules that use them vary
/// together. Both are written into a folder where `directory`, `calendar` and `rules` lead to the
/// shipped ones, loaded as `check` loads them, and when they load, run as the daemon would run
/// them.
func fuzzDeployment(_ bytes: [UInt8]) {
  let (config, rules) = split(bytes)
  guard staysInScratch(config) else { return }
  _ = Scratch.write(rules, to: "rules.yaml")
  let file = Scratch.write(config, to: "nhacviec.yaml")
  let deployment: Deployment
  do {
    deployment = try DeploymentLoader().load(configPath: file)
  } catch {
    consume(error.printed())
    return
  }
  Exercise(deployment).run()
}

let separator = Array("\n#--- rules.yaml\n".utf8)

/// The configuration and the rule file after the separator (empty without one).
func split(_ bytes: [UInt8]) -> (config: [UInt8], rules: [UInt8]) {
  guard bytes.count >= separator.count else { return (bytes, []) }
  for start in 0...(bytes.count - separator.count)
  where bytes[start..<(start + separator.count)].elementsEqual(separator) {
    return (Array(bytes[..<(start + 1)]), Array(bytes[(start + separator.count)...]))
  }
  return (bytes, [])
}

/// Whether every value of the input could only name files in the scratch folder. A configuration
/// names files to read; one naming /dev/zero or a home folder would test the machine, not the
/// loader, so such inputs are skipped (and only those: text that does not parse goes on).
func staysInScratch(_ bytes: [UInt8]) -> Bool {
  guard let text = String(validating: bytes, as: UTF8.self),
    let root = try? YAMLReader.parse(text, file: "nhacviec.yaml")
  else { return true }
  var pending = [root]
  while let node = pending.popLast() {
    switch node.value {
    case .null: break
    case .scalar(let value):
      if value.hasPrefix("/") || value.hasPrefix("~") || value.contains("..") { return false }
    case .list(let items): pending += items
    case .map(let entries): pending += entries.map(\.value)
    }
  }
  return true
}

let setUp: Void = Scratch.linkRules(["directory", "calendar", "rules"])

#if FUZZING
  @_cdecl("LLVMFuzzerTestOneInput")
  public func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    _ = setUp
    fuzzDeployment(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
  }
#else
  @main
  enum DeploymentReplay {
    static func main() {
      _ = setUp
      Replay.main(fuzzDeployment)
    }
  }
#endif
