public import Foundation
public import NhacviecCore

/// Runs the programs of `exec` rules, once per (rule, period, instant): one engine asks once for
/// each unit of a roster, and the program answers for all of them in one run.
///
/// Make one per evaluation context (the facts it was built with are part of the question).
/// A run blocks the calling thread; the daemon plans on a thread of its own for that reason.
public final class ProgramRunner: ExternalRuleRunner {
  private struct Question: Hashable {
    let rule: String
    let period: String
    let now: Date
  }

  private let answers = Locked<[Question: Result<[String: Assessment], ExternalRuleError>]>([:])

  public init() {}

  public func judgments(
    of kind: ExecKind, rule: Rule, period: Period, now: Date, context: EvaluationContext
  )
    -> Result<[String: Assessment], ExternalRuleError>
  {
    let question = Question(rule: rule.id, period: period.description, now: now)
    if let known = answers.withLock({ $0[question] }) { return known }
    let answer = ask(kind, rule: rule, period: period, now: now, context: context)
    answers.withLock { $0[question] = answer }
    return answer
  }

  private func ask(
    _ kind: ExecKind, rule: Rule, period: Period, now: Date, context: EvaluationContext
  )
    -> Result<[String: Assessment], ExternalRuleError>
  {
    let request = ExternalProtocol.request(kind: kind, rule: rule, period: period, now: now, context: context)
    let program = kind.command
    let result = ChildProcess.runBlocking(
      command: program, arguments: kind.arguments, input: request.json, timeout: kind.timeout)
    switch result {
    case .failedToStart(let reason):
      return .failure(ExternalRuleError("cannot run \(program): \(reason)"))
    case .timedOut:
      return .failure(
        ExternalRuleError("\(program) did not answer within \(Self.duration(kind.timeout)) and was stopped"))
    case .exited(let status, let output, let errors):
      let said = String(decoding: errors.prefix(2_000), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
      guard status == 0 else {
        return .failure(ExternalRuleError("\(program) exited with status \(status)\(said.isEmpty ? "" : ": \(said)")"))
      }
      return ExternalProtocol.judgments(answer: output, units: request.units, zone: context.calendar.zone)
        .mapError { ExternalRuleError("\(program): \($0.message)") }
    }
  }

  static func duration(_ seconds: TimeInterval) -> String {
    seconds == seconds.rounded() ? "\(Int(seconds)) s" : "\(seconds) s"
  }
}
