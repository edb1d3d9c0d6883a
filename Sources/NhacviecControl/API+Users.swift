extension ControlAPI {
  /// `POST /v1/users` (add) and `POST /v1/users/password` (a new password, and a new role if
  /// given): an officer's account on the desk. The password travels only over the socket.
  public struct UserRequest: Codable, Sendable {
    public var name: String
    public var role: String?
    public var password: String

    public init(name: String, role: String?, password: String) {
      self.name = name
      self.role = role
      self.password = password
    }
  }

  /// An account as `GET /v1/users` lists it: never its password's hash.
  public struct User: Codable, Sendable {
    public let name: String
    public let role: String
    public let created: String
    public let changed: String

    public init(name: String, role: String, created: String, changed: String) {
      self.name = name
      self.role = role
      self.created = created
      self.changed = changed
    }
  }
}
