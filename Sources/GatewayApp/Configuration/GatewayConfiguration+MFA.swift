import Configuration
import Foundation
import GatewayCore
import GatewayStore
import Logging
import SessionValidation
import SystemPackage

/// The Zitadel API client's settings (`zitadel.*`).
public struct ZitadelSettings: Sendable {
    /// The instance origin; nil means the first issuer's URL.
    public var url: String?
    /// A machine user's personal access token (secret).
    public var pat: String?
    /// A machine user's key file (JWT profile), used when no PAT is set.
    public var keyFile: String?
    /// Deadline for one provider call, retries included.
    public var timeout: Duration
    /// Extra attempts for reads on retryable failures.
    public var retries: Int
    /// How long provider lookups are cached per user.
    public var cacheTTL: Duration

    public init(
        url: String? = nil, pat: String? = nil, keyFile: String? = nil, timeout: Duration = .milliseconds(2000),
        retries: Int = 1, cacheTTL: Duration = .seconds(10)
    ) {
        self.url = url
        self.pat = pat
        self.keyFile = keyFile
        self.timeout = timeout
        self.retries = retries
        self.cacheTTL = cacheTTL
    }
}

/// MFA policy and lifecycle settings (`mfa.*`).
public struct MFASettings: Sendable {
    /// The policy; read from `policyFile` at start-up unless inline `mfa.roles.*`/`mfa.tenants.*` keys set it.
    public var policy: MFAPolicyConfiguration
    /// Where the policy came from (`inline`, `default` or the file path), for `config check`.
    public var policyOrigin: String
    /// A policy file still to be read by `buildApplication` (YAML, same keys under `mfa:`).
    public var policyFile: String?
    public var setupURLStyle: MFASetupURLStyle

    public init(
        policy: MFAPolicyConfiguration = MFAPolicyConfiguration(), policyOrigin: String = "default",
        policyFile: String? = nil, setupURLStyle: MFASetupURLStyle = .console
    ) {
        self.policy = policy
        self.policyOrigin = policyOrigin
        self.policyFile = policyFile
        self.setupURLStyle = setupURLStyle
    }
}

/// Where lifecycle records, the SMS ledger, rate limits and the audit trail live (`store.*`).
public struct StoreSettings: Sendable {
    /// `sqlite:PATH`, `sqlite::memory:`, or `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?sslmode=…&schema=…]`.
    public var url: String
    /// PostgreSQL: the most connections this instance opens (`store.poolSize`).
    public var poolSize: Int
    /// PostgreSQL: the password (secret), in place of one in the URL (`store.password`).
    public var password: String?
    /// PostgreSQL: deadline for one store operation, waiting for a connection included (`store.timeoutMs`).
    public var timeout: Duration
    /// What the pruning job may delete, and its batch size (`store.retention.*`, `store.prune.batchSize`).
    public var retention: StoreRetention
    /// How often the pruning job runs (`store.prune.intervalSeconds`; zero turns it off).
    public var pruneInterval: Duration
    /// The most batches one run deletes (`store.prune.maxBatches`): a backlog is worked off over several runs.
    public var pruneMaxBatches: Int

    public init(
        url: String = "sqlite::memory:", poolSize: Int = 10, password: String? = nil, timeout: Duration = .seconds(5),
        retention: StoreRetention = StoreRetention(), pruneInterval: Duration = .seconds(300), pruneMaxBatches: Int = 20
    ) {
        self.url = url
        self.poolSize = poolSize
        self.password = password
        self.timeout = timeout
        self.retention = retention
        self.pruneInterval = pruneInterval
        self.pruneMaxBatches = pruneMaxBatches
    }

    /// The URL as `config check` prints it: a password in it is redacted.
    public var redactedURL: String { PostgresStoreConfiguration.redacted(url) }

    /// Opens (and migrates) the configured store.
    public func open(logger: Logger) async throws -> any GatewayStore {
        try await GatewayStoreFactory.open(
            url: url, poolSize: poolSize, password: password, operationTimeout: timeout, logger: logger)
    }
}

