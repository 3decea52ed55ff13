import Configuration
import SessionValidation

extension ValidationSettings {
    /// Reads token validation's limits and caches from `reader` scoped to `validation`, and checks them.
    ///
    /// Keys: `maxTokenBytes` (16384, at least 1024), `cacheCapacity` (100000, at least 16),
    /// `introspectionCacheSeconds` (60), `negativeCacheSeconds` (10), `introspectionTimeoutMs` (5000), and the
    /// unknown-opaque-token budgets under `opaqueTokens.*` (`OpaqueAdmissionSettings(reader:)`).
    init(reader: ConfigReader) throws(ConfigurationError) {
        self.init(
            maxTokenBytes: reader.int(forKey: "maxTokenBytes", default: 16 * 1024),
            cacheCapacity: reader.int(forKey: "cacheCapacity", default: 100_000),
            introspectionCacheTTL: .seconds(reader.int(forKey: "introspectionCacheSeconds", default: 60)),
            negativeCacheTTL: .seconds(reader.int(forKey: "negativeCacheSeconds", default: 10)),
            introspectionTimeout: .milliseconds(reader.int(forKey: "introspectionTimeoutMs", default: 5000)),
            opaqueTokens: try OpaqueAdmissionSettings(reader: reader.scoped(to: "opaqueTokens")))
        guard maxTokenBytes >= 1024, cacheCapacity >= 16 else {
            throw ConfigurationError("validation.maxTokenBytes must be >= 1024 and validation.cacheCapacity >= 16")
        }
    }
}
