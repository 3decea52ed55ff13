import GatewayCore
import HTTPTypes
import Hummingbird

/// Session management, sign-out and administrator revocation (`openapi.yaml`, tag `sessions`).
struct SessionSecurityController {
    let service: SessionSecurityService

    func addRoutes(to group: RouterGroup<GatewayRequestContext>) {
        group.get("/sessions", use: list)
        group.post("/sessions/revoke-all", use: revokeAll)
        group.delete("/sessions/:id", use: end)
        group.delete("/tenants/:orgId/users/:userId/sessions", use: adminRevoke)
        group.post("/session/end", use: signOut)
    }

    /// `sessionBinding` `none`: the current session is unknown, so no entry is marked `current`.
    struct SessionListDTO: ResponseEncodable {
        var sessions: [SessionView]
        var sessionBinding: String
    }

    @Sendable func list(_ request: Request, context: GatewayRequestContext) async throws -> SessionListDTO {
        let caller = try SessionSecurityService.Caller(identity: context.identity, requestId: context.requestId)
        let sessions = try await service.listSessions(caller)
        return SessionListDTO(sessions: sessions, sessionBinding: caller.sessionBinding.rawValue)
    }

    @Sendable func end(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let caller = try SessionSecurityService.Caller(identity: context.identity, requestId: context.requestId)
        let id = try context.parameters.require("id")
        try await service.endSession(id, caller: caller)
        return Response(status: .noContent, headers: [.cacheControl: "no-store"])
    }

    @Sendable func revokeAll(_ request: Request, context: GatewayRequestContext) async throws -> RevocationResult {
        let caller = try SessionSecurityService.Caller(identity: context.identity, requestId: context.requestId)
        return try await service.revokeAll(caller)
    }

    @Sendable func adminRevoke(_ request: Request, context: GatewayRequestContext) async throws -> RevocationResult {
        let caller = try SessionSecurityService.Caller(identity: context.identity, requestId: context.requestId)
        let orgId = try context.parameters.require("orgId")
        let userId = try context.parameters.require("userId")
        return try await service.adminRevoke(orgId: orgId, userId: userId, caller: caller)
    }

    @Sendable func signOut(_ request: Request, context: GatewayRequestContext) async throws -> SignOutResult {
        let caller = try SessionSecurityService.Caller(identity: context.identity, requestId: context.requestId)
        return try await service.signOut(caller)
    }
}

extension RevocationResult: ResponseEncodable {}
extension SignOutResult: ResponseEncodable {}
