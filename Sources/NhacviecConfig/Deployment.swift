public import Foundation
public import NhacviecCore
import NhacviecExternal

/// Everything one configuration file describes, loaded and validated.
public struct Deployment: Sendable {
  public let configPath: String
  public let zone: Zone
  public let directory: Directory
  public let calendar: WorkingCalendar
  public let ruleset: Ruleset
  public let channels: [String: any ChannelConfiguration]
  /// Every file read, for `check`'s summary and for reload's hash.
  public let files: [String]
  public let daemon: DaemonSettings
  /// The desk (web pages for officers) and the signed links in units' messages; nil: off.
  public let web: WebSettings?
  /// Ladders worked out once for every engine of this configuration.
  public let ladders = LadderCache()
  /// How the rules cite the letter (`{{letter}}`): with its number and date once set.
  public internal(set) var letter = "Công văn"

  /// An engine over these facts. Each engine asks the programs of `exec` rules afresh (once per
  /// rule, period and instant), since the facts are part of the question.
  public func engine(facts: FactBook = FactBook(), silences: SilenceBook = SilenceBook()) -> Engine {
    let external = ruleset.rules.contains { $0.kind is ExecKind } ? ProgramRunner() : nil
    return Engine(
      ruleset: ruleset,
      context: EvaluationContext(
        directory: directory, calendar: calendar, facts: facts, silences: silences, external: external),
      cache: ladders)
  }

}

/// How much the daemon logs, by syslog's priorities.
public enum LogLevel: String, Sendable, CaseIterable {
  case error, warning, notice, info, debug
}

/// Where the daemon keeps its state and socket, and who may change things through the socket.
public struct DaemonSettings: Sendable {
  public var socket: String
  public var state: String
  /// User names or numeric ids allowed to write (record facts, retry, reload), besides root and
  /// the daemon's own user.
  public var writers: [String] = []
  /// Group names or numeric ids whose members may write.
  public var writerGroups: [String] = []
  /// A TCP address serving only `/metrics`, `/-/healthy` and `/-/ready`; nil (the default): none.
  public var httpListen: ListenAddress?
  /// The least urgent log lines written: `info` by default; `notice` leaves out one line per
  /// notice sent, `warning` every line that needs no attention.
  public var logLevel: LogLevel = .info
  /// Where the journal and the facts are: nil (the default) a SQLite file in `state`; or a
  /// PostgreSQL database, which several daemons may share.
  public var store: PostgresStore?
  /// This daemon's name among those sharing `store`: the host's by default.
  public var node: String = ProcessInfo.processInfo.hostName
  /// How long a notice this daemon is sending stays its own without word from it: after it,
  /// another daemon on the same store sends it. Renewed every third of it.
  public var lease: TimeInterval = 30

  /// The defaults: under systemd, its `STATE_DIRECTORY` and `RUNTIME_DIRECTORY`; installed
  /// (configuration under /etc), /var/lib/nhacviec and /run/nhacviec; otherwise a `.nhacviec`
  /// folder beside the configuration file, so that a checkout runs without root.
  static func defaults(configPath: String, environment: [String: String]) -> DaemonSettings {
    let folder = (configPath as NSString).deletingLastPathComponent
    let installed = configPath.hasPrefix("/etc/")
    let local = ((folder.isEmpty ? "." : folder) as NSString).appendingPathComponent(".nhacviec")
    let state =
      environment["STATE_DIRECTORY"].flatMap { $0.split(separator: ":").first.map(String.init) }
      ?? (installed ? "/var/lib/nhacviec" : local)
    let runtime =
      environment["RUNTIME_DIRECTORY"].flatMap { $0.split(separator: ":").first.map(String.init) }
      ?? (installed ? "/run/nhacviec" : local)
    return DaemonSettings(socket: (runtime as NSString).appendingPathComponent("nhacviec.sock"), state: state)
  }
  /// The control socket named by a configuration that may not load (a broken rule, a missing
  /// directory file): its `daemon.socket` if the main file still reads as YAML, else the default
  /// for its place. The command-line client must reach a running daemon to see what is wrong.
  public static func socket(configPath: String) -> String {
    path("socket", configPath: configPath) ?? defaults(configPath: configPath, environment: environment).socket
  }

  /// The state folder named by a configuration that may not load, found as `socket(configPath:)`
  /// finds the socket: a backup of the journal must not wait for a broken rule to be fixed.
  public static func state(configPath: String) -> String {
    path("state", configPath: configPath) ?? defaults(configPath: configPath, environment: environment).state
  }

