import Foundation
public import NhacviecConfig
public import NhacviecCore
public import NhacviecLinks
public import NhacviecRender

extension ReplyLinks {
  /// The links of a deployment with a `web:` section, signed with the keys of its
  /// `link_keys_file`; nil without one. A key file that cannot be read, or holds a mistake,
  /// refuses the configuration (at `check`, start and reload), each error naming the file and
  /// its line.
  public static func load(for deployment: Deployment) throws(ConfigErrors) -> ReplyLinks? {
    guard let web = deployment.web else { return nil }
    guard let data = FileManager.default.contents(atPath: web.linkKeys.path) else {
      throw ConfigErrors([
        ConfigError("\(web.linkKeys.setting): cannot read \(web.linkKeys.path)", at: web.linkKeys.location)
      ])
    }
    guard Sodium.ready else {
      throw ConfigErrors([ConfigError("libsodium could not be initialised", at: web.linkKeys.location)])
    }
    let keys = try LinkKeys(parsing: String(decoding: data, as: UTF8.self), file: web.linkKeys.path)
    return ReplyLinks(base: web.url, signer: LinkSigner(keys: keys))
  }

  /// The maker of a rung's link for `MessageRenderer`: the link's expiry is worked out from the
  /// rung's ladder, which depends on the configuration only (no fact, no clock).
  public func maker(for deployment: Deployment) -> @Sendable (NoticeKey) -> String? {
    let engine = Engine(
      ruleset: deployment.ruleset,
      context: EvaluationContext(directory: deployment.directory, calendar: deployment.calendar, facts: FactBook()),
      cache: deployment.ladders)
    return { key in self.link(for: key, engine: engine) }
  }
}

extension MessageRenderer {
  /// The renderer of a deployment's messages; with `links`, a unit's messages about its own
  /// obligations carry the link by which it answers.
  public init(deployment: Deployment, links: ReplyLinks?) {
    self.init(
      ruleset: deployment.ruleset, calendar: deployment.calendar, replyLink: links?.maker(for: deployment))
  }
}
