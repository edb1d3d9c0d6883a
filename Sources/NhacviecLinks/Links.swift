import CSodium

/// libsodium must be initialised once before any of its functions is called; it is safe to call
/// from several threads and more than once.
public enum Sodium {
  /// Whether libsodium is ready. It fails only when the system has no source of randomness.
  public static let ready: Bool = sodium_init() >= 0
}
