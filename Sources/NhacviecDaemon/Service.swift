public import Foundation
public import NhacviecConfig
import NhacviecControl
public import NhacviecCore

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
    let notifier = SystemdNotifier()
    let daemon: Daemon
    do {
      daemon = try Daemon(configPath: configPath, deployment: deployment, clock: clock)
    } catch {
      Log.write(.error, "cannot start: \(error)")
      return 1
    }
    let socketPath = socket ?? deployment.daemon.socket
    let routes = ControlRoutes(
      daemon: daemon, writers: WriterPolicy(users: deployment.daemon.writers, groups: deployment.daemon.writerGroups))
    let server = ControlServer(path: socketPath) { routes.handle($0) }
    do {
      try server.start()
    } catch {
      Log.write(.error, "cannot open the control socket: \(error)")
      return 1
    }
    Log.write(.info, "control socket \(socketPath)")
    // Monitoring over TCP, when asked for: its own connections and limits, the same server code.
    let monitoring: ControlServer?
    if let address = deployment.daemon.httpListen {
      let routes = MonitoringRoutes(daemon: daemon)
      let listener = ControlServer(endpoint: .tcp(address)) { routes.handleOnly($0.http) }
      do {
        try listener.start()
      } catch {
        Log.write(.error, "cannot open daemon.http_listen: \(error)")
        server.stop()
        return 1
      }
      Log.write(.info, "metrics on http://\(address)/metrics")
      monitoring = listener
    } else {
      monitoring = nil
    }

    // Handlers only set things in motion; the work happens on the daemon's own task.
    var sources: [any DispatchSourceSignal] = []
    let queue = DispatchQueue(label: "nhacviec-signals")
    for number in [SIGTERM, SIGINT, SIGHUP] {
      signal(number, SIG_IGN)
      let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
      source.setEventHandler {
        if number == SIGHUP {
          daemon.reload()
        } else {
          notifier.send("STOPPING=1")
          Log.write(.notice, "stopping")
          daemon.stop()
          queue.asyncAfter(deadline: .now() + shutdownGrace) {
            Log.write(
              .warning, "deliveries still in flight after \(Int(shutdownGrace)) s; they resume at the next start")
            server.stop()
            monitoring?.stop()
            exit(0)
          }
        }
      }
      source.resume()
      sources.append(source)
    }
    let ended = DispatchSemaphore(value: 0)
    daemon.start(notify: notifier, grace: shutdownGrace) { ended.signal() }
    ended.wait()
    server.stop()
    monitoring?.stop()
    daemon.shutdown()
    for source in sources { source.cancel() }
    Log.write(.info, "stopped")
    return 0
  }
}
