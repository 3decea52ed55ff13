import Foundation
import GatewayCore
import HTTPTypes
import Hummingbird
import Logging
import NIOCore

/// `GET /v1/portal-mfa-lifecycle` and `POST /v1/portal-mfa-lifecycle/actions`: the Settings Profile and
/// Account Security surfaces' MFA snapshot and actions.
struct MFALifecycleController {
    let service: MFALifecycleService

    static let basePath = "/v1/portal-mfa-lifecycle"

    func addRoutes(to group: RouterGroup<GatewayRequestContext>) {
        group.get("/portal-mfa-lifecycle", use: snapshot)
        group.post("/portal-mfa-lifecycle/actions", use: action)
    }

    @Sendable func snapshot(_ request: Request, context: GatewayRequestContext) async throws -> EditedResponse<SnapshotDTO> {
        let caller = try context.requireCaller()
        try caller.requirePortalUser(MFALifecycleService.portalSessionsOnly)
        let snapshot = try await service.snapshot(for: caller)
        return EditedResponse(headers: Self.eTag(snapshot), response: SnapshotDTO(snapshot))
    }

    struct ActionRequest: Decodable {
        var action: String
        var marker: String?
    }

    struct ActionResponseDTO: ResponseEncodable {
        var action: String
        var url: String?
        var snapshot: SnapshotDTO

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(action, forKey: .action)
            try container.encode(url, forKey: .url)
            try container.encode(snapshot, forKey: .snapshot)
        }

        enum CodingKeys: String, CodingKey { case action, url, snapshot }
    }

    @Sendable func action(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let caller = try context.requireCaller()
        try caller.requirePortalUser(MFALifecycleService.portalSessionsOnly)
        let body: ActionRequest
        do {
            body = try await request.decode(as: ActionRequest.self, context: context)
        } catch {
            throw GatewayProblem(.invalidRequest, "Send a JSON body {\"action\": ..., \"marker\": ...}.")
        }
        guard let action = MFALifecycleAction(rawValue: body.action) else {
            throw GatewayProblem(
                .invalidRequest,
                "Unknown action; expected one of \(MFALifecycleAction.allCases.map(\.rawValue).joined(separator: ", ")).")
        }
        if action.requiresMarker && (body.marker ?? "").isEmpty {
            throw GatewayProblem(.invalidRequest, "This action requires the current lifecycle marker.")
        }
        do {
            let (snapshot, url) = try await service.perform(
                action, marker: body.marker, caller: caller, requestId: context.requestId)
            return try EditedResponse(
                headers: Self.eTag(snapshot),
                response: ActionResponseDTO(action: action.rawValue, url: url, snapshot: SnapshotDTO(snapshot))
            ).response(from: request, context: context)
        } catch let stale as StaleMarker {
            return Self.staleMarker(stale.snapshot, requestId: context.requestId)
        }
    }

    /// The snapshot's marker, also its entity tag.
    static func eTag(_ snapshot: LifecycleSnapshot) -> HTTPFields {
        [.eTag: "\"\(snapshot.decision.marker)\""]
    }

    /// 409 `stale_marker`: the problem document carries the fresh snapshot, so the portal can re-render at once.
    static func staleMarker(_ snapshot: LifecycleSnapshot, requestId: String?) -> Response {
        struct Members: Encodable { var snapshot: SnapshotDTO }
        let problem = GatewayProblem(
            .staleMarker, "The lifecycle changed since this marker was issued; review the fresh snapshot and retry.")
        var response = ProblemRenderer.response(problem, requestId: requestId, members: Members(snapshot: SnapshotDTO(snapshot)))
        response.headers.append(contentsOf: eTag(snapshot))
        return response
    }
}

