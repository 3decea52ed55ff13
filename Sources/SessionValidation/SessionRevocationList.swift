/// The facts of a verified token that a revocation list decides on. Holds no token material.
public struct RevocationQuery: Sendable, Equatable {
    public var userId: String
    /// The Zitadel session: the ID-token companion's `sid`, or the token's own (an opt-in enrichment).
    public var sessionId: String?
    /// The token's `jti`.
    public var tokenId: String?
    /// `iat` (else `nbf`), seconds since 1970; nil when the token carries neither.
    public var issuedAt: Double?

    public init(userId: String, sessionId: String?, tokenId: String?, issuedAt: Double?) {
        self.userId = userId
        self.sessionId = sessionId
        self.tokenId = tokenId
        self.issuedAt = issuedAt
    }

    public init(_ token: VerifiedToken) {
        self.init(
            userId: token.claims.subject ?? "", sessionId: token.claims.sessionId, tokenId: token.claims.tokenId,
            issuedAt: token.claims.issuedAt ?? token.claims.notBefore)
    }
}

/// Revocations the gateway enforces itself (sign-out everywhere, ended sessions, signed-out tokens), consulted
/// after a token verifies. Implementations answer from a short cache: this runs on every request.
public protocol SessionRevocationList: Sendable {
    /// True when the token is revoked; throws `.revocationListUnavailable` when the list cannot be consulted
    /// (the request then fails closed).
    func isRevoked(_ query: RevocationQuery) async throws(ValidationFailure) -> Bool

    /// True only when the list is fresh and holds nothing at all for `userId`, answered from memory without
    /// suspending: a cached token is then accepted without the full check. False means "ask `isRevoked`".
    func isClear(userId: String) -> Bool
}

extension SessionRevocationList {
    public func isClear(userId: String) -> Bool { false }
}
