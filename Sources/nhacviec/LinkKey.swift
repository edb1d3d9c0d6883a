import ArgumentParser
import Foundation
import NhacviecCore
import NhacviecLinks

struct LinkKey: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "link-key",
    abstract: "Print a new signing key line for the web section's link_keys_file.",
    discussion: """
      Prints one line, ID SECRET: the id (by default k and today's date, such as k20261206) and \
      32 random bytes from libsodium in base64. The first line of link_keys_file signs the links \
      in units' messages and every line verifies them: to rotate, put the new line on top, keep \
      the old one for 30 days after the last message it signed, then remove it. See docs/web.md.
      """)

  @Option(help: ArgumentHelp("The key's id: 1 to 16 of A-Z a-z 0-9 - _.", valueName: "ID"))
  var id: String?

  func validate() throws {
    if let id, !LinkKeys.isValidID(id) {
      throw ValidationError("--id must be 1 to \(LinkKeys.maximumIDLength) of A-Z a-z 0-9 - _, not `\(id)`")
    }
  }

  func run() throws {
    let zone = Zone(TimeZone.current)
    let name = id ?? LinkKeys.id(madeOn: zone.localDate(of: Date()))
    guard let line = LinkKeys.newLine(id: name) else {
      throw ValidationError("--id must be 1 to \(LinkKeys.maximumIDLength) of A-Z a-z 0-9 - _, not `\(name)`")
    }
    print(line)
  }
}
