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
        var response = ProblemRenderer.stored(status: answer.status, body: answer.body)
        if answer.replayed { response.headers[.idempotentReplayed] = "true" }
        if let location = answer.location { response.headers[.location] = location }
        return response
    }
}
