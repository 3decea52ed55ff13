import Configuration
import SessionValidation

/// Session security settings (`sessions.*`).
public struct SessionSettings: Sendable, Equatable {
    /// How stale the cached revocation list may get: a revocation bites on every instance within this delay.
    public var revocationCacheTTL: Duration
    /// How long session and token revocations are kept: at least the longest access-token lifetime.
    public var revocationRetention: Duration
    /// Sent as `post_logout_redirect_uri` in the end-session URL (must be registered at Zitadel).
    public var postLogoutRedirectURI: String?

    public init(
        revocationCacheTTL: Duration = .seconds(5), revocationRetention: Duration = .seconds(86_400),
        postLogoutRedirectURI: String? = nil
    ) {
        self.revocationCacheTTL = revocationCacheTTL
        self.revocationRetention = revocationRetention
        self.postLogoutRedirectURI = postLogoutRedirectURI
    }
}

extension GatewayConfiguration {
    /// `sessions.revocationCacheSeconds` (5), `sessions.revocationRetentionSeconds` (86400),
    /// `sessions.postLogoutRedirectUri` (none).
    static func readSessions(reader: ConfigReader) throws(ConfigurationError) -> SessionSettings {
        let ttl = reader.int(forKey: "sessions.revocationCacheSeconds", default: 5)
        let retention = reader.int(forKey: "sessions.revocationRetentionSeconds", default: 86_400)
        guard ttl >= 0, ttl <= 300, retention >= 3600 else {
            throw ConfigurationError(
                "sessions.revocationCacheSeconds must be 0...300 and sessions.revocationRetentionSeconds >= 3600")
        }
        return SessionSettings(
            revocationCacheTTL: .seconds(ttl), revocationRetention: .seconds(retention),
            postLogoutRedirectURI: reader.string(forKey: "sessions.postLogoutRedirectUri"))
    }
}
