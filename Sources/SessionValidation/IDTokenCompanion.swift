import Crypto
import Foundation
import GatewayCore
import Synchronization

/// What a verified ID token sent with its access token (`X-AiDial-ID-Token`) adds: the Zitadel session, its
/// authentication methods and time. Zitadel's access tokens carry none of them (zitadel/oidc
/// `pkg/oidc/token.go` `NewAccessTokenClaims`); its ID token does (`NewIDTokenClaims`, and `sid` from
/// Zitadel's `internal/api/oidc/token.go` `createIDToken`). Holds no token material: the ID token's digest only.
public final class IDTokenCompanion: Sendable {
    let key: TokenKey
    /// The access token it was verified for (its digest).
    let accessKey: TokenKey
    public let sessionId: String?
    public let amr: [String]?
    public let authTime: Double?
    /// The ID token's `exp`, leeway included: the binding is refused after it.
    let expiresAt: Double
    /// The application's slot for the access token with this companion (see `TokenAttachment`).
    public let attachment = TokenAttachment()

    init(key: TokenKey, accessKey: TokenKey, claims: TokenClaims, expiresAt: Double) {
        self.key = key
        self.accessKey = accessKey
        self.sessionId = claims.sessionId
        self.amr = claims.amr
        self.authTime = claims.authTime
        self.expiresAt = expiresAt
    }
}

/// A verified OIDC Back-Channel Logout token: which session, or which user's sessions, ended.
public struct LogoutToken: Sendable, Equatable {
    public var issuerName: String
    public var subject: String?
    public var sessionId: String?
    public var tokenId: String
    /// `exp` (leeway included): how long its `jti` must be remembered to refuse a replay.
    public var expiresAt: Double
}

extension SessionValidator {
    // MARK: ID-token companion

    /// The companion already verified for `token`, when `idToken` is that one and still unexpired, and the
    /// revocation list (when there is one) holds nothing for the user: no suspension, no decoding. Nil means
    /// "call `companion(_:for:rawToken:)`".
    public func cachedCompanion(_ idToken: String, for token: VerifiedToken) -> IDTokenCompanion? {
        let now = Date().timeIntervalSince1970
        guard let bound = bound(TokenKey(token: idToken), to: token, now: now), now <= bound.expiresAt else { return nil }
        if let revocations, !revocations.isClear(userId: token.claims.subject ?? "") { return nil }
        return bound
    }

    /// The companion verified before for this pair: kept with a cached JWT, else (an opaque token's claims are
    /// rebuilt on every request) in the companion cache, checked to belong to this access token.
    private func bound(_ key: TokenKey, to token: VerifiedToken, now: Double) -> IDTokenCompanion? {
        if let kept = token.companion.load(), kept.key == key { return kept }
        guard let cached = companions.value(for: key, now: now), cached.accessKey == token.key else { return nil }
        return cached
    }

    /// Verifies an ID token presented with the access token `token` (OIDC Core 3.1.3.7 with the issuer's keys
    /// and policy): the same issuer, `aud` naming a configured portal client (and `azp`, when present, one of
    /// them), `sub` equal to the access token's, and `at_hash` matching the presented access token (3.1.3.6).
    /// Verified once per pair: the result is kept with the cached access token. The session it names is then
    /// checked against the revocation list.
    public func companion(
        _ idToken: String, for token: VerifiedToken, rawToken: String
    ) async throws(ValidationFailure) -> IDTokenCompanion {
        let key = TokenKey(token: idToken)
        let now = Date().timeIntervalSince1970
        let bound: IDTokenCompanion
        if let cached = self.bound(key, to: token, now: now) {
            guard now <= cached.expiresAt else { throw .expired }
            bound = cached
        } else {
            bound = try await verifyCompanion(idToken, key: key, for: token, rawToken: rawToken)
            _ = token.companion.storeIfNil(bound)
            if token.format == .opaque {
                companions.insert(bound, for: key, expiresAt: min(bound.expiresAt, token.expiresAt), fetchedAt: now)
            }
        }
        if let revocations, bound.sessionId != nil, token.claims.sessionId == nil {
            var query = RevocationQuery(token)
            query.sessionId = bound.sessionId
            if try await revocations.isRevoked(query) { throw .revoked }
        }
        return bound
    }

    private func verifyCompanion(
        _ idToken: String, key: TokenKey, for token: VerifiedToken, rawToken: String
    ) async throws(ValidationFailure) -> IDTokenCompanion {
        guard !idToken.isEmpty, idToken.utf8.count <= settings.maxTokenBytes else { throw .oversize }
        guard let issuer = issuer(of: token), let jws = CompactJWS(idToken) else { throw .malformed }
        let header = try header(jws)
        guard let claims = try? ClaimsParser.parse(jws.payloadBytes) else { throw .malformed }
        let configuration = issuer.configuration
        guard claims.issuer == configuration.issuer else { throw .wrongIssuer }
        try await verifySignature(jws, header: header, issuer: issuer, accepting: ["jwt"])
        let now = Date().timeIntervalSince1970
        let expiresAt = try checkSignedTime(claims, configuration: configuration, now: now)
        try checkPortalAudience(claims, configuration: configuration)
        guard let subject = claims.subject, subject == token.claims.subject else { throw .subjectMismatch }
        guard let atHash = claims.accessTokenHash, let alg = JWSAlgorithm(rawValue: header.alg),
            atHash == Self.accessTokenHash(rawToken, algorithm: alg)
        else { throw .accessTokenHashMismatch }
        return IDTokenCompanion(key: key, accessKey: token.key, claims: claims, expiresAt: expiresAt)
    }

