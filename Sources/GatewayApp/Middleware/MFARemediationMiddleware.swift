import Foundation
import GatewayCore
import HTTPTypes
import Hummingbird
import Logging
import NIOCore

/// While MFA is mandatory and not satisfied, every protected route but session, lifecycle and remediation
/// routes answers 403 `mfa_remediation_required`.
struct MFARemediationMiddleware: RouterMiddleware {
    typealias Context = GatewayRequestContext

    let service: MFALifecycleService

    /// Exempt paths: the session itself, the lifecycle surface, and the routes that end or manage sessions.
    static func isExempt(_ path: String) -> Bool {
        path == "/v1/session" || path.hasPrefix("/v1/session/") || path == "/v1/sessions"
            || path.hasPrefix("/v1/sessions/") || path == MFALifecycleController.basePath
            || path.hasPrefix(MFALifecycleController.basePath + "/")
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard !Self.isExempt(request.uri.path), case .session(_, let principal, _, _) = context.identity,
            principal.portalRole != nil
        else { return try await next(request, context) }
        let caller = try LifecycleCaller(identity: context.identity)
        guard await service.isCompliant(caller) else {
            throw GatewayProblem(
                .mfaRemediationRequired,
                "Multi-factor authentication is required: complete setup or verification, then refresh the security status.")
        }
        return try await next(request, context)
    }
}
