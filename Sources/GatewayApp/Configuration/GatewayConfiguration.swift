import Configuration
import Foundation
import GatewayCore
import Logging
import SessionValidation

/// Configuration that cannot be started with (re-exported for the command line).
public typealias ConfigurationError = SessionValidation.ConfigurationError

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
}

/// The gateway's effective configuration.
///
/// Read from a `ConfigReader` chain: command line, environment (`ZITADEL_GATEWAY_*`), the YAML file
/// (`Config/gateway.yaml` unless `--config` names another), then defaults. Keys:
/// - `http.host` (default `127.0.0.1`), `http.port` (default `8080`)
/// - `log.level` (`info`), `log.format` (`text` or `json`), `log.accessLog` (true: one `info` line per request)
/// - `issuers.names` (list); per name `issuers.<name>.url`, `.audiences`, `.projectId` (the portal's Zitadel
///   project: roles come from its claim only), `.clientIds` (the portal application's client ids), `.algorithms` (RS256),
///   `.leewaySeconds` (60), `.jwksUrl`, `.introspectionUrl`, `.introspection.clientId`,
///   `.introspection.clientSecret` (secret), `.introspection.keyFile` (Zitadel application key JSON),
///   `.revocationCheck.enabled`, `.revocationCheck.cacheSeconds` (10), `.jwks.minRefreshSeconds` (60),
///   `.jwks.maxRefreshSeconds` (3600), `.jwks.forcedRefetchSeconds` (30), `.jwks.unknownKidSeconds` (60),
///   `.jwks.maxStalenessSeconds` (86400), `.jwks.fetchTimeoutMs` (5000), `.opaqueTokens.enabled` (true),
///   `.opaqueTokens.format` (`zitadel` or `printable`), `.opaqueTokens.prefix`, `.opaqueTokens.minLength` (26),
///   `.opaqueTokens.maxLength` (4096): which opaque strings are ever sent to this issuer
/// - `validation.maxTokenBytes` (16384), `.cacheCapacity` (100000), `.introspectionCacheSeconds` (60),
///   `.negativeCacheSeconds` (10), `.introspectionTimeoutMs` (5000); unknown opaque tokens:
///   `.opaqueTokens.maxConcurrent` (64), `.opaqueTokens.globalRate` (200 per second), `.opaqueTokens.globalBurst`
///   (400), `.opaqueTokens.callerAddressHeader` (none), `.opaqueTokens.perAddressRate` (5 per second),
///   `.opaqueTokens.perAddressBurst` (20)
/// - `apiKeys.names` (list); per name `apiKeys.<name>.sha256` (secret), `.tenants`, `.routes`
/// - `zitadel.url` (default: the first issuer's url), `zitadel.pat` (secret) or `zitadel.keyFile` (service-account
///   key JSON), `zitadel.timeoutMs` (2000, per call including retries), `zitadel.retries` (1, reads only),
///   `zitadel.cacheSeconds` (10, provider lookups per user)
/// - `mfa.policyFile` (`Config/mfa-policy.yaml`) or inline `mfa.roles.<role>.requirement|factors`,
///   `mfa.tenants.names` + `mfa.tenants.<orgId>.required|deniedFactors`; `mfa.setupUrlStyle` (`console` or
///   `loginV2`), `mfa.userPolicyMetadataKey` (Zitadel user metadata key; value `required` raises the policy)
/// - `store.url` (`sqlite:.data/gateway.sqlite`; `sqlite::memory:` for tests; `postgres://…` for several
///   instances), `store.poolSize` (10), `store.password` (secret), `store.timeoutMs` (5000): see `readStore`
/// - `sms.*`: enrolment lifetimes, attempt limits and rate limits (see `readSMS`)
/// - `sessions.revocationCacheSeconds` (5), `sessions.revocationRetentionSeconds` (86400),
///   `sessions.postLogoutRedirectUri`
public struct GatewayConfiguration: Sendable {
    public var host: String
    public var port: Int
    public var logLevel: Logger.Level
    public var logFormat: LogFormat
    /// One `info` line per request (method, route template, status, duration, request id, problem code).
    public var accessLog: Bool = true
    public var issuers: [IssuerConfiguration]
    public var validation: ValidationSettings
    public var apiKeys: [APIKeyConfiguration]
    public var zitadel: ZitadelSettings = ZitadelSettings()
    public var mfa: MFASettings = MFASettings()
    public var store: StoreSettings = StoreSettings()
    public var sms: SMSSettings = SMSSettings()
    public var sessions: SessionSettings = SessionSettings()

