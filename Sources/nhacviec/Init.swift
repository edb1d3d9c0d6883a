import ArgumentParser
import Foundation

/// `nhacviec init DIR`: a small deployment to start from, every line commented, that passes
/// `check` as written. The shipped `/etc/nhacviec` is one province's live deployment; a province
/// starting from zero needs a template, not 318 units to delete.
struct Init: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Write a small commented deployment to start from into a new folder.",
    discussion: """
      Writes DIR/nhacviec.yaml, DIR/directory/units.csv (a province and two departments), \
      DIR/rules/report.yaml (one yearly report with reminders and escalations) and \
      DIR/calendar/ (where each year's official schedule goes). It passes `nhacviec check \
      --config DIR/nhacviec.yaml` as written, and sends nothing: its channel writes .eml files. \
      The folder must not exist or be empty. Exit status 0 when written, 1 when not.
      """)

  @Argument(help: ArgumentHelp("The folder to create.", valueName: "DIR"), completion: .directory)
  var folder: String

  static let files: [(String, String)] = [
    (
      "nhacviec.yaml",
      """
      # yaml-language-server: $schema=/usr/share/nhacviec/schemas/config.schema.json
      # A deployment of nhacviec: who owes what (the directory), by when (the rules), and how they
      # hear of it (the channels). Paths are relative to this file. Every key: docs/rules.md.
      timezone: Asia/Ho_Chi_Minh

      # The units, with their people's addresses. A directory may change over time: list one file
      # per era with valid_from / valid_to (docs/rules.md, "Directory").
      directory:
        - file: directory/units.csv

      calendar:
        working_days: [mon, tue, wed, thu, fri]
        holidays: vietnam     # Labour Code art. 112(1), lunar dates at UTC+7 (docs/calendar.md)
        overrides: calendar   # one YYYY.yaml per year: the official schedule's swapped days

      # Notices leave only on working days, between these times.
      send_window: { opens: "08:00", closes: "17:00" }

      # Whoever would receive this many notices or more in one pass gets one digest instead.
      digest: { minimum: 5 }

      rules: rules

      # Messages are written as .eml files into the state folder's outbox until a real channel
      # is set up: docs/channels.md shows SMTP and webhooks, `nhacviec send-test` tries one.
      channels:
        email: { type: file, format: eml }

      # The desk (web pages for officers, and the links by which a unit answers): docs/web.md.
      # web:
      #   listen: 127.0.0.1:8080
      #   url: https://nhacviec.example.gov.vn
      #   link_keys_file: link-keys

      """
    ),
    (
      "directory/units.csv",
      """
      id,name,kind,parent_id,head.name,head.email,iso-focal.name,iso-focal.email
      P,Tỉnh Mẫu,province,,Chủ tịch UBND tỉnh,lanhdao@tinh.example,Đầu mối ISO,iso@tinh.example
      P-SKHCN,Sở Khoa học và Công nghệ,dept,P,Giám đốc Sở,lanhdao@skhcn.example,Đầu mối ISO,iso@skhcn.example
      P-SNV,Sở Nội vụ,dept,P,Giám đốc Sở,lanhdao@snv.example,Đầu mối ISO,iso@snv.example

      """
    ),
    (
      "rules/report.yaml",
      """
      # yaml-language-server: $schema=/usr/share/nhacviec/schemas/rules.schema.json
      # One rule: every department reports each year before 15 November. Every key and kind of
      # rule (rollup, budget, summary, exec): docs/rules.md; how a ladder reads: docs/ladders.md.
      - id: annual-report
        kind: deadline
        # What officials read: the subject and the duty, with {{period.name}} as "năm 2026".
        title: Báo cáo kết quả thực hiện {{period.name}}
        # The document the duty comes from, quoted in every message.
        basis: Công văn số …/UBND ngày … của Ủy ban nhân dân tỉnh
        applies_to: { kinds: [dept] }
        period: yearly
        due: { date: "11-15", convention: before }   # "trước ngày 15/11": 00:00 on 15 November
        # Reminders before the deadline, to the unit's ISO focal point: days, or working days (wd).
        remind: [14d, 7d, 1wd]
        remind_to: [unit.iso-focal]
        # After the deadline: the unit's head, then the Department that collects the reports.
        escalate:
          - { after: 1wd, to: [unit.head] }
          - { after: 3wd, to: [unit:P-SKHCN.iso-focal] }
        channels: [email]

      """
    ),
    (
      "calendar/README.md",
      """
      One YYYY.yaml per year: the official schedule's days off and make-up working days, which
      the holiday rules alone cannot know (docs/calendar.md shows the format). `nhacviec check`
      warns when this year has none.

      """
    ),
  ]

  func run() throws {
    let manager = FileManager.default
    var isFolder: ObjCBool = false
    if manager.fileExists(atPath: folder, isDirectory: &isFolder) {
      guard isFolder.boolValue, (try? manager.contentsOfDirectory(atPath: folder))?.isEmpty == true else {
        printError("\(folder) exists and is not an empty folder; nothing written")
        throw ExitCode(1)
      }
    }
    for (name, text) in Init.files {
      let path = (folder as NSString).appendingPathComponent(name)
      try manager.createDirectory(
        atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
      try text.write(toFile: path, atomically: true, encoding: .utf8)
    }
    let config = (folder as NSString).appendingPathComponent("nhacviec.yaml")
    print(
      "wrote \(Init.files.map { ($0.0 as NSString).pathComponents.first ?? $0.0 }.uniqued().joined(separator: ", ")) in \(folder)"
    )
    print("next: edit \(folder)/directory/units.csv and \(folder)/rules/report.yaml, then")
    print("  nhacviec check --config \(config)")
  }
}

extension Array where Element: Hashable {
  fileprivate func uniqued() -> [Element] {
    var seen: Set<Element> = []
    return filter { seen.insert($0).inserted }
  }
}
