import Foundation
import NhacviecControl
import NhacviecCore
import NhacviecStore

/// This daemon's part among several on one PostgreSQL store (docs/ha.md): it takes the leader's
/// lock when it is free and then plans; whatever its role, it renews the leases of what it
/// sends, says it is alive, and looks for notices the leader journaled. The leader also puts
/// back the notices of a node whose lease ended. Every third of a lease, on a thread of its own
/// (the only timer a daemon on a shared store has; on SQLite there is no such thread).
final class ClusterMember: Sendable {
  enum Role: String, Sendable {
    case leader, follower
    /// The database cannot be reached: neither plans nor delivers until it can.
    case cutOff = "cut-off"
  }

  private struct State {
    var role: Role = .follower
    var error: (message: String, since: Date)?
    var inputsVersion: Int64?
    var stopping = false
    var running = false
  }

  let store: Store
  let lock: LeaderLock
  let interval: TimeInterval
  let started: Date
  private let state = Locked(State())
  private let signal = WakeSignal()
  private let ended = DispatchSemaphore(value: 0)

  init?(store: Store, lease: TimeInterval, started: Date) {
    guard store.isShared, let lock = store.leaderLock() else { return nil }
    self.store = store
    self.lock = lock
    interval = lease / 3
    self.started = started
  }

  var role: Role { state.withLock { $0.role } }
  var isLeader: Bool { role == .leader }

  /// Refuses to start beside a live daemon of the same name: the two would take back each
  /// other's notices as their own.
  func checkName() throws {
    guard let same = try store.nodes().first(where: { $0.name == store.node }) else { return }
    let host = ProcessInfo.processInfo.hostName
    let alive =
      same.host == host ? (same.pid != Int(getpid()) && kill(pid_t(same.pid), 0) == 0) : same.age < interval * 3
    if alive {
      throw ClusterNameTaken(
        description:
          "node \(store.node) is already running (pid \(same.pid) on \(same.host), seen \(Int(same.age)) s ago); give each daemon its own daemon.node"
      )
    }
  }

  struct ClusterNameTaken: Error, CustomStringConvertible {
    let description: String
  }

  /// One round; `plan` wakes planning (leadership taken, or facts recorded through another
  /// node), `deliver` wakes delivery (notices journaled by the leader, or put back).
  func tick(now: Date, plan: () -> Void, deliver: () -> Void) {
    let wasLeader = role == .leader
    do {
      let hold = try lock.hold()
      let holds = hold != .none
      // Taken anew, the lock makes a new leadership, under a new epoch, even for the node that
      // led before: another node may have led while it was free.
      if hold == .taken || (holds && store.leaderEpoch == nil) {
        let epoch = try store.becomeLeader()
        state.withLock { $0.role = .leader }
        Log.write(.notice, "node \(store.node) leads (epoch \(epoch)): it plans", ["NODE": store.node])
        plan()
      } else if !holds {
        if wasLeader {
          Log.write(.warning, "node \(store.node) no longer leads: another node plans", ["NODE": store.node])
        }
        store.resign()
        state.withLock { $0.role = .follower }
      }
      try store.renewLeases()
      try store.heartbeat(role: role.rawValue, startedAt: started)
      if holds {
        let back = try store.expireLeases(now: now)
        if back > 0 {
          Log.write(.warning, "\(back) notices whose node stopped answering are queued again", ["NODE": store.node])
        }
        let version = try store.inputsVersion()
        let changed = state.withLock { state in
          defer { state.inputsVersion = version }
          return state.inputsVersion.map { $0 != version } ?? false
        }
        if changed { plan() }
      }
      if let error = state.withLock({ $0.error }) {
        Log.write(.notice, "the store answers again (it failed since \(error.since))", ["NODE": store.node])
      }
      state.withLock {
        $0.error = nil
        if $0.role == .cutOff { $0.role = holds ? .leader : .follower }
      }
      deliver()
    } catch {
      store.resign()
      let first = state.withLock { state in
        defer {
          state.role = .cutOff
          if state.error == nil { state.error = ("\(error)", now) }
        }
        return state.error == nil
      }
      if first { Log.write(.error, "the store cannot be reached: \(error); not planning", ["NODE": store.node]) }
      if wasLeader {
        Log.write(.warning, "node \(store.node) no longer leads: it cannot reach the store", ["NODE": store.node])
      }
    }
  }

  func start(
    now: @escaping @Sendable () -> Date, plan: @escaping @Sendable () -> Void, deliver: @escaping @Sendable () -> Void
  ) {
    state.withLock { $0.running = true }
    let thread = Thread { [self] in
      while !state.withLock({ $0.stopping }) {
        signal.wait(untilReal: Date().addingTimeInterval(interval))
        guard !state.withLock({ $0.stopping }) else { break }
        tick(now: now(), plan: plan, deliver: deliver)
      }
      ended.signal()
    }
    thread.name = "nhacviec-cluster"
    thread.start()
  }

  func stop() {
    let running = state.withLock { state in
      state.stopping = true
      return state.running
    }
    signal.raise()
    if running { ended.wait() }
    store.resign()
    lock.release()
  }

  /// What `status` says of the cluster.
  func status(zone: Zone) throws -> ControlAPI.Status.Cluster {
    let (role, error) = state.withLock { ($0.role, $0.error) }
    let nodes = (try? store.nodes()) ?? []
    return ControlAPI.Status.Cluster(
      role: role.rawValue, node: store.node, epoch: store.leaderEpoch,
      error: error.map { .init(error: $0.message, since: zone.rfc3339($0.since)) },
      nodes: nodes.map {
        .init(
          node: $0.name, host: $0.host, pid: $0.pid, role: $0.role, epoch: $0.epoch, seenAt: zone.rfc3339($0.seenAt),
          secondsAgo: Int($0.age.rounded()))
      })
  }
}