  /// `daemon.store` as written in a configuration that may not load (its password file
  /// unreadable by whoever runs `backup`): nil when it names none, or the file does not read.
  public static func store(configPath: String) -> String? {
    guard let root = try? YAMLReader.read(file: configPath), let top = try? root.fields("configuration"),
      let daemon = try? top.optional("daemon")?.fields("daemon")
    else { return nil }
    return try? daemon.optional("store")?.string("store")
  }

  private static var environment: [String: String] { ProcessInfo.processInfo.environment }

  /// `daemon.NAME` of the main file, resolved against its folder; nil when it does not read.
  private static func path(_ name: String, configPath: String) -> String? {
    guard let root = try? YAMLReader.read(file: configPath), let top = try? root.fields("configuration"),
      let daemon = try? top.optional("daemon")?.fields("daemon"),
      let value = try? daemon.optional(name)?.string(name)
    else { return nil }
    if value.hasPrefix("/") { return value }
    let base = (configPath as NSString).deletingLastPathComponent
    return ((base.isEmpty ? value : (base as NSString).appendingPathComponent(value)) as NSString).standardizingPath
  }

}

/// `daemon.store`: a PostgreSQL database, by libpq's URL (host, port, user, database, and TLS
/// settings by libpq's names: `?sslmode=verify-full&sslrootcert=…`), its password from a
/// credentials file, never in the URL.
public struct PostgresStore: Sendable, Hashable, CustomStringConvertible {
  public let url: String
  public let passwordFile: SecretFile?

  /// The URL, which holds no secret: said in logs and `status`.
  public var description: String { url }

  /// A URL libpq takes, without a password in it.
  static func check(_ url: String) -> String? {
    guard url.hasPrefix("postgresql://") || url.hasPrefix("postgres://") else {
      return
        "store must be a PostgreSQL URL (postgresql://USER@HOST:PORT/DATABASE), not `\(url)`; leave it out for SQLite"
    }
    let authority = url.drop(while: { $0 != "/" }).dropFirst(2).prefix(while: { $0 != "/" && $0 != "?" })
    if let at = authority.lastIndex(of: "@"), authority[..<at].contains(":") {
      return "store: put the password in store_password_file (a credentials file), not in the URL"
    }
    if url.contains("password=") {
      return "store: put the password in store_password_file (a credentials file), not in the URL"
    }
    return nil
  }
}

/// Finds the configuration: `--config FILE`, else `Rules/nhacviec.yaml` in a checkout, else
/// `/etc/nhacviec/nhacviec.yaml`.
public enum ConfigLocator {
  public static let installed = "/etc/nhacviec/nhacviec.yaml"
  public static let checkout = "Rules/nhacviec.yaml"

  public static func path(
    explicit: String?, workingDirectory: String = FileManager.default.currentDirectoryPath
  )
    -> String
  {
    if let explicit { return explicit }
    let local = (workingDirectory as NSString).appendingPathComponent(checkout)
    if FileManager.default.fileExists(atPath: local) { return local }
    return installed
  }
}

/// Loads a deployment from its configuration file, collecting every error it finds.
public struct DeploymentLoader {
  public let registry: RuleKindRegistry
  public let channelKinds: ChannelKindRegistry
  /// Where secrets named by file name are read: `$CREDENTIALS_DIRECTORY`, as systemd hands them
  /// to the daemon (`LoadCredential=`), unless `check --credentials DIR` names the folder they
  /// come from.
  public var credentials: String?

  public init(
    registry: RuleKindRegistry = .builtIn, channelKinds: ChannelKindRegistry = .builtIn,
    credentials: String? = ProcessInfo.processInfo.environment["CREDENTIALS_DIRECTORY"]
  ) {
    self.registry = registry
    self.channelKinds = channelKinds
    self.credentials = credentials
  }

