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

    /// The defaults, as `init(reader:)` reads them from an empty configuration.
    public init() {
        revocationCacheTTL = .seconds(5)
        revocationRetention = .seconds(86_400)
        postLogoutRedirectURI = nil
    }

    /// Reads the settings from `reader` scoped to `sessions`, and checks them.
    ///
    /// Keys: `revocationCacheSeconds` (5, 0...300), `revocationRetentionSeconds` (86400, at least 3600),
    /// `postLogoutRedirectUri` (none).
    public init(reader: ConfigReader) throws(ConfigurationError) {
        let ttl = reader.int(forKey: "revocationCacheSeconds", default: 5)
        let retention = reader.int(forKey: "revocationRetentionSeconds", default: 86_400)
        guard ttl >= 0, ttl <= 300, retention >= 3600 else {
            throw ConfigurationError(
                "sessions.revocationCacheSeconds must be 0...300 and sessions.revocationRetentionSeconds >= 3600")
        }
        revocationCacheTTL = .seconds(ttl)
        revocationRetention = .seconds(retention)
        postLogoutRedirectURI = reader.string(forKey: "postLogoutRedirectUri")
    }
}
