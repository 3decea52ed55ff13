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

    static let basePath = MFALifecycleController.basePath + "/sms-enrolments"

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
        let caller = try context.requireCaller()
        try service.requireSMSAllowed(caller)
        let key = try Self.idempotencyKey(request.headers[.idempotencyKey])
        let address = try callerAddress(request)
        let body = try await Self.decode(CreateRequest.self, request, context, hint: "{\"phone\": \"04XX XXX XXX\"}")
        let outcome = try await service.create(
            phone: body.phone, idempotencyKey: key, caller: caller, callerAddress: address, requestId: context.requestId)
        return try service.presenter.response(outcome)
    }

    @Sendable func verify(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let caller = try context.requireCaller()
        try caller.requirePortalUser(MFALifecycleService.portalSessionsOnly)
        let id = context.parameters.get("id") ?? ""
        let body = try await Self.decode(VerifyRequest.self, request, context, hint: "{\"code\": \"...\"}")
        let outcome = try await service.verify(id: id, code: body.code, caller: caller, requestId: context.requestId)
        return try service.presenter.response(outcome)
    }

    @Sendable func resend(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let caller = try context.requireCaller()
        try caller.requirePortalUser(MFALifecycleService.portalSessionsOnly)
        let id = context.parameters.get("id") ?? ""
        let address = try callerAddress(request)
        let outcome = try await service.resend(id: id, caller: caller, callerAddress: address, requestId: context.requestId)
        return try service.presenter.response(outcome)
    }

    /// The Idempotency-Key header: required, 1 to 255 visible ASCII characters.
    static func idempotencyKey(_ key: String?) throws(GatewayProblem) -> String {
        guard var key, !key.isEmpty else {
            throw GatewayProblem(.idempotencyKeyMissing, "Send an Idempotency-Key header (a fresh random value per enrolment).")
        }
        // The draft sends the key as a structured-field string: accept it quoted or bare.
        if key.count >= 2, key.hasPrefix("\""), key.hasSuffix("\"") { key = String(key.dropFirst().dropLast()) }
        guard (1...255).contains(key.utf8.count), key.utf8.allSatisfy({ (0x21...0x7E).contains($0) }) else {
            throw GatewayProblem(.invalidRequest, "The Idempotency-Key must be 1 to 255 visible ASCII characters.")
        }
        return key
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
}
