import Configuration
import SessionValidation
import ZitadelClient

/// The Zitadel API client's settings (`zitadel.*`).
public struct ZitadelSettings: Sendable {
    /// The instance origin; nil means the first issuer's URL.
    public var url: String?
    /// A machine user's personal access token (secret).
    public var pat: String?
    /// A machine user's key file (JWT profile), used when no PAT is set.
    public var keyFile: String?
    /// The key `keyFile` holds, read and checked at load.
    public var serviceAccountKey: ServiceAccountKey?
    /// Deadline for one provider call, retries included.
    public var timeout: Duration
    /// Extra attempts for reads on retryable failures.
    public var retries: Int
    /// How long provider lookups are cached per user.
    public var cacheTTL: Duration

    /// Reads the client's settings from `reader` scoped to `zitadel`, and reads the key file if one is named.
    ///
    /// Keys:
    /// - `url` (default: the first issuer's url)
    /// - `pat` (secret) or `keyFile` (a service-account key JSON; its RSA key is parsed here, so a broken file
    ///   stops the load); the PAT wins when both are set
    /// - `timeoutMs` (2000, per call including retries; > 0), `retries` (1, reads only), `cacheSeconds` (10,
    ///   provider lookups per user)
    public init(reader: ConfigReader) throws(ConfigurationError) {
        url = reader.string(forKey: "url")
        pat = reader.string(forKey: "pat", isSecret: true)
        keyFile = reader.string(forKey: "keyFile")
        timeout = .milliseconds(reader.int(forKey: "timeoutMs", default: 2000))
        retries = reader.int(forKey: "retries", default: 1)
        cacheTTL = .seconds(reader.int(forKey: "cacheSeconds", default: 10))
        guard timeout > .zero, retries >= 0, cacheTTL >= .zero else {
            throw ConfigurationError("zitadel.timeoutMs must be > 0, zitadel.retries and zitadel.cacheSeconds >= 0")
        }
        if let keyFile { serviceAccountKey = try Self.readKeyFile(keyFile) }
    }

    /// The credential the client authenticates with: the PAT, else the key file's key; nil without either.
    var credential: ZitadelCredential? {
        if let pat, !pat.isEmpty { return .pat(pat) }
        return serviceAccountKey.map { .jwtProfile($0) }
    }

    private static func readKeyFile(_ path: String) throws(ConfigurationError) -> ServiceAccountKey {
        let key: ServiceAccountKey
        do { key = try ServiceAccountKey.load(path: path) } catch {
            throw ConfigurationError("zitadel.keyFile: cannot read a Zitadel service-account key at \(path)")
        }
        // The same parse the client's JWT-profile grant makes.
        guard (try? ClientAssertionSigner(clientId: key.userId, keyId: key.keyId, privateKeyPEM: key.key)) != nil else {
            throw ConfigurationError("zitadel.keyFile: \(path) holds no usable RSA private key")
        }
        return key
    }
}
