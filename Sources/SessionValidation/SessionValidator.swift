import AsyncHTTPClient
import Foundation
import GatewayCore
import JWTKit
import Logging
import Metrics
import ProviderTransport
import Synchronization

/// How the session's token reached us.
public enum TokenFormat: String, Sendable, Codable {
    case jwt
    case opaque
}

/// A token that passed every check, with the claims the gateway uses. Holds no token material.
///
/// A class: a verified token travels in every request's context and through several middlewares, and as a
/// struct each copy retained every claim string (retain and release led `/v1/session` profiles).
public final class VerifiedToken: Sendable {
    /// Shared by every token of the issuer: cached tokens carry a pointer, not a copy of the configuration, and
    /// find their issuer and its counter without a lookup by name on every request.
    final class IssuerHandle: Sendable {
        let configuration: IssuerConfiguration
        /// The issuer's position in the validator's list.
        let index: Int
        let validCounter: Counter

        init(_ configuration: IssuerConfiguration, index: Int) {
            self.configuration = configuration
            self.index = index
            self.validCounter = Counter(
                label: "gateway_token_validations_total", dimensions: [("issuer", configuration.name), ("outcome", "valid")])
        }
    }

    let issuerHandle: IssuerHandle
    public var issuer: IssuerConfiguration { issuerHandle.configuration }
    public let format: TokenFormat
    public let claims: TokenClaims
    public let keyId: String?
    public let expiresAt: Double
    public let key: TokenKey
    /// The application's slot for one value of its own kept with this token while it is cached (see
    /// `TokenAttachment`). Validation never reads it.
    public let attachment = TokenAttachment()
    /// The first ID-token companion verified for this token (`SessionValidator.companion`): bound to it by
    /// `at_hash`, so it lives and goes with the cached token and is verified once.
    let companion = AtomicLazyReference<IDTokenCompanion>()

    init(issuerHandle: IssuerHandle, format: TokenFormat, claims: TokenClaims, keyId: String?, expiresAt: Double, key: TokenKey) {
        self.issuerHandle = issuerHandle
        self.format = format
        self.claims = claims
        self.keyId = keyId
        self.expiresAt = expiresAt
        self.key = key
    }

    /// The verified facts principal resolution needs.
    public var sessionClaims: SessionClaims {
        SessionClaims(
            subject: claims.subject ?? "", issuer: issuer.issuer, roles: claims.roles,
            resourceOwnerId: claims.resourceOwnerId, resourceOwnerDomain: claims.resourceOwnerDomain,
            sessionId: claims.sessionId)
    }
}

/// One value the application keeps with a verified token (or ID-token companion) for as long as that stays
/// cached, set once by the first request that computes it: for example something it derives from the token alone.
/// Type-erased, so validation knows nothing of what the application keeps; read without a lock or a lookup.
public typealias TokenAttachment = AtomicLazyReference<any AnyObject & Sendable>

/// A negative-cache entry: why an opaque token was refused, and by which issuer when that is known.
struct InactiveToken: Sendable {
    var failure: ValidationFailure
    var issuerName: String?
}

/// Readiness of one issuer's validation material.
public struct IssuerStatus: Sendable, Codable {
    public var name: String
    public var issuer: String
    public var keysLoaded: Bool
    public var keysUsable: Bool
    public var keysStale: Bool
    public var keysAgeSeconds: Double?
    public var keyIds: [String]
}

/// Validates bearer tokens from the configured issuers: JWTs locally under the gateway's own policy (on
/// jwt-kit's signature primitives), opaque tokens by introspection; results cached by token digest.
public final class SessionValidator: Sendable {
    /// A class: every request looks its issuer up, and a struct copy retained each of the configuration's
    /// strings and arrays (shared by every thread) where a class is one reference.
    final class Issuer: Sendable {
        let configuration: IssuerConfiguration
        let handle: VerifiedToken.IssuerHandle
        let discovery: IssuerDiscovery
        let keys: JWKSCache
        let introspector: Introspector?

