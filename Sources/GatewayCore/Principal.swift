/// What the gateway knows about the session's multi-factor challenge.
public enum MFAChallengeState: String, Sendable, Codable {
    /// A second factor (or a passkey) was used in this session.
    case satisfied
    /// The session's authentication methods are known and include no second factor.
    case notSatisfied = "not_satisfied"
    /// Neither the token nor the provider told us.
    case unknown
}

/// Where the session's MFA state came from.
public enum MFAStateSource: String, Sendable, Codable {
    case tokenAMR = "token_amr"
    /// The verified ID-token companion (`X-AiDial-ID-Token`).
    case idToken = "id_token"
    case introspection
    case sessionService = "session_service"
    case unavailable
}

/// The session's MFA challenge state and its evidence.
public struct MFAChallenge: Sendable, Equatable, Codable {
    public var state: MFAChallengeState
    public var source: MFAStateSource
    public var amr: [String]?

    public init(state: MFAChallengeState, source: MFAStateSource, amr: [String]?) {
        self.state = state
        self.source = source
        self.amr = amr
    }

    /// Interprets Zitadel's `amr` values: `mfa` is emitted once two factors were counted (a passkey counts two).
    public static func fromAMR(_ amr: [String], source: MFAStateSource) -> MFAChallenge {
        let satisfied = amr.contains("mfa")
        return MFAChallenge(state: satisfied ? .satisfied : .notSatisfied, source: source, amr: amr)
    }

    public static let unknown = MFAChallenge(state: .unknown, source: .unavailable, amr: nil)
}

/// Whether the principal is a customer (single tenant) or a partner (several client tenants).
public enum PrincipalKind: String, Sendable, Codable {
    case client
    case partner
}

/// The portal user behind a validated session, resolved for one request.
public struct Principal: Sendable, Equatable {
    public var subject: String
    public var issuer: String
    public var kind: PrincipalKind
    /// The organisation the user belongs to (Zitadel resource owner).
    public var homeOrgId: String?
    /// The tenant this request acts in; nil for a partner who has not selected a client.
    public var activeTenant: OrganisationRef?
    /// The portal role in the active tenant (or the highest held, when no tenant is active); nil when the
    /// user holds no portal role at all (a valid session that may use no portal route).
    public var portalRole: PortalRole?
    /// Tenants the principal may act in: the own org for customers, granted client orgs for partners.
    public var tenantScope: [OrganisationRef]
    /// Portal roles per tenant in scope.
    public var rolesByTenant: [String: Set<PortalRole>]
    public var sessionId: String?

    public init(
        subject: String, issuer: String, kind: PrincipalKind, homeOrgId: String?, activeTenant: OrganisationRef?,
        portalRole: PortalRole?, tenantScope: [OrganisationRef], rolesByTenant: [String: Set<PortalRole>],
        sessionId: String?
    ) {
        self.subject = subject
        self.issuer = issuer
        self.kind = kind
        self.homeOrgId = homeOrgId
        self.activeTenant = activeTenant
        self.portalRole = portalRole
        self.tenantScope = tenantScope
        self.rolesByTenant = rolesByTenant
        self.sessionId = sessionId
    }

    /// True when `orgId` is a tenant this principal may see. Out-of-scope tenants must answer 404.
    public func hasInScope(_ orgId: String) -> Bool {
        tenantScope.contains { $0.orgId == orgId }
    }
}
