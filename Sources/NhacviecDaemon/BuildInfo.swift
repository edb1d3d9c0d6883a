import CBuildInfo

/// What this binary is: the version (kept in `CBuildInfo.h`, the one place scripts/package
/// reads it too), and the commit and build date a packaged build records. A build from a
/// checkout without scripts/package says "unknown" for the last two.
public enum BuildInfo {
  public static let version = String(cString: nhacviec_version())
  public static let commit = String(cString: nhacviec_commit())
  public static let date = String(cString: nhacviec_build_date())

  /// `nhacviec --version`: one line, for people and for scripts.
  public static var summary: String { "\(version) (commit \(commit), built \(date))" }
}