        init(
            configuration: IssuerConfiguration, handle: VerifiedToken.IssuerHandle, discovery: IssuerDiscovery,
            keys: JWKSCache, introspector: Introspector?
        ) {
            self.configuration = configuration
            self.handle = handle
            self.discovery = discovery
            self.keys = keys
            self.introspector = introspector
        }
    }

    let issuers: [Issuer]
    let byIssuer: [String: Int]
    let settings: ValidationSettings
    /// Rate and concurrency limits on introspecting opaque tokens not seen before.
    private let admission: OpaqueTokenAdmission
    private let verified: ExpiringCache<VerifiedToken>
    /// Opaque tokens recently refused, with the issuer that refused them (when one did).
    private let inactive: ExpiringCache<InactiveToken>
    /// Verified ID-token companions by the ID token's digest, for access tokens that are not kept in the
    /// verified cache (opaque tokens, rebuilt from introspection on every request); JWTs keep theirs.
    let companions: ExpiringCache<IDTokenCompanion>
    private let headers = Mutex<[Substring: JOSEHeader]>([:])
    private let logger: Logger
    let revocations: (any SessionRevocationList)?
    /// Refusals per issuer name (`unknown` until the token names a configured issuer) and reason.
    private let failureCounters: [String: [ValidationFailure: Counter]]
    private let cacheHits = Counter(label: "gateway_token_cache_total", dimensions: [("result", "hit")])
    private let cacheMisses = Counter(label: "gateway_token_cache_total", dimensions: [("result", "miss")])
    /// Opaque tokens refused from the short negative cache, without asking the issuer again.
    private let inactiveHits = Counter(label: "gateway_token_cache_total", dimensions: [("result", "inactive_hit")])
    static let unknownIssuerLabel = "unknown"

    /// - Parameter revocations: the gateway's own revocation list, consulted after every token verifies.
    public init(
        issuers configurations: [IssuerConfiguration], settings: ValidationSettings, httpClient: HTTPClient,
        logger: Logger, revocations: (any SessionRevocationList)? = nil
    ) throws {
        guard !configurations.isEmpty else { throw ConfigurationError("at least one issuer must be configured") }
        var seen = Set<String>()
        for configuration in configurations {
            try configuration.validate()
            guard seen.insert(configuration.issuer).inserted else {
                throw ConfigurationError("issuer \(configuration.issuer) is configured twice")
            }
        }
        try settings.opaqueTokens.validate()
        let http = ProviderHTTP(client: httpClient)
        var issuers: [Issuer] = []
        for (index, configuration) in configurations.enumerated() {
            let discovery = IssuerDiscovery(configuration: configuration, http: http, logger: logger)
            let keys = JWKSCache(configuration: configuration, discovery: discovery, http: http, logger: logger)
            let introspector = try configuration.introspection.map {
                try Introspector(
                    configuration: configuration, authentication: $0, discovery: discovery, http: http,
                    settings: settings, logger: logger)
            }
            issuers.append(
                Issuer(
                    configuration: configuration, handle: VerifiedToken.IssuerHandle(configuration, index: index), discovery: discovery,
                    keys: keys, introspector: introspector))
        }
        self.issuers = issuers
        self.byIssuer = Dictionary(uniqueKeysWithValues: issuers.enumerated().map { ($1.configuration.issuer, $0) })
        self.settings = settings
        self.admission = OpaqueTokenAdmission(settings: settings.opaqueTokens)
        self.verified = ExpiringCache(capacity: settings.cacheCapacity)
        self.inactive = ExpiringCache(capacity: max(1024, settings.cacheCapacity / 10))
        self.companions = ExpiringCache(capacity: settings.cacheCapacity)
        self.logger = logger
        self.revocations = revocations
        self.failureCounters = Dictionary(
            uniqueKeysWithValues: (configurations.map(\.name) + [Self.unknownIssuerLabel]).map { issuer in
                let counters = Dictionary(
                    uniqueKeysWithValues: ValidationFailure.allCases.map {
                        (
                            $0,
                            Counter(
                                label: "gateway_token_validations_total", dimensions: [("issuer", issuer), ("outcome", $0.rawValue)])
                        )
                    })
                return (issuer, counters)
            })
    }

