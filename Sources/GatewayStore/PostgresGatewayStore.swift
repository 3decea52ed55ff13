import Foundation
import GatewayCore
import Logging
import Metrics
import PostgresNIO

/// The shared store for several gateway instances: a postgres-nio connection pool, versioned migrations at open,
/// and every decision on the database clock.
///
/// Concurrency: claims for one (tenant, user) are serialised by a transaction-scoped advisory lock; GCRA buckets
/// are single-row atomic upserts; compare-and-set writes use `WHERE revision = $n RETURNING`; audit inserts take a
/// short transaction-scoped lock so that the cursor (`seq`) grows in commit order and paging never skips an event.
public final class PostgresGatewayStore: GatewayStore {
    let client: PostgresClient
    /// Drives the pool (postgres-nio leases connections only while `run()` runs); cancelled by `close()`.
    private let runTask: Task<Void, Never>
    let configuration: PostgresStoreConfiguration
    let logger: Logger

    /// Migrations in order; a version once shipped is never edited. Same versions and tables as SQLite's.
    static let migrations: [(version: Int, statements: [String])] = [
        (
            1,
            [
                """
                CREATE TABLE lifecycle_records (
                    tenant text NOT NULL, user_id text NOT NULL, revision bigint NOT NULL, record text NOT NULL,
                    updated_at double precision NOT NULL, PRIMARY KEY (tenant, user_id))
                """,
                """
                CREATE TABLE audit_events (
                    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, id text NOT NULL UNIQUE,
                    time double precision NOT NULL, tenant text NOT NULL, actor text NOT NULL, session text,
                    action text NOT NULL, outcome text NOT NULL, metadata jsonb NOT NULL, request_id text)
                """,
                "CREATE INDEX audit_events_tenant_seq ON audit_events (tenant, seq)",
            ]
        ),
        (
            2,
            [
                """
                CREATE TABLE sms_enrolments (
                    id text PRIMARY KEY, tenant text NOT NULL, user_id text NOT NULL, number_key text NOT NULL,
                    masked_phone text NOT NULL, state text NOT NULL, created_at double precision NOT NULL,
                    updated_at double precision NOT NULL, expires_at double precision NOT NULL,
                    last_sent_at double precision, lease_until double precision,
                    verification_attempts bigint NOT NULL, resends bigint NOT NULL, failure text,
                    revision bigint NOT NULL)
                """,
                "CREATE INDEX sms_enrolments_number ON sms_enrolments (tenant, user_id, number_key, state)",
                "CREATE INDEX sms_enrolments_forwarding ON sms_enrolments (state, lease_until)",
                """
                CREATE TABLE idempotency_keys (
                    tenant text NOT NULL, user_id text NOT NULL, key text NOT NULL, fingerprint text NOT NULL,
                    enrolment_id text NOT NULL, state text NOT NULL, lease_until double precision,
                    response_status bigint, response_body text, created_at double precision NOT NULL,
                    PRIMARY KEY (tenant, user_id, key))
                """,
                "CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at)",
                "CREATE TABLE rate_limit_buckets (key text PRIMARY KEY, tat double precision NOT NULL)",
                "CREATE TABLE shared_secrets (name text PRIMARY KEY, value bytea NOT NULL)",
            ]
        ),
        (
            3,
            [
                """
                CREATE TABLE session_revocations (
                    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, user_id text NOT NULL, scope text NOT NULL,
                    target text, revoked_at double precision NOT NULL, expires_at double precision)
                """,
                "CREATE INDEX session_revocations_expires_at ON session_revocations (expires_at)",
            ]
        ),
        (
            4,
            [
                """
                CREATE TABLE logout_tokens (
                    issuer text NOT NULL, jti text NOT NULL, expires_at double precision NOT NULL,
                    PRIMARY KEY (issuer, jti))
                """,
                "CREATE INDEX logout_tokens_expires_at ON logout_tokens (expires_at)",
            ]
        ),
        (
            5,
            [
                // The pruning job's batches find their rows by these, without scanning the tables.
                "CREATE INDEX rate_limit_buckets_tat ON rate_limit_buckets (tat)",
                "CREATE INDEX sms_enrolments_updated_at ON sms_enrolments (updated_at)",
            ]
        ),
    ]

    private init(client: PostgresClient, configuration: PostgresStoreConfiguration, logger: Logger) {
        self.client = client
        self.configuration = configuration
        self.logger = logger
        self.runTask = Task { await client.run() }
    }

    deinit { runTask.cancel() }

    /// Connects (lazily, through the pool) and migrates; fails when the server cannot be reached in time.
    public static func open(
        configuration: PostgresStoreConfiguration, logger: Logger = Logger(label: "gateway.store")
    ) async throws -> PostgresGatewayStore {
        var clientConfiguration = PostgresClient.Configuration(
            host: configuration.host, port: configuration.port, username: configuration.username,
            password: configuration.password, database: configuration.database, tls: Self.tls(configuration.tls))
        clientConfiguration.options.maximumConnections = configuration.poolSize
        clientConfiguration.options.connectTimeout = configuration.operationTimeout
        if let schema = configuration.schema {
            clientConfiguration.options.additionalStartupParameters = [("search_path", schema)]
        }
        let client = PostgresClient(configuration: clientConfiguration, backgroundLogger: logger)
        let store = PostgresGatewayStore(client: client, configuration: configuration, logger: logger)
        do {
            try await store.migrate()
        } catch {
            try? await store.close()
            throw error
        }
        return store
    }

