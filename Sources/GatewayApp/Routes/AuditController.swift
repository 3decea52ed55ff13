import GatewayCore
import GatewayStore
import Hummingbird
import ServiceLifecycle

/// `GET /v1/audit-events`: a tenant's audit trail for trusted integrations (API key), oldest first, cursor paged.
struct AuditController {
    let store: any GatewayStore

    func addRoutes(to group: RouterGroup<GatewayRequestContext>) {
        group.get("/audit-events", use: list)
    }

    struct PageDTO: ResponseEncodable {
        var events: [EventDTO]
        var nextCursor: String?

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(events, forKey: .events)
            try container.encode(nextCursor, forKey: .nextCursor)
        }

        enum CodingKeys: String, CodingKey { case events, nextCursor }
    }

    struct EventDTO: Encodable {
        var id: String
        var time: Timestamp
        var tenant: String
        var actor: String
        var session: String?
        var action: String
        var outcome: String
        var metadata: [String: String]
        var requestId: String?
    }

    @Sendable func list(_ request: Request, context: GatewayRequestContext) async throws -> PageDTO {
        guard let caller = context.caller, caller.kind == .integration else {
            throw GatewayProblem(.forbidden, "The audit trail is for trusted integrations (X-API-Key).")
        }
        guard let tenant = caller.tenant else {
            throw GatewayProblem(.invalidRequest, "This API key serves several tenants: name one in X-AiDial-Tenant.")
        }
        let query = request.uri.queryParameters
        var limit = 100
        if let value = query["limit"] {
            guard let parsed = Int(String(value)), (1...500).contains(parsed) else {
                throw GatewayProblem(.invalidRequest, "limit must be a number from 1 to 500.")
            }
            limit = parsed
        }
        let cursor = query["cursor"].map(String.init)
        let page: AuditPage
        do { page = try await store.auditEvents(tenant: tenant, after: cursor, limit: limit) } catch GatewayStoreError.invalidCursor {
            throw GatewayProblem(.invalidRequest, "The cursor is not one this endpoint returned.")
        } catch {
            throw GatewayProblem(.storeUnavailable, "The audit trail is unavailable; retry shortly.", retryAfter: 2)
        }
        return PageDTO(
            events: page.events.map {
                EventDTO(
                    id: $0.id, time: Timestamp($0.time), tenant: $0.tenant,
                    actor: $0.actor, session: $0.session, action: $0.action, outcome: $0.outcome, metadata: $0.metadata,
                    requestId: $0.requestId)
            }, nextCursor: page.nextCursor)
    }
}