extension GatewayConfiguration {
    /// Keys: `store.url` (`sqlite:.data/gateway.sqlite`), and for PostgreSQL `store.poolSize` (10),
    /// `store.password` (secret; wins over a password in the URL), `store.timeoutMs` (5000). Pruning:
    /// `store.prune.intervalSeconds` (300; 0 turns it off), `store.prune.batchSize` (500), `store.prune.maxBatches`
    /// (20 per run), `store.retention.enrolmentSeconds` (2592000, 30 days), `store.retention.idempotencySeconds`
    /// (86400, at least a day).
    static func readStore(reader: ConfigReader) throws(ConfigurationError) -> StoreSettings {
        let url = reader.string(forKey: "store.url", isSecret: true, default: Self.defaultStoreURL)
        let poolSize = reader.int(forKey: "store.poolSize", default: 10)
        let timeoutMs = reader.int(forKey: "store.timeoutMs", default: 5000)
        guard poolSize > 0, timeoutMs > 0 else { throw ConfigurationError("store.poolSize and store.timeoutMs must be > 0") }
        if PostgresStoreConfiguration.handles(url) {
            do { _ = try PostgresStoreConfiguration(url: url) } catch {
                if case .invalidURL(let reason) = error { throw ConfigurationError("store.url: \(reason)") }
                throw ConfigurationError("store.url is not a valid postgres:// URL")
            }
        }
        let password = reader.string(forKey: "store.password", isSecret: true)
        let interval = reader.int(forKey: "store.prune.intervalSeconds", default: 300)
        let batchSize = reader.int(forKey: "store.prune.batchSize", default: 500)
        let maxBatches = reader.int(forKey: "store.prune.maxBatches", default: 20)
        let enrolmentSeconds = reader.int(forKey: "store.retention.enrolmentSeconds", default: 30 * 86_400)
        let idempotencySeconds = reader.int(forKey: "store.retention.idempotencySeconds", default: 86_400)
        guard interval >= 0, (1...10_000).contains(batchSize), maxBatches > 0 else {
            throw ConfigurationError(
                "store.prune.intervalSeconds must be >= 0, store.prune.batchSize 1...10000 and store.prune.maxBatches > 0")
        }
        guard enrolmentSeconds >= 86_400, idempotencySeconds >= 86_400 else {
            throw ConfigurationError(
                "store.retention.enrolmentSeconds and store.retention.idempotencySeconds must be at least 86400 (a day)")
        }
        return StoreSettings(
            url: url, poolSize: poolSize, password: password?.isEmpty == true ? nil : password,
            timeout: .milliseconds(timeoutMs),
            retention: StoreRetention(
                enrolmentSeconds: Double(enrolmentSeconds), idempotencySeconds: Double(idempotencySeconds),
                batchSize: batchSize),
            pruneInterval: .seconds(interval), pruneMaxBatches: maxBatches)
    }

    public static let defaultMFAPolicyFile = "Config/mfa-policy.yaml"
    public static let defaultStoreURL = "sqlite:.data/gateway.sqlite"

    static func readZitadel(reader: ConfigReader) throws(ConfigurationError) -> ZitadelSettings {
        let settings = ZitadelSettings(
            url: reader.string(forKey: "zitadel.url"), pat: reader.string(forKey: "zitadel.pat", isSecret: true),
            keyFile: reader.string(forKey: "zitadel.keyFile"),
            timeout: .milliseconds(reader.int(forKey: "zitadel.timeoutMs", default: 2000)),
            retries: reader.int(forKey: "zitadel.retries", default: 1),
            cacheTTL: .seconds(reader.int(forKey: "zitadel.cacheSeconds", default: 10)))
        guard settings.timeout > .zero, settings.retries >= 0, settings.cacheTTL >= .zero else {
            throw ConfigurationError("zitadel.timeoutMs must be > 0, zitadel.retries and zitadel.cacheSeconds >= 0")
        }
        return settings
    }

    static func readMFA(reader: ConfigReader) throws(ConfigurationError) -> MFASettings {
        guard let style = MFASetupURLStyle(rawValue: reader.string(forKey: "mfa.setupUrlStyle", default: "console")) else {
            throw ConfigurationError("mfa.setupUrlStyle must be console or loginV2")
        }
        let metadataKey = reader.string(forKey: "mfa.userPolicyMetadataKey")
        var settings = MFASettings(setupURLStyle: style)
        if let inline = try readPolicy(reader: reader.scoped(to: "mfa"), origin: "mfa") {
            settings.policy = inline
            settings.policyOrigin = "inline"
        } else {
            let file = reader.string(forKey: "mfa.policyFile") ?? defaultMFAPolicyFile
            if reader.string(forKey: "mfa.policyFile") != nil || FileManager.default.fileExists(atPath: file) {
                settings.policyFile = file
                settings.policyOrigin = file
            }
        }
        if let metadataKey { settings.policy.userPolicyMetadataKey = metadataKey.isEmpty ? nil : metadataKey }
        return settings
    }