    public enum LogFormat: String, Sendable { case text, json }

    public init(
        host: String = "127.0.0.1", port: Int = 8080, logLevel: Logger.Level = .info, logFormat: LogFormat = .text,
        issuers: [IssuerConfiguration],
        validation: ValidationSettings = ValidationSettings(), apiKeys: [APIKeyConfiguration] = []
    ) {
        self.host = host
        self.port = port
        self.logLevel = logLevel
        self.logFormat = logFormat
        self.issuers = issuers
        self.validation = validation
        self.apiKeys = apiKeys
    }

    /// Reads and checks the configuration; any missing or invalid setting is a start-up error.
    public init(reader: ConfigReader) throws(ConfigurationError) {
        host = reader.string(forKey: "http.host", default: "127.0.0.1")
        port = reader.int(forKey: "http.port", default: 8080)
        guard (0...65535).contains(port) else { throw ConfigurationError("http.port must be 0-65535") }
        let level = reader.string(forKey: "log.level", default: "info")
        guard let parsedLevel = Logger.Level(rawValue: level) else {
            throw ConfigurationError("log.level must be one of trace, debug, info, notice, warning, error, critical")
        }
        logLevel = parsedLevel
        guard let format = LogFormat(rawValue: reader.string(forKey: "log.format", default: "text")) else {
            throw ConfigurationError("log.format must be text or json")
        }
        logFormat = format
        accessLog = reader.bool(forKey: "log.accessLog", default: true)

        var issuers: [IssuerConfiguration] = []
        for name in reader.stringArray(forKey: "issuers.names", default: []) {
            issuers.append(try Self.readIssuer(name: name, reader: reader.scoped(to: ConfigKey(["issuers", name]))))
        }
        guard !issuers.isEmpty else {
            throw ConfigurationError("no issuer configured: set issuers.names and issuers.<name>.url (or run with --with-mock-idp)")
        }
        for issuer in issuers { try issuer.validate() }
        self.issuers = issuers

        validation = ValidationSettings(
            maxTokenBytes: reader.int(forKey: "validation.maxTokenBytes", default: 16 * 1024),
            cacheCapacity: reader.int(forKey: "validation.cacheCapacity", default: 100_000),
            introspectionCacheTTL: .seconds(reader.int(forKey: "validation.introspectionCacheSeconds", default: 60)),
            negativeCacheTTL: .seconds(reader.int(forKey: "validation.negativeCacheSeconds", default: 10)),
            introspectionTimeout: .milliseconds(reader.int(forKey: "validation.introspectionTimeoutMs", default: 5000)),
            opaqueTokens: Self.readOpaqueAdmission(reader: reader.scoped(to: ConfigKey(["validation", "opaqueTokens"]))))
        guard validation.maxTokenBytes >= 1024, validation.cacheCapacity >= 16 else {
            throw ConfigurationError("validation.maxTokenBytes must be >= 1024 and validation.cacheCapacity >= 16")
        }
        try validation.opaqueTokens.validate()

        var keys: [APIKeyConfiguration] = []
        for name in reader.stringArray(forKey: "apiKeys.names", default: []) {
            let scoped = reader.scoped(to: ConfigKey(["apiKeys", name]))
            guard let hex = scoped.string(forKey: "sha256", isSecret: true), let hash = Self.hexBytes(hex), hash.count == 32
            else { throw ConfigurationError("apiKeys.\(name).sha256 must be the key's SHA-256 as 64 hex digits") }
            let tenants = scoped.stringArray(forKey: "tenants", default: [])
            let routes = scoped.stringArray(forKey: "routes", default: [])
            guard !tenants.isEmpty, !routes.isEmpty else {
                throw ConfigurationError("apiKeys.\(name) must list its tenants and routes")
            }
            keys.append(APIKeyConfiguration(name: name, sha256: hash, tenants: tenants, routes: Set(routes)))
        }
        apiKeys = keys
        zitadel = try Self.readZitadel(reader: reader)
        mfa = try Self.readMFA(reader: reader)
        store = try Self.readStore(reader: reader)
        sms = try Self.readSMS(reader: reader)
        sessions = try Self.readSessions(reader: reader)
    }

