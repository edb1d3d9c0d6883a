import Foundation

/// State reached only through a lock, as Synchronization's `Mutex` holds it, on a pthread mutex.
///
/// `Mutex` on Linux locks with atomics and a futex inside the standard library, which is not
/// built with ThreadSanitizer: TSan sees none of its locking, and reports every state it guards
/// as a race (every use in the daemon did, on the first run). A pthread mutex is one TSan knows,
/// so the concurrency tests run clean under it in CI, and a real race still shows.
///
/// Unchecked Sendable: the compiler cannot see that the mutex guards `value`; `withLock` is the
/// only way to it.
public final class Locked<Value>: @unchecked Sendable {
  private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
  private var value: Value

  public init(_ value: Value) {
    self.value = value
    mutex.initialize(to: pthread_mutex_t())
    pthread_mutex_init(mutex, nil)
  }

  deinit {
    pthread_mutex_destroy(mutex)
    mutex.deallocate()
  }

  /// Runs `body` with the state, the lock held; nothing `body` does may take this lock again.
  public func withLock<Result>(_ body: (inout Value) throws -> Result) rethrows -> Result {
    pthread_mutex_lock(mutex)
    defer { pthread_mutex_unlock(mutex) }
    return try body(&value)
  }
}
