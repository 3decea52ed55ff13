import AsyncHTTPClient
import GatewayCore
import GatewayStore
import HTTPTypes
import Hummingbird
import Logging
import Prometheus
import ServiceLifecycle
import SessionValidation

/// Keeps every issuer's JWKS fresh in the background until shutdown.
struct KeyRefreshService: Service {
    let validator: SessionValidator

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await validator.runKeyRefresh()
        }
    }
}