    private static func readIssuer(name: String, reader: ConfigReader) throws(ConfigurationError) -> IssuerConfiguration {
        guard let url = reader.string(forKey: "url"), !url.isEmpty else {
            throw ConfigurationError("issuers.\(name).url is required")
        }
        let audiences = reader.stringArray(forKey: "audiences", default: [])
        guard !audiences.isEmpty else { throw ConfigurationError("issuers.\(name).audiences is required") }
        guard let projectId = reader.string(forKey: "projectId"), !projectId.isEmpty else {
            throw ConfigurationError("issuers.\(name).projectId (the portal's Zitadel project id) is required")
        }
        let clientIds = reader.stringArray(forKey: "clientIds", default: [])
        guard !clientIds.isEmpty else {
            throw ConfigurationError("issuers.\(name).clientIds (the portal application's client ids) is required")
        }
        var algorithms = Set<JWSAlgorithm>()
        for value in reader.stringArray(forKey: "algorithms", default: ["RS256"]) {
            guard let algorithm = JWSAlgorithm(rawValue: value) else {
                throw ConfigurationError(
                    "issuers.\(name).algorithms: \(value) is not supported (allowed: \(JWSAlgorithm.allCases.map(\.rawValue).joined(separator: ", ")))"
                )
            }
            algorithms.insert(algorithm)
        }
        var authentication: ClientAuthentication?
        if let clientId = reader.string(forKey: "introspection.clientId") {
            if let secret = reader.string(forKey: "introspection.clientSecret", isSecret: true) {
                authentication = .clientSecretBasic(clientId: clientId, clientSecret: secret)
            } else if let keyFile = reader.string(forKey: "introspection.keyFile") {
                authentication = try Self.readKeyFile(keyFile, clientId: clientId, issuer: name)
            } else {
                throw ConfigurationError("issuers.\(name).introspection needs clientSecret or keyFile")
            }
        }
        let seconds = { (key: String, fallback: Int) -> Duration in .seconds(reader.int(forKey: ConfigKey(key), default: fallback)) }
        return IssuerConfiguration(
            name: name, issuer: url, audiences: audiences, projectId: projectId, clientIds: clientIds,
            algorithms: algorithms,
            leeway: seconds("leewaySeconds", 60), jwksURL: reader.string(forKey: "jwksUrl"),
            introspectionURL: reader.string(forKey: "introspectionUrl"), introspection: authentication,
            revocationCheck: reader.bool(forKey: "revocationCheck.enabled", default: false),
            revocationCacheTTL: seconds("revocationCheck.cacheSeconds", 10),
            jwks: JWKSPolicy(
                minRefreshInterval: seconds("jwks.minRefreshSeconds", 60),
                maxRefreshInterval: seconds("jwks.maxRefreshSeconds", 3600),
                forcedRefetchInterval: seconds("jwks.forcedRefetchSeconds", 30),
                unknownKidTTL: seconds("jwks.unknownKidSeconds", 60),
                maxStaleness: seconds("jwks.maxStalenessSeconds", 86400),
                fetchTimeout: .milliseconds(reader.int(forKey: "jwks.fetchTimeoutMs", default: 5000))),
            opaqueTokens: try readOpaqueTokens(issuer: name, reader: reader.scoped(to: ConfigKey(["opaqueTokens"]))))
    }

