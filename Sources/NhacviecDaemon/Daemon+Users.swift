import Foundation
import NhacviecConfig
import NhacviecControl
import NhacviecCore
import NhacviecStore
import NhacviecWeb

/// The desk's accounts, managed over the control socket by its writers (`nhacviec user`).
extension Daemon {
  /// Letters, digits and `.`, `_`, `-`: a name that reads the same in a log line, a cookie-less
  /// header from a proxy and a shell.
  static func checkAccountName(_ name: String) throws {
    guard !name.isEmpty, name.utf8.count <= 64,
      name.unicodeScalars.allSatisfy({
        $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "._-@".unicodeScalars.contains($0))
      })
    else {
      throw HTTPFailure(400, "an account name is 1 to 64 ASCII letters, digits, `.`, `_`, `-` or `@`, not `\(name)`")
    }
  }

  static func role(_ text: String?) throws -> Store.Role? {
    guard let text else { return nil }
    guard let role = Store.Role(rawValue: text) else {
      throw HTTPFailure(400, "role must be reader or writer, not \(text)")
    }
    return role
  }

  func users() throws -> [ControlAPI.User] {
    let zone = current.deployment.zone
    return try store.accounts().map {
      ControlAPI.User(
        name: $0.name, role: $0.role.rawValue, created: zone.rfc3339($0.createdAt), changed: zone.rfc3339($0.changedAt))
    }
  }

  func addUser(_ request: ControlAPI.UserRequest, uid: UInt32) throws -> String {
    try Self.checkAccountName(request.name)
    let role = try Self.role(request.role) ?? .reader
    let hash = try Self.hashed(request.password)
    do {
      try store.addAccount(name: request.name, role: role, passwordHash: hash, now: clock.now())
    } catch Store.AccountError.exists {
      throw HTTPFailure(409, "account \(request.name) exists; change its password with `nhacviec user passwd`")
    }
    Log.write(.notice, "desk account \(request.name) (\(role.rawValue)) added by uid \(uid)")
    return "account \(request.name) added (\(role.rawValue))"
  }

  func changeUser(_ request: ControlAPI.UserRequest, uid: UInt32) throws -> String {
    let role = try Self.role(request.role)
    let hash = try Self.hashed(request.password)
    do {
      try store.changeAccount(name: request.name, passwordHash: hash, role: role, now: clock.now())
    } catch Store.AccountError.noSuchAccount {
      throw HTTPFailure(404, "no account \(request.name)")
    }
    Log.write(.notice, "desk account \(request.name): password changed by uid \(uid); its sessions ended")
    return "account \(request.name): password changed\(role.map { ", role \($0.rawValue)" } ?? ""); its sessions ended"
  }

  /// A password checked (length, not empty) and hashed with argon2id; a bad one is a 400.
  static func hashed(_ password: String) throws -> String {
    do {
      try Passwords.check(password)
      return try Passwords.hash(password)
    } catch {
      throw HTTPFailure(400, error.description)
    }
  }

  func removeUser(_ name: String, uid: UInt32) throws -> String {
    do {
      try store.removeAccount(name: name)
    } catch Store.AccountError.noSuchAccount {
      throw HTTPFailure(404, "no account \(name)")
    }
    Log.write(.notice, "desk account \(name) removed by uid \(uid); its sessions ended")
    return "account \(name) removed; its sessions ended"
  }
}