    /// Runs every issuer's JWKS refresh loop until cancelled.
    public func runKeyRefresh() async {
        await withTaskGroup(of: Void.self) { group in
            for issuer in issuers { group.addTask { await issuer.keys.run() } }
        }
    }

    /// Installs an issuer's JWKS document without fetching it (offline key material, benchmarks).
    /// Returns the key ids loaded; unusable keys are skipped as they are when fetched.
    @discardableResult
    public func installKeys(issuer: String, jwks: [UInt8]) async throws -> [String] {
        guard let index = byIssuer[issuer] else { throw ConfigurationError("issuer \(issuer) is not configured") }
        let (keySet, _) = try await KeySet.parse(jwks, allowed: issuers[index].configuration.algorithms)
        guard !keySet.keys.isEmpty else { throw ConfigurationError("the key set has no usable key") }
        issuers[index].keys.install(keySet)
        return keySet.kids
    }

    public var status: [IssuerStatus] {
        issuers.map { issuer in
            let status = issuer.keys.status
            return IssuerStatus(
                name: issuer.configuration.name, issuer: issuer.configuration.issuer, keysLoaded: status.loaded,
                keysUsable: status.usable, keysStale: status.stale, keysAgeSeconds: status.ageSeconds,
                keyIds: status.keyIds)
        }
    }

    /// The trusted request header carrying the caller's address for the opaque-token budget, when configured.
    public var callerAddressHeader: String? { settings.opaqueTokens.callerAddressHeader }

    /// Ready once every issuer has a usable key set.
    public var isReady: Bool { issuers.allSatisfy { $0.keys.status.usable } }

    public func endpoints(issuer: String) async -> IssuerEndpoints? {
        guard let index = byIssuer[issuer] else { return nil }
        return await issuers[index].discovery.endpoints()
    }

    /// The issuer that verified `token`: found through its handle, which must be this validator's own.
    func issuer(of token: VerifiedToken) -> Issuer? {
        let index = token.issuerHandle.index
        guard issuers.indices.contains(index), issuers[index].handle === token.issuerHandle else { return nil }
        return issuers[index]
    }

    /// A token verified before, accepted without suspending when every check it still needs is local: the
    /// cache holds it unexpired, its key is still published, its issuer does not confirm each token by
    /// introspection, and the revocation list (when there is one) is fresh and holds nothing for its user.
    /// Nil means "call `validate`", which decides every other case (and counts refusals).
    ///
    /// Synchronous on purpose: a cache hit is most requests, and the async calls of the full path (validation,
    /// revocation check, revocation list) cost more than the lookup itself.
    public func cachedValidation(_ token: String) -> VerifiedToken? {
        guard !token.isEmpty, token.utf8.count <= settings.maxTokenBytes else { return nil }
        // Only verified JWTs are kept in this cache (opaque tokens are answered through the introspector's own).
        guard let cached = verified.value(for: TokenKey(token: token), now: Date().timeIntervalSince1970),
            cached.format == .jwt, let issuer = issuer(of: cached), !issuer.configuration.revocationCheck,
            issuer.keys.isPublished(kid: cached.keyId)
        else { return nil }
        if let revocations, !revocations.isClear(userId: cached.claims.subject ?? "") { return nil }
        cacheHits.increment()
        cached.issuerHandle.validCounter.increment()
        return cached
    }