    private static func readOpaqueTokens(issuer: String, reader: ConfigReader) throws(ConfigurationError) -> OpaqueTokenPolicy {
        let defaults = OpaqueTokenPolicy()
        let formatValue = reader.string(forKey: "format", default: defaults.format.rawValue)
        guard let format = OpaqueTokenPolicy.Format(rawValue: formatValue) else {
            throw ConfigurationError("issuers.\(issuer).opaqueTokens.format must be zitadel or printable")
        }
        let prefix = reader.string(forKey: "prefix")
        return OpaqueTokenPolicy(
            enabled: reader.bool(forKey: "enabled", default: defaults.enabled), format: format,
            prefix: prefix?.isEmpty == true ? nil : prefix, minLength: reader.int(forKey: "minLength", default: defaults.minLength),
            maxLength: reader.int(forKey: "maxLength", default: defaults.maxLength))
    }

    private static func readOpaqueAdmission(reader: ConfigReader) -> OpaqueAdmissionSettings {
        let defaults = OpaqueAdmissionSettings()
        let header = reader.string(forKey: "callerAddressHeader")
        return OpaqueAdmissionSettings(
            maxConcurrent: reader.int(forKey: "maxConcurrent", default: defaults.maxConcurrent),
            globalRate: reader.double(forKey: "globalRate", default: defaults.globalRate),
            globalBurst: reader.double(forKey: "globalBurst", default: defaults.globalBurst),
            callerAddressHeader: header?.isEmpty == true ? nil : header,
            perAddressRate: reader.double(forKey: "perAddressRate", default: defaults.perAddressRate),
            perAddressBurst: reader.double(forKey: "perAddressBurst", default: defaults.perAddressBurst))
    }

