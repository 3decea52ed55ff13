import Foundation
import GatewayCore

/// One append-only audit event. Metadata is masked by the caller: never tokens, codes or full numbers.
public struct AuditEvent: Sendable, Equatable, Codable {
    public var id: String
    /// Seconds since 1970 (the store's clock).
    public var time: Double
    public var tenant: String
    /// The acting user (Zitadel user id) or integration name.
    public var actor: String
    public var session: String?
    public var action: String
    public var outcome: String
    public var metadata: [String: String]
    public var requestId: String?

    public init(
        id: String = UUID().uuidString.lowercased(), time: Double = Date().timeIntervalSince1970, tenant: String,
        actor: String, session: String?, action: String, outcome: String, metadata: [String: String] = [:],
        requestId: String?
    ) {
        self.id = id
        self.time = time
        self.tenant = tenant
        self.actor = actor
        self.session = session
        self.action = action
        self.outcome = outcome
        self.metadata = metadata
        self.requestId = requestId
    }
}

/// A page of audit events, oldest first; `nextCursor` continues after the last one.
public struct AuditPage: Sendable, Equatable {
    public var events: [AuditEvent]
    public var nextCursor: String?

    public init(events: [AuditEvent], nextCursor: String?) {
        self.events = events
        self.nextCursor = nextCursor
    }
}

/// A lifecycle record with the revision it was read at (for compare-and-set writes).
public struct StoredLifecycleRecord: Sendable, Equatable {
    public var record: MFALifecycleRecord
    public var revision: Int

    public init(record: MFALifecycleRecord, revision: Int) {
        self.record = record
        self.revision = revision
    }
}

/// Store failures; never carry data values.
public enum GatewayStoreError: Error, Sendable, Equatable {
    case invalidURL(String)
    case migrationFailed(version: Int)
    case unavailable(String)
    case invalidCursor
}

/// The gateway's persistent state: lifecycle records and the audit trail (later: idempotency ledger, rate limits).
///
/// Implementations: SQLite (embedded default), PostgreSQL (several instances). Writes that must not race use
/// compare-and-set on a revision so that the same code is correct on both.
public protocol GatewayStore: Sendable {
    /// Runs pending versioned migrations; idempotent.
    func migrate() async throws

    /// The user's lifecycle record in a tenant, or nil when none was written yet.
    func lifecycleRecord(tenant: String, user: String) async throws -> StoredLifecycleRecord?

    /// Writes the record if its stored revision still equals `expectedRevision` (0 for "no record yet").
    /// Returns false when another writer got there first.
    func saveLifecycleRecord(
        _ record: MFALifecycleRecord, tenant: String, user: String, expectedRevision: Int
    ) async throws -> Bool

    /// Appends an audit event.
    func appendAuditEvent(_ event: AuditEvent) async throws

    /// Reads a tenant's audit events oldest first, after `cursor` (opaque, from a previous page).
    func auditEvents(tenant: String, after cursor: String?, limit: Int) async throws -> AuditPage

    /// Releases connections.
    func close() async throws
}

/// Chooses an implementation from `store.url`.
public enum GatewayStoreFactory {
    /// `sqlite:PATH` (a file, parent directories created), `sqlite::memory:` or `:memory:`.
    public static func open(url: String) async throws -> any GatewayStore {
        if url == ":memory:" || url == "sqlite::memory:" {
            return try await SQLiteGatewayStore.open(path: nil)
        }
        if url.hasPrefix("sqlite:") {
            var path = String(url.dropFirst("sqlite:".count))
            if path.hasPrefix("//") { path.removeFirst(2) }
            guard !path.isEmpty else { throw GatewayStoreError.invalidURL("sqlite: needs a path") }
            return try await SQLiteGatewayStore.open(path: path)
        }
        throw GatewayStoreError.invalidURL("supported: sqlite:PATH, sqlite::memory:")
    }
}
