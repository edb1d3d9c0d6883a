import Foundation
public import NhacviecCore

/// Reads units from CSV (`id,name,kind,parent_id`, then optional `tags`, `valid_from`, `valid_to`
/// and contact columns `ROLE.name`, `ROLE.email`, `ROLE.webhook`) or from YAML.
public enum DirectoryLoader {
  /// `reference` is where the configuration names the file, for errors about the file itself.
  public static func load(
    file: String, validFrom: LocalDate? = nil, validTo: LocalDate? = nil,
    referencedFrom reference: SourceLocation? = nil
  ) throws(ConfigErrors)
    -> [OrgUnit]
  {
    if file.hasSuffix(".csv") {
      return try csv(file: file, validFrom: validFrom, validTo: validTo, reference: reference)
    }
    return try yaml(file: file, validFrom: validFrom, validTo: validTo, reference: reference)
  }

  static func date(_ node: ConfigNode) throws(ConfigError) -> LocalDate {
    guard let date = LocalDate(iso: try node.string("date")) else {
      throw node.error("expected a date as YYYY-MM-DD, not \(node.scalar ?? "")")
    }
    return date
  }

  static func csv(
    file: String, validFrom: LocalDate?, validTo: LocalDate?, reference: SourceLocation?
  ) throws(ConfigErrors) -> [OrgUnit] {
    let text = try TextFile.read(
      file, referencedFrom: reference, limit: TextFile.maximumBytes, kind: "a directory file")
    let (records, parseError) = CSVReader.parse(text)
    if let parseError {
      throw ConfigErrors([ConfigError(parseError.message, at: SourceLocation(file: file, line: parseError.line))])
    }
    guard let header = records.first?.fields else {
      throw ConfigErrors([ConfigError("empty directory file", at: SourceLocation(file: file, line: 1))])
    }
    let columns = Dictionary(header.enumerated().map { ($1.trimmingCharacters(in: .whitespaces), $0) }) { a, _ in a }
    var errors: [ConfigError] = []
    for required in ["id", "name", "kind", "parent_id"] where columns[required] == nil {
      errors.append(ConfigError("missing column \(required)", at: SourceLocation(file: file, line: 1)))
    }
    let known: Set<String> = ["id", "name", "kind", "parent_id", "tags", "valid_from", "valid_to"]
    var contactColumns: [(role: String, field: String, index: Int)] = []
    for (name, index) in columns where !known.contains(name) {
      let parts = name.split(separator: ".")
      guard parts.count == 2, ["name", "email", "webhook"].contains(parts[1]) else {
        errors.append(
          ConfigError(
            "unknown column \(name) (contacts are ROLE.name, ROLE.email, ROLE.webhook)",
            at: SourceLocation(file: file, line: 1, column: index + 1)))
        continue
      }
      contactColumns.append((String(parts[0]), String(parts[1]), index))
    }
    if !errors.isEmpty { throw ConfigErrors(errors) }
    var units: [OrgUnit] = []
    for record in records.dropFirst() {
      let here = SourceLocation(file: file, line: record.line)
      guard record.fields.count == header.count else {
        errors.append(ConfigError("expected \(header.count) fields, found \(record.fields.count)", at: here))
        continue
      }
      func value(_ column: String) -> String? {
        guard let index = columns[column] else { return nil }
        let v = record.fields[index].trimmingCharacters(in: .whitespaces)
        return v.isEmpty ? nil : v
      }
      guard let id = value("id"), let name = value("name"), let kind = value("kind") else {
        errors.append(ConfigError("id, name and kind must not be empty", at: here))
        continue
      }
      var from = validFrom
      var to = validTo
      if let text = value("valid_from") {
        guard let d = LocalDate(iso: text) else {
          errors.append(ConfigError("valid_from must be YYYY-MM-DD, not \(text)", at: here))
          continue
        }
        from = d
      }
      if let text = value("valid_to") {
        guard let d = LocalDate(iso: text) else {
          errors.append(ConfigError("valid_to must be YYYY-MM-DD, not \(text)", at: here))
          continue
        }
        to = d
      }
      var contacts: [String: (name: String?, email: String?, webhook: String?)] = [:]
      for column in contactColumns {
        let v = record.fields[column.index].trimmingCharacters(in: .whitespaces)
        guard !v.isEmpty else { continue }
        var c = contacts[column.role] ?? (nil, nil, nil)
        switch column.field {
        case "name": c.name = v
        case "email": c.email = v
        default: c.webhook = v
        }
        contacts[column.role] = c
      }
      let tags = Set((value("tags") ?? "").split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) })
        .subtracting([""])
      units.append(
        OrgUnit(
          id: id, name: name, kind: kind, tags: tags, parentID: value("parent_id"),
          contacts: contacts.mapValues { Contact(name: $0.name, email: $0.email, webhook: $0.webhook) },
          validFrom: from, validTo: to, location: here))
    }
    if !errors.isEmpty { throw ConfigErrors(errors) }
    return units
  }

  static func yaml(
    file: String, validFrom: LocalDate?, validTo: LocalDate?, reference: SourceLocation?
  ) throws(ConfigErrors) -> [OrgUnit] {
    let root = try YAMLReader.read(file: file, referencedFrom: reference)
    var errors: [ConfigError] = []
    var units: [OrgUnit] = []
    do {
      let list: [ConfigNode]
      if case .map = root.value {
        let fields = try root.fields("a directory file")
        list = try fields.required("units").list("units")
        try fields.finish()
      } else {
        list = try root.list("units")
      }
      for node in list {
        do {
          let f = try node.fields("a unit")
          let id = try f.required("id").string("id")
          let name = try f.required("name").string("name")
          let kind = try f.required("kind").string("kind")
          let parent = try f.optional("parent")?.string("parent")
          let tags = Set(try f.optional("tags")?.strings("tags") ?? [])
          let from = try f.optional("valid_from").map(date) ?? validFrom
          let to = try f.optional("valid_to").map(date) ?? validTo
          var contacts: [String: Contact] = [:]
          if let c = f.optional("contacts") {
            for entry in try c.fields("contacts").all() {
              let cf = try entry.value.fields("contact \(entry.key)")
              contacts[entry.key] = Contact(
                name: try cf.optional("name")?.string("name"), email: try cf.optional("email")?.string("email"),
                webhook: try cf.optional("webhook")?.string("webhook"))
              try cf.finish()
            }
          }
          try f.finish()
          units.append(
            OrgUnit(
              id: id, name: name, kind: kind, tags: tags, parentID: parent, contacts: contacts, validFrom: from,
              validTo: to, location: node.location))
        } catch {
          errors.append(error)
        }
      }
    } catch {
      errors.append(error)
    }
    if !errors.isEmpty { throw ConfigErrors(errors) }
    return units
  }
}

