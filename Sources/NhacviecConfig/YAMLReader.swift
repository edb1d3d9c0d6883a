import CYaml
import Foundation
public import NhacviecCore
import Yams

/// Reads YAML into `ConfigNode`s that remember file, line and column.
///
/// Before Yams composes a document, one pass over libyaml's events measures it: anchors and
/// aliases make a small file stand for an exponentially large tree (a "billion laughs"), and
/// deep nesting can exhaust the stack. Both are refused with the place where the limit was hit.
public enum YAMLReader {
  /// At most this many nodes may come from aliases in one file (the literal nodes do not count:
  /// they are bounded by the file's size). Reusing a ladder in a hundred rules stays far below.
  public static let maximumAliasedNodes = 100_000
  /// At most this many levels of nesting.
  public static let maximumDepth = 64

  public static func read(
    file path: String, displayName: String? = nil, referencedFrom reference: SourceLocation? = nil
  ) throws(ConfigErrors) -> ConfigNode {
    let name = displayName ?? path
    let text = try TextFile.read(
      path, displayName: name, referencedFrom: reference, limit: TextFile.maximumBytes, kind: "a YAML file")
    return try parse(text, file: name)
  }

  public static func parse(_ text: String, file: String) throws(ConfigErrors) -> ConfigNode {
    if let problem = measure(text, file: file) { throw ConfigErrors([problem]) }
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

  /// Walks libyaml's events once, counting what aliases expand to and how deep nodes nest.
  /// Returns the first limit broken or the first syntax error, or nil.
  static func measure(_ text: String, file: String) -> ConfigError? {
    var parser = yaml_parser_t()
    guard yaml_parser_initialize(&parser) == 1 else { return nil }
    defer { yaml_parser_delete(&parser) }
    let bytes = Array(text.utf8)
    // Where libyaml's character index falls as an editor counts: libyaml also breaks lines at
    // NEL, LS and PS, which editors show inside a line.
    func place(scalarIndex: Int?, byteOffset: Int?) -> SourceLocation {
      var line = 1
      var column = 1
      var scalars = 0
      var offset = 0
      for scalar in text.unicodeScalars {
        if let scalarIndex, scalars >= scalarIndex { break }
        if let byteOffset, offset >= byteOffset { break }
        if scalar == "\n" {
          line += 1
          column = 1
        } else if scalar != "\r" {
          column += 1
        }
        scalars += 1
        offset += String(scalar).utf8.count
      }
      return SourceLocation(file: file, line: line, column: column)
    }
    func syntaxError() -> ConfigError {
      let problem = parser.problem.map { String(cString: $0) } ?? "not YAML"
      if parser.error == YAML_READER_ERROR {
        let value = parser.problem_value >= 0 ? String(format: " (U+%04X)", parser.problem_value) : ""
        return ConfigError(
          "invalid YAML: \(problem)\(value)", at: place(scalarIndex: nil, byteOffset: parser.problem_offset))
      }
      let context = parser.context.map { String(cString: $0) + ": " } ?? ""
      return ConfigError(
        "invalid YAML: \(context)\(problem)", at: place(scalarIndex: parser.problem_mark.index, byteOffset: nil))
    }
    return bytes.withUnsafeBufferPointer { buffer -> ConfigError? in
      yaml_parser_set_input_string(&parser, buffer.baseAddress, buffer.count)
      // Each open collection: its anchor and the size of what it holds so far.
      var open: [(anchor: String?, size: Int)] = []
      var sizes: [String: Int] = [:]
      var aliased = 0
      func here(_ event: yaml_event_t) -> SourceLocation {
        SourceLocation(file: file, line: Int(event.start_mark.line) + 1, column: Int(event.start_mark.column) + 1)
      }
      func anchorName(_ pointer: UnsafeMutablePointer<yaml_char_t>?) -> String? {
        pointer.map { String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self)) }
      }
      // A finished node of `size` nodes: added to its parent, remembered under its anchor.
      func finish(_ size: Int, anchor: String?) {
        if let anchor { sizes[anchor] = size }
        if !open.isEmpty { open[open.count - 1].size = min(Int.max / 2, open[open.count - 1].size + size) }
      }
      while true {
        var event = yaml_event_t()
        guard yaml_parser_parse(&parser, &event) == 1 else { return syntaxError() }
        defer { yaml_event_delete(&event) }
        switch event.type {
        case YAML_STREAM_END_EVENT:
          return nil
        case YAML_SCALAR_EVENT:
          finish(1, anchor: anchorName(event.data.scalar.anchor))
        case YAML_ALIAS_EVENT:
          let size = anchorName(event.data.alias.anchor).flatMap { sizes[$0] } ?? 1
          aliased = min(Int.max / 2, aliased + size)
          if aliased > maximumAliasedNodes {
            return ConfigError(
              "aliases expand to more than \(maximumAliasedNodes) nodes; write the values out, or anchor less",
              at: here(event))
          }
          finish(size, anchor: nil)
        case YAML_SEQUENCE_START_EVENT, YAML_MAPPING_START_EVENT:
          let anchor =
            event.type == YAML_SEQUENCE_START_EVENT
            ? anchorName(event.data.sequence_start.anchor) : anchorName(event.data.mapping_start.anchor)
          open.append((anchor, 1))
          if open.count > maximumDepth {
            return ConfigError("nesting deeper than \(maximumDepth) levels", at: here(event))
          }
        case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
          guard let collection = open.popLast() else { return nil }
          finish(collection.size, anchor: collection.anchor)
        default:
          continue
        }
      }
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
      // The context's text is the whole file: name the key, not the file.
      let keys = duplicates.map { "`\($0)`" }.joined(separator: ", ")
      return ConfigError(
        "duplicate key \(keys) in one map",
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

/// Reads a text file that configuration names, with errors that say which file and, for a file
/// named by another, where it was named.
public enum TextFile {
  /// The most a configuration file may hold: the configuration, a rules file, a calendar, a
  /// rule's tests, a directory (YAML or CSV), a facts file in YAML. The largest shipped is a
  /// province's directory of 208 units in 40 KB; YAML takes some fifty times its size in memory
  /// to read, so a file of this size costs the daemon about 200 MB for a moment (docs/rules.md).
  public static let maximumBytes = 4 << 20
  /// The most a facts file in CSV may hold: a year of facts for every unit and rule of a
  /// province, imported at once, and read at a few times its size.
  public static let maximumFactsCSVBytes = 16 << 20

  /// Reads the file whole, refusing it unread when it holds more than `limit` bytes: `kind` (such
  /// as "a YAML file") says which limit in the error.
  public static func read(
    _ path: String, displayName: String? = nil, referencedFrom reference: SourceLocation?, limit: Int, kind: String
  ) throws(ConfigErrors) -> String {
    let name = displayName ?? path
    let via = reference.map { " (named at \($0))" } ?? ""
    guard let handle = FileHandle(forReadingAtPath: path) else {
      let reason = FileManager.default.fileExists(atPath: path) ? "cannot be read" : "does not exist"
      throw ConfigErrors([ConfigError("\(name) \(reason)", at: reference)])
    }
    defer { try? handle.close() }
    func tooLarge(_ size: String) -> ConfigErrors {
      let most = limit >= 1 << 20 && limit % (1 << 20) == 0 ? "\(limit >> 20) MiB (\(limit) bytes)" : "\(limit) bytes"
      return ConfigErrors([
        ConfigError("\(name) is \(size), over the \(most) that \(kind) may hold; see docs/rules.md", at: reference)
      ])
    }
    // Its size first, from the file system, so that a file too large is not read at all; then at
    // most one byte more than the limit, for a file that grows meanwhile or has no size (a pipe).
    var info = stat()
    if fstat(handle.fileDescriptor, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG, Int(info.st_size) > limit {
      throw tooLarge("\(info.st_size) bytes")
    }
    let data: Data
    do {
      // Nil at the end of the file: an empty file.
      data = try handle.read(upToCount: limit + 1) ?? Data()
    } catch {
      throw ConfigErrors([ConfigError("\(name) cannot be read", at: reference)])
    }
    if data.count > limit { throw tooLarge("more than \(limit) bytes") }
    if let text = String(data: data, encoding: .utf8) { return text }
    // Say where the first byte that is not UTF-8 is, as an editor counts lines and columns.
    let bytes = [UInt8](data)
    var line = 1
    var lineStart = 0
    var offset = 0
    while offset < bytes.count {
      let length = utf8Length(bytes, at: offset)
      guard length > 0 else { break }
      if bytes[offset] == 0x0a {
        line += 1
        lineStart = offset + 1
      }
      offset += length
    }
    let column = String(decoding: bytes[lineStart..<offset], as: UTF8.self).count + 1
    let byte = offset < bytes.count ? String(format: " (byte 0x%02X)", bytes[offset]) : ""
    throw ConfigErrors([
      ConfigError("not UTF-8 text\(byte)\(via)", at: SourceLocation(file: name, line: line, column: column))
    ])
  }

  /// The length of the valid UTF-8 sequence at `offset`, or 0 where there is none.
  static func utf8Length(_ bytes: [UInt8], at offset: Int) -> Int {
    let first = bytes[offset]
    let length: Int
    switch first {
    case 0x00...0x7f: return 1
    case 0xc2...0xdf: length = 2
    case 0xe0...0xef: length = 3
    case 0xf0...0xf4: length = 4
    default: return 0
    }
    guard offset + length <= bytes.count else { return 0 }
    return String(bytes: bytes[offset..<(offset + length)], encoding: .utf8) == nil ? 0 : length
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
