import Configuration
import GatewayStore
import Logging
import SessionValidation

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

    public static let defaultURL = "sqlite:.data/gateway.sqlite"

    /// Reads the store's settings from `reader` scoped to `store`, and checks them (a `postgres://` URL is parsed).
    ///
    /// Keys:
    /// - `url` (secret, `sqlite:.data/gateway.sqlite`; `sqlite::memory:` for tests; `postgres://…` for several
    ///   instances; `config check` shows it with a password redacted)
    /// - PostgreSQL: `poolSize` (10), `password` (secret; wins over a password in the URL), `timeoutMs` (5000)
    /// - pruning: `prune.intervalSeconds` (300; 0 turns it off), `prune.batchSize` (500, 1...10000),
    ///   `prune.maxBatches` (20 per run), `retention.enrolmentSeconds` (2592000, 30 days),
    ///   `retention.idempotencySeconds` (86400); both retentions at least a day
    public init(reader: ConfigReader) throws(ConfigurationError) {
        let url = reader.string(forKey: "url", isSecret: true, default: Self.defaultURL)
        let poolSize = reader.int(forKey: "poolSize", default: 10)
        let timeoutMs = reader.int(forKey: "timeoutMs", default: 5000)
        guard poolSize > 0, timeoutMs > 0 else { throw ConfigurationError("store.poolSize and store.timeoutMs must be > 0") }
        if PostgresStoreConfiguration.handles(url) {
            do { _ = try PostgresStoreConfiguration(url: url) } catch {
                if case .invalidURL(let reason) = error { throw ConfigurationError("store.url: \(reason)") }
                throw ConfigurationError("store.url is not a valid postgres:// URL")
            }
        }
        let password = reader.string(forKey: "password", isSecret: true)
        let interval = reader.int(forKey: "prune.intervalSeconds", default: 300)
        let batchSize = reader.int(forKey: "prune.batchSize", default: 500)
        let maxBatches = reader.int(forKey: "prune.maxBatches", default: 20)
        let enrolmentSeconds = reader.int(forKey: "retention.enrolmentSeconds", default: 30 * 86_400)
        let idempotencySeconds = reader.int(forKey: "retention.idempotencySeconds", default: 86_400)
        guard interval >= 0, (1...10_000).contains(batchSize), maxBatches > 0 else {
            throw ConfigurationError(
                "store.prune.intervalSeconds must be >= 0, store.prune.batchSize 1...10000 and store.prune.maxBatches > 0")
        }
        guard enrolmentSeconds >= 86_400, idempotencySeconds >= 86_400 else {
            throw ConfigurationError(
                "store.retention.enrolmentSeconds and store.retention.idempotencySeconds must be at least 86400 (a day)")
        }
        self.url = url
        self.poolSize = poolSize
        self.password = password?.isEmpty == true ? nil : password
        self.timeout = .milliseconds(timeoutMs)
        self.retention = StoreRetention(
            enrolmentSeconds: Double(enrolmentSeconds), idempotencySeconds: Double(idempotencySeconds), batchSize: batchSize)
        self.pruneInterval = .seconds(interval)
        self.pruneMaxBatches = maxBatches
    }

    /// The URL as `config check` prints it: a password in it is redacted.
    public var redactedURL: String { PostgresStoreConfiguration.redacted(url) }

    /// Opens (and migrates) the configured store.
    public func open(logger: Logger) async throws -> any GatewayStore {
        try await GatewayStoreFactory.open(
            url: url, poolSize: poolSize, password: password, operationTimeout: timeout, logger: logger)
    }
}
