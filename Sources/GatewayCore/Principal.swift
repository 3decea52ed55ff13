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

    /// The challenge known without asking the issuer: the companion's `amr`, else the token's own, else unknown
    /// when introspection cannot tell either; nil when introspection must be asked.
    public static func local(_ evidence: AMREvidence) -> MFAChallenge? {
        if let amr = evidence.companion { return .fromAMR(amr, source: .idToken) }
        if let amr = evidence.token { return .fromAMR(amr, source: evidence.tokenSource) }
        return evidence.introspectionCanTell ? nil : .unknown
    }

    /// The challenge from every source: the local evidence first, then introspection's `amr` (nil when the issuer
    /// could not be asked or named none).
    public static func resolved(_ evidence: AMREvidence, introspected: [String]?) -> MFAChallenge {
        if let local = local(evidence) { return local }
        return introspected.map { .fromAMR($0, source: .introspection) } ?? .unknown
    }
}

/// Where a session's `amr` can come from, as token validation found it: the facts the MFA challenge is decided on.
public struct AMREvidence: Sendable, Equatable {
    /// The verified ID-token companion's `amr`.
    public var companion: [String]?
    /// The access token's own `amr` (a JWT's, an opt-in enrichment's, or an opaque token's introspection answer).
    public var token: [String]?
    /// Where the token's own claims came from: `tokenAMR` for a JWT, `introspection` for an opaque token.
    public var tokenSource: MFAStateSource
    /// Whether introspection could still tell: a JWT whose issuer has introspection configured.
    public var introspectionCanTell: Bool

    public init(companion: [String]?, token: [String]?, tokenSource: MFAStateSource, introspectionCanTell: Bool) {
        self.companion = companion
        self.token = token
        self.tokenSource = tokenSource
        self.introspectionCanTell = introspectionCanTell
    }
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
