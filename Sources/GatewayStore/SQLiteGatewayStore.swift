import Foundation
import GatewayCore
import Logging
import Metrics
import NIOCore
import SQLiteNIO

/// The embedded store: one SQLite connection, serialised by an actor; versioned migrations at open.
public actor SQLiteGatewayStore: GatewayStore {
    let connection: SQLiteConnection
    private var closed = false
    /// Actor methods interleave at every `await`: statements of one operation (a transaction above all) must not
    /// mix with another's on the shared connection, so every operation holds this turn.
    private var busy = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    /// Migrations in order; a version once shipped is never edited.
    static let migrations: [(version: Int, statements: [String])] = [
        (
            1,
            [
                """
                CREATE TABLE lifecycle_records (
                    tenant TEXT NOT NULL, user_id TEXT NOT NULL, revision INTEGER NOT NULL,
                    record TEXT NOT NULL, updated_at REAL NOT NULL, PRIMARY KEY (tenant, user_id))
                """,
                """
                CREATE TABLE audit_events (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, time REAL NOT NULL,
                    tenant TEXT NOT NULL, actor TEXT NOT NULL, session TEXT, action TEXT NOT NULL,
                    outcome TEXT NOT NULL, metadata TEXT NOT NULL, request_id TEXT)
                """,
                "CREATE INDEX audit_events_tenant_seq ON audit_events (tenant, seq)",
            ]
        ),
        (
            2,
            [
                """
                CREATE TABLE sms_enrolments (
                    id TEXT PRIMARY KEY, tenant TEXT NOT NULL, user_id TEXT NOT NULL, number_key TEXT NOT NULL,
                    masked_phone TEXT NOT NULL, state TEXT NOT NULL, created_at REAL NOT NULL, updated_at REAL NOT NULL,
                    expires_at REAL NOT NULL, last_sent_at REAL, lease_until REAL,
                    verification_attempts INTEGER NOT NULL, resends INTEGER NOT NULL, failure TEXT,
                    revision INTEGER NOT NULL)
                """,
                "CREATE INDEX sms_enrolments_number ON sms_enrolments (tenant, user_id, number_key, state)",
                "CREATE INDEX sms_enrolments_forwarding ON sms_enrolments (state, lease_until)",
                """
                CREATE TABLE idempotency_keys (
                    tenant TEXT NOT NULL, user_id TEXT NOT NULL, key TEXT NOT NULL, fingerprint TEXT NOT NULL,
                    enrolment_id TEXT NOT NULL, state TEXT NOT NULL, lease_until REAL, response_status INTEGER,
                    response_body TEXT, created_at REAL NOT NULL, PRIMARY KEY (tenant, user_id, key))
                """,
                "CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at)",
                "CREATE TABLE rate_limit_buckets (key TEXT PRIMARY KEY, tat REAL NOT NULL)",
                "CREATE TABLE shared_secrets (name TEXT PRIMARY KEY, value BLOB NOT NULL)",
            ]
        ),
        (
            3,
            [
                """
                CREATE TABLE session_revocations (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT, user_id TEXT NOT NULL, scope TEXT NOT NULL,
                    target TEXT, revoked_at REAL NOT NULL, expires_at REAL)
                """,
                "CREATE INDEX session_revocations_expires_at ON session_revocations (expires_at)",
            ]
        ),
        (
            4,
            [
                """
                CREATE TABLE logout_tokens (
                    issuer TEXT NOT NULL, jti TEXT NOT NULL, expires_at REAL NOT NULL, PRIMARY KEY (issuer, jti))
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

    private init(connection: SQLiteConnection) {
        self.connection = connection
    }

    /// A store dropped without `close()` (an application that never ran its services) still closes its connection.
    deinit {
        guard !closed else { return }
        let connection = self.connection
        Task { try? await connection.close() }
    }

    /// Opens (creating the file and its directory) and migrates; nil path is an in-memory database.
    public static func open(path: String?, logger: Logger = Logger(label: "gateway.store")) async throws -> SQLiteGatewayStore {
        let storage: SQLiteConnection.Storage
        if let path {
            let directory = (path as NSString).deletingLastPathComponent
            if !directory.isEmpty {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            }
            storage = .file(path: path)
        } else {
            storage = .memory
        }
        let connection = try await SQLiteConnection.open(storage: storage, logger: logger)
        let store = SQLiteGatewayStore(connection: connection)
        try await store.migrate()
        return store
    }

    /// Runs `body` alone on the connection (one store transaction, counted in `gateway_store_transactions_total`).
    func exclusive<T>(_ body: () async throws -> T) async throws -> T {
        Self.countTransaction()
        if busy {
            await withCheckedContinuation { waiters.append($0) }
        } else {
            busy = true
        }
        defer {
            if waiters.isEmpty { busy = false } else { waiters.removeFirst().resume() }
        }
        return try await body()
    }

    /// Counts a store transaction in `gateway_store_transactions_total`.
    static func countTransaction() {
        Counter(label: "gateway_store_transactions_total", dimensions: [("store", "sqlite")]).increment()
    }

    /// `body` inside `BEGIN IMMEDIATE … COMMIT`, rolled back when it throws.
    func transaction<T>(_ body: () async throws -> T) async throws -> T {
        try await exclusive {
            _ = try await connection.query("BEGIN IMMEDIATE")
            do {
                let result = try await body()
                _ = try await connection.query("COMMIT")
                return result
            } catch {
                _ = try? await connection.query("ROLLBACK")
                throw error
            }
        }
    }

    public func migrate() async throws {
        try await exclusive { try await runMigrations() }
    }

    private func runMigrations() async throws {
        _ = try await connection.query("PRAGMA journal_mode = WAL")
        // Other processes on the same file (a restarted or second instance) wait for a lock instead of failing.
        _ = try await connection.query("PRAGMA busy_timeout = 5000")
        _ = try await connection.query(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at REAL NOT NULL)")
        let rows = try await connection.query("SELECT version FROM schema_migrations")
        let applied = Set(rows.compactMap { $0.column("version")?.integer.map { Int($0) } })
        for migration in Self.migrations where !applied.contains(migration.version) {
            do {
                _ = try await connection.query("BEGIN IMMEDIATE")
                for statement in migration.statements { _ = try await connection.query(statement) }
                _ = try await connection.query(
                    "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)",
                    [.integer(migration.version), .float(Date().timeIntervalSince1970)])
                _ = try await connection.query("COMMIT")
            } catch {
                _ = try? await connection.query("ROLLBACK")
                throw GatewayStoreError.migrationFailed(version: migration.version)
            }
        }
    }

    /// Applied migration versions, for tests and `config check`.
    public func appliedMigrations() async throws -> [Int] {
        try await exclusive {
            try await connection.query("SELECT version FROM schema_migrations ORDER BY version")
                .compactMap { $0.column("version")?.integer.map { Int($0) } }
        }
    }

    public func lifecycleRecord(tenant: String, user: String) async throws -> StoredLifecycleRecord? {
        let rows = try await exclusive {
            try await connection.query(
                "SELECT revision, record FROM lifecycle_records WHERE tenant = ? AND user_id = ?",
                [.text(tenant), .text(user)])
        }
        guard let row = rows.first, let revision = row.column("revision")?.integer, let json = row.column("record")?.string
        else { return nil }
        let record = try JSONDecoder().decode(MFALifecycleRecord.self, from: Data(json.utf8))
        return StoredLifecycleRecord(record: record, revision: Int(revision))
    }

    public func saveLifecycleRecord(
        _ record: MFALifecycleRecord, tenant: String, user: String, expectedRevision: Int
    ) async throws -> Bool {
        let json = String(decoding: try JSONEncoder().encode(record), as: UTF8.self)
        let now = Date().timeIntervalSince1970
        // RETURNING reports this statement's own effect: a separate `SELECT changes()` could observe another
        // request's statement on the shared connection and report a lost compare-and-set as won.
        let rows: [SQLiteRow] = try await exclusive {
            if expectedRevision == 0 {
                return try await connection.query(
                    """
                    INSERT INTO lifecycle_records (tenant, user_id, revision, record, updated_at) VALUES (?, ?, 1, ?, ?)
                    ON CONFLICT (tenant, user_id) DO NOTHING RETURNING revision
                    """, [.text(tenant), .text(user), .text(json), .float(now)])
            } else {
                return try await connection.query(
                    """
                    UPDATE lifecycle_records SET revision = revision + 1, record = ?, updated_at = ?
                    WHERE tenant = ? AND user_id = ? AND revision = ? RETURNING revision
                    """, [.text(json), .float(now), .text(tenant), .text(user), .integer(expectedRevision)])
            }
        }
        return rows.count == 1
    }

    public func appendAuditEvent(_ event: AuditEvent) async throws {
        try await exclusive { try await insertAuditEvent(event) }
    }

    func insertAuditEvent(_ event: AuditEvent) async throws {
        let metadata = String(decoding: try JSONEncoder().encode(event.metadata), as: UTF8.self)
        _ = try await connection.query(
            """
            INSERT INTO audit_events (id, time, tenant, actor, session, action, outcome, metadata, request_id)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            """,
            [
                .text(event.id), .float(event.time), .text(event.tenant), .text(event.actor),
                event.session.map(SQLiteData.text) ?? .null, .text(event.action), .text(event.outcome), .text(metadata),
                event.requestId.map(SQLiteData.text) ?? .null,
            ])
    }

    public func auditEvents(tenant: String, after cursor: String?, limit: Int) async throws -> AuditPage {
        let after = try Self.sequence(cursor)
        let pageSize = max(1, min(limit, 500))
        let rows = try await exclusive {
            try await connection.query(
                """
                SELECT seq, id, time, tenant, actor, session, action, outcome, metadata, request_id FROM audit_events
                WHERE tenant = ? AND seq > ? ORDER BY seq LIMIT ?
                """, [.text(tenant), .integer(after), .integer(pageSize + 1)])
        }
        var events: [AuditEvent] = []
        var lastSeq = after
        for row in rows.prefix(pageSize) {
            let metadataJSON = row.column("metadata")?.string ?? "{}"
            let metadata = (try? JSONDecoder().decode([String: String].self, from: Data(metadataJSON.utf8))) ?? [:]
            events.append(
                AuditEvent(
                    id: row.column("id")?.string ?? "", time: row.column("time")?.double ?? 0,
                    tenant: row.column("tenant")?.string ?? "", actor: row.column("actor")?.string ?? "",
                    session: row.column("session")?.string, action: row.column("action")?.string ?? "",
                    outcome: row.column("outcome")?.string ?? "", metadata: metadata,
                    requestId: row.column("request_id")?.string))
            lastSeq = Int(row.column("seq")?.integer ?? 0)
        }
        return AuditPage(events: events, nextCursor: rows.count > pageSize ? String(lastSeq) : nil)
    }

    // MARK: - Session revocations

    public func recordRevocation(_ revocation: SessionRevocation) async throws -> SessionRevocation {
        try await transaction { try await insertRevocation(revocation) }
    }

    public func recordBackChannelLogout(
        tokenId: String, issuer: String, expiresAt: Double, revocation: SessionRevocation
    ) async throws -> SessionRevocation? {
        try await transaction {
            let now = Date().timeIntervalSince1970
            _ = try await connection.query("DELETE FROM logout_tokens WHERE expires_at <= ?", [.float(now)])
            let seen = try await connection.query(
                "SELECT 1 AS seen FROM logout_tokens WHERE issuer = ? AND jti = ?", [.text(issuer), .text(tokenId)])
            guard seen.isEmpty else { return nil }
            _ = try await connection.query(
                "INSERT INTO logout_tokens (issuer, jti, expires_at) VALUES (?, ?, ?)",
                [.text(issuer), .text(tokenId), .float(expiresAt)])
            return try await insertRevocation(revocation)
        }
    }

    /// Inside a transaction: stamps and inserts a revocation, dropping expired ones.
    private func insertRevocation(_ revocation: SessionRevocation) async throws -> SessionRevocation {
        var stored = revocation
        stored.revokedAt = Date().timeIntervalSince1970
        _ = try await connection.query(
            "DELETE FROM session_revocations WHERE expires_at IS NOT NULL AND expires_at <= ?", [.float(stored.revokedAt)])
        _ = try await connection.query(
            """
            INSERT INTO session_revocations (user_id, scope, target, revoked_at, expires_at) VALUES (?, ?, ?, ?, ?)
            """,
            [
                .text(stored.userId), .text(stored.scope.rawValue), stored.target.map(SQLiteData.text) ?? .null,
                .float(stored.revokedAt), stored.expiresAt.map(SQLiteData.float) ?? .null,
            ])
        return stored
    }

    public func revocations(after cursor: String?, limit: Int) async throws -> RevocationPage {
        let after = try Self.sequence(cursor)
        let pageSize = max(1, min(limit, 10_000))
        // Writers serialise on the file lock and `seq` is assigned inside the write: seq order is commit order.
        let rows = try await exclusive {
            try await connection.query(
                """
                SELECT seq, user_id, scope, target, revoked_at, expires_at FROM session_revocations
                WHERE seq > ? AND (expires_at IS NULL OR expires_at > ?) ORDER BY seq LIMIT ?
                """, [.integer(after), .float(Date().timeIntervalSince1970), .integer(pageSize + 1)])
        }
        var revocations: [SessionRevocation] = []
        var last = after
        for row in rows.prefix(pageSize) {
            last = row.column("seq")?.integer.map { Int($0) } ?? last
            guard let user = row.column("user_id")?.string,
                let scope = row.column("scope")?.string.flatMap(RevocationScope.init(rawValue:))
            else { continue }
            revocations.append(
                SessionRevocation(
                    userId: user, scope: scope, target: row.column("target")?.string,
                    revokedAt: row.column("revoked_at")?.double ?? 0, expiresAt: row.column("expires_at")?.double))
        }
        return RevocationPage(revocations: revocations, cursor: String(last), hasMore: rows.count > pageSize)
    }

    /// A cursor is the last `seq` read; nil starts at the beginning.
    static func sequence(_ cursor: String?) throws -> Int {
        guard let cursor else { return 0 }
        guard let value = Int(cursor), value >= 0 else { throw GatewayStoreError.invalidCursor }
        return value
    }

    public func close() async throws {
        guard !closed else { return }
        try await exclusive { try await connection.close() }
        closed = true
    }
}
