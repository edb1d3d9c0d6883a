public import NhacviecCore

/// The control API's shapes, version 1, under `/v1/` on the Unix socket. Codable both ways so
/// the daemon and the client commands share one definition; no networking here.
public enum ControlAPI {
  public struct Status: Codable, Sendable {
    public struct Rules: Codable, Sendable {
      public let count: Int
      /// SHA-256 over every configuration file read: changes when anything does.
      public let hash: String

      public init(count: Int, hash: String) {
        self.count = count
        self.hash = hash
      }
    }

    public struct Reload: Codable, Sendable {
      public let at: String
      public let ok: Bool
      public let error: String?

      public init(at: String, ok: Bool, error: String?) {
        self.at = at
        self.ok = ok
        self.error = error
      }
    }

    public let version: String
    public let uptimeSeconds: Int
    public let config: String
    public let now: String
    public let rules: Rules
    public let lastReload: Reload
    public let lastPass: String?
    /// Set while passes fail (a full disk, a broken journal): the error and since when.
    public let lastPassError: Failing?
    /// Set while delivery cannot read or write the journal: the error and since when.
    public let deliveryError: Failing?
    public let nextWakeup: String?
    public let journal: [String: Int]
    public let channelsFailing: [String]
    /// Each channel, configured or with notices in the journal: its counts and last error (nil
    /// from a daemon older than the client, before `channels` existed).
    public let channels: [Channel]?
    /// Rules whose program could not judge at the last pass; their notices wait until it can.
    public let rulesFailing: [RuleFailure]
    /// Risks the operator should see: a year ahead without its official calendar.
    public let warnings: [String]
    /// Silences in force now: what they hold is journaled as `silenced`, not sent.
    public let silences: [Silence]
    /// Decisions planned under a key the journal already held with something else in it, since
    /// the journal was made: the journal's row stood, and the log said which (nil from a daemon
    /// older than the client). 0 in a healthy deployment.
    public let journalConflicts: Int?
    /// Set while the store (a PostgreSQL server) cannot be read: why; the journal's counts are
    /// then empty, not zero.
    public var storeError: String?
    /// Several daemons on one PostgreSQL store: this one's role and the nodes seen; nil on SQLite.
    public var cluster: Cluster?

    public struct Cluster: Codable, Sendable {
      /// `leader` (plans and delivers), `follower` (delivers) or `cut-off` (the store cannot be reached).
      public let role: String
      public let node: String
      /// The leadership epoch this node holds; nil unless it leads.
      public let epoch: Int64?
      /// Set while the store cannot be reached: why, and since when.
      public let error: Failing?
      public let nodes: [Node]

      public struct Node: Codable, Sendable {
        public let node: String
        public let host: String
        public let pid: Int
        public let role: String
        public let epoch: Int64?
        public let seenAt: String
        public let secondsAgo: Int

        public init(node: String, host: String, pid: Int, role: String, epoch: Int64?, seenAt: String, secondsAgo: Int)
        {
          self.node = node
          self.host = host
          self.pid = pid
          self.role = role
          self.epoch = epoch
          self.seenAt = seenAt
          self.secondsAgo = secondsAgo
        }

        enum CodingKeys: String, CodingKey {
          case node, host, pid, role, epoch
          case seenAt = "seen_at"
          case secondsAgo = "seconds_ago"
        }
      }

      public init(role: String, node: String, epoch: Int64?, error: Failing?, nodes: [Node]) {
        self.role = role
        self.node = node
        self.epoch = epoch
        self.error = error
        self.nodes = nodes
      }
    }

    public struct Failing: Codable, Sendable {
      public let error: String
      public let since: String

      public init(error: String, since: String) {
        self.error = error
        self.since = since
      }
    }

    /// Whether anything is wrong enough for `status` to exit 1. A dead notice an operator has
    /// acknowledged no longer is: it stays dead and visible, but has been seen.
    public var isHealthy: Bool {
      lastReload.ok && lastPassError == nil && deliveryError == nil && channelsFailing.isEmpty
        && deadUnacknowledged == 0 && rulesFailing.isEmpty && cluster?.error == nil
        && storeError == nil
    }

