import Foundation

/// A JWS algorithm the gateway can verify. HMAC and `none` are deliberately absent: they cannot be configured.
public enum JWSAlgorithm: String, Sendable, CaseIterable, Codable {
    case rs256 = "RS256"
    case rs384 = "RS384"
    case rs512 = "RS512"
    case ps256 = "PS256"
    case ps384 = "PS384"
    case ps512 = "PS512"
    case es256 = "ES256"
    case es384 = "ES384"
    case es512 = "ES512"
    case edDSA = "EdDSA"

    var isRSA: Bool {
        switch self {
        case .rs256, .rs384, .rs512, .ps256, .ps384, .ps512: true
        default: false
        }
    }
}

/// How the gateway authenticates to the issuer's introspection and revocation endpoints.
public enum ClientAuthentication: Sendable, Equatable {
    /// RFC 6749 `client_secret_basic`.
    case clientSecretBasic(clientId: String, clientSecret: String)
    /// RFC 7523 `private_key_jwt` with a Zitadel application key file's contents.
    case privateKeyJWT(clientId: String, keyId: String, privateKeyPEM: String)

    public var clientId: String {
        switch self {
        case .clientSecretBasic(let id, _), .privateKeyJWT(let id, _, _): id
        }
    }
}

/// One trusted token issuer. Issuers are configured, never taken from a token.
public struct IssuerConfiguration: Sendable, Equatable {
    /// A short name for logs and metrics labels.
    public var name: String
    /// The exact `iss` value, e.g. `https://example.zitadel.cloud`.
    public var issuer: String
    /// Accepted audiences: a token must carry at least one.
    public var audiences: [String]
    /// The portal's Zitadel project: portal roles come from its roles claim only.
    public var projectId: String
    /// The portal project's application client ids: the generic roles claim counts only for tokens these
    /// clients asked for, an ID-token companion and a logout token must name one in `aud`.
    public var clientIds: [String]
    public var algorithms: Set<JWSAlgorithm>
    /// Clock skew tolerated on `exp`, `nbf` and `iat`.
    public var leeway: Duration
    /// Overrides the `jwks_uri` from discovery.
    public var jwksURL: String?
    /// Overrides the `introspection_endpoint` from discovery.
    public var introspectionURL: String?
    public var introspection: ClientAuthentication?
    /// Confirms JWTs by introspection (through a short cache) so revocation takes effect within `revocationCacheTTL`.
    public var revocationCheck: Bool
    public var revocationCacheTTL: Duration
    public var jwks: JWKSPolicy
    /// Which opaque strings are sent to this issuer's introspection endpoint.
    public var opaqueTokens: OpaqueTokenPolicy

    public init(
        name: String, issuer: String, audiences: [String], projectId: String, clientIds: [String],
        algorithms: Set<JWSAlgorithm> = [.rs256],
        leeway: Duration = .seconds(60), jwksURL: String? = nil, introspectionURL: String? = nil,
        introspection: ClientAuthentication? = nil, revocationCheck: Bool = false,
        revocationCacheTTL: Duration = .seconds(10), jwks: JWKSPolicy = JWKSPolicy(),
        opaqueTokens: OpaqueTokenPolicy = OpaqueTokenPolicy()
    ) {
        self.name = name
        self.issuer = issuer
        self.audiences = audiences
        self.projectId = projectId
        self.clientIds = clientIds
        self.algorithms = algorithms
        self.leeway = leeway
        self.jwksURL = jwksURL
        self.introspectionURL = introspectionURL
        self.introspection = introspection
        self.revocationCheck = revocationCheck
        self.revocationCacheTTL = revocationCacheTTL
        self.jwks = jwks
        self.opaqueTokens = opaqueTokens
    }

