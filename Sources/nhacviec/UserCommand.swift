import ArgumentParser
import Foundation
import NhacviecControl

/// `nhacviec user`: the desk's accounts. Through the control socket, like every other change:
/// the daemon's writers alone may make them, each is logged with the uid that made it, and a
/// removed account's sessions end at once in the running daemon's store.
struct UserCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "user",
    abstract: "The desk's accounts: add, remove, list, or change a password.",
    discussion: """
      An account signs an officer in to the desk (web: in the configuration). A reader sees the \
      pages; a writer also records and retracts facts. Passwords are read from standard input \
      (not echoed at a terminal; one line when piped), at least 10 characters, and kept as \
      argon2id hashes in the daemon's database.
        printf '%s\\n' "$PASSWORD" | nhacviec user add nguyen.van.a --role writer
      """,
    subcommands: [UserAdd.self, UserRemove.self, UserList.self, UserPasswd.self])
}

struct UserAdd: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "add", abstract: "Add an account; its password is read from standard input.")

  @Argument(help: "The account's name (letters, digits, . _ - @).") var name: String
  @Option(help: "reader (sees the pages) or writer (also records and retracts facts).") var role = "reader"
  @OptionGroup var options: SocketOptions

  func validate() throws {
    guard ["reader", "writer"].contains(role) else { throw ValidationError("--role must be reader or writer") }
  }

  func run() throws {
    let password = try readPassword()
    let body = try JSONEncoder().encode(ControlAPI.UserRequest(name: name, role: role, password: password))
    print(try options.decode(ControlAPI.Message.self, try options.call("POST", "/v1/users", body: Array(body))).message)
  }
}

struct UserPasswd: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "passwd",
    abstract: "Give an account a new password (from standard input), and a new role if given; its sessions end.")

  @Argument(help: "The account's name.") var name: String
  @Option(help: "A new role: reader or writer.") var role: String?
  @OptionGroup var options: SocketOptions

  func validate() throws {
    if let role, !["reader", "writer"].contains(role) { throw ValidationError("--role must be reader or writer") }
  }

  func run() throws {
    let password = try readPassword()
    let body = try JSONEncoder().encode(ControlAPI.UserRequest(name: name, role: role, password: password))
    print(
      try options.decode(ControlAPI.Message.self, try options.call("POST", "/v1/users/password", body: Array(body)))
        .message)
  }
}

struct UserRemove: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "remove", abstract: "Remove an account; its sessions end at once.")

  @Argument(help: "The account's name.") var name: String
  @OptionGroup var options: SocketOptions

  func run() throws {
    let response = try options.call("DELETE", "/v1/users/\(queryValue(name))")
    print(try options.decode(ControlAPI.Message.self, response).message)
  }
}

struct UserList: ParsableCommand {
  static let configuration = CommandConfiguration(commandName: "list", abstract: "The accounts and their roles.")

  @Flag(help: "Print the daemon's JSON.") var json = false
  @OptionGroup var options: SocketOptions

  func run() throws {
    let users = try options.decode([ControlAPI.User].self, try options.call("GET", "/v1/users"))
    if json { return try printPrettyJSON(users) }
    if users.isEmpty { return print("no accounts; add one with nhacviec user add NAME --role writer") }
    for user in users { print("\(user.name)\t\(user.role)\tadded \(user.created)\tchanged \(user.changed)") }
  }
}

/// One line of standard input: at a terminal, asked for and not echoed; piped, the first line.
/// Refused when empty or shorter than 10 characters, before the daemon is asked.
func readPassword() throws -> String {
  let terminal = isatty(STDIN_FILENO) == 1
  var saved = termios()
  if terminal {
    FileHandle.standardError.write(Data("Password: ".utf8))
    tcgetattr(STDIN_FILENO, &saved)
    var quiet = saved
    quiet.c_lflag &= ~tcflag_t(ECHO)
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet)
  }
  let line = readLine(strippingNewline: true)
  if terminal {
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved)
    FileHandle.standardError.write(Data("\n".utf8))
  }
  guard let password = line, !password.isEmpty else {
    printError("no password on standard input")
    throw ExitCode(2)
  }
  guard password.count >= 10 else {
    printError("the password must be at least 10 characters")
    throw ExitCode(2)
  }
  return password
}
