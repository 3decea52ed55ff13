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

/// One row of `GET /mock/admin/users`.
public struct AdminUser: Codable, Sendable {
    public var id: String
    public var loginName: String
    public var orgId: String
    public var roles: [String]
    public var displayName: String
    public var orgName: String?
    public var grants: [Seed.User.Grant]
}

/// `GET /mock/admin/users/{id}`: the user's current state, sessions and SMS messages.
public struct AdminUserDetail: Encodable, Sendable {
    public var user: Seed.User
    public var sessions: [SessionSummary]
    public var smsOutbox: [SMSMessage]
}

/// One row of `GET /mock/admin/keys`.
public struct KeyInfo: Codable, Sendable {
    public var kid: String
    public var alg: SigningAlgorithm
    public var published: Bool
    public var active: Bool
}

/// A request the mock received, as `GET /mock/admin/journal` lists it.
public struct JournalEntry: Sendable {
    /// Position in the journal, increasing.
    public var sequence: Int
    public var method: String
    public var path: String
    /// `Service/Method` for both wire forms of the v2 APIs (`UserService/SetPhone`), `nil` for other routes.
    public var rpc: String?
    /// The user the call was about, when the mock knows it.
    public var userId: String?
    public var at: Date
    /// The status the mock answered with; `nil` while in flight or when the connection was reset.
    public var status: Int?
    /// The fault that was applied, if any.
    public var faultId: String?
    /// SHA-256 (hex) of the request body; `nil` for an empty body.
    public var bodyDigest: String?
    /// Who called (the token's or PAT's user) on the v2 APIs.
    public var callerId: String?
}

extension JournalEntry: Codable {
    enum CodingKeys: String, CodingKey {
        case sequence, method, path, rpc, userId, at, status, faultId, bodyDigest, callerId
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        sequence = try container.decode(Int.self, forKey: .sequence)
        method = try container.decode(String.self, forKey: .method)
        path = try container.decode(String.self, forKey: .path)
        rpc = try container.decodeIfPresent(String.self, forKey: .rpc)
        userId = try container.decodeIfPresent(String.self, forKey: .userId)
        let atString = try container.decode(String.self, forKey: .at)
        guard let at = Timestamp.parse(atString) else {
            throw DecodingError.dataCorruptedError(forKey: .at, in: container, debugDescription: "Not RFC 3339")
        }
        self.at = at
        status = try container.decodeIfPresent(Int.self, forKey: .status)
        faultId = try container.decodeIfPresent(String.self, forKey: .faultId)
        bodyDigest = try container.decodeIfPresent(String.self, forKey: .bodyDigest)
        callerId = try container.decodeIfPresent(String.self, forKey: .callerId)
    }

    /// `rpc` and `userId` are always present, `null` when unknown (fixed interface).
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(sequence, forKey: .sequence)
        try container.encode(method, forKey: .method)
        try container.encode(path, forKey: .path)
        try container.encode(rpc, forKey: .rpc)
        try container.encode(userId, forKey: .userId)
        try container.encode(Timestamp.format(at), forKey: .at)
        try container.encode(status, forKey: .status)
        try container.encodeIfPresent(faultId, forKey: .faultId)
        try container.encode(bodyDigest, forKey: .bodyDigest)
        try container.encodeIfPresent(callerId, forKey: .callerId)
    }
}

/// Body of `POST /mock/admin/faults`: what to break for requests matching `path` (and `method`, `rpc`).
public struct FaultSpec: Codable, Sendable {
    /// Exact request path, or a prefix when it ends with `*` (`*` alone matches every path).
    public var path: String
    /// HTTP method to match; any when `nil`.
    public var method: String?
    /// v2 RPC to match in either wire form, e.g. `UserService/SetPhone`; any when `nil`.
    public var rpc: String?
    /// Hold the request without answering, then close the connection: a client timeout. The hold lasts
    /// `latencyMs` (default 60 s). With `afterHandler`, the change is applied first.
    public var timeout: Bool?
    /// Status to answer with instead of the real handler's.
    public var status: Int?
    /// Delay before answering (or before running the handler).
    public var latencyMs: Int?
    /// Body to send instead of the real one.
    public var body: String?
    /// Send a truncated copy of the real JSON body.
    public var malformed: Bool?
    /// Close the connection without sending a response.
    public var reset: Bool?
    /// How many matching requests the fault applies to; unlimited when `nil`.
    public var times: Int?
    /// Run the real handler first (its state change commits), then apply the fault to the response.
    public var afterHandler: Bool?

    public init(
        path: String,
        method: String? = nil,
        status: Int? = nil,
        latencyMs: Int? = nil,
        body: String? = nil,
        malformed: Bool? = nil,
        reset: Bool? = nil,
        times: Int? = nil,
        afterHandler: Bool? = nil,
        rpc: String? = nil,
        timeout: Bool? = nil
    ) {
        self.path = path
        self.method = method
        self.rpc = rpc
        self.timeout = timeout
        self.status = status
        self.latencyMs = latencyMs
        self.body = body
        self.malformed = malformed
        self.reset = reset
        self.times = times
        self.afterHandler = afterHandler
    }
}

/// An installed fault, as `GET /mock/admin/faults` lists it.
public struct Fault: Codable, Sendable {
    public var id: String
    public var spec: FaultSpec
    /// Matching requests still to break; `nil` for unlimited.
    public var remaining: Int?
    /// Requests this fault has been applied to.
    public var hits: Int

    /// Whether this fault applies to a request.
    func matches(method: String, path: String, rpc: String?) -> Bool {
        if let remaining, remaining <= 0 { return false }
        if let wanted = spec.method, wanted.caseInsensitiveCompare(method) != .orderedSame { return false }
        if let wanted = spec.rpc, wanted != rpc { return false }
        if spec.path.hasSuffix("*") {
            return path.hasPrefix(spec.path.dropLast())
        }
        return path == spec.path
    }
}

/// RFC 3339 timestamps with fractional seconds, in UTC.
enum Timestamp {
    static func format(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }

    /// Parses RFC 3339 with or without fractional seconds.
    static func parse(_ string: String) -> Date? {
        if let date = try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(string) { return date }
        return try? Date.ISO8601FormatStyle().parse(string)
    }
}

/// A text message the mock "sent": phone verification codes (`SetPhone`, `ResendPhoneCode`) and sign-in codes.
public struct SMSMessage: Codable, Sendable {
    public enum Kind: String, Codable, Sendable {
        case phoneVerification = "phone_verification"
        case otpSMS = "otp_sms"
    }

    public var userId: String
    /// Only the masked number is ever shown, e.g. `+61 4•• ••• 156`.
    public var maskedPhone: String
    public var code: String
    public var at: String
    public var kind: Kind
    /// The full number, for filtering only.
    var phone: String = ""

    enum CodingKeys: String, CodingKey {
        case userId, maskedPhone, code, at, kind
    }
}