  public func load(configPath: String) throws(ConfigErrors) -> Deployment {
    var errors: [ConfigError] = []
    let root = try YAMLReader.read(file: configPath, displayName: configPath)
    let base = (configPath as NSString).deletingLastPathComponent
    func resolve(_ path: String) -> String {
      let joined = path.hasPrefix("/") ? path : (base.isEmpty ? path : (base as NSString).appendingPathComponent(path))
      return (joined as NSString).standardizingPath
    }
    var files = [configPath]
    func collect<T>(_ body: () throws -> T) -> T? {
      do { return try body() } catch let error as ConfigError {
        errors.append(error)
      } catch let error as ConfigErrors {
        errors += error.errors
      } catch {
        errors.append(ConfigError("\(error)", at: nil))
      }
      return nil
    }

    guard let fields = collect({ try root.fields("the configuration") }) else { throw ConfigErrors(errors) }

    // Time.
    var zone = Zone.vietnam
    if let node = fields.optional("timezone") {
      _ = collect {
        let name = try node.string("timezone")
        guard let tz = TimeZone(identifier: name) else { throw node.error("unknown timezone \(name)") }
        zone = Zone(tz)
      }
    }

    // Calendar.
    var workingWeekdays: Set<Weekday> = [.monday, .tuesday, .wednesday, .thursday, .friday]
    var holidayRules = HolidayRules.vietnam
    var overrides: [WorkingCalendar.YearOverride] = []
    var dayOff = WorkingCalendar.DayOffRule.stands
    if let node = fields.optional("calendar") {
      _ = collect {
        let calendarFields = try node.fields("calendar")
        if let days = calendarFields.optional("working_days") {
          var set: Set<Weekday> = []
          for item in try days.list("working_days") {
            guard let day = Weekday(name: try item.string("working_days")) else {
              throw item.error("unknown weekday \(item.scalar ?? ""); use mon, tue, wed, thu, fri, sat, sun")
            }
            set.insert(day)
          }
          guard !set.isEmpty else { throw days.error("working_days needs at least one day") }
          workingWeekdays = set
        }
        if let holidays = calendarFields.optional("holidays") {
          switch try holidays.string("holidays") {
          case "vietnam": holidayRules = .vietnam
          case "none": holidayRules = .none
          case let other: throw holidays.error("unknown holiday rules \(other); use vietnam or none")
          }
        }
        if let rule = calendarFields.optional("deadline_on_day_off") {
          let text = try rule.string("deadline_on_day_off")
          guard let value = WorkingCalendar.DayOffRule(rawValue: text) else {
            throw rule.error("unknown deadline_on_day_off \(text); use next-working-day or stands")
          }
          dayOff = value
        }
        if let folder = calendarFields.optional("overrides") {
          let path = resolve(try folder.string("overrides"))
          guard FileManager.default.fileExists(atPath: path) else {
            throw folder.error("no calendar overrides at \(path)")
          }
          var years: [Int: String] = [:]
          for file in yamlFiles(in: path) {
            files.append(file)
            guard let override = collect({ try CalendarLoader.override(file: file, zone: zone) }) else { continue }
            if let other = years[override.year] {
              errors.append(
                ConfigError(
                  "a second override for \(override.year) (the first is \(other))",
                  at: SourceLocation(file: file, line: 1)))
            }
            years[override.year] = file
            overrides.append(override)
          }
        }
        try calendarFields.finish()
      }
    }
    let calendar = WorkingCalendar(
      zone: zone, workingWeekdays: workingWeekdays, holidayRules: holidayRules, overrides: overrides, dayOff: dayOff)

    // Directory.
    var units: [OrgUnit] = []
    if let node = fields.optional("directory") {
      for source in (collect { try node.list("directory") } ?? []) {
        _ = collect {
          let sourceFields = try source.fields("a directory source")
          let fileNode = try sourceFields.required("file")
          let path = resolve(try fileNode.string("file"))
          let validFrom = try sourceFields.optional("valid_from").map(DirectoryLoader.date)
          let validTo = try sourceFields.optional("valid_to").map(DirectoryLoader.date)
          try sourceFields.finish()
          files.append(path)
          units += try DirectoryLoader.load(
            file: path, validFrom: validFrom, validTo: validTo, referencedFrom: fileNode.location)
        }
      }
    } else {
      errors.append(ConfigError("the configuration needs `directory`", at: root.location))
    }
    let directory = collect { try Directory(units: units) }

    // Planning settings.
    var settings = PlanSettings()
    if let node = fields.optional("send_window") {
      _ = collect {
        let w = try node.fields("send_window")
        let opens = try w.optional("opens").map { n in try Self.time(n) } ?? settings.sendWindow.opens
        let closes = try w.optional("closes").map { n in try Self.time(n) } ?? settings.sendWindow.closes
        try w.finish()
        guard opens < closes else { throw node.error("send_window opens must be before it closes") }
        settings.sendWindow = SendWindow(opens: opens, closes: closes)
      }
    }
    if let node = fields.optional("digest") {
      _ = collect {
        let d = try node.fields("digest")
        if let min = d.optional("minimum") {
          guard let value = Int(try min.string("minimum")), value >= 0 else {
            throw min.error("digest minimum must be a whole number (0 turns digests off)")
          }
          settings.digestMinimum = value
        }
        try d.finish()
      }
    }

    // Channels.
    var channels: [String: any ChannelConfiguration] = [:]
    var brokenChannels: Set<String> = []
    let secretContext = ChannelContext(
      resolve: { @Sendable path in
        let joined =
          path.hasPrefix("/") ? path : (base.isEmpty ? path : (base as NSString).appendingPathComponent(path))
        return (joined as NSString).standardizingPath
      }, credentials: credentials)
    if let node = fields.optional("channels") {
      let context = secretContext
      _ = collect {
        for entry in try node.fields("channels").all() {
          if let channel = collect({ try channel(name: entry.key, at: entry.keyLocation, node: entry.value, context) })
          {
            channels[entry.key] = channel
          } else {
            brokenChannels.insert(entry.key)
          }
        }
      }
    }

    // The daemon.
    var daemon = DaemonSettings.defaults(configPath: configPath, environment: ProcessInfo.processInfo.environment)
    if let node = fields.optional("daemon") {
      _ = collect {
        let d = try node.fields("daemon")
        if let socket = d.optional("socket") { daemon.socket = resolve(try socket.string("socket")) }
        if let state = d.optional("state") { daemon.state = resolve(try state.string("state")) }
        daemon.writers = try d.optional("writers")?.strings("writers") ?? []
        daemon.writerGroups = try d.optional("writer_groups")?.strings("writer_groups") ?? []
        if let node = d.optional("log_level") {
          let text = try node.string("log_level")
          guard let level = LogLevel(rawValue: text) else {
            throw node.error(
              "log_level must be one of \(LogLevel.allCases.map(\.rawValue).joined(separator: ", ")), not `\(text)`")
          }
          daemon.logLevel = level
        }
        if let node = d.optional("http_listen") {
          switch ListenAddress.parse(try node.string("http_listen")) {
          case .success(let address): daemon.httpListen = address
          case .failure(let why): throw node.error("http_listen: \(why)")
          }
        }
        if let node = d.optional("node") {
          let name = try node.string("node")
          guard !name.isEmpty, name.count <= 64, name.allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) })
          else {
            throw node.error("node must be a name of letters, digits, `-`, `_` and `.` (at most 64), not `\(name)`")
          }
          daemon.node = name
        }
        daemon.lease = try d.duration("lease", default: daemon.lease, in: 1...3600)
        let password = try d.secret("store_password_file", secretContext)
        if let node = d.optional("store") {
          let url = try node.string("store")
          if let why = PostgresStore.check(url) { throw node.error(why) }
          daemon.store = PostgresStore(url: url, passwordFile: password)
        } else if let password {
          throw ConfigError("store_password_file needs `store` (a PostgreSQL URL)", at: password.location)
        }
        try d.finish()
      }
    }

    // The letter the rules cite as `{{letter}}`: its number and date are not in the copy the
    // deployment was built from, so they are cited only once the Department sets them.
    var letter = "Công văn"
    if let node = fields.optional("letter") {
      _ = collect {
        let l = try node.fields("letter")
        if let number = l.optional("number") {
          let text = try number.string("number")
          guard text.contains("/"), !text.contains(where: { $0.isWhitespace }) else {
            throw number.error("letter number must read like 1234/UBND-KGVX, not `\(text)`")
          }
          letter += " số \(text)"
        }
        if let date = l.optional("date") { letter += " ngày \(try DirectoryLoader.date(date).vietnamese)" }
        try l.finish()
      }
    }

    // Rules.
    var rules: [Rule] = []
    if let node = fields.optional("rules") {
      _ = collect {
        let path = resolve(try node.string("rules"))
        let ruleFiles = yamlFiles(in: path)
        if ruleFiles.isEmpty { throw node.error("no rule files (*.yaml) in \(path)") }
        for file in ruleFiles {
          files.append(file)
          let parser = RuleParser(registry: registry, letter: letter)
          let parsed = parser.parseCollecting(file: file)
          rules += parsed.rules
          errors += parsed.errors
        }
      }
    } else {
      errors.append(ConfigError("the configuration needs `rules` (a folder of rule files)", at: root.location))
    }
    // The desk.
    var web: WebSettings?
    if let node = fields.optional("web") {
      web = collect { () throws(ConfigError) -> WebSettings in
        try WebSettings(node: node, context: secretContext)
      }
    }

    _ = collect { try fields.finish() }

    let specs = channels.mapValues { $0.spec }
    errors += RuleParser.crossCheck(rules: rules, directory: directory, channels: specs, broken: brokenChannels)
    if !errors.isEmpty || directory == nil { throw ConfigErrors(errors) }
    var deployment = Deployment(
      configPath: configPath, zone: zone, directory: directory!, calendar: calendar,
      ruleset: Ruleset(rules: rules, channels: specs, settings: settings), channels: channels, files: files,
      daemon: daemon, web: web)
    deployment.letter = letter
    return deployment
  }

  static func time(_ node: ConfigNode) throws(ConfigError) -> TimeOfDay {
    guard let time = TimeOfDay(try node.string("time")) else { throw node.error("expected a time such as 08:00") }
    return time
  }

  /// One channel's configuration from its map, by its `type:`.
  public func channel(
    name: String, at keyLocation: SourceLocation, node: ConfigNode, _ context: ChannelContext
  ) throws(ConfigError) -> any ChannelConfiguration {
    guard !name.isEmpty, name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") })
    else {
      throw ConfigError("a channel name uses letters, digits, - and _ only: `\(name)`", at: keyLocation)
    }
    let fields = try node.fields("channel \(name)")
    let typeNode = try fields.required("type")
    let type = try typeNode.string("type")
    guard let parse = channelKinds.parser(for: type) else {
      throw typeNode.error(
        "channel \(name): unknown type \(type) (known: \(channelKinds.types.joined(separator: ", ")))")
    }
    let channel = try parse(name, fields, context)
    try fields.finish()
    return channel
  }
}

