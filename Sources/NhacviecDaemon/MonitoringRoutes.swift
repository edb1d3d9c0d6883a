import Foundation
import NhacviecControl

/// `/metrics`, `/-/healthy` and `/-/ready`, for Prometheus and blackbox probes: on the control
/// socket for every reader, and alone on the optional TCP listener (`daemon.http_listen`).
struct MonitoringRoutes: Sendable {
  let daemon: Daemon

  static let paths: Set<String> = ["/metrics", "/-/healthy", "/-/ready"]

  /// The answer for a monitoring path; nil for any other path.
  func handle(_ request: HTTPRequest) -> HTTPResponse? {
    guard Self.paths.contains(request.path) else { return nil }
    var response = answer(request)
    response.headOnly = request.method == "HEAD"
    return response
  }

  /// The TCP listener: the monitoring paths and nothing else (no `/v1`: only the socket's
  /// permissions guard it).
  func handleOnly(_ request: HTTPRequest) -> HTTPResponse {
    if let response = handle(request) { return response }
    var response = Self.text(404, "404 not found: this listener serves only /metrics, /-/healthy and /-/ready\n")
    response.headOnly = request.method == "HEAD"
    return response
  }

  private func answer(_ request: HTTPRequest) -> HTTPResponse {
    guard request.method == "GET" || request.method == "HEAD" else {
      return Self.text(405, "method \(request.method) not allowed on \(request.path) (GET or HEAD)\n")
    }
    guard request.query.isEmpty else { return Self.text(400, "\(request.path) takes no query parameters\n") }
    switch request.path {
    case "/metrics":
      do {
        return HTTPResponse(status: 200, body: Array(try daemon.metricsText().utf8), contentType: Metrics.contentType)
      } catch {
        // The journal could not be read: say so rather than expose half the metrics.
        return Self.text(500, "cannot read the journal: \(error)\n")
      }
    case "/-/healthy":
      let liveness = daemon.liveness
      return liveness.alive
        ? Self.text(200, "nhacviec is healthy.\n") : Self.text(503, "nhacviec is not healthy: \(liveness.why ?? "")\n")
    default:
      return daemon.liveness.ready
        ? Self.text(200, "nhacviec is ready.\n") : Self.text(503, "nhacviec is not ready: no pass has ended yet.\n")
    }
  }

  static func text(_ status: Int, _ body: String) -> HTTPResponse {
    HTTPResponse(status: status, body: Array(body.utf8), contentType: "text/plain; charset=utf-8")
  }
}