    /// Validates a bearer token, returning its verified claims or the reason it is refused. `callerAddress` (the
    /// trusted header's value, when one is configured) keys the per-address budget for unknown opaque tokens.
    public func validate(_ token: String, callerAddress: String? = nil) async throws(ValidationFailure) -> VerifiedToken {
        // The issuer's name once the token (or its cached result) names a configured issuer: refusals are
        // counted per issuer.
        var issuerName: String?
        do throws(ValidationFailure) {
            let result = try await validateUncounted(token, callerAddress: callerAddress, issuerName: &issuerName)
            // What the token itself says: user, `jti`, `iat`, and `sid` when an opt-in enrichment put one there
            // (Zitadel's access tokens carry none). A session named by an ID-token companion is checked when
            // the companion is bound (`companion(_:for:rawToken:)`).
            if let revocations, try await revocations.isRevoked(RevocationQuery(result)) { throw .revoked }
            result.issuerHandle.validCounter.increment()
            return result
        } catch {
            failureCounters[issuerName ?? Self.unknownIssuerLabel]?[error]?.increment()
            throw error
        }
    }

    private func validateUncounted(
        _ token: String, callerAddress: String?, issuerName: inout String?
    ) async throws(ValidationFailure) -> VerifiedToken {
        guard !token.isEmpty else { throw .missing }
        guard token.utf8.count <= settings.maxTokenBytes else { throw .oversize }
        let key = TokenKey(token: token)
        let now = Date().timeIntervalSince1970
        if let cached = verified.value(for: key, now: now) {
            guard let issuer = issuer(of: cached) else { throw .unknownIssuer }
            issuerName = issuer.configuration.name
            if cached.format == .opaque || issuer.keys.isPublished(kid: cached.keyId) {
                cacheHits.increment()
                try await checkRevocation(token, verified: cached, issuer: issuer)
                return cached
            }
            verified.remove(key)
        }
        if let refused = inactive.value(for: key, now: now) {
            inactiveHits.increment()
            issuerName = refused.issuerName
            throw refused.failure
        }
        cacheMisses.increment()
        if CompactJWS.looksLikeJWS(token) {
            let result = try await verifyJWT(token, key: key, now: now, issuerName: &issuerName)
            verified.insert(
                result, for: key, expiresAt: result.expiresAt + Double(result.issuer.leeway.components.seconds), fetchedAt: now)
            try await checkRevocation(token, verified: result, issuer: issuers[result.issuerHandle.index])
            return result
        }
        return try await introspectOpaque(token, key: key, now: now, callerAddress: callerAddress, issuerName: &issuerName)
    }

    // MARK: JWT

    /// The protected header, parsed as strictly as the claims (`ClaimsParser.parseHeader`); identical header
    /// segments are parsed once.
    func header(_ jws: CompactJWS) throws(ValidationFailure) -> JOSEHeader {
        let segment = jws.headerSegment
        if let known = headers.withLock({ $0[segment] }) { return known }
        guard let header = try? ClaimsParser.parseHeader(jws.headerBytes) else { throw .malformed }
        headers.withLock { cache in
            if cache.count >= 256 { cache.removeAll() }
            cache[segment] = header
        }
        return header
    }

    private func verifyJWT(
        _ token: String, key: TokenKey, now: Double, issuerName: inout String?
    ) async throws(ValidationFailure) -> VerifiedToken {
        guard let jws = CompactJWS(token) else { throw .malformed }
        let header = try header(jws)
        guard var claims = try? ClaimsParser.parse(jws.payloadBytes) else {
            throw .malformed
        }
        guard let iss = claims.issuer, let index = byIssuer[iss] else { throw .unknownIssuer }
        let issuer = issuers[index]
        let configuration = issuer.configuration
        issuerName = configuration.name
        // Refused before the signature is checked: whatever it is, it is no access token.
        if claims.isShapedLikeIDToken { throw .idTokenPresented }
        try await verifySignature(jws, header: header, issuer: issuer, accepting: Self.accessTokenTypes)
        try checkTimeAndAudience(claims, configuration: configuration, now: now)
        claims.resolvePortalRoles(projectId: configuration.projectId, portalClients: configuration.clientIds)
        return VerifiedToken(
            issuerHandle: issuer.handle, format: .jwt, claims: claims, keyId: header.kid,
            expiresAt: claims.expiresAt ?? now, key: key)
    }