/// The `*.yaml` files of a folder in name order, or the file itself.
func yamlFiles(in path: String) -> [String] {
  var isDirectory: ObjCBool = false
  guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { return [] }
  guard isDirectory.boolValue else { return [path] }
  let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
  return names.filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }.sorted()
    .map { (path as NSString).appendingPathComponent($0) }
}

/// An IP address and port to listen on: `127.0.0.1:9469`, `[::1]:9469`, `0.0.0.0:9469`.
public struct ListenAddress: Sendable, Hashable, CustomStringConvertible {
  /// The numeric address, without brackets.
  public let host: String
  public let port: UInt16
  public let isIPv6: Bool

  public struct Invalid: Error, CustomStringConvertible {
    public let description: String
  }

  /// The address, or why it is not one. Only numeric addresses: a name would be looked up at
  /// start, and could then listen somewhere nobody meant.
  public static func parse(_ text: String) -> Result<ListenAddress, Invalid> {
    let example = "write ADDRESS:PORT with a numeric address, such as 127.0.0.1:9469 or [::1]:9469"
    guard let colon = text.lastIndex(of: ":") else {
      return .failure(Invalid(description: "no port in \(text); \(example)"))
    }
    var host = String(text[..<colon])
    let portText = text[text.index(after: colon)...]
    guard let port = UInt16(portText), port > 0 else {
      return .failure(Invalid(description: "port must be 1 to 65535, not `\(portText)`; \(example)"))
    }
    let bracketed = host.hasPrefix("[") && host.hasSuffix("]")
    if bracketed { host = String(host.dropFirst().dropLast()) }
    var v4 = in_addr()
    var v6 = in6_addr()
    if !bracketed, !host.isEmpty, inet_pton(AF_INET, host, &v4) == 1 {
      return .success(ListenAddress(host: host, port: port, isIPv6: false))
    }
    if bracketed, inet_pton(AF_INET6, host, &v6) == 1 {
      return .success(ListenAddress(host: host, port: port, isIPv6: true))
    }
    if !bracketed, host.contains(":") {
      return .failure(Invalid(description: "an IPv6 address goes in brackets: [\(host)]:\(port)"))
    }
    return .failure(Invalid(description: "`\(host)` is not a numeric IP address; \(example)"))
  }

  public var description: String { isIPv6 ? "[\(host)]:\(port)" : "\(host):\(port)" }
}
