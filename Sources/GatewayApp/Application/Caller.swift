import GatewayCore
import SessionValidation

/// Who is calling, built once by `AuthenticationMiddleware` and taken by every controller and service: a portal
/// session (bearer token, with its ID-token companion when one was sent) or a trusted integration (API key).
///
/// A class: the request context is copied through every middleware, and one reference is cheaper to retain than
/// a dozen fields inline (most of them claim strings shared with the token cache).
final class Caller: Sendable {
    enum Kind: Sendable, Equatable {
        case session
        case integration
    }

    let kind: Kind
    /// The user (the token's subject); empty for an integration.
    let userId: String
    /// The user's own organisation, where factors, lifecycle records and SMS enrolments live. Never the active
    /// tenant: authentication learnt it from the token or Zitadel.
    let homeOrg: String?
    /// The active tenant (`X-AiDial-Tenant`, or the only one in scope): policy and audit scope.
    let tenant: String?
    /// The portal role in the active tenant; nil for an integration or a session that holds none.
    let role: PortalRole?
    /// The Zitadel session: from a verified ID-token companion, or an opt-in `sid` in the token.
    let sessionId: String?
    let principal: Principal?
    let token: VerifiedToken?
    let rawToken: String?
    /// The verified ID token sent with the access token (`X-AiDial-ID-Token`), when one was.
    let companion: IDTokenCompanion?
    let apiKey: APIKeyConfiguration?

    init(
        kind: Kind = .session, userId: String, homeOrg: String?, tenant: String?, role: PortalRole?, sessionId: String?,
        principal: Principal? = nil, token: VerifiedToken? = nil, rawToken: String? = nil,
        companion: IDTokenCompanion? = nil, apiKey: APIKeyConfiguration? = nil
    ) {
        self.kind = kind
        self.userId = userId
        self.homeOrg = homeOrg
        self.tenant = tenant
        self.role = role
        self.sessionId = sessionId
        self.principal = principal
        self.token = token
        self.rawToken = rawToken
        self.companion = companion
        self.apiKey = apiKey
    }

    /// A portal session: the principal resolved from the verified token (its `sessionId` already taken from the
    /// companion when one was sent).
    convenience init(session token: VerifiedToken, principal: Principal, rawToken: String, companion: IDTokenCompanion?) {
        self.init(
            userId: principal.subject, homeOrg: principal.homeOrgId, tenant: principal.activeTenant?.orgId,
            role: principal.portalRole, sessionId: principal.sessionId ?? token.claims.sessionId, principal: principal,
            token: token, rawToken: rawToken, companion: companion)
    }

    /// A trusted integration acting in `tenant` (named by `X-AiDial-Tenant`, or the key's only tenant).
    convenience init(integration key: APIKeyConfiguration, tenant: String?) {
        self.init(kind: .integration, userId: "", homeOrg: nil, tenant: tenant, role: nil, sessionId: nil, apiKey: key)
    }

    /// The tenant audit events of this caller are filed under.
    var auditTenant: String { tenant ?? homeOrg ?? "-" }

    var sessionBinding: SessionBinding {
        guard let token else { return .none }
        return SessionBinding(token: token, companion: companion)
    }

    /// Refuses a caller the portal-user surfaces do not serve: an integration (403, with `refusal`), a session
    /// without a portal role, or a user whose organisation is unknown. Returns the role and organisation.
    @discardableResult
    func requirePortalUser(
        _ refusal: String = "This route is available to portal sessions only."
    ) throws(GatewayProblem) -> (role: PortalRole, homeOrg: String) {
        guard kind == .session else { throw GatewayProblem(.forbidden, refusal) }
        guard let role else { throw GatewayProblem(.noPortalRole, "This session holds no portal role.") }
        guard let homeOrg else {
            throw GatewayProblem(.homeOrganisationUnknown, "The user's organisation is not known.", retryAfter: 5)
        }
        return (role, homeOrg)
    }

    /// The bearer token and its raw form, for a portal session; anyone else is refused with `refusal`.
    func requireSession(
        _ refusal: String = "This route is available to portal sessions only."
    ) throws(GatewayProblem) -> (token: VerifiedToken, rawToken: String) {
        guard kind == .session, let token, let rawToken else { throw GatewayProblem(.forbidden, refusal) }
        return (token, rawToken)
    }
}