    /// Dead notices nobody has acknowledged (`nhacviec ack`); every dead one for a daemon that
    /// does not tell.
    public var deadUnacknowledged: Int {
      channels?.reduce(0) { $0 + $1.deadUnacknowledged } ?? journal[NoticeState.dead.rawValue] ?? 0
    }

    /// One channel as the journal and its attempts show it.
    public struct Channel: Codable, Sendable {
      public let name: String
      public let sent: Int
      /// Failed and waiting for another attempt.
      public let failed: Int
      public let dead: Int
      public let deadUnacknowledged: Int
      /// The reason of its latest attempt that did not reach everyone.
      public let lastError: String?
      public let lastErrorAt: String?
      /// Set while its latest attempt failed: the first failure since its last success.
      public let failingSince: String?

      public init(
        name: String, sent: Int, failed: Int, dead: Int, deadUnacknowledged: Int, lastError: String?,
        lastErrorAt: String?, failingSince: String?
      ) {
        self.name = name
        self.sent = sent
        self.failed = failed
        self.dead = dead
        self.deadUnacknowledged = deadUnacknowledged
        self.lastError = lastError
        self.lastErrorAt = lastErrorAt
        self.failingSince = failingSince
      }

      enum CodingKeys: String, CodingKey {
        case name, sent, failed, dead
        case deadUnacknowledged = "dead_unacknowledged"
        case lastError = "last_error"
        case lastErrorAt = "last_error_at"
        case failingSince = "failing_since"
      }
    }

    public struct RuleFailure: Codable, Sendable {
      public let rule: String
      public let period: String
      public let error: String
      /// Notices of this rule due since this instant are held back (nil: since the first start).
      public let since: String?

      public init(rule: String, period: String, error: String, since: String?) {
        self.rule = rule
        self.period = period
        self.error = error
        self.since = since
      }
    }

    public init(
      version: String, uptimeSeconds: Int, config: String, now: String, rules: Rules, lastReload: Reload,
      lastPass: String?, lastPassError: Failing? = nil, deliveryError: Failing? = nil, nextWakeup: String?,
      journal: [String: Int], channelsFailing: [String], channels: [Channel]? = nil, rulesFailing: [RuleFailure] = [],
      warnings: [String] = [], silences: [Silence] = [], journalConflicts: Int? = nil, cluster: Cluster? = nil
    ) {
      self.cluster = cluster
      self.silences = silences
      self.journalConflicts = journalConflicts
      self.version = version
      self.uptimeSeconds = uptimeSeconds
      self.config = config
      self.now = now
      self.rules = rules
      self.lastReload = lastReload
      self.lastPass = lastPass
      self.lastPassError = lastPassError
      self.deliveryError = deliveryError
      self.nextWakeup = nextWakeup
      self.journal = journal
      self.channelsFailing = channelsFailing
      self.channels = channels
      self.rulesFailing = rulesFailing
      self.warnings = warnings
    }

    enum CodingKeys: String, CodingKey {
      case version, config, now, rules, journal, warnings, channels, silences, cluster
      case uptimeSeconds = "uptime_seconds"
      case lastReload = "last_reload"
      case lastPass = "last_pass"
      case lastPassError = "last_pass_error"
      case deliveryError = "delivery_error"
      case nextWakeup = "next_wakeup"
      case channelsFailing = "channels_failing"
      case rulesFailing = "rules_failing"
      case journalConflicts = "journal_conflicts"
      case storeError = "store_error"
    }
  }

  public struct Finding: Codable, Sendable {
    public let rule: String
    public let unit: String
    public let unitName: String
    public let period: String
    public let state: FindingState
    public let deadline: String
    public let satisfiedAt: String?
    public let reference: String?
    public let missing: [String]?
    /// The silence holding its notices now, if any.
    public let silenced: Silence?

    public init(
      rule: String, unit: String, unitName: String, period: String, state: FindingState, deadline: String,
      satisfiedAt: String?, reference: String?, missing: [String]?, silenced: Silence? = nil
    ) {
      self.silenced = silenced
      self.rule = rule
      self.unit = unit
      self.unitName = unitName
      self.period = period
      self.state = state
      self.deadline = deadline
      self.satisfiedAt = satisfiedAt
      self.reference = reference
      self.missing = missing
    }

    enum CodingKeys: String, CodingKey {
      case rule, unit, period, state, deadline, reference, missing, silenced
      case unitName = "unit_name"
      case satisfiedAt = "satisfied_at"
    }
  }