    private static func tls(_ mode: PostgresStoreConfiguration.TLSMode) -> PostgresClient.Configuration.TLS {
        switch mode {
        case .disable: .disable
        case .prefer: .prefer(.makeClientConfiguration())
        case .require: .require(.makeClientConfiguration())
        }
    }

    public func close() async throws {
        runTask.cancel()
        await runTask.value
    }

    // MARK: - Running statements

    /// Runs `body` within the operation deadline, mapping driver errors to `GatewayStoreError.unavailable` (with
    /// the SQLSTATE only: driver errors may quote statements and values).
    func withDeadline<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T {
        let timeout = configuration.operationTimeout
        do {
            return try await withThrowingTaskGroup(of: T.self) { group in
                group.addTask { try await body() }
                group.addTask {
                    try await Task.sleep(for: timeout)
                    throw GatewayStoreError.unavailable("postgres: no answer within the operation deadline")
                }
                defer { group.cancelAll() }
                guard let first = try await group.next() else { throw GatewayStoreError.unavailable("postgres") }
                return first
            }
        } catch let error as GatewayStoreError {
            throw error
        } catch let error as PSQLError {
            throw GatewayStoreError.unavailable("postgres: \(Self.describe(error))")
        } catch is PostgresTransactionError {
            throw GatewayStoreError.unavailable("postgres: transaction failed")
        } catch is CancellationError {
            throw GatewayStoreError.unavailable("postgres: cancelled")
        } catch {
            throw GatewayStoreError.unavailable("postgres: \(type(of: error))")
        }
    }

    static func describe(_ error: PSQLError) -> String {
        if let state = error.serverInfo?[.sqlState] { return "SQLSTATE \(state)" }
        return "\(error.code)"
    }

