import Foundation
public import NhacviecCore
import Yams

/// Reads YAML into `ConfigNode`s that remember file, line and column.
public enum YAMLReader {
  public static func read(file path: String, displayName: String? = nil) throws(ConfigErrors) -> ConfigNode {
    let name = displayName ?? path
    guard let data = FileManager.default.contents(atPath: path) else {
      throw ConfigErrors([ConfigError("cannot read \(path)", at: nil)])
    }
    guard let text = String(data: data, encoding: .utf8) else {
      throw ConfigErrors([ConfigError("not UTF-8 text", at: SourceLocation(file: name, line: 1))])
    }
    return try parse(text, file: name)
  }

  public static func parse(_ text: String, file: String) throws(ConfigErrors) -> ConfigNode {
    do {
      guard let root = try Yams.compose(yaml: text) else {
        return ConfigNode(.null, at: SourceLocation(file: file, line: 1))
      }
      return convert(root, file: file)
    } catch let error as YamlError {
      throw ConfigErrors([describe(error, file: file)])
    } catch {
      throw ConfigErrors([ConfigError("cannot parse YAML: \(error)", at: SourceLocation(file: file, line: 1))])
    }
  }

  private static func describe(_ error: YamlError, file: String) -> ConfigError {
    switch error {
    case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
      .composer(let context, let problem, let mark, _):
      let detail = context.map { "\($0.text) " } ?? ""
      return ConfigError(
        "invalid YAML: \(detail)\(problem)", at: SourceLocation(file: file, line: mark.line, column: mark.column))
    case .duplicatedKeysInMapping(let duplicates, let context):
      return ConfigError(
        "duplicate key \(duplicates.joined(separator: ", ")) \(context.text)",
        at: SourceLocation(file: file, line: context.mark.line, column: context.mark.column))
    default:
      return ConfigError("invalid YAML: \(error)", at: SourceLocation(file: file, line: 1))
    }
  }

  private static func location(_ mark: Mark?, _ file: String) -> SourceLocation {
    SourceLocation(file: file, line: mark?.line ?? 1, column: mark?.column ?? 1)
  }

  private static func convert(_ node: Node, file: String) -> ConfigNode {
    let here = location(node.mark, file)
    switch node {
    case .scalar(let scalar):
      if scalar.style == .plain, ["", "~", "null", "Null", "NULL"].contains(scalar.string) {
        return ConfigNode(.null, at: here)
      }
      return ConfigNode(.scalar(scalar.string), at: here)
    case .sequence(let sequence):
      return ConfigNode(.list(sequence.map { convert($0, file: file) }), at: here)
    case .mapping(let mapping):
      let entries = mapping.map { pair in
        (key: pair.key.string ?? "", keyLocation: location(pair.key.mark, file), value: convert(pair.value, file: file))
      }
      return ConfigNode(.map(entries), at: here)
    case .alias:
      return ConfigNode(.null, at: here)
    }
  }
}

/// RFC 4180 CSV, with the line each record starts on.
public enum CSVReader {
  public struct Record {
    public let line: Int
    public let fields: [String]
  }

  public static func parse(_ text: String) -> (records: [Record], error: (line: Int, message: String)?) {
    var records: [Record] = []
    var fields: [String] = []
    var field = ""
    var inQuotes = false
    var line = 1
    var recordLine = 1
    var atFieldStart = true
    var iterator = Array(text.unicodeScalars.map(Character.init))
    if iterator.first == "\u{FEFF}" { iterator.removeFirst() }
    var i = 0
    func endRecord() {
      fields.append(field)
      if !(fields.count == 1 && fields[0].isEmpty) { records.append(Record(line: recordLine, fields: fields)) }
      fields = []
      field = ""
      atFieldStart = true
    }
    while i < iterator.count {
      let c = iterator[i]
      if inQuotes {
        if c == "\"" {
          if i + 1 < iterator.count, iterator[i + 1] == "\"" {
            field.append("\"")
            i += 1
          } else {
            inQuotes = false
          }
        } else {
          if c == "\n" { line += 1 }
          field.append(c)
        }
      } else {
        switch c {
        case "\"" where atFieldStart:
          inQuotes = true
          atFieldStart = false
        case ",":
          fields.append(field)
          field = ""
          atFieldStart = true
        case "\r":
          break
        case "\n":
          endRecord()
          line += 1
          recordLine = line
        default:
          field.append(c)
          atFieldStart = false
        }
      }
      i += 1
    }
    if inQuotes { return (records, (recordLine, "unterminated quoted field")) }
    if !field.isEmpty || !fields.isEmpty { endRecord() }
    return (records, nil)
  }
}
