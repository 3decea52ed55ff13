import Foundation
import GatewayCore
import HTTPTypes
import Hummingbird
import Logging
import SessionValidation
import Synchronization

/// `GET /v1/session`: who the caller is, for the portal.
struct SessionController {
    let validator: SessionValidator

    struct TenantDTO: Sendable {
        var orgId: String
        var domain: String?
        var roles: [String]

        func write(to json: inout JSONWriter) {
            json.object { json in
                json.key("orgId")
                json.string(orgId)
                json.field("domain", domain)
                json.key("roles")
                json.array(roles) { json, role in json.string(role) }
            }
        }
    }

    struct MFADTO: Sendable {
        var state: String
        var source: String
        var amr: [String]?
    }

    struct SessionDTO {
        var kind: String
        var subject: String?
        var issuer: String?
        var tokenFormat: String?
        var username: String?
        var portalRole: String?
        var homeOrgId: String?
        var activeTenant: TenantDTO?
        var tenantScope: [TenantDTO]
        var mfa: MFADTO?
        var sessionId: String?
        var sessionBinding: String?
        var expiresAt: String?
        var authTime: String?
        var apiKey: String?

        /// Written by hand: see `JSONWriter`. Optional fields that are nil are omitted, as `JSONEncoder` does.
        func body() -> [UInt8] {
            var json = JSONWriter()
            json.object { json in
                json.key("kind")
                json.string(kind)
                json.field("subject", subject)
                json.field("issuer", issuer)
                json.field("tokenFormat", tokenFormat)
                json.field("username", username)
                json.field("portalRole", portalRole)
                json.field("homeOrgId", homeOrgId)
                json.field("sessionId", sessionId)
                json.field("sessionBinding", sessionBinding)
                json.field("expiresAt", expiresAt)
                json.field("authTime", authTime)
                json.field("apiKey", apiKey)
                if let activeTenant {
                    json.key("activeTenant")
                    activeTenant.write(to: &json)
                }
                json.key("tenantScope")
                json.array(tenantScope) { json, tenant in tenant.write(to: &json) }
                if let mfa {
                    json.key("mfa")
                    json.object { json in
                        json.key("state")
                        json.string(mfa.state)
                        json.key("source")
                        json.string(mfa.source)
                        if let amr = mfa.amr {
                            json.key("amr")
                            json.array(amr) { json, value in json.string(value) }
                        }
                    }
                }
            }
            return json.bytes
        }
    }

    func addRoutes(to group: RouterGroup<GatewayRequestContext>) {
        group.get("/session", use: session)
    }

    @Sendable func session(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let caller = try context.requireCaller()
        if caller.kind == .session, let token = caller.token, let principal = caller.principal, let raw = caller.rawToken {
            let companion = caller.companion
            // Without a tenant choice, and with the MFA state settled by the token (and its companion), the body
            // depends on them alone: rendered by the first request that presents them, then shared (the portal asks
            // on every page). Only JWTs: their verified token is the cached one; an opaque token's is rebuilt on
            // every request. With a companion, the body is kept with the companion bound to the token.
            let local = validator.localMFAChallenge(for: token, companion: companion)
            let fromTokenAlone = token.format == .jwt && local != nil && request.headers[.tenant] == nil
            if fromTokenAlone, let memo = SessionBodyMemo.kept(with: token, companion: companion) {
                return JSONWriter.response(memo.bytes)
            }
            let mfa: MFAChallenge
            if let local {
                mfa = local
            } else {
                mfa = await validator.mfaChallenge(for: token, rawToken: raw, companion: companion)
            }
            let tenant = { (ref: OrganisationRef) in
                TenantDTO(
                    orgId: ref.orgId, domain: ref.domain,
                    roles: (principal.rolesByTenant[ref.orgId] ?? []).sorted().map(\.rawValue))
            }
            let body = SessionDTO(
                kind: principal.kind.rawValue, subject: principal.subject, issuer: principal.issuer,
                tokenFormat: token.format.rawValue, username: token.claims.username,
                portalRole: principal.portalRole?.rawValue, homeOrgId: principal.homeOrgId,
                activeTenant: principal.activeTenant.map(tenant), tenantScope: principal.tenantScope.map(tenant),
                mfa: MFADTO(state: mfa.state.rawValue, source: mfa.source.rawValue, amr: mfa.amr),
                sessionId: validator.sessionId(for: token, companion: companion),
                sessionBinding: SessionBinding(token: token, companion: companion).rawValue,
                expiresAt: Self.timestamp(token.expiresAt),
                authTime: (companion?.authTime ?? token.claims.authTime).map(Self.timestamp), apiKey: nil
            ).body()
            if fromTokenAlone {
                SessionBodyMemo(body).keep(with: token, companion: companion)
            }
            return JSONWriter.response(body)
        }
        guard let key = caller.apiKey else { throw GatewayProblem(ValidationFailure.missing) }
        return JSONWriter.response(
            SessionDTO(
                kind: "integration", activeTenant: caller.tenant.map { TenantDTO(orgId: $0, domain: nil, roles: []) },
                tenantScope: key.tenants.map { TenantDTO(orgId: $0, domain: nil, roles: []) }, apiKey: key.name
            ).body())
    }

    static func timestamp(_ seconds: Double) -> String {
        Timestamp.rfc3339(seconds)
    }
}

/// The `/v1/session` body rendered once for a JWT (and its companion) whose answer depends on the token alone,
/// kept in the verified token's attachment slot: it lives and goes with the cached token, and a repeat request
/// costs a load and a type check instead of a render (about 5% of the CPU per request; README, Performance).
///
/// In the token's slot rather than an application-side cache keyed by the token's digest, because the slot
/// needs no lookup, lock or eviction of its own, and validation still knows nothing about response bodies.
///
/// Plain bytes of exactly the body's size: a kept `ByteBuffer` cost about twice the memory per cached session
/// (its storage object and allocator), more than the copy into each response costs in time.
final class SessionBodyMemo: Sendable {
    let bytes: [UInt8]

    /// Copies `bytes` into storage of exactly their size (a writer's buffer has room to spare).
    init(_ bytes: [UInt8]) {
        self.bytes = [UInt8](unsafeUninitializedCapacity: bytes.count) { buffer, count in
            count = buffer.initialize(fromContentsOf: bytes)
        }
    }

    /// The body kept for this pair: with a companion, the companion's (bound to the token); else the token's.
    static func kept(with token: VerifiedToken, companion: IDTokenCompanion?) -> SessionBodyMemo? {
        if let companion { return companion.attachment.load() as? SessionBodyMemo }
        return token.attachment.load() as? SessionBodyMemo
    }

    /// Keeps this body for the pair, unless a concurrent request kept one first (the same bytes).
    func keep(with token: VerifiedToken, companion: IDTokenCompanion?) {
        if let companion {
            _ = companion.attachment.storeIfNil(self)
        } else {
            _ = token.attachment.storeIfNil(self)
        }
    }
}
