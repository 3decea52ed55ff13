import Foundation
import GatewayCore
import HTTPTypes
import Hummingbird
import NIOCore

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

    @Sendable func list(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let caller = try SessionSecurityService.Caller(identity: context.identity, requestId: context.requestId)
        /// `sessionBinding` `none`: the current session is unknown, so no entry is marked `current`.
        struct Body: Encodable {
            var sessions: [SessionView]
            var sessionBinding: String
        }
        let sessions = try await service.listSessions(caller)
        return try Self.json(Body(sessions: sessions, sessionBinding: caller.sessionBinding.rawValue), status: .ok)
    }

    @Sendable func end(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let caller = try SessionSecurityService.Caller(identity: context.identity, requestId: context.requestId)
        let id = try context.parameters.require("id")
        try await service.endSession(id, caller: caller)
        return Response(status: .noContent, headers: [.cacheControl: "no-store"])
    }

    @Sendable func revokeAll(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let caller = try SessionSecurityService.Caller(identity: context.identity, requestId: context.requestId)
        return try Self.json(try await service.revokeAll(caller), status: .ok)
    }

    @Sendable func adminRevoke(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let caller = try SessionSecurityService.Caller(identity: context.identity, requestId: context.requestId)
        let orgId = try context.parameters.require("orgId")
        let userId = try context.parameters.require("userId")
        return try Self.json(try await service.adminRevoke(orgId: orgId, userId: userId, caller: caller), status: .ok)
    }

    @Sendable func signOut(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let caller = try SessionSecurityService.Caller(identity: context.identity, requestId: context.requestId)
        return try Self.json(try await service.signOut(caller), status: .ok)
    }

    static func json(_ value: some Encodable, status: HTTPResponse.Status) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return Response(
            status: status, headers: [.contentType: "application/json", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(bytes: try encoder.encode(value))))
    }
}
