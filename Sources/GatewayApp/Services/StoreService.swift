import AsyncHTTPClient
import Crypto
import GatewayStore
import Logging
import ServiceLifecycle
import SessionValidation
import ZitadelClient

/// Keeps the store open until graceful shutdown, then closes it.
struct StoreService: Service {
    let store: any GatewayStore

    func run() async throws {
        try? await gracefulShutdown()
        try await store.close()
    }
}
