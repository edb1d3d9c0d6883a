public import Foundation
public import NhacviecCore
public import NhacviecStore

/// The planning half of the pipeline, composed in one place: one pass at `now` reads the
/// corrections due, drafts (ladder → evaluate → newest rung → route), asks the journal who has
/// heard the corrected rungs, finishes the plan (owed → mute → digest) and journals it.
///
/// Every stage but the journal's is a pure function of `Engine`; this type only reads and writes
/// the store between them, in the order that keeps a correction and its fact together.
public enum Planner {
  /// What one pass did.
  public struct Pass: Sendable {
    public let plan: Plan
    /// The due decisions journaled new, as handed to delivery.
    public let journaled: Int
    /// Decisions the journal already held under their key with something else in them.
    public let conflicts: [Store.Conflict]
    /// The corrections judged again (their rows cleared), and why each was asked.
    public let corrections: [Store.Rejudge]
    /// Whether the configuration differed from the last pass's, so everything was judged again.
    public let configurationChanged: Bool
    /// For each rule that could not be judged, the `since` its next pass plans from.
    public let rulesBehind: [String: Date]
  }

  /// How many notices a pass journals in one transaction before handing them to delivery.
  public static let journalChunk = 256

  /// One pass at `now`. `judge` gives the engine over the running configuration and the store's
  /// inputs, with that configuration's hash, both from one snapshot: it is asked after the
  /// corrections are read. `hand` receives each chunk of new due decisions as soon as it is
  /// journaled, so that the first notices of a burst leave while the rest are still being
  /// written.
  public static func pass(
    now: Date, store: Store, judge: () throws -> (engine: Engine, configuration: String),
    hand: ([NoticeDecision]) -> Void = { _ in }
  ) throws -> Pass {
    // Corrections first, then the engine: a correction and its fact are committed together, so
    // a correction read here is judged with its fact.
    let corrections = try store.rejudges(dueBy: now)
    let (engine, configuration) = try judge()
    var scopes = corrections.map(\.scope)
    // An edited configuration (a rule, a ladder, the directory, the calendar) is a correction of
    // everything it could touch: every obligation is judged again.
    let planned = try store.plannedConfiguration()
    let configurationChanged = planned.map { $0 != configuration } ?? false
    if configurationChanged { scopes.append(.everything) }
    let since = try store.lastPass()
    let behind = try store.rulesBehind()
    let draft = engine.draft(since: since, now: now, sinceByRule: behind, rejudge: scopes)
    let plan = engine.plan(draft, coverage: try store.coverage(of: draft.rungs))
    // A crash between two chunks loses nothing: the pass instant is recorded last, so the next
    // pass plans them again, and a key already journaled with the same decision is left alone.
    var journaled = 0
    var conflicts: [Store.Conflict] = []
    for start in stride(from: 0, to: plan.due.count, by: journalChunk) {
      let chunk = try store.journalNew(
        due: Array(plan.due[start..<min(start + journalChunk, plan.due.count)]), now: now)
      hand(chunk.inserted)
      journaled += chunk.inserted.count
      conflicts += chunk.conflicts
    }
    conflicts += try store.journalNew(due: [], superseded: plan.superseded, silenced: plan.silenced, now: now)
      .conflicts
    // A rule that could not be judged plans again from where it stood: late, never lost.
    var stillBehind: [String: Date] = [:]
    for failure in plan.failures { stillBehind[failure.ruleID] = behind[failure.ruleID] ?? since ?? .distantPast }
    // A correction that touched a rule not judged is judged again at the next pass, and so is a
    // configuration change: judging again what was judged already sends nothing twice.
    let failed = Set(plan.failures.map(\.ruleID))
    let judged = corrections.filter { correction in
      failed.isEmpty || correction.scope.rule.map { !failed.contains($0) } ?? false
    }
    try store.recordPass(
      at: now, rulesBehind: stillBehind, rejudged: judged.map(\.id),
      configuration: failed.isEmpty || planned == nil ? configuration : planned)
    return Pass(
      plan: plan, journaled: journaled, conflicts: conflicts, corrections: judged,
      configurationChanged: configurationChanged, rulesBehind: stillBehind)
  }
}