/// Reads a year's official schedule (`calendar/2026.yaml`).
public enum CalendarLoader {
  public static func override(file: String, zone: Zone) throws(ConfigErrors) -> WorkingCalendar.YearOverride {
    let root = try YAMLReader.read(file: file)
    do {
      let f = try root.fields("a calendar override")
      let yearNode = try f.required("year")
      guard let year = Int(try yearNode.string("year")) else { throw yearNode.error("year must be a number") }
      let reference = try f.optional("reference")?.string("reference")
      let replaces = Set(try f.optional("replaces")?.strings("replaces") ?? [])
      let knownHolidays = HolidayRules.vietnam.ids
      if let unknown = replaces.subtracting(knownHolidays).sorted().first {
        throw f.node.error(
          "unknown holiday \(unknown) in replaces (known: \(knownHolidays.sorted().joined(separator: ", ")))")
      }
      var days: [WorkingCalendar.Day] = []
      for (key, isWorking) in [("days_off", false), ("working_days", true)] {
        for item in try f.optional(key)?.list(key) ?? [] {
          let d = try item.fields("an entry of \(key)")
          let name = try d.required("name").string("name")
          let holiday = try d.optional("holiday")?.string("holiday")
          // A day added later cites its own document instead of the file's.
          let entryReference = try d.optional("reference")?.string("reference") ?? reference
          let from: LocalDate
          let to: LocalDate
          let single = d.optional("date")
          let first = d.optional("from")
          let last = d.optional("to")
          if let single, first == nil, last == nil {
            from = try DirectoryLoader.date(single)
            to = from
          } else if single == nil, let first, let last {
            from = try DirectoryLoader.date(first)
            to = try DirectoryLoader.date(last)
          } else {
            throw item.error("give either `date`, or `from` and `to`")
          }
          try d.finish()
          guard from <= to else { throw item.error("`from` must not be after `to`") }
          guard from.year == year, to.year == year else { throw item.error("dates must be in \(year)") }
          for n in from.dayNumber...to.dayNumber {
            days.append(
              WorkingCalendar.Day(
                date: LocalDate(dayNumber: n), isWorking: isWorking, name: name, holiday: holiday, source: .override,
                reference: entryReference))
          }
        }
      }
      try f.finish()
      return WorkingCalendar.YearOverride(year: year, reference: reference, replaces: replaces, days: days)
    } catch {
      throw ConfigErrors([error as? ConfigError ?? ConfigError("\(error)", at: root.location)])
    }
  }
}
