import Foundation

/// The metrics as Prometheus's own Python parser reads them (Tests/Servers/parse_metrics.py).
public struct Scraped: Sendable {
  public struct Sample: Sendable {
    public let name: String
    public let labels: [String: String]
    public let value: Double
  }

  /// Each family's type (`counter`, `gauge`, `histogram`), by the family's name as the parser
  /// gives it (a counter's without `_total`).
  public let types: [String: String]
  public let all: [Sample]
  /// What promtool's lint would object to.
  public let problems: [String]

  public init(_ exposition: String) throws {
    let file = try temporaryFolder("metrics").appendingPathComponent("metrics.txt")
    try exposition.write(to: file, atomically: true, encoding: .utf8)
    let parsed = try ProgramRun(
      "/usr/bin/python3", [repositoryRoot.appendingPathComponent("Tests/Servers/parse_metrics.py").path, file.path])
    guard parsed.status == 0,
      let object = try JSONSerialization.jsonObject(with: Data(parsed.stdout.utf8)) as? [String: Any],
      let families = object["families"] as? [[String: Any]]
    else {
      throw MonitoringError(
        description: "the Prometheus parser refused the exposition: \(parsed.stderr)\n\(exposition)")
    }
    var types: [String: String] = [:]
    var all: [Sample] = []
    for family in families {
      if let name = family["name"] as? String { types[name] = family["type"] as? String }
      for sample in (family["samples"] as? [[String: Any]]) ?? [] {
        guard let name = sample["name"] as? String, let value = sample["value"] as? Double else { continue }
        all.append(Sample(name: name, labels: (sample["labels"] as? [String: String]) ?? [:], value: value))
      }
    }
    self.types = types
    self.all = all
    problems = object["problems"] as? [String] ?? []
  }

  /// Every sample named `name`.
  public func samples(_ name: String) -> [Sample] { all.filter { $0.name == name } }

  /// The value of the sample `name` whose labels are exactly `labels`.
  public func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
    all.first { $0.name == name && $0.labels == labels }?.value
  }

  public func type(of family: String) -> String? { types[family] }
}

public struct MonitoringError: Error, CustomStringConvertible {
  public let description: String
  public init(description: String) { self.description = description }
}
