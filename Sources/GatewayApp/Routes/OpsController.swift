import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Prometheus
import SessionValidation

/// Unauthenticated operational routes: liveness, readiness, metrics and the HTTP contract.
struct OpsController {
    let validator: SessionValidator
    let registry: PrometheusCollectorRegistry
    let openAPI: ByteBuffer

    struct Readiness: ResponseEncodable {
        var ready: Bool
        var issuers: [IssuerStatus]
    }

    func addRoutes(to router: Router<GatewayRequestContext>) {
        router.get("/healthz") { _, _ in
            Self.json(#"{"status":"ok"}"#)
        }
        router.get("/readyz") { _, _ in
            let readiness = Readiness(ready: validator.isReady, issuers: validator.status)
            return EditedResponse(status: readiness.ready ? .ok : .serviceUnavailable, response: readiness)
        }
        router.get("/metrics") { _, _ in
            var buffer: [UInt8] = []
            registry.emit(into: &buffer)
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: buffer)))
        }
        router.get("/openapi.yaml") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/yaml"], body: .init(byteBuffer: openAPI))
        }
    }

    static func json(_ text: String) -> Response {
        Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    /// The bundled `openapi.yaml` (the repository's top-level file is a link to it).
    static func loadOpenAPI() -> ByteBuffer {
        guard let url = Bundle.module.url(forResource: "openapi", withExtension: "yaml"),
            let data = try? Data(contentsOf: url)
        else { return ByteBuffer(string: "openapi: 3.1.0\n") }
        return ByteBuffer(bytes: data)
    }
}