    /// Reads a Zitadel application key file: `{type, keyId, key (PEM), clientId, appId}`.
    private static func readKeyFile(
        _ path: String, clientId: String, issuer: String
    ) throws(ConfigurationError)
        -> ClientAuthentication
    {
        struct KeyFile: Decodable {
            var keyId: String
            var key: String
            var clientId: String?
        }
        guard let data = FileManager.default.contents(atPath: path),
            let file = try? JSONDecoder().decode(KeyFile.self, from: data)
        else { throw ConfigurationError("issuers.\(issuer).introspection.keyFile: cannot read a Zitadel key file at \(path)") }
        return .privateKeyJWT(clientId: file.clientId ?? clientId, keyId: file.keyId, privateKeyPEM: file.key)
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

    /// The effective configuration as `key = value` lines, secrets redacted, for `config check`.
    public func redactedSummary() -> [String] {
        var lines = [
            "http.host = \(host)", "http.port = \(port)", "log.level = \(logLevel.rawValue)",
            "log.format = \(logFormat.rawValue)", "log.accessLog = \(accessLog)",
            "issuers.names = \(issuers.map(\.name).joined(separator: ","))",
        ]
        for issuer in issuers {
            let prefix = "issuers.\(issuer.name)."
            lines += [
                prefix + "url = \(issuer.issuer)",
                prefix + "audiences = \(issuer.audiences.joined(separator: ","))",
                prefix + "projectId = \(issuer.projectId)",
                prefix + "clientIds = \(issuer.clientIds.joined(separator: ","))",
                prefix + "algorithms = \(issuer.algorithms.map(\.rawValue).sorted().joined(separator: ","))",
                prefix + "leewaySeconds = \(issuer.leeway.components.seconds)",
                prefix + "jwksUrl = \(issuer.jwksURL ?? "(discovery)")",
                prefix + "introspectionUrl = \(issuer.introspectionURL ?? "(discovery)")",
            ]
            switch issuer.introspection {
            case .clientSecretBasic(let clientId, _):
                lines += [prefix + "introspection.clientId = \(clientId)", prefix + "introspection.clientSecret = <redacted>"]
            case .privateKeyJWT(let clientId, let keyId, _):
                lines += [
                    prefix + "introspection.clientId = \(clientId)", prefix + "introspection.keyId = \(keyId)",
                    prefix + "introspection.key = <redacted>",
                ]
            case nil:
                lines.append(prefix + "introspection = (none)")
            }
            lines += [
                prefix + "revocationCheck.enabled = \(issuer.revocationCheck)",
                prefix + "revocationCheck.cacheSeconds = \(issuer.revocationCacheTTL.components.seconds)",
                prefix + "jwks.minRefreshSeconds = \(issuer.jwks.minRefreshInterval.components.seconds)",
                prefix + "jwks.maxRefreshSeconds = \(issuer.jwks.maxRefreshInterval.components.seconds)",
                prefix + "jwks.forcedRefetchSeconds = \(issuer.jwks.forcedRefetchInterval.components.seconds)",
                prefix + "jwks.unknownKidSeconds = \(issuer.jwks.unknownKidTTL.components.seconds)",
                prefix + "jwks.maxStalenessSeconds = \(issuer.jwks.maxStaleness.components.seconds)",
                prefix + "opaqueTokens.enabled = \(issuer.opaqueTokens.enabled)",
                prefix + "opaqueTokens.format = \(issuer.opaqueTokens.format.rawValue)",
                prefix + "opaqueTokens.prefix = \(issuer.opaqueTokens.prefix ?? "(none)")",
                prefix + "opaqueTokens.minLength = \(issuer.opaqueTokens.minLength)",
                prefix + "opaqueTokens.maxLength = \(issuer.opaqueTokens.maxLength)",
            ]
        }
        lines += [
            "validation.maxTokenBytes = \(validation.maxTokenBytes)",
            "validation.cacheCapacity = \(validation.cacheCapacity)",
            "validation.introspectionCacheSeconds = \(validation.introspectionCacheTTL.components.seconds)",
            "validation.negativeCacheSeconds = \(validation.negativeCacheTTL.components.seconds)",
            "validation.opaqueTokens.maxConcurrent = \(validation.opaqueTokens.maxConcurrent)",
            "validation.opaqueTokens.globalRate = \(validation.opaqueTokens.globalRate)",
            "validation.opaqueTokens.globalBurst = \(validation.opaqueTokens.globalBurst)",
            "validation.opaqueTokens.callerAddressHeader = \(validation.opaqueTokens.callerAddressHeader ?? "(none: no per-address limit)")",
            "validation.opaqueTokens.perAddressRate = \(validation.opaqueTokens.perAddressRate)",
            "validation.opaqueTokens.perAddressBurst = \(validation.opaqueTokens.perAddressBurst)",
            "apiKeys.names = \(apiKeys.map(\.name).joined(separator: ","))",
        ]
        for key in apiKeys {
            lines += [
                "apiKeys.\(key.name).sha256 = <redacted>",
                "apiKeys.\(key.name).tenants = \(key.tenants.joined(separator: ","))",
                "apiKeys.\(key.name).routes = \(key.routes.sorted().joined(separator: ","))",
            ]
        }
        lines += mfaSummary()
        lines += smsSummary()
        lines += [
            "sessions.revocationCacheSeconds = \(sessions.revocationCacheTTL.components.seconds)",
            "sessions.revocationRetentionSeconds = \(sessions.revocationRetention.components.seconds)",
            "sessions.postLogoutRedirectUri = \(sessions.postLogoutRedirectURI ?? "(none)")",
        ]
        return lines
    }
}
