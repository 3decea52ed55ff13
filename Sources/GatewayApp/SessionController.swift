import Foundation
import GatewayCore
import HTTPTypes
import Hummingbird
import Logging
import SessionValidation

/// `GET /v1/session`: who the caller is, for the portal.
struct SessionController {
    let validator: SessionValidator

    struct TenantDTO: ResponseEncodable {
        var orgId: String
        var domain: String?
        var roles: [String]
    }

    struct MFADTO: ResponseEncodable {
        var state: String
        var source: String
        var amr: [String]?
    }

    struct SessionDTO: ResponseEncodable {
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
        var expiresAt: String?
        var authTime: String?
        var apiKey: String?
    }

    func addRoutes(to group: RouterGroup<GatewayRequestContext>) {
        group.get("/session", use: session)
    }

    @Sendable func session(_ request: Request, context: GatewayRequestContext) async throws -> SessionDTO {
        switch context.identity {
        case .session(let token, let principal, let raw):
            let mfa = await validator.mfaChallenge(for: token, rawToken: raw)
            let tenant = { (ref: OrganisationRef) in
                TenantDTO(
                    orgId: ref.orgId, domain: ref.domain,
                    roles: (principal.rolesByTenant[ref.orgId] ?? []).sorted().map(\.rawValue))
            }
            return SessionDTO(
                kind: principal.kind.rawValue, subject: principal.subject, issuer: principal.issuer,
                tokenFormat: token.format.rawValue, username: token.claims.username,
                portalRole: principal.portalRole?.rawValue, homeOrgId: principal.homeOrgId,
                activeTenant: principal.activeTenant.map(tenant), tenantScope: principal.tenantScope.map(tenant),
                mfa: MFADTO(state: mfa.state.rawValue, source: mfa.source.rawValue, amr: mfa.amr),
                sessionId: token.claims.sessionId, expiresAt: Self.timestamp(token.expiresAt),
                authTime: token.claims.authTime.map(Self.timestamp), apiKey: nil)
        case .integration(let key, let tenant):
            return SessionDTO(
                kind: "integration", activeTenant: tenant.map { TenantDTO(orgId: $0, domain: nil, roles: []) },
                tenantScope: key.tenants.map { TenantDTO(orgId: $0, domain: nil, roles: []) }, apiKey: key.name)
        case nil:
            throw ValidationFailure.missing.problem
        }
    }

    static func timestamp(_ seconds: Double) -> String {
        Date(timeIntervalSince1970: seconds).formatted(.iso8601)
    }
}
