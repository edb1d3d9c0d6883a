import ArgumentParser
import Foundation
import NhacviecConfig
import NhacviecCore

/// What the shells offer after an option: names from the configuration (units, rules,
/// channels) and the words the commands take (states, formats). The shells' scripts run
/// `nhacviec` to ask, with the words typed so far, so a `--config` among them is the one read.
enum Completions {
  /// The configuration the words name, or the one the command would find; nil when it does not
  /// load (then nothing is offered rather than an error in the middle of a command line).
  static func deployment(_ words: [String]) -> Deployment? {
    let explicit = words.firstIndex(of: "--config").flatMap { words.indices.contains($0 + 1) ? words[$0 + 1] : nil }
    return try? DeploymentLoader().load(configPath: ConfigLocator.path(explicit: explicit))
  }

  static func matching(_ names: [String], _ prefix: String) -> [String] {
    names.filter { $0.hasPrefix(prefix) }.sorted()
  }

  /// The ids of the units in the directory today.
  static let units = CompletionKind.custom { words, _, prefix in
    guard let deployment = deployment(words) else { return [] }
    let today = deployment.zone.localDate(of: Date())
    return matching(deployment.directory.units(on: today).map(\.id), prefix)
  }

  static let rules = CompletionKind.custom { words, _, prefix in
    matching(deployment(words)?.ruleset.rules.map(\.id) ?? [], prefix)
  }

  static let channels = CompletionKind.custom { words, _, prefix in
    matching(deployment(words).map { Array($0.channels.keys) } ?? [], prefix)
  }

  static let findingStates = CompletionKind.list(FindingState.allCases.map(\.rawValue))
  static let noticeStates = CompletionKind.list(NoticeState.allCases.map(\.rawValue))
  static let formats = CompletionKind.list(["html", "csv", "md", "json"])
  static let configFile = CompletionKind.file(extensions: ["yaml", "yml"])

  /// A store as `store copy` names it: `sqlite:` then a path (folders, and the files that end in
  /// .sqlite), or the start of a PostgreSQL URL, whose rest only the operator knows.
  static let stores = CompletionKind.custom { _, _, prefix in
    guard prefix.hasPrefix("sqlite:") else { return matching(["sqlite:", "postgresql://"], prefix) }
    let typed = String(prefix.dropFirst("sqlite:".count))
    let folder = typed.hasSuffix("/") ? typed : (typed as NSString).deletingLastPathComponent
    let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.isEmpty ? "." : folder)) ?? []
    let paths = names.compactMap { name -> String? in
      let path = folder.isEmpty ? name : (folder as NSString).appendingPathComponent(name)
      var isFolder: ObjCBool = false
      guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else { return nil }
      if isFolder.boolValue { return "sqlite:" + path + "/" }
      return name.hasSuffix(".sqlite") ? "sqlite:" + path : nil
    }
    return matching(paths, prefix)
  }
}
