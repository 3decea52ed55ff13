import GatewayCore
import Hummingbird

/// While MFA is mandatory and not satisfied, a portal user's request answers 403 `mfa_remediation_required`.
///
/// Attached to the route groups that need it (`buildRouter`): the session, the lifecycle, SMS enrolment and the
/// caller's own sessions are outside them, so a user can always see and remedy their state and sign out.
struct MFARemediationMiddleware: RouterMiddleware {
    typealias Context = GatewayRequestContext

    let service: MFALifecycleService

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        // Integrations and sessions without a portal role have no MFA lifecycle: their routes decide.
        guard let caller = context.caller, caller.kind == .session, caller.role != nil else {
            return try await next(request, context)
        }
        try caller.requirePortalUser(MFALifecycleService.portalSessionsOnly)
        guard await service.isCompliant(caller) else {
            throw GatewayProblem(
                .mfaRemediationRequired,
                "Multi-factor authentication is required: complete setup or verification, then refresh the security status.")
        }
        return try await next(request, context)
    }
}
