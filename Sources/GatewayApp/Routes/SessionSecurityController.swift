import GatewayCore
import HTTPTypes
import Hummingbird

/// Session management, sign-out and administrator revocation (`openapi.yaml`, tag `sessions`).
struct SessionSecurityController {
    let service: SessionSecurityService

    /// The caller's own sessions and sign-out: served whatever the caller's MFA state.
    func addOwnSessionRoutes(to group: RouterGroup<GatewayRequestContext>) {
        group.get("/sessions", use: list)
        group.post("/sessions/revoke-all", use: revokeAll)
        group.delete("/sessions/:id", use: end)
        group.post("/session/end", use: signOut)
    }

    /// An administrator ending another user's sessions: behind the MFA gate.
    func addAdministrationRoutes(to group: RouterGroup<GatewayRequestContext>) {
        group.delete("/tenants/:orgId/users/:userId/sessions", use: adminRevoke)
    }

    /// `sessionBinding` `none`: the current session is unknown, so no entry is marked `current`.
    struct SessionListDTO: ResponseEncodable {
        var sessions: [SessionView]
        var sessionBinding: String
    }

    @Sendable func list(_ request: Request, context: GatewayRequestContext) async throws -> SessionListDTO {
        let caller = try context.requireCaller()
        let sessions = try await service.listSessions(caller)
        return SessionListDTO(sessions: sessions, sessionBinding: caller.sessionBinding.rawValue)
    }

    @Sendable func end(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let caller = try context.requireCaller()
        let id = try context.parameters.require("id")
        try await service.endSession(id, caller: caller, requestId: context.requestId)
        return Response(status: .noContent, headers: [.cacheControl: "no-store"])
    }

    @Sendable func revokeAll(_ request: Request, context: GatewayRequestContext) async throws -> RevocationResult {
        let caller = try context.requireCaller()
        return try await service.revokeAll(caller, requestId: context.requestId)
    }

    @Sendable func adminRevoke(_ request: Request, context: GatewayRequestContext) async throws -> RevocationResult {
        let caller = try context.requireCaller()
        let orgId = try context.parameters.require("orgId")
        let userId = try context.parameters.require("userId")
        return try await service.adminRevoke(orgId: orgId, userId: userId, caller: caller, requestId: context.requestId)
    }

    @Sendable func signOut(_ request: Request, context: GatewayRequestContext) async throws -> SignOutResult {
        let caller = try context.requireCaller()
        return try await service.signOut(caller, requestId: context.requestId)
    }
}

extension RevocationResult: ResponseEncodable {}
extension SignOutResult: ResponseEncodable {}