    /// Refuses configurations that would silently weaken validation.
    public func validate() throws(ConfigurationError) {
        guard !issuer.isEmpty else { throw ConfigurationError("issuer \(name): `url` is required") }
        guard let url = URL(string: issuer), let scheme = url.scheme, ["https", "http"].contains(scheme),
            url.host != nil
        else { throw ConfigurationError("issuer \(name): `url` must be an absolute http(s) URL") }
        guard !audiences.isEmpty, audiences.allSatisfy({ !$0.isEmpty }) else {
            throw ConfigurationError("issuer \(name): at least one non-empty audience is required")
        }
        guard !projectId.isEmpty else {
            throw ConfigurationError("issuer \(name): `projectId` (the portal's Zitadel project id) is required")
        }
        guard !clientIds.isEmpty, clientIds.allSatisfy({ !$0.isEmpty }) else {
            throw ConfigurationError("issuer \(name): `clientIds` (the portal application's client ids) is required")
        }
        guard !algorithms.isEmpty else { throw ConfigurationError("issuer \(name): at least one algorithm is required") }
        guard leeway >= .zero, leeway <= .seconds(300) else {
            throw ConfigurationError("issuer \(name): leeway must be between 0 and 300 seconds")
        }
        if revocationCheck && introspection == nil {
            throw ConfigurationError("issuer \(name): the revocation check needs introspection credentials")
        }
        for (label, value) in [("jwksURL", jwksURL), ("introspectionURL", introspectionURL)] {
            if let value, URL(string: value)?.host == nil {
                throw ConfigurationError("issuer \(name): `\(label)` must be an absolute URL")
            }
        }
        try jwks.validate(issuer: name)
        guard opaqueTokens.minLength >= 1, opaqueTokens.maxLength >= opaqueTokens.minLength else {
            throw ConfigurationError("issuer \(name): opaqueTokens length bounds must satisfy 1 <= minLength <= maxLength")
        }
    }
}

/// JWKS caching and refresh bounds.
public struct JWKSPolicy: Sendable, Equatable {
    /// Lower and upper bounds applied to the endpoint's `Cache-Control: max-age`.
    public var minRefreshInterval: Duration
    public var maxRefreshInterval: Duration
    /// At most one forced refetch (unknown `kid`) per interval.
    public var forcedRefetchInterval: Duration
    /// How long a `kid` that a refetch did not find is answered as unknown without asking again.
    public var unknownKidTTL: Duration
    /// How long the last good key set is served while the endpoint fails.
    public var maxStaleness: Duration
    public var fetchTimeout: Duration

    public init(
        minRefreshInterval: Duration = .seconds(60), maxRefreshInterval: Duration = .seconds(3600),
        forcedRefetchInterval: Duration = .seconds(30), unknownKidTTL: Duration = .seconds(60),
        maxStaleness: Duration = .seconds(86400), fetchTimeout: Duration = .seconds(5)
    ) {
        self.minRefreshInterval = minRefreshInterval
        self.maxRefreshInterval = maxRefreshInterval
        self.forcedRefetchInterval = forcedRefetchInterval
        self.unknownKidTTL = unknownKidTTL
        self.maxStaleness = maxStaleness
        self.fetchTimeout = fetchTimeout
    }

    func validate(issuer: String) throws(ConfigurationError) {
        guard minRefreshInterval > .zero, maxRefreshInterval >= minRefreshInterval else {
            throw ConfigurationError("issuer \(issuer): JWKS refresh bounds must satisfy 0 < min <= max")
        }
        guard maxStaleness > .zero, fetchTimeout > .zero else {
            throw ConfigurationError("issuer \(issuer): JWKS staleness and timeout must be positive")
        }
    }
}

/// A configuration that cannot be started with.
public struct ConfigurationError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Token validation limits and caches, shared by all issuers.
public struct ValidationSettings: Sendable, Equatable {
    public var maxTokenBytes: Int
    /// Verified tokens and introspection results held, at most.
    public var cacheCapacity: Int
    /// Positive introspection results are kept at most this long (and never past `exp`).
    public var introspectionCacheTTL: Duration
    /// Inactive and failed tokens are remembered this long.
    public var negativeCacheTTL: Duration
    public var introspectionTimeout: Duration
    /// Rate and concurrency limits on introspecting unknown opaque tokens.
    public var opaqueTokens: OpaqueAdmissionSettings

    public init(
        maxTokenBytes: Int = 16 * 1024, cacheCapacity: Int = 100_000, introspectionCacheTTL: Duration = .seconds(60),
        negativeCacheTTL: Duration = .seconds(10), introspectionTimeout: Duration = .seconds(5),
        opaqueTokens: OpaqueAdmissionSettings = OpaqueAdmissionSettings()
    ) {
        self.maxTokenBytes = maxTokenBytes
        self.cacheCapacity = cacheCapacity
        self.introspectionCacheTTL = introspectionCacheTTL
        self.negativeCacheTTL = negativeCacheTTL
        self.introspectionTimeout = introspectionTimeout
        self.opaqueTokens = opaqueTokens
    }
}
