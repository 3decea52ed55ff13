import Configuration
import SessionValidation

extension OpaqueTokenPolicy {
    /// Reads which opaque strings are ever sent to one issuer, from `reader` scoped to
    /// `issuers.<issuer>.opaqueTokens`.
    ///
    /// Keys: `enabled` (true), `format` (`zitadel` or `printable`), `prefix` (none), `minLength` (26),
    /// `maxLength` (4096).
    init(issuer: String, reader: ConfigReader) throws(ConfigurationError) {
        let defaults = OpaqueTokenPolicy()
        let formatValue = reader.string(forKey: "format", default: defaults.format.rawValue)
        guard let format = OpaqueTokenPolicy.Format(rawValue: formatValue) else {
            throw ConfigurationError("issuers.\(issuer).opaqueTokens.format must be zitadel or printable")
        }
        let prefix = reader.string(forKey: "prefix")
        self.init(
            enabled: reader.bool(forKey: "enabled", default: defaults.enabled), format: format,
            prefix: prefix?.isEmpty == true ? nil : prefix, minLength: reader.int(forKey: "minLength", default: defaults.minLength),
            maxLength: reader.int(forKey: "maxLength", default: defaults.maxLength))
    }
}
