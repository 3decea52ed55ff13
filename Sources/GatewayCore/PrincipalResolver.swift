/// The verified facts about a session that principal resolution needs.
public struct SessionClaims: Sendable, Equatable {
    public var subject: String
    public var issuer: String
    public var roles: RoleGrants
    /// `urn:zitadel:iam:user:resourceowner:id`, when the token carries it.
    public var resourceOwnerId: String?
    public var resourceOwnerDomain: String?
    public var sessionId: String?

    public init(
        subject: String, issuer: String, roles: RoleGrants, resourceOwnerId: String?, resourceOwnerDomain: String?,
        sessionId: String?
    ) {
        self.subject = subject
        self.issuer = issuer
        self.roles = roles
        self.resourceOwnerId = resourceOwnerId
        self.resourceOwnerDomain = resourceOwnerDomain
        self.sessionId = sessionId
    }
}

/// Why a requested tenant was refused. Out of scope and nonexistent are one case: both must answer the same.
public enum PrincipalResolutionFailure: Error, Sendable, Equatable {
    /// `X-AiDial-Tenant` is not an organisation id.
    case malformedTenant
    /// The requested tenant is not in the caller's scope (or does not exist).
    case tenantOutOfScope
}

/// Resolves the portal principal from verified claims and the requested tenant (`X-AiDial-Tenant`).
///
/// Customers are single-tenant: only grants in their own organisation count. Partners are multi-tenant:
/// every organisation a partner role is granted in joins their client scope. Any tenant outside the scope
/// answers 404 `not_found`, exactly like a tenant that does not exist.
public enum PrincipalResolver {
    /// The longest tenant header accepted; Zitadel ids are 18-digit numbers.
    public static let maxTenantHeaderLength = 64

    /// - Parameter homeOrgId: the user's own organisation, learnt by the caller when the token lacks the
    ///   resource-owner claim (never from `X-AiDial-Tenant`); the claim wins when present.
    public static func resolve(
        _ claims: SessionClaims, homeOrgId learnt: String? = nil, requestedTenant: String?
    ) throws(PrincipalResolutionFailure) -> Principal {
        let homeOrgId = claims.resourceOwnerId ?? learnt
        if let requestedTenant {
            guard Self.isWellFormedOrgId(requestedTenant) else {
                throw .malformedTenant
            }
        }
        let byOrg = claims.roles.portalRolesByOrg
        let partnerOrgs = byOrg.filter { $0.value.contains(where: \.isPartner) }

        if !partnerOrgs.isEmpty {
            var rolesByTenant: [String: Set<PortalRole>] = [:]
            for (org, roles) in partnerOrgs { rolesByTenant[org] = roles.filter(\.isPartner) }
            let scope = rolesByTenant.keys.sorted().map {
                OrganisationRef(orgId: $0, domain: claims.roles.domain(of: $0))
            }
            let highest = rolesByTenant.values.flatMap { $0 }.max() ?? .partnerUser
            var active: OrganisationRef?
            var role = highest
            if let requestedTenant {
                guard let ref = scope.first(where: { $0.orgId == requestedTenant }),
                    let held = rolesByTenant[requestedTenant]?.max()
                else { throw .tenantOutOfScope }
                active = ref
                role = held
            } else if scope.count == 1, let only = scope.first, let held = rolesByTenant[only.orgId]?.max() {
                active = only
                role = held
            }
            return Principal(
                subject: claims.subject, issuer: claims.issuer, kind: .partner, homeOrgId: homeOrgId,
                activeTenant: active, portalRole: role, tenantScope: scope, rolesByTenant: rolesByTenant,
                sessionId: claims.sessionId)
        }

        // Customer: the tenant is the user's own organisation, never one inferred from where roles are granted.
        let homeOrg = homeOrgId
        guard let homeOrg, let roles = byOrg[homeOrg], let role = roles.max() else {
            // A valid session without a portal role: it may ask who it is, but it has no tenant in scope.
            if requestedTenant != nil { throw .tenantOutOfScope }
            return Principal(
                subject: claims.subject, issuer: claims.issuer, kind: .client, homeOrgId: homeOrg, activeTenant: nil,
                portalRole: nil, tenantScope: [], rolesByTenant: [:], sessionId: claims.sessionId)
        }
        if let requestedTenant, requestedTenant != homeOrg {
            throw .tenantOutOfScope
        }
        let ref = OrganisationRef(
            orgId: homeOrg, domain: claims.roles.domain(of: homeOrg) ?? claims.resourceOwnerDomain)
        return Principal(
            subject: claims.subject, issuer: claims.issuer, kind: .client, homeOrgId: homeOrg, activeTenant: ref,
            portalRole: role, tenantScope: [ref], rolesByTenant: [homeOrg: roles], sessionId: claims.sessionId)
    }

    /// Organisation ids are opaque but short and plain: letters, digits, `-` and `_`.
    public static func isWellFormedOrgId(_ value: String) -> Bool {
        guard !value.isEmpty, value.utf8.count <= maxTenantHeaderLength else { return false }
        return value.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || byte == 0x2D || byte == 0x5F
        }
    }
}
