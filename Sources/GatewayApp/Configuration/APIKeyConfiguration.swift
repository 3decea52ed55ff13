import Configuration
import SessionValidation

/// A trusted server-side integration's key: stored as a SHA-256 hash, bound to tenants and routes.
public struct APIKeyConfiguration: Sendable, Equatable {
    public var name: String
    /// Lowercase hex SHA-256 of the key.
    public var sha256: [UInt8]
    public var tenants: [String]
    /// Routes as `METHOD /path`, e.g. `GET /v1/audit-events`.
    public var routes: Set<String>

    public init(name: String, sha256: [UInt8], tenants: [String], routes: Set<String>) {
        self.name = name
        self.sha256 = sha256
        self.tenants = tenants
        self.routes = routes
    }

    /// Reads one key's settings from `reader`, scoped to `apiKeys.<name>`.
    ///
    /// Keys (all required):
    /// - `sha256` (secret): the key's SHA-256 as 64 hex digits (`printf %s "$KEY" | sha256sum`)
    /// - `tenants`: the organisation ids the key may act for
    /// - `routes`: the routes it may call, as `METHOD /path`
    public init(name: String, reader: ConfigReader) throws(ConfigurationError) {
        guard let hex = reader.string(forKey: "sha256", isSecret: true), let hash = Self.hexBytes(hex), hash.count == 32
        else { throw ConfigurationError("apiKeys.\(name).sha256 must be the key's SHA-256 as 64 hex digits") }
        let tenants = reader.stringArray(forKey: "tenants", default: [])
        let routes = reader.stringArray(forKey: "routes", default: [])
        guard !tenants.isEmpty, !routes.isEmpty else {
            throw ConfigurationError("apiKeys.\(name) must list its tenants and routes")
        }
        self.init(name: name, sha256: hash, tenants: tenants, routes: Set(routes))
    }

    static func hexBytes(_ hex: String) -> [UInt8]? {
        let utf8 = Array(hex.lowercased().utf8)
        guard utf8.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(utf8.count / 2)
        var index = 0
        while index < utf8.count {
            guard let high = hexValue(utf8[index]), let low = hexValue(utf8[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        return bytes
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x30...0x39: byte - 0x30
        case 0x61...0x66: byte - 0x61 + 10
        default: nil
        }
    }
}
