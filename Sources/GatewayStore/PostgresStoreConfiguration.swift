import Foundation

/// Where and how the PostgreSQL store connects, parsed from `store.url`.
///
/// `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?sslmode=disable|prefer|require&schema=NAME]`
/// (`postgresql://` too). The password may also come from configuration as a secret (`store.password`), which
/// wins over the URL's. `schema` keeps the gateway's tables in their own schema (created when missing).
public struct PostgresStoreConfiguration: Sendable, Equatable {
    public enum TLSMode: String, Sendable, Equatable {
        case disable, prefer, require
    }

    public var host: String
    public var port: Int
    public var username: String
    public var password: String?
    public var database: String
    public var tls: TLSMode
    public var schema: String?
    /// The most connections one instance opens.
    public var poolSize: Int
    /// Deadline for one store operation, waiting for a connection included: past it the operation fails (and the
    /// gateway answers 503 `store_unavailable`) instead of hanging while the server is unreachable.
    public var operationTimeout: Duration

    public init(
        host: String, port: Int = 5432, username: String, password: String?, database: String, tls: TLSMode = .prefer,
        schema: String? = nil, poolSize: Int = 10, operationTimeout: Duration = .seconds(5)
    ) {
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.database = database
        self.tls = tls
        self.schema = schema
        self.poolSize = max(1, poolSize)
        self.operationTimeout = operationTimeout
    }

    /// True for the URL schemes this configuration parses.
    public static func handles(_ url: String) -> Bool {
        url.hasPrefix("postgres://") || url.hasPrefix("postgresql://")
    }

    /// Parses a `postgres://` URL; errors never repeat the URL (it may hold a password).
    public init(url: String, poolSize: Int = 10, operationTimeout: Duration = .seconds(5)) throws(GatewayStoreError) {
        guard Self.handles(url), let components = URLComponents(string: url), let host = components.host, !host.isEmpty
        else { throw GatewayStoreError.invalidURL("expected postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE") }
        guard let user = components.user, !user.isEmpty else {
            throw GatewayStoreError.invalidURL("postgres:// needs a user name")
        }
        let database = String(components.path.drop { $0 == "/" })
        guard !database.isEmpty else { throw GatewayStoreError.invalidURL("postgres:// needs a database name") }
        var tls = TLSMode.prefer
        var schema: String?
        for item in components.queryItems ?? [] {
            switch item.name {
            case "sslmode":
                guard let mode = TLSMode(rawValue: item.value ?? "") else {
                    throw GatewayStoreError.invalidURL("sslmode must be disable, prefer or require")
                }
                tls = mode
            case "schema":
                guard let name = item.value, Self.isPlainIdentifier(name) else {
                    throw GatewayStoreError.invalidURL("schema must be a plain identifier (a-z, 0-9, _)")
                }
                schema = name
            default:
                throw GatewayStoreError.invalidURL("unknown parameter \(item.name) (supported: sslmode, schema)")
            }
        }
        self.init(
            host: host, port: components.port ?? 5432, username: user.removingPercentEncoding ?? user,
            password: components.password.map { $0.removingPercentEncoding ?? $0 },
            database: database.removingPercentEncoding ?? database, tls: tls, schema: schema, poolSize: poolSize,
            operationTimeout: operationTimeout)
    }

    /// `url` with its password replaced, for `config check` and logs.
    public static func redacted(_ url: String) -> String {
        guard let components = URLComponents(string: url), components.password != nil else { return url }
        var copy = components
        copy.password = "redacted"
        return copy.string?.replacingOccurrences(of: ":redacted@", with: ":<redacted>@") ?? "postgres://<redacted>"
    }

    static func isPlainIdentifier(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, !name.isEmpty, name.count <= 63 else { return false }
        let allowed = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyz0123456789_")
        return !CharacterSet.decimalDigits.contains(first) && name.unicodeScalars.allSatisfy { allowed.contains($0) }
    }
}
