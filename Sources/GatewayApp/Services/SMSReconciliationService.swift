import Foundation
import GatewayCore
import GatewayStore
import HTTPTypes
import Hummingbird
import NIOCore
import ServiceLifecycle

/// Reconciles SMS forwards orphaned by a crash or restart: at start-up, then every interval until shutdown.
struct SMSReconciliationService: Service {
    let service: SMSEnrolmentService
    let interval: Duration

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                await service.reconcileOrphans()
                try? await Task.sleep(for: interval)
            }
        }
    }
}
