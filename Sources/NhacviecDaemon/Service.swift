public import Foundation
public import NhacviecConfig
import NhacviecControl
public import NhacviecCore
import NhacviecWeb

/// A long-running part of the daemon: started in order, stopped in reverse.
protocol LongRunning: Sendable {
  var name: String { get }
  func start() throws
  /// Stops, and returns once stopped (true) or at `deadline` (false: what is left is abandoned
  /// to the process's end).
  func stop(by deadline: DispatchTime) -> Bool
}

/// Starts services in order and stops them in reverse, within one grace period for them all:
/// swift-service-lifecycle's `ServiceGroup` in shape, on threads, since its tasks would use
/// Swift's cooperative pool, whose first use starts libdispatch's worker monitor, which then
/// wakes an idle daemon every second.
struct ServiceGroup {
  let services: [any LongRunning]

  /// Starts each in order; if one cannot start, those already started are stopped, in reverse.
  func start(grace: TimeInterval) throws {
    for (index, service) in services.enumerated() {
      do {
        try service.start()
      } catch {
        ServiceGroup(services: Array(services[..<index])).stop(grace: grace)
        throw error
      }
    }
  }

  /// Stops each in reverse order, all within `grace` from now.
  func stop(grace: TimeInterval) {
    let deadline = DispatchTime.now() + grace
    for service in services.reversed() where !service.stop(by: deadline) {
      Log.write(
        .warning, "\(service.name) still busy after \(Int(grace)) s; what it had in flight resumes at the next start")
    }
  }
}

/// The control socket or the monitoring listener, as a service.
struct Listener: LongRunning {
  let name: String
  let server: ControlServer

  struct Failure: Error, CustomStringConvertible {
    let description: String
  }

  func start() throws {
    do {
      try server.start()
    } catch {
      throw Failure(description: "cannot open \(name): \(error)")
    }
  }

  func stop(by deadline: DispatchTime) -> Bool {
    server.stop()
    return true
  }
}

/// The planning and delivery loops, as a service.
struct Loops: LongRunning {
  let daemon: Daemon
  let notifier: SystemdNotifier
  var name: String { "planning and delivery" }

  func start() throws { daemon.start(notify: notifier) }

  func stop(by deadline: DispatchTime) -> Bool { daemon.stop(by: deadline) }
}

/// Wires the daemon to the world: the control socket, signals and systemd.
public enum Service {
  /// How long SIGTERM waits for deliveries in flight before leaving them to the next start
  /// (they stay `sending` and are sent again under the same key).
  public static let shutdownGrace: TimeInterval = 20

  /// Runs the daemon until SIGTERM, on threads of its own: the calling thread only waits.
  /// Nothing here runs on Swift's cooperative pool, whose use starts libdispatch's worker
  /// monitor, which then wakes an idle daemon every second.
  public static func run(
    configPath: String, deployment: Deployment, socket: String?, clock: any WallClock
  ) -> Int32 {
    signal(SIGPIPE, SIG_IGN)
    Log.setLevel(deployment.daemon.logLevel)
    let notifier = SystemdNotifier()
    let daemon: Daemon
    do {
      daemon = try Daemon(configPath: configPath, deployment: deployment, clock: clock)
    } catch {
      Log.write(.error, "cannot start: \(error)")
      return 1
    }
    defer { daemon.shutdown() }
    let socketPath = socket ?? deployment.daemon.socket
    let routes = ControlRoutes(daemon: daemon)
    var control = ControlServer.Configuration()
    control.lane = ControlRoutes.lane
    control.refused = { daemon.metrics.refused($0) }
    // The control socket first, so that `status` answers while the rest starts, and last to go.
    var services: [any LongRunning] = [
      Listener(
        name: "the control socket",
        server: ControlServer(path: socketPath, configuration: control) { routes.handle($0) })
    ]
    // Monitoring over TCP, when asked for: its own connections and limits, the same server code.
    if let address = deployment.daemon.httpListen {
      let routes = MonitoringRoutes(daemon: daemon)
      var monitoring = ControlServer.Configuration()
      monitoring.lane = { _ in .monitoring }
      services.append(
        Listener(
          name: "daemon.http_listen",
          server: ControlServer(endpoint: .tcp(address), configuration: monitoring) { routes.handleOnly($0.http) }))
    }
    // The desk, when a `web:` section asks for it: its own listener, connections and threads,
    // nothing shared with the control socket's lanes, and no route to the control API.
    if let web = deployment.web {
      let desk = Desk(settings: web, store: daemon.store, backend: DaemonDesk(daemon: daemon)) {
        Log.write(.notice, $0)
      }
      var configuration = ControlServer.Configuration()
      configuration.lane = { _ in .ordinary }
      configuration.maxHandlers = [.ordinary: 8]
      configuration.threadName = "nhacviec-desk"
      configuration.refusal = { desk.refusal($0) }
      // Browsers keep connections open longer than the CLI does, and a phone is slower.
      configuration.requestTimeout = 15
      services.append(
        Listener(
          name: "web.listen",
          server: ControlServer(endpoint: .tcp(web.listen), configuration: configuration) {
            desk.handle($0.http, peer: $0.peer)
          }))
    }
    services.append(Loops(daemon: daemon, notifier: notifier))
    let group = ServiceGroup(services: services)
    do {
      try group.start(grace: shutdownGrace)
    } catch {
      Log.write(.error, "\(error)")
      return 1
    }
    Log.write(.info, "control socket \(socketPath)")
    if let address = deployment.daemon.httpListen { Log.write(.info, "metrics on http://\(address)/metrics") }
    if let web = deployment.web { Log.write(.info, "desk on http://\(web.listen)/ (public address \(web.url))") }

    // Handlers only set things in motion: a reload, or the end of the wait below.
    let stopRequested = DispatchSemaphore(value: 0)
    var sources: [any DispatchSourceSignal] = []
    let queue = DispatchQueue(label: "nhacviec-signals")
    for number in [SIGTERM, SIGINT, SIGHUP] {
      signal(number, SIG_IGN)
      let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
      source.setEventHandler {
        if number == SIGHUP {
          daemon.reload()
        } else {
          stopRequested.signal()
        }
      }
      source.resume()
      sources.append(source)
    }
    stopRequested.wait()
    notifier.send("STOPPING=1")
    Log.write(.notice, "stopping")
    group.stop(grace: shutdownGrace)
    for source in sources { source.cancel() }
    Log.write(.info, "stopped")
    return 0
  }
}