    /// Reads `roles.<role>.required|factors` and `tenants.names` + `tenants.<orgId>.required|deniedFactors`;
    /// nil when no role or tenant key is present.
    static func readPolicy(reader: ConfigReader, origin: String) throws(ConfigurationError) -> MFAPolicyConfiguration? {
        var roles = MFAPolicyConfiguration.defaultRoles
        var found = false
        for role in PortalRole.allCases {
            let scoped = reader.scoped(to: ConfigKey(["roles", role.rawValue]))
            let requirementValue = scoped.string(forKey: "requirement")
            let factorsValue = scoped.stringArray(forKey: "factors")
            guard requirementValue != nil || factorsValue != nil else { continue }
            found = true
            var policy = roles[role] ?? RoleMFAPolicy(requirement: .required, factors: [])
            if let requirementValue {
                guard let requirement = MFARequirement(rawValue: requirementValue), requirement != .unknown else {
                    throw ConfigurationError("\(origin).roles.\(role.rawValue).requirement must be required or optional")
                }
                policy.requirement = requirement
            }
            if let factorsValue {
                policy.factors = try factors(factorsValue, key: "\(origin).roles.\(role.rawValue).factors")
            }
            roles[role] = policy
        }
        var tenants: [String: TenantMFAPolicy] = [:]
        for orgId in reader.stringArray(forKey: "tenants.names", default: []) {
            found = true
            let scoped = reader.scoped(to: ConfigKey(["tenants", orgId]))
            tenants[orgId] = TenantMFAPolicy(
                required: scoped.bool(forKey: "required", default: false),
                deniedFactors: Set(
                    try factors(scoped.stringArray(forKey: "deniedFactors", default: []), key: "\(origin).tenants.\(orgId).deniedFactors")
                ))
        }
        let metadataKey = reader.string(forKey: "userPolicyMetadataKey")
        guard found || metadataKey != nil else { return nil }
        return MFAPolicyConfiguration(roles: roles, tenants: tenants, userPolicyMetadataKey: metadataKey)
    }

    private static func factors(_ values: [String], key: String) throws(ConfigurationError) -> [MFAFactor] {
        var result: [MFAFactor] = []
        for value in values {
            guard let factor = MFAFactor(rawValue: value) else {
                throw ConfigurationError(
                    "\(key): \(value) is not a factor (allowed: \(MFAFactor.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            result.append(factor)
        }
        return result
    }

    /// Reads `mfa.policyFile` if one is pending (YAML with the policy keys under `mfa:`).
    public mutating func loadMFAPolicyFile() async throws {
        guard let path = mfa.policyFile else { return }
        guard FileManager.default.fileExists(atPath: path) else {
            throw ConfigurationError("mfa.policyFile \(path) does not exist")
        }
        let provider: FileProvider<YAMLSnapshot>
        do { provider = try await FileProvider<YAMLSnapshot>(filePath: FilePath(path)) } catch {
            throw ConfigurationError("mfa.policyFile \(path) is not valid YAML")
        }
        let reader = ConfigReader(provider: provider).scoped(to: "mfa")
        let metadataKey = mfa.policy.userPolicyMetadataKey
        var policy = try Self.readPolicy(reader: reader, origin: path) ?? MFAPolicyConfiguration()
        if let metadataKey { policy.userPolicyMetadataKey = metadataKey }
        mfa.policy = policy
        mfa.policyFile = nil
    }

    /// `config check` lines for the MFA, Zitadel client and store settings; secrets redacted.
    func mfaSummary() -> [String] {
        var lines = [
            "zitadel.url = \(zitadel.url ?? "(first issuer)")",
            "zitadel.pat = \(zitadel.pat == nil ? "(none)" : "<redacted>")",
            "zitadel.keyFile = \(zitadel.keyFile ?? "(none)")",
            "zitadel.timeoutMs = \(zitadel.timeout.components.seconds * 1000 + zitadel.timeout.components.attoseconds / 1_000_000_000_000_000)",
            "zitadel.retries = \(zitadel.retries)", "zitadel.cacheSeconds = \(zitadel.cacheTTL.components.seconds)",
            "mfa.policy = \(mfa.policyOrigin)", "mfa.setupUrlStyle = \(mfa.setupURLStyle.rawValue)",
            "mfa.userPolicyMetadataKey = \(mfa.policy.userPolicyMetadataKey ?? "(none)")", "store.url = \(store.redactedURL)",
            "store.poolSize = \(store.poolSize)",
            "store.password = \(store.password == nil ? "(none)" : "<redacted>")",
            "store.timeoutMs = \(store.timeout.components.seconds * 1000 + store.timeout.components.attoseconds / 1_000_000_000_000_000)",
            "store.prune.intervalSeconds = \(store.pruneInterval.components.seconds)",
            "store.prune.batchSize = \(store.retention.batchSize)", "store.prune.maxBatches = \(store.pruneMaxBatches)",
            "store.retention.enrolmentSeconds = \(Int(store.retention.enrolmentSeconds))",
            "store.retention.idempotencySeconds = \(Int(store.retention.idempotencySeconds))",
        ]
        for role in PortalRole.allCases {
            if let policy = mfa.policy.roles[role] {
                lines.append(
                    "mfa.roles.\(role.rawValue) = \(policy.requirement.rawValue) [\(policy.factors.map(\.rawValue).joined(separator: ","))]"
                )
            }
        }
        return lines
    }
}