    /// OIDC Core 3.1.3.6: base64url of the left half of the hash of the token's ASCII octets, the hash the
    /// JWS algorithm names; EdDSA (Ed25519) hashes with SHA-512, as zitadel/oidc `pkg/crypto/hash.go` does.
    static func accessTokenHash(_ token: String, algorithm: JWSAlgorithm) -> String {
        let bytes = Array(token.utf8)
        let digest: [UInt8]
        switch algorithm {
        case .rs256, .ps256, .es256: digest = Array(SHA256.hash(data: bytes))
        case .rs384, .ps384, .es384: digest = Array(SHA384.hash(data: bytes))
        case .rs512, .ps512, .es512, .edDSA: digest = Array(SHA512.hash(data: bytes))
        }
        return Base64URL.encode(digest.prefix(digest.count / 2))
    }

    /// `exp` required and unexpired, `iat` not in the future, `nbf` reached (each with the issuer's leeway);
    /// returns the expiry with leeway.
    private func checkSignedTime(
        _ claims: TokenClaims, configuration: IssuerConfiguration, now: Double
    ) throws(ValidationFailure) -> Double {
        let leeway = Double(configuration.leeway.components.seconds)
        guard let exp = claims.expiresAt else { throw .missingExpiry }
        guard now <= exp + leeway else { throw .expired }
        if let nbf = claims.notBefore, now + leeway < nbf { throw .notYetValid }
        if let iat = claims.issuedAt, iat > now + leeway { throw .issuedInFuture }
        return exp + leeway
    }

    /// `aud` names a configured portal client, and `azp`, when present, is one of them and in `aud`.
    private func checkPortalAudience(_ claims: TokenClaims, configuration: IssuerConfiguration) throws(ValidationFailure) {
        guard claims.audience.contains(where: configuration.clientIds.contains) else { throw .wrongAudience }
        if let azp = claims.authorizedParty, !configuration.clientIds.contains(azp) || !claims.audience.contains(azp) {
            throw .wrongAuthorizedParty
        }
    }

    // MARK: Back-channel logout

    /// The oldest `iat` a logout token may have (plus leeway). Zitadel's logout tokens are short-lived: five
    /// minutes, later a configurable lifetime (`internal/notification/handlers/back_channel_logout.go`
    /// `logoutToken`); its queue retries a failed delivery within that time.
    static let logoutTokenMaxAge: Double = 600

    /// Validates a logout token as OIDC Back-Channel Logout 1.0 section 2.6 requires: a JWS (never encrypted
    /// here) from a configured issuer, signed with its keys under its algorithm policy; `aud` naming a configured
    /// portal client; `iat` within the window; `exp` unexpired; `jti` present; the back-channel logout event;
    /// `sid` and/or `sub`; no `nonce`. Replay of `jti` is the caller's to refuse (the store is shared).
    public func verifyLogoutToken(_ logoutToken: String) async throws(ValidationFailure) -> LogoutToken {
        guard !logoutToken.isEmpty else { throw .missing }
        guard logoutToken.utf8.count <= settings.maxTokenBytes else { throw .oversize }
        guard let jws = CompactJWS(logoutToken) else { throw .malformed }
        let header = try header(jws)
        guard let claims = try? ClaimsParser.parse(jws.payloadBytes) else { throw .malformed }
        guard let iss = claims.issuer, let index = byIssuer[iss] else { throw .unknownIssuer }
        let issuer = issuers[index]
        let configuration = issuer.configuration
        // Zitadel signs with `typ: JWT`; the specification recommends `logout+jwt`.
        try await verifySignature(jws, header: header, issuer: issuer, accepting: ["jwt", "logout+jwt"])
        let now = Date().timeIntervalSince1970
        let expiresAt = try checkSignedTime(claims, configuration: configuration, now: now)
        guard let iat = claims.issuedAt else { throw .malformed }
        guard iat >= now - Self.logoutTokenMaxAge - Double(configuration.leeway.components.seconds) else {
            throw .issuedTooLongAgo
        }
        try checkPortalAudience(claims, configuration: configuration)
        guard let jti = claims.tokenId, !jti.isEmpty else { throw .missingTokenId }
        guard claims.hasBackChannelLogoutEvent else { throw .missingLogoutEvent }
        // `nonce` (and the ID token's hashes) mark an ID token, which must never pass as a logout token.
        guard !claims.hasIDTokenMember else { throw .nonceInLogoutToken }
        let subject = claims.subject.flatMap { $0.isEmpty ? nil : $0 }
        let sessionId = claims.sessionId.flatMap { $0.isEmpty ? nil : $0 }
        guard subject != nil || sessionId != nil else { throw .missingSessionOrSubject }
        return LogoutToken(
            issuerName: configuration.name, subject: subject, sessionId: sessionId, tokenId: jti, expiresAt: expiresAt)
    }
}