    /// `typ` values accepted on access tokens (Zitadel signs every JWT with `typ: JWT`; RFC 9068 names `at+jwt`).
    static let accessTokenTypes: Set<String> = ["jwt", "at+jwt", "application/at+jwt"]

    /// The JOSE header policy and the signature, with the key the issuer publishes for the header's `kid`.
    func verifySignature(
        _ jws: CompactJWS, header: JOSEHeader, issuer: Issuer, accepting types: Set<String>
    ) async throws(ValidationFailure) {
        if header.hasCritical { throw .unsupportedCritical }
        if let typ = header.typ?.lowercased(), !types.contains(typ) { throw .unsupportedTokenType }
        guard let alg = JWSAlgorithm(rawValue: header.alg), issuer.configuration.algorithms.contains(alg) else {
            throw .algorithmNotAllowed
        }
        let verificationKey: VerificationKey
        switch await issuer.keys.lookup(kid: header.kid) {
        case .found(let found): verificationKey = found
        case .unknownKid: throw .unknownKid
        case .kidRequired: throw .kidRequired
        case .unavailable: throw .keysUnavailable
        }
        guard let verifier = verificationKey.verifiers[alg] else { throw .algorithmKeyMismatch }
        let valid = jws.withSigningInput { input in (try? verifier.verify(jws.signature, signs: input)) ?? false }
        guard valid else { throw .badSignature }
    }

    private func checkTimeAndAudience(
        _ claims: TokenClaims, configuration: IssuerConfiguration, now: Double
    )
        throws(ValidationFailure)
    {
        let leeway = Double(configuration.leeway.components.seconds)
        guard let exp = claims.expiresAt else { throw .missingExpiry }
        guard now <= exp + leeway else { throw .expired }
        if let nbf = claims.notBefore, now + leeway < nbf { throw .notYetValid }
        if let iat = claims.issuedAt, iat > now + leeway { throw .issuedInFuture }
        guard claims.audience.contains(where: configuration.audiences.contains) else { throw .wrongAudience }
        guard let subject = claims.subject, !subject.isEmpty else { throw .missingSubject }
    }

    /// With the revocation check on, a JWT is also confirmed by introspection through a short cache.
    private func checkRevocation(_ raw: String, verified token: VerifiedToken, issuer: Issuer) async throws(ValidationFailure) {
        guard token.format == .jwt, issuer.configuration.revocationCheck, let introspector = issuer.introspector else {
            return
        }
        let outcome = try await introspector.introspect(raw, key: token.key, maxAge: issuer.configuration.revocationCacheTTL)
        if case .inactive = outcome {
            verified.remove(token.key)
            throw .revoked
        }
    }

    // MARK: Opaque

    /// How old an issuer's introspection answer for an opaque token may be.
    private func opaqueMaxAge(_ issuer: Issuer) -> Duration {
        issuer.configuration.revocationCheck
            ? min(issuer.configuration.revocationCacheTTL, settings.introspectionCacheTTL) : settings.introspectionCacheTTL
    }

