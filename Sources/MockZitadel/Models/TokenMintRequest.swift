import Foundation

/// Access-token formats: Zitadel issues opaque tokens by default and JWTs when the app opts in.
public enum TokenFormat: String, Codable, Sendable {
    case jwt
    case opaque
}

/// Body of `POST /mock/admin/tokens`: whose token, in which format, with which test knobs.
public struct TokenMintRequest: Codable, Sendable {
    public var userId: String
    public var format: TokenFormat
    /// Recorded for introspection (JWTs never carry it); default `["pwd"]`.
    public var amr: [String]?
    /// Lifetime in seconds, may be negative for an already expired token; default 43200 (Zitadel's 12 h).
    public var expiresIn: Int?
    /// Restrict the roles claims to grants in this organisation.
    public var orgId: String?
    /// Which active key signs (default RS256).
    public var alg: SigningAlgorithm?
    /// Sign with this specific key, published or not.
    public var kid: String?
    /// Replaces the roles claims: `{"role":{"orgId":"domain"}}`.
    public var roles: JSONValue?
    /// Replaces `aud`.
    public var audience: [String]?
    /// Replaces `iss`.
    public var issuer: String?
    /// `nbf` relative to now, in seconds.
    public var notBeforeIn: Int?
    /// `iat` relative to now, in seconds (negative = past).
    public var issuedAtIn: Int?
    /// Merged into the JWS header, e.g. `{"crit":["exp"]}`.
    public var extraHeader: [String: JSONValue]?
    /// Merged into the JWT payload.
    public var extraClaims: [String: JSONValue]?
    /// Claim names removed from the JWT payload.
    public var omitClaims: [String]?
    /// Granted scopes (older name of `scopes`).
    public var scope: [String]?
    /// The scopes the portal requested; default its documented list: `openid profile email
    /// urn:zitadel:iam:org:projects:roles urn:zitadel:iam:user:resourceowner`. They gate claims as in Zitadel.
    public var scopes: [String]?
    /// Also return the ID token Zitadel issues with this access token (`at_hash`, `sid`, `amr`, `auth_time`, `azp`).
    public var idToken: Bool?
    /// Opt-in Actions enrichment of a JWT access token: any of `amr`, `auth_time`, `sid` (Zitadel never adds them
    /// itself). An explicit `amr` in the request implies `amr`.
    public var actionClaims: [String]?
    /// The `nonce` the ID token carries.
    public var nonce: String?
    /// Issue the token in this existing session (for example one started at the login page) instead of a new one.
    public var sessionId: String?
    /// The factors the new session verified; default: derived from `amr` (and `amr` from these when only they are given).
    public var factors: [SessionFactor]?

    public init(
        userId: String,
        format: TokenFormat,
        amr: [String]? = nil,
        expiresIn: Int? = nil,
        orgId: String? = nil,
        alg: SigningAlgorithm? = nil,
        kid: String? = nil,
        roles: JSONValue? = nil,
        audience: [String]? = nil,
        issuer: String? = nil,
        notBeforeIn: Int? = nil,
        issuedAtIn: Int? = nil,
        extraHeader: [String: JSONValue]? = nil,
        extraClaims: [String: JSONValue]? = nil,
        omitClaims: [String]? = nil,
        scope: [String]? = nil,
        sessionId: String? = nil,
        factors: [SessionFactor]? = nil,
        scopes: [String]? = nil,
        idToken: Bool? = nil,
        actionClaims: [String]? = nil,
        nonce: String? = nil
    ) {
        self.userId = userId
        self.format = format
        self.amr = amr
        self.expiresIn = expiresIn
        self.orgId = orgId
        self.alg = alg
        self.kid = kid
        self.roles = roles
        self.audience = audience
        self.issuer = issuer
        self.notBeforeIn = notBeforeIn
        self.issuedAtIn = issuedAtIn
        self.extraHeader = extraHeader
        self.extraClaims = extraClaims
        self.omitClaims = omitClaims
        self.scope = scope
        self.sessionId = sessionId
        self.factors = factors
        self.scopes = scopes
        self.idToken = idToken
        self.actionClaims = actionClaims
        self.nonce = nonce
    }
}

extension TokenMintRequest {
    /// Refuses (400) a lifetime or offset that would date the token outside 1970-01-01...9999-12-31: such a
    /// NumericDate is no real date (Zitadel's lifetimes are bounded settings), and no claim can render it.
    func checkDates(now: Date) throws(AdminProblem) {
        let offsets = [("expiresIn", expiresIn), ("notBeforeIn", notBeforeIn), ("issuedAtIn", issuedAtIn)]
        for case (let name, let offset?) in offsets {
            let seconds = now.timeIntervalSince1970 + Double(offset)
            guard seconds >= 0, seconds < 253_402_300_800 else {
                throw AdminProblem(
                    status: 400, code: "invalid_body", title: "Invalid body",
                    detail: "\(name) would date the token outside 1970-01-01 to 9999-12-31.")
            }
        }
    }
}

/// Response of `POST /mock/admin/tokens`.
public struct MintedToken: Codable, Sendable {
    public var accessToken: String
    public var tokenType: String
    public var expiresIn: Int
    /// The token id (`jti`), also for opaque tokens.
    public var tokenId: String
    /// The Zitadel session the token belongs to (the ID token's `sid`); machine users' tokens have none.
    public var sessionId: String?
    /// The matching ID token, when the request asked for it with `"idToken": true`.
    public var idToken: String?
}