  public struct Notice: Codable, Sendable {
    public let key: String
    public let channel: String
    public let at: String
    public let reason: NoticeReason
    public let state: NoticeState?
    public let attempts: Int?
    public let lastError: String?
    public let to: [String]
    /// The subject it was sent with; for one not sent yet, the one it would have now.
    public let subject: String?
    /// A dead notice an operator has acknowledged: who (uid) and when.
    public let acknowledgedBy: UInt32?
    public let acknowledgedAt: String?
    /// In `upcoming`, for a notice already in the queue: what it waits for (`window`, `retry`,
    /// `silence`), or `due` when it goes at the next turn; nil for one not planned yet.
    public var waits: String? = nil

    public init(
      key: String, channel: String, at: String, reason: NoticeReason, state: NoticeState?, attempts: Int?,
      lastError: String?, to: [String], subject: String?, acknowledgedBy: UInt32? = nil, acknowledgedAt: String? = nil
    ) {
      self.key = key
      self.channel = channel
      self.at = at
      self.reason = reason
      self.state = state
      self.attempts = attempts
      self.lastError = lastError
      self.to = to
      self.subject = subject
      self.acknowledgedBy = acknowledgedBy
      self.acknowledgedAt = acknowledgedAt
    }

    enum CodingKeys: String, CodingKey {
      case key, channel, at, reason, state, attempts, to, subject, waits
      case lastError = "last_error"
      case acknowledgedBy = "acknowledged_by"
      case acknowledgedAt = "acknowledged_at"
    }
  }

  /// `GET /v1/notices?key=`: one notice through each channel, and every attempt made.
  public struct NoticeHistory: Codable, Sendable {
    public struct Attempt: Codable, Sendable {
      public let channel: String
      public let number: Int
      public let at: String
      public let outcome: String
      public let detail: String
      /// Each address and what became of it.
      public let reached: [String: String]

      public init(channel: String, number: Int, at: String, outcome: String, detail: String, reached: [String: String])
      {
        self.channel = channel
        self.number = number
        self.at = at
        self.outcome = outcome
        self.detail = detail
        self.reached = reached
      }
    }

    public let key: String
    public let notices: [Notice]
    public let attempts: [Attempt]

    public init(key: String, notices: [Notice], attempts: [Attempt]) {
      self.key = key
      self.notices = notices
      self.attempts = attempts
    }
  }

  /// `GET /v1/explain`: why a unit is where it is, as the wire carries it.
  public struct Explanation: Codable, Sendable {
    public struct Step: Codable, Sendable {
      public let step: String
      public let at: String
      public let status: NhacviecCore.Explanation.StepStatus
      public let to: [String]
      /// What the journal holds of the rung, each notice of it with its state (`sent`,
      /// `suppressed: met (1/BC) before it was sent`, a revision sent after a correction as
      /// `#1 sent`, one carried by a digest as `in a digest: sent`); empty when it was never
      /// planned, nil when computed from the files (`explain --offline`).
      public var journal: [String]?

      public init(
        step: String, at: String, status: NhacviecCore.Explanation.StepStatus, to: [String], journal: [String]?
      ) {
        self.step = step
        self.at = at
        self.status = status
        self.to = to
        self.journal = journal
      }
    }

    public struct Obligation: Codable, Sendable {
      public let rule: String
      public let title: String
      public let basis: String
      public let period: String
      /// A finding's state, or `not-judged` when the rule's program could not judge.
      public let state: String
      public let due: String
      public let deadline: String
      public let facts: [String]
      public let details: [String]
      public let ladder: [Step]
      public let stops: String
    }

    public let unit: String
    public let unitName: String
    public let at: String
    public let obligations: [Obligation]

    /// `journal` says what the journal holds of each rung, by its key; nil offline.
    public init(
      _ explanation: NhacviecCore.Explanation, zone: Zone, journal: ((NoticeKey) throws -> [String])? = nil
    ) rethrows {
      unit = explanation.unit
      unitName = explanation.unitName
      at = zone.rfc3339(explanation.at)
      obligations = try explanation.obligations.map { o in
        Obligation(
          rule: o.rule, title: o.title, basis: o.basis, period: o.period.description,
          state: o.state?.rawValue ?? "not-judged", due: o.due, deadline: zone.rfc3339(o.deadline),
          facts: o.facts, details: o.details,
          ladder: try o.ladder.map {
            Step(
              step: $0.step, at: zone.rfc3339($0.at), status: $0.status, to: $0.to.map(SafeURL.shown),
              journal: try journal?($0.key))
          },
          stops: o.stops)
      }
    }
  }