    /// Asks only the issuers whose opaque-token policy admits `token`, in configured order, and stops at the first
    /// that knows it. A token with a young enough cached answer costs nothing; any other is admitted (rate and
    /// concurrency limits) before the first call.
    private func introspectOpaque(
        _ token: String, key: TokenKey, now: Double, callerAddress: String?, issuerName: inout String?
    ) async throws(ValidationFailure) -> VerifiedToken {
        let introspecting = issuers.filter { $0.introspector != nil }
        guard !introspecting.isEmpty else { throw .unsupportedTokenType }
        let candidates = introspecting.filter { $0.configuration.opaqueTokens.admits(token) }
        // No issuer could have issued it: refused unsent.
        guard !candidates.isEmpty else { throw .malformed }
        // One candidate: its refusals are its own. With several, only the one that knows the token is.
        if candidates.count == 1 { issuerName = candidates[0].configuration.name }
        for issuer in candidates {
            if case .active(let claims)? = issuer.introspector?.cachedOutcome(key: key, maxAge: opaqueMaxAge(issuer)),
                let verified = try accept(claims, from: issuer, key: key, now: now, issuerName: &issuerName)
            {
                return verified
            }
        }
        try admission.admit(callerAddress: callerAddress)
        defer { admission.release() }
        var lastFailure: ValidationFailure = .inactive
        for issuer in candidates {
            guard let introspector = issuer.introspector else { continue }
            let outcome: Introspector.Outcome
            do {
                outcome = try await introspector.introspect(token, key: key, maxAge: opaqueMaxAge(issuer))
            } catch {
                lastFailure = error
                continue
            }
            guard case .active(let claims) = outcome else { continue }
            guard let verified = try accept(claims, from: issuer, key: key, now: now, issuerName: &issuerName) else {
                lastFailure = .unknownIssuer
                continue
            }
            return verified
        }
        if lastFailure == .inactive {
            inactive.insert(
                InactiveToken(failure: .inactive, issuerName: issuerName), for: key,
                expiresAt: now + Double(settings.negativeCacheTTL.components.seconds), fetchedAt: now)
        }
        throw lastFailure
    }

    /// An active introspection answer as a verified token; nil when it names another issuer.
    private func accept(
        _ claims: TokenClaims, from issuer: Issuer, key: TokenKey, now: Double, issuerName: inout String?
    ) throws(ValidationFailure) -> VerifiedToken? {
        guard claims.issuer == nil || claims.issuer == issuer.configuration.issuer else { return nil }
        issuerName = issuer.configuration.name
        try checkTimeAndAudience(claims, configuration: issuer.configuration, now: now)
        return VerifiedToken(
            issuerHandle: issuer.handle, format: .opaque, claims: claims, keyId: nil, expiresAt: claims.expiresAt ?? now,
            key: key)
    }

    // MARK: Sign-out

    /// What RFC 7009 revocation at the issuer came to.
    public enum IssuerRevocation: String, Sendable {
        case revoked
        /// The issuer publishes no revocation endpoint on its origin, or no client credentials are configured.
        case unsupported
        case failed
    }

    /// Revokes the token at its issuer's revocation endpoint (RFC 7009, the introspection client's
    /// authentication) and forgets every cached result for it on this instance.
    public func revokeAtIssuer(_ token: VerifiedToken, rawToken: String) async -> IssuerRevocation {
        verified.remove(token.key)
        guard let introspector = issuer(of: token)?.introspector else {
            return .unsupported
        }
        return await introspector.revoke(rawToken, key: token.key)
    }

    /// The token's Zitadel session: the companion's `sid`, else the token's own (opt-in enrichment); nil when
    /// neither names it. Introspection never does: Zitadel's response has no session id.
    public func sessionId(for token: VerifiedToken, companion: IDTokenCompanion?) -> String? {
        companion?.sessionId ?? token.claims.sessionId
    }

    // MARK: Introspected claims

    /// Whether the token's issuer can be asked about it (RFC 7662 introspection is configured for it).
    public func canIntrospect(_ token: VerifiedToken) -> Bool {
        issuer(of: token)?.introspector != nil
    }

    /// The token's introspected claims, through the introspection cache (`introspectionCacheTTL`); nil when the
    /// issuer has no introspection, the token is no longer active, or the issuer could not be asked.
    public func introspectedClaims(for token: VerifiedToken, rawToken: String) async -> TokenClaims? {
        guard let introspector = issuer(of: token)?.introspector,
            case .active(let claims)? = try? await introspector.introspect(
                rawToken, key: token.key, maxAge: settings.introspectionCacheTTL)
        else { return nil }
        return claims
    }
}