/// The snapshot as the portal reads it; nullable fields are sent as `null`, never omitted.
struct SnapshotDTO: ResponseEncodable {
    var displayName: String?
    var email: String?
    var emailVerified: Bool?
    var portalRole: String
    var tenant: String?
    var policy: String
    var policySource: String
    var allowedFactors: [String]
    var enrolledFactors: [FactorDTO]?
    var enrollment: String
    var challenge: String
    var challengeSource: String
    var securityStatus: String
    var recoveryCodeReminder: String
    /// `id_token`, `token_claim` or `none`: with `none` the reminder cannot say a recovery code was used.
    var sessionBinding: String
    var availableActions: [ActionDTO]
    var marker: String
    var refreshedAt: Timestamp
    var mfaCompliant: Bool

    struct FactorDTO: Encodable {
        var factor: String
        var id: String?
        var kind: String?
        var deviceLabel: String?
        var lastUsedAt: Timestamp?

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(factor, forKey: .factor)
            try container.encode(id, forKey: .id)
            try container.encode(kind, forKey: .kind)
            try container.encode(deviceLabel, forKey: .deviceLabel)
            try container.encode(lastUsedAt, forKey: .lastUsedAt)
        }

        enum CodingKeys: String, CodingKey { case factor, id, kind, deviceLabel, lastUsedAt }
    }

    struct ActionDTO: Encodable {
        var action: String
        var url: String?

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(action, forKey: .action)
            try container.encode(url, forKey: .url)
        }

        enum CodingKeys: String, CodingKey { case action, url }
    }

    init(_ snapshot: LifecycleSnapshot) {
        let decision = snapshot.decision
        displayName = snapshot.provider.displayName
        email = snapshot.provider.email
        emailVerified = snapshot.provider.emailVerified
        portalRole = snapshot.role.rawValue
        tenant = snapshot.tenant
        policy = decision.policy.requirement.rawValue
        policySource = decision.policy.source.rawValue
        allowedFactors = decision.policy.allowedFactors.map(\.rawValue)
        enrolledFactors = snapshot.provider.enrolledFactors?.map {
            FactorDTO(
                factor: $0.factor.rawValue, id: $0.id, kind: $0.kind, deviceLabel: $0.label,
                lastUsedAt: $0.lastUsedAt.flatMap(Timestamp.init(rfc3339:)))
        }
        enrollment = decision.enrollment.rawValue
        challenge = decision.challenge.rawValue
        challengeSource = snapshot.challenge.source.rawValue
        securityStatus = decision.status.rawValue
        recoveryCodeReminder = decision.reminder.rawValue
        sessionBinding = snapshot.sessionBinding.rawValue
        availableActions = decision.actions.map { ActionDTO(action: $0.action.rawValue, url: $0.url) }
        marker = decision.marker
        refreshedAt = Timestamp(snapshot.refreshedAt)
        mfaCompliant = decision.mfaCompliant
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(displayName, forKey: .displayName)
        try container.encode(email, forKey: .email)
        try container.encode(emailVerified, forKey: .emailVerified)
        try container.encode(portalRole, forKey: .portalRole)
        try container.encode(tenant, forKey: .tenant)
        try container.encode(policy, forKey: .policy)
        try container.encode(policySource, forKey: .policySource)
        try container.encode(allowedFactors, forKey: .allowedFactors)
        try container.encode(enrolledFactors, forKey: .enrolledFactors)
        try container.encode(enrollment, forKey: .enrollment)
        try container.encode(challenge, forKey: .challenge)
        try container.encode(challengeSource, forKey: .challengeSource)
        try container.encode(securityStatus, forKey: .securityStatus)
        try container.encode(recoveryCodeReminder, forKey: .recoveryCodeReminder)
        try container.encode(sessionBinding, forKey: .sessionBinding)
        try container.encode(availableActions, forKey: .availableActions)
        try container.encode(marker, forKey: .marker)
        try container.encode(refreshedAt, forKey: .refreshedAt)
        try container.encode(mfaCompliant, forKey: .mfaCompliant)
    }

    enum CodingKeys: String, CodingKey {
        case displayName, email, emailVerified, portalRole, tenant, policy, policySource, allowedFactors
        case enrolledFactors, enrollment, challenge, challengeSource, securityStatus, recoveryCodeReminder
        case sessionBinding, availableActions, marker, refreshedAt, mfaCompliant
    }
}
