import Foundation
import GatewayCore
import GatewayStore
import HTTPTypes
import Hummingbird
import NIOCore
import ServiceLifecycle

/// `POST /v1/portal-mfa-lifecycle/sms-enrolments` (+ `/{id}/verification`, `/{id}/resend`): the "Enrol SMS
/// one-time code" action of the Account Security surface.
struct SMSEnrolmentController {
    let service: SMSEnrolmentService

    func addRoutes(to group: RouterGroup<GatewayRequestContext>) {
        group.post("/portal-mfa-lifecycle/sms-enrolments", use: create)
        group.post("/portal-mfa-lifecycle/sms-enrolments/:id/verification", use: verify)
        group.post("/portal-mfa-lifecycle/sms-enrolments/:id/resend", use: resend)
    }

    struct CreateRequest: Decodable {
        var phone: String
    }

    struct VerifyRequest: Decodable {
        var code: String
    }

    @Sendable func create(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let caller = EnrolmentCaller(try LifecycleCaller(identity: context.identity))
        try service.requireSMSAllowed(caller)
        let key = try SMSEnrolmentService.validatedKey(request.headers[.idempotencyKey])
        let address = try callerAddress(request)
        let body = try await Self.decode(CreateRequest.self, request, context, hint: "{\"phone\": \"04XX XXX XXX\"}")
        let answer = try await service.create(
            phone: body.phone, idempotencyKey: key, caller: caller, callerAddress: address, requestId: context.requestId)
        return Self.response(answer)
    }

    @Sendable func verify(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let caller = EnrolmentCaller(try LifecycleCaller(identity: context.identity))
        let id = context.parameters.get("id") ?? ""
        let body = try await Self.decode(VerifyRequest.self, request, context, hint: "{\"code\": \"...\"}")
        return Self.response(try await service.verify(id: id, code: body.code, caller: caller, requestId: context.requestId))
    }

    @Sendable func resend(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let caller = EnrolmentCaller(try LifecycleCaller(identity: context.identity))
        let id = context.parameters.get("id") ?? ""
        let address = try callerAddress(request)
        return Self.response(try await service.resend(id: id, caller: caller, callerAddress: address, requestId: context.requestId))
    }

    /// The end user's address, only from the configured trusted-proxy header (its last entry, which that proxy
    /// appended); nil when no header is configured. With a header configured, a request without it, or whose
    /// last entry is not an IP address, is refused: skipping the per-address budget would let any caller that
    /// reaches the gateway around the proxy spend it freely.
    func callerAddress(_ request: Request) throws -> CallerAddress? {
        guard let header = service.settings.callerAddressHeader else { return nil }
        guard let name = HTTPField.Name(header), let value = request.headers[values: name].last,
            let last = value.split(separator: ",", omittingEmptySubsequences: false).last,
            let address = CallerAddress(parsing: last.trimmingCharacters(in: .whitespaces))
        else {
            throw GatewayProblem(
                .callerAddressRequired, "The request did not come through the trusted proxy: its caller address is missing.")
        }
        return address
    }

    static func decode<T: Decodable>(
        _ type: T.Type, _ request: Request, _ context: GatewayRequestContext, hint: String
    ) async throws -> T {
        do { return try await request.decode(as: type, context: context) } catch {
            throw GatewayProblem(.invalidRequest, "Send a JSON body \(hint).")
        }
    }

    static func response(_ answer: EnrolmentAnswer) -> Response {
        if answer.status >= 400 { RequestLogContext.current?.problemCode = ProblemResponse.code(inBody: answer.body) }
        var headers: HTTPFields = [.cacheControl: "no-store"]
        headers[.contentType] = answer.status >= 400 ? "application/problem+json" : "application/json"
        if answer.replayed { headers[.idempotentReplayed] = "true" }
        if let location = answer.location { headers[.location] = location }
        return Response(
            status: .init(code: answer.status), headers: headers, body: .init(byteBuffer: ByteBuffer(string: answer.body)))
    }
}

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

/// `GET /v1/audit-events`: a tenant's audit trail for trusted integrations (API key), oldest first, cursor paged.
struct AuditController {
    let store: any GatewayStore

    func addRoutes(to group: RouterGroup<GatewayRequestContext>) {
        group.get("/audit-events", use: list)
    }

    struct PageDTO: Encodable {
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
        var time: String
        var tenant: String
        var actor: String
        var session: String?
        var action: String
        var outcome: String
        var metadata: [String: String]
        var requestId: String?
    }

    @Sendable func list(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        guard case .integration(_, let tenant) = context.identity else {
            throw GatewayProblem(.forbidden, "The audit trail is for trusted integrations (X-API-Key).")
        }
        guard let tenant else {
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
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let dto = PageDTO(
            events: page.events.map {
                EventDTO(
                    id: $0.id, time: formatter.string(from: Date(timeIntervalSince1970: $0.time)), tenant: $0.tenant,
                    actor: $0.actor, session: $0.session, action: $0.action, outcome: $0.outcome, metadata: $0.metadata,
                    requestId: $0.requestId)
            }, nextCursor: page.nextCursor)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Response(
            status: .ok, headers: [.contentType: "application/json", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(bytes: try encoder.encode(dto))))
    }
}
