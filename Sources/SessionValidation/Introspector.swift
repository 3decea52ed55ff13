import Foundation
import JWTKit
import Logging
import Metrics
import NIOHTTP1
import ProviderTransport
import Synchronization

/// RFC 7662 introspection at one issuer, authenticating as the gateway's API application.
///
/// Concurrent introspections of one token share one call; results are cached by token digest with the time they
/// were fetched, positive ones never past `exp`, negative ones briefly. Every read applies its caller's own bound.
final class Introspector: Sendable {
    enum Outcome: Sendable {
        case active(TokenClaims)
        case inactive
    }

    /// A call to the issuer that later callers for the same token may join while it is young enough for them.
    private struct InFlightCall: Sendable {
        let task: Task<Result<Outcome, ValidationFailure>, Never>
        let startedAt: Double
        let id: UInt64
    }

    private struct InFlightCalls: Sendable {
        var calls: [TokenKey: InFlightCall] = [:]
        var nextId: UInt64 = 0
    }

    private let configuration: IssuerConfiguration
    private let authentication: ClientAuthentication
    private let discovery: IssuerDiscovery
    private let http: ProviderHTTP
    private let settings: ValidationSettings
    private let logger: Logger
    private let cache: ExpiringCache<Outcome>
    private let inFlight = Mutex(InFlightCalls())
    private let assertionSigner: ClientAssertionSigner?
    private let cacheResults: [String: Counter]
    private let outcomes: [String: Counter]

    init(
        configuration: IssuerConfiguration, authentication: ClientAuthentication, discovery: IssuerDiscovery,
        http: ProviderHTTP, settings: ValidationSettings, logger: Logger
    ) throws {
        self.configuration = configuration
        self.authentication = authentication
        self.discovery = discovery
        self.http = http
        self.settings = settings
        self.logger = logger
        self.cache = ExpiringCache(capacity: settings.cacheCapacity)
        var cacheResults: [String: Counter] = [:]
        for result in ["hit", "miss", "shared"] {
            cacheResults[result] = Counter(
                label: "gateway_introspection_cache_total", dimensions: [("issuer", configuration.name), ("result", result)])
        }
        self.cacheResults = cacheResults
        var outcomes: [String: Counter] = [:]
        for outcome in ["active", "inactive", "failed"] {
            outcomes[outcome] = Counter(
                label: "gateway_introspections_total", dimensions: [("issuer", configuration.name), ("outcome", outcome)])
        }
        self.outcomes = outcomes
        if case .privateKeyJWT(let clientId, let keyId, let pem) = authentication {
            self.assertionSigner = try ClientAssertionSigner(clientId: clientId, keyId: keyId, privateKeyPEM: pem)
        } else {
            self.assertionSigner = nil
        }
    }

    /// Introspects `token`. `maxAge` is this caller's bound on the answer's age (the revocation check passes its
    /// own short one): a cached answer or a running call older than that is not used, however long the caller
    /// that stored or started it would have accepted it. Never longer than `introspectionCacheTTL`.
    func introspect(_ token: String, key: TokenKey, maxAge: Duration) async throws(ValidationFailure) -> Outcome {
        let now = Date().timeIntervalSince1970
        let fetchedSince = now - min(maxAge, settings.introspectionCacheTTL).inSeconds
        if let cached = cache.value(for: key, now: now, fetchedSince: fetchedSince) {
            cacheResults["hit"]?.increment()
            return cached
        }
        let (call, shared): (InFlightCall, Bool) = inFlight.withLock { state in
            if let running = state.calls[key], running.startedAt >= fetchedSince { return (running, true) }
            state.nextId &+= 1
            let call = InFlightCall(
                task: Task { await self.call(token, key: key, startedAt: now) }, startedAt: now, id: state.nextId)
            // A newer call replaces an older one for the same token: later callers join the fresher answer.
            state.calls[key] = call
            return (call, false)
        }
        cacheResults[shared ? "shared" : "miss"]?.increment()
        let result = await call.task.value
        inFlight.withLock { state in
            if state.calls[key]?.id == call.id { state.calls[key] = nil }
        }
        return try result.get()
    }

    /// The cached answer for `key` when it is young enough for `maxAge`, without calling the issuer.
    func cachedOutcome(key: TokenKey, maxAge: Duration) -> Outcome? {
        let now = Date().timeIntervalSince1970
        return cache.value(for: key, now: now, fetchedSince: now - min(maxAge, settings.introspectionCacheTTL).inSeconds)
    }