    /// `body` in one transaction (rolled back when it throws), retried up to three times on a deadlock or
    /// serialisation failure, within the operation deadline. Errors come out unwrapped from postgres-nio's
    /// `PostgresTransactionError`, so a `GatewayStoreError` thrown by `body` keeps its meaning.
    func transaction<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        Self.countTransaction()
        return try await withDeadline { [client, logger] in
            var attempt = 1
            while true {
                do {
                    return try await client.withTransaction(logger: logger) { connection in
                        try await body(connection)
                    }
                } catch let wrapped as PostgresTransactionError {
                    let error: any Error =
                        wrapped.closureError ?? wrapped.commitError ?? wrapped.beginError ?? wrapped.rollbackError ?? wrapped
                    if attempt < 3, let failure = error as? PSQLError, Self.isRetryable(failure) {
                        attempt += 1
                        continue
                    }
                    throw error
                }
            }
        }
    }

    /// Deadlock detected or serialisation failure: the transaction was rolled back and may simply run again.
    static func isRetryable(_ error: PSQLError) -> Bool {
        guard let state = error.serverInfo?[.sqlState] else { return false }
        return state == "40001" || state == "40P01"
    }

    /// Runs one statement and collects its rows.
    @discardableResult
    func rows(_ query: PostgresQuery, on connection: PostgresConnection) async throws -> [PostgresRow] {
        try await connection.query(query, logger: logger).collect()
    }

    /// Counts a store transaction (a statement outside one counts too) in `gateway_store_transactions_total`.
    static func countTransaction() {
        Counter(label: "gateway_store_transactions_total", dimensions: [("store", "postgres")]).increment()
    }

    /// One statement outside a transaction.
    func rows(_ query: PostgresQuery) async throws -> [PostgresRow] {
        Self.countTransaction()
        return try await withDeadline { [client, logger] in try await client.query(query, logger: logger).collect() }
    }

    /// The database clock, seconds since 1970 (`clock_timestamp()`: the time now, not the transaction's start).
    static let clockQuery: PostgresQuery = "SELECT extract(epoch FROM clock_timestamp())::float8 AS now"

    func clock(on connection: PostgresConnection) async throws -> Double {
        guard let row = try await rows(Self.clockQuery, on: connection).first else {
            throw GatewayStoreError.unavailable("postgres: no clock")
        }
        return try row.decode(Double.self)
    }

    // MARK: - Migrations

    public func migrate() async throws {
        let schema = configuration.schema
        try await transaction { [self] connection in
            // Two instances starting together: the second waits here, then finds the versions applied.
            try await rows(
                "SELECT pg_advisory_xact_lock(hashtextextended(\("zitadel-gateway.migrations:" + (schema ?? "")), 0))",
                on: connection)
            if let schema {
                try await rows(PostgresQuery(unsafeSQL: "CREATE SCHEMA IF NOT EXISTS \(schema)"), on: connection)
            }
            try await rows(
                """
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    version bigint PRIMARY KEY, applied_at double precision NOT NULL)
                """, on: connection)
            let applied = Set(
                try await rows("SELECT version FROM schema_migrations", on: connection).map { try $0.decode(Int.self) })
            for migration in Self.migrations where !applied.contains(migration.version) {
                do {
                    for statement in migration.statements {
                        try await rows(PostgresQuery(unsafeSQL: statement), on: connection)
                    }
                    try await rows(
                        """
                        INSERT INTO schema_migrations (version, applied_at)
                        VALUES (\(migration.version), extract(epoch FROM clock_timestamp())::float8)
                        """, on: connection)
                } catch {
                    throw GatewayStoreError.migrationFailed(version: migration.version)
                }
            }
        }
    }

    /// Applied migration versions, for tests and `config check`.
    public func appliedMigrations() async throws -> [Int] {
        try await rows("SELECT version FROM schema_migrations ORDER BY version").map { try $0.decode(Int.self) }
    }

    // MARK: - Lifecycle records

    public func lifecycleRecord(tenant: String, user: String) async throws -> StoredLifecycleRecord? {
        let found = try await rows(
            "SELECT revision, record FROM lifecycle_records WHERE tenant = \(tenant) AND user_id = \(user)")
        guard let row = found.first else { return nil }
        let (revision, json) = try row.decode((Int, String).self)
        let record = try JSONDecoder().decode(MFALifecycleRecord.self, from: Data(json.utf8))
        return StoredLifecycleRecord(record: record, revision: revision)
    }

    public func saveLifecycleRecord(
        _ record: MFALifecycleRecord, tenant: String, user: String, expectedRevision: Int
    ) async throws -> Bool {
        let json = String(decoding: try JSONEncoder().encode(record), as: UTF8.self)
        let written: [PostgresRow]
        if expectedRevision == 0 {
            written = try await rows(
                """
                INSERT INTO lifecycle_records (tenant, user_id, revision, record, updated_at)
                VALUES (\(tenant), \(user), 1, \(json), extract(epoch FROM clock_timestamp())::float8)
                ON CONFLICT (tenant, user_id) DO NOTHING RETURNING revision
                """)
        } else {
            written = try await rows(
                """
                UPDATE lifecycle_records SET revision = revision + 1, record = \(json),
                    updated_at = extract(epoch FROM clock_timestamp())::float8
                WHERE tenant = \(tenant) AND user_id = \(user) AND revision = \(expectedRevision) RETURNING revision
                """)
        }
        return written.count == 1
    }

    // MARK: - Audit trail

    public func appendAuditEvent(_ event: AuditEvent) async throws {
        try await transaction { [self] connection in
            try await insertAuditEvent(event, time: try await clock(on: connection), on: connection)
        }
    }

    /// The last statement of every transaction that audits: the lock (held until commit) makes `seq` follow
    /// commit order, so a reader's cursor never passes an event that commits later with a smaller `seq`.
    func insertAuditEvent(_ event: AuditEvent, time: Double, on connection: PostgresConnection) async throws {
        let metadata = String(decoding: try JSONEncoder().encode(event.metadata), as: UTF8.self)
        try await rows(
            "SELECT pg_advisory_xact_lock(hashtextextended('zitadel-gateway.audit:' || current_schema(), 0))",
            on: connection)
        try await rows(
            """
            INSERT INTO audit_events (id, time, tenant, actor, session, action, outcome, metadata, request_id)
            VALUES (\(event.id), \(time), \(event.tenant), \(event.actor), \(event.session), \(event.action),
                \(event.outcome), \(metadata)::jsonb, \(event.requestId))
            """, on: connection)
    }

    public func auditEvents(tenant: String, after cursor: String?, limit: Int) async throws -> AuditPage {
        let after = try Self.sequence(cursor)
        let pageSize = max(1, min(limit, 500))
        let found = try await rows(
            """
            SELECT seq, id, time, tenant, actor, session, action, outcome, metadata::text, request_id
            FROM audit_events WHERE tenant = \(tenant) AND seq > \(after) ORDER BY seq LIMIT \(pageSize + 1)
            """)
        var events: [AuditEvent] = []
        var lastSeq = after
        for row in found.prefix(pageSize) {
            let (seq, id, time, tenant, actor, session, action, outcome, metadataJSON, requestId) = try row.decode(
                (Int, String, Double, String, String, String?, String, String, String, String?).self)
            let metadata = (try? JSONDecoder().decode([String: String].self, from: Data(metadataJSON.utf8))) ?? [:]
            events.append(
                AuditEvent(
                    id: id, time: time, tenant: tenant, actor: actor, session: session, action: action, outcome: outcome,
                    metadata: metadata, requestId: requestId))
            lastSeq = seq
        }
        return AuditPage(events: events, nextCursor: found.count > pageSize ? String(lastSeq) : nil)
    }
}