  /// A fact to record: the same fields as a facts file.
  public struct FactRequest: Codable, Sendable {
    public var kind: String
    public var unit: String
    public var rule: String
    public var period: String
    public var at: String?
    public var reference: String?
    public var amount: String?
    public var due: String?
    public var by: String?
    public var reason: String?
    /// Where the fact stands in the file it came from, for errors that point there.
    public var line: Int?

    public init(kind: String, unit: String, rule: String, period: String) {
      self.kind = kind
      self.unit = unit
      self.rule = rule
      self.period = period
    }
  }

  /// A whole file's facts: recorded together, or none of them.
  public struct FactBatch: Codable, Sendable {
    /// The file's name, for errors (`facts.csv:7: …`).
    public var source: String?
    public var facts: [FactRequest]
    /// One part of a file too big for one request: the daemon keeps the parts and records them
    /// all in one transaction when the last arrives, or none.
    public var part: Part?

    public struct Part: Codable, Sendable {
      /// Chosen by the client, the same for every part of one file.
      public var importID: String
      /// 1, 2, … in the order sent.
      public var number: Int
      public var last: Bool

      public init(importID: String, number: Int, last: Bool) {
        self.importID = importID
        self.number = number
        self.last = last
      }

      enum CodingKeys: String, CodingKey {
        case importID = "import"
        case number, last
      }
    }

    public init(source: String?, facts: [FactRequest], part: Part? = nil) {
      self.source = source
      self.facts = facts
      self.part = part
    }
  }

  /// `POST /v1/notices/retry` and `POST /v1/notices/ack`: which notices. `{"key": K}` alone is
  /// one notice, answered with a `Message` (404 when it has no dead row); anything else is a
  /// selection, every filter given must hold, answered with a `Selected`.
  public struct NoticeSelection: Codable, Sendable, Equatable {
    public var key: String?
    public var keys: [String]?
    public var channel: String?
    public var rule: String?
    public var unit: String?
    public var period: String?
    /// `dead` (the default); a retry also takes `failed` (waiting for another attempt: now).
    public var state: String?
    /// Count and list what would change, and change nothing.
    public var dryRun: Bool?

    enum CodingKeys: String, CodingKey {
      case key, keys, channel, rule, unit, period, state
      case dryRun = "dry_run"
    }

    public init(key: String) { self.key = key }
    public init() {}

    /// The request of one notice by its key, as before selections.
    public var isSingleKey: Bool { self == NoticeSelection(key: key ?? "") && key != nil }
  }

  /// `POST /v1/notices/flush`: every waiting notice (of one channel, or of all) judged again now.
  public struct Flush: Codable, Sendable {
    public let channel: String?
    public init(channel: String?) { self.channel = channel }
  }

  public typealias Retry = NoticeSelection
  /// An operator has seen dead notices.
  public typealias Acknowledge = NoticeSelection

  /// What a selection came to: how many notices (one row a channel), and each of them.
  public struct Selected: Codable, Sendable {
    public struct Row: Codable, Sendable {
      public let key: String
      public let channel: String
      public let lastError: String?
      enum CodingKeys: String, CodingKey {
        case key, channel
        case lastError = "last_error"
      }
      public init(key: String, channel: String, lastError: String?) {
        self.key = key
        self.channel = channel
        self.lastError = lastError
      }
    }
    public let message: String
    public let count: Int
    public let dryRun: Bool
    public let notices: [Row]
    enum CodingKeys: String, CodingKey {
      case message, count, notices
      case dryRun = "dry_run"
    }
    public init(message: String, count: Int, dryRun: Bool, notices: [Row]) {
      self.message = message
      self.count = count
      self.dryRun = dryRun
      self.notices = notices
    }
  }

  public struct Message: Codable, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
  }

  public struct Failure: Codable, Sendable {
    public let error: String
    public init(_ error: String) { self.error = error }
  }
}