    /// One call to the issuer. The answer is cached as fetched when the call started (`startedAt`): the issuer's
    /// state is at least that fresh, and no fresher than that can be promised.
    private func call(_ token: String, key: TokenKey, startedAt: Double) async -> Result<Outcome, ValidationFailure> {
        guard let endpoint = await discovery.endpoints()?.introspectionURL else {
            logger.warning("No introspection endpoint", metadata: ["issuer": "\(configuration.name)"])
            return .failure(.introspectionUnavailable)
        }
        var form = [("token", token)]
        var headers = HTTPHeaders()
        guard await authenticate(form: &form, headers: &headers) else { return .failure(.introspectionUnavailable) }
        let response: ProviderResponse
        do {
            response = try await http.postForm(
                endpoint, form: form, headers: headers, timeout: settings.introspectionTimeout, issuer: configuration.name,
                call: .introspect)
        } catch {
            outcomes["failed"]?.increment()
            logger.warning("Introspection failed", metadata: ["issuer": "\(configuration.name)", "reason": "\(error)"])
            return .failure(.introspectionUnavailable)
        }
        guard response.status == 200 else {
            outcomes["failed"]?.increment()
            // 401 means our own client credentials are wrong: an operator problem, not the caller's.
            logger.error(
                "Introspection refused", metadata: ["issuer": "\(configuration.name)", "status": "\(response.status)"])
            return .failure(.introspectionUnavailable)
        }
        guard var claims = try? ClaimsParser.parse(response.body) else {
            outcomes["failed"]?.increment()
            logger.warning("Introspection response malformed", metadata: ["issuer": "\(configuration.name)"])
            return .failure(.introspectionUnavailable)
        }
        let outcome: Outcome
        let expiresAt: Double
        let fetchedAt: Double
        if claims.active == true {
            // Once per result, not per request: only the portal project's roles are kept.
            claims.resolvePortalRoles(projectId: configuration.projectId, portalClients: configuration.clientIds)
            outcomes["active"]?.increment()
            outcome = .active(claims)
            // Kept for the longest bound any reader has; each reader applies its own (`introspect`).
            expiresAt = min(startedAt + settings.introspectionCacheTTL.inSeconds, claims.expiresAt ?? startedAt)
            fetchedAt = startedAt
        } else {
            outcomes["inactive"]?.increment()
            outcome = .inactive
            expiresAt = startedAt + settings.negativeCacheTTL.inSeconds
            // An inactive token never turns active again: every reader may use the answer until it expires.
            fetchedAt = .infinity
        }
        if expiresAt > Date().timeIntervalSince1970 { cache.insert(outcome, for: key, expiresAt: expiresAt, fetchedAt: fetchedAt) }
        return .success(outcome)
    }
}

extension Introspector {
    /// Adds the gateway's client authentication (Basic, or an RFC 7523 assertion); false when none can be made.
    private func authenticate(form: inout [(String, String)], headers: inout HTTPHeaders) async -> Bool {
        switch authentication {
        case .clientSecretBasic(let clientId, let secret):
            let credential = "\(FormEncoding.escape(clientId)):\(FormEncoding.escape(secret))"
            headers.add(name: "Authorization", value: "Basic " + Data(credential.utf8).base64EncodedString())
        case .privateKeyJWT:
            guard let signer = assertionSigner, let assertion = try? await signer.assertion(audience: configuration.issuer)
            else { return false }
            form.append(("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"))
            form.append(("client_assertion", assertion))
        }
        return true
    }

    /// RFC 7009 revocation with the same client authentication; the cached introspection result is dropped.
    func revoke(_ token: String, key: TokenKey) async -> SessionValidator.IssuerRevocation {
        cache.remove(key)
        guard let endpoint = await discovery.endpoints()?.revocationURL else { return .unsupported }
        var form = [("token", token), ("token_type_hint", "access_token")]
        var headers = HTTPHeaders()
        guard await authenticate(form: &form, headers: &headers) else { return .failed }
        do {
            let response = try await http.postForm(
                endpoint, form: form, headers: headers, timeout: settings.introspectionTimeout, issuer: configuration.name,
                call: .revoke)
            guard response.status == 200 else {
                logger.warning("Token revocation refused", metadata: ["issuer": "\(configuration.name)", "status": "\(response.status)"])
                return .failed
            }
            return .revoked
        } catch {
            logger.warning("Token revocation failed", metadata: ["issuer": "\(configuration.name)", "reason": "\(error)"])
            return .failed
        }
    }
}

/// Signs RFC 7523 client assertions with a Zitadel application key, reusing one for a few minutes. The same
/// assertion (`iss` = `sub` = the key's owner, `aud` = the issuer) is a service account's JWT-profile grant.
public final class ClientAssertionSigner: Sendable {
    private let keys: JWTKeyCollection
    private let clientId: String
    private let kid: JWKIdentifier
    private let privateKey: Insecure.RSA.PrivateKey
    private let current = Mutex<(assertion: String, expiresAt: Double)?>(nil)

    public init(clientId: String, keyId: String, privateKeyPEM: String) throws {
        self.clientId = clientId
        self.kid = JWKIdentifier(string: keyId)
        self.keys = JWTKeyCollection()
        self.privateKey = try Insecure.RSA.PrivateKey(pem: privateKeyPEM)
    }

    public func assertion(audience: String) async throws -> String {
        let now = Date().timeIntervalSince1970
        if let reusable = current.withLock({ $0 }), reusable.expiresAt - 60 > now { return reusable.assertion }
        struct Assertion: JWTPayload {
            var iss: String, sub: String, aud: [String], iat: Int, exp: Int, jti: String
            func verify(using algorithm: some JWTAlgorithm) async throws {}
        }
        let payload = Assertion(
            iss: clientId, sub: clientId, aud: [audience], iat: Int(now), exp: Int(now) + 300, jti: UUID().uuidString)
        await keys.add(rsa: privateKey, digestAlgorithm: .sha256, kid: kid)
        let token = try await keys.sign(payload, kid: kid)
        current.withLock { $0 = (token, now + 300) }
        return token
    }
}

extension Duration {
    /// The duration in seconds, fractions included (`components.seconds` alone drops them).
    var inSeconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
