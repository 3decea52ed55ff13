import Foundation
import GatewayCore
import Logging

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

/// What a revocation covers. Raw values are stored.
public enum RevocationScope: String, Sendable, Codable, Equatable {
    /// Every token of the user issued before `revokedAt` ("sign out everywhere"; compared with `iat`).
    case allSessions = "all_sessions"
    /// Every token of one Zitadel session (`sid` claim, or the session introspection reports).
    case session
    /// One access token, by `jti` (sign-out of a token that names no session).
    case token
}

/// A revocation the gateway enforces itself, on every instance sharing the store.
public struct SessionRevocation: Sendable, Equatable, Codable {
    public var userId: String
    public var scope: RevocationScope
    /// The session id (`.session`) or token id (`.token`); nil for `.allSessions`.
    public var target: String?
    /// Seconds since 1970, the store's clock; set by `recordRevocation`.
    public var revokedAt: Double
    /// When the revocation may be forgotten (no token it covers can still be valid); nil keeps it.
    public var expiresAt: Double?

    public init(userId: String, scope: RevocationScope, target: String?, revokedAt: Double = 0, expiresAt: Double?) {
        self.userId = userId
        self.scope = scope
        self.target = target
        self.revokedAt = revokedAt
        self.expiresAt = expiresAt
    }
}

/// A page of revocations and the cursor to continue from (pass it back even when `revocations` is empty).
public struct RevocationPage: Sendable, Equatable {
    public var revocations: [SessionRevocation]
    public var cursor: String?
    /// True when more revocations were left for the next call.
    public var hasMore: Bool

    public init(revocations: [SessionRevocation], cursor: String?, hasMore: Bool) {
        self.revocations = revocations
        self.cursor = cursor
        self.hasMore = hasMore
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

    // MARK: - SMS enrolment: idempotency ledger, rate limits, enrolments

    /// The store's clock (seconds since 1970): every instance sharing the store decides with the same time.
    func now() async throws -> Double

    /// A named secret shared by every instance: the stored value, or `candidate` when none was stored yet.
    func sharedSecret(named name: String, candidate: [UInt8]) async throws -> [UInt8]

    /// In one transaction: looks the idempotency key up, waits out another forward for the user, looks for an
    /// open enrolment of the same number, charges the rate limits, records the intent (idempotency record + new
    /// enrolment in `forwarding`, both leased; an open enrolment of another number is superseded) and appends
    /// the claim's audit event. See `SMSEnrolmentClaimOutcome` for the answers.
    func claimSMSEnrolment(_ claim: SMSEnrolmentClaim) async throws -> SMSEnrolmentClaimOutcome

    /// In one transaction: writes `enrolment` if the stored revision still equals its `revision` (returning it
    /// with the next revision), completes or releases an idempotency record, and appends an audit event.
    /// Returns nil, changing nothing, when another writer got there first.
    func updateSMSEnrolment(
        _ enrolment: SMSEnrolment, completing: IdempotencyCompletion?, audit: AuditEvent?
    ) async throws -> SMSEnrolment?

    /// Completes or releases an idempotency record on its own (the enrolment unchanged).
    func finishIdempotencyKey(_ completion: IdempotencyCompletion) async throws

    /// An enrolment by id, only within its tenant and user (anything else is nil, as for a missing one).
    func smsEnrolment(id: String, tenant: String, userId: String) async throws -> SMSEnrolment?

    /// Enrolments still `forwarding` after their lease: forwards whose outcome must be reconciled.
    func orphanedSMSEnrolments(limit: Int) async throws -> [SMSEnrolment]

    /// Charges the buckets all or nothing (one transaction) and appends `audit` with the outcome set to
    /// `rate_limited` when refused. Returns the first refusal, or nil when every bucket had room.
    func chargeRateLimits(_ charges: [RateLimitCharge], refusalAudit: AuditEvent?) async throws -> RateLimitRefusal?

    // MARK: - Session revocations

    /// Records a revocation, stamping `revokedAt` with the store's clock (PostgreSQL: the database clock), and
    /// returns it as stored. Also drops revocations whose `expiresAt` has passed.
    func recordRevocation(_ revocation: SessionRevocation) async throws -> SessionRevocation

    /// Live revocations (not expired) recorded after `cursor` (nil: from the beginning), oldest first, at most
    /// `limit`. Gateways poll this to keep their cached revocation list current. A revocation committed after a
    /// call returned must appear in a later call from the returned cursor (duplicates are harmless): with
    /// concurrent writers an implementation may re-read a safety window.
    func revocations(after cursor: String?, limit: Int) async throws -> RevocationPage

    // MARK: - Retention

    /// Deletes at most `retention.batchSize` rows of each kind that nothing needs any more (see `StoreRetention`),
    /// judged by the store's clock, and says how many went. Callers repeat it while a kind returns a full batch.
    func prune(_ retention: StoreRetention) async throws -> PrunedRows

    /// Records a back-channel logout's revocation together with its logout token's `jti` (per issuer, kept
    /// until `expiresAt`), in one transaction: nil, and nothing recorded, when that `jti` was seen before by
    /// any instance (a replay, OIDC Back-Channel Logout 1.0 2.6).
    func recordBackChannelLogout(
        tokenId: String, issuer: String, expiresAt: Double, revocation: SessionRevocation
    ) async throws -> SessionRevocation?
}

/// An idempotency key, scoped to the caller: the same key from another user or tenant is another key.
public struct IdempotencyScope: Sendable, Hashable {
    public var tenant: String
    public var userId: String
    public var key: String

    public init(tenant: String, userId: String, key: String) {
        self.tenant = tenant
        self.userId = userId
        self.key = key
    }
}

/// The response recorded for an idempotency key, replayed for the same key and request.
public struct StoredResponse: Sendable, Equatable {
    public var status: Int
    public var body: String

    public init(status: Int, body: String) {
        self.status = status
        self.body = body
    }
}

/// What happens to an idempotency record when an enrolment is updated.
public enum IdempotencyCompletion: Sendable, Equatable {
    /// The request finished: replay this response from now on.
    case complete(IdempotencyScope, StoredResponse)
    /// The forward was confirmed not to have happened: forget the key so that a retry starts afresh.
    case release(IdempotencyScope)
}

/// A request to start an SMS enrolment.
public struct SMSEnrolmentClaim: Sendable {
    public var scope: IdempotencyScope
    /// A keyed hash of the normalised request.
    public var fingerprint: String
    public var numberKey: String
    public var maskedPhone: String
    /// The id for a new enrolment.
    public var enrolmentId: String
    /// How long the claimant owns the forward before it counts as orphaned.
    public var leaseSeconds: Double
    public var codeLifetimeSeconds: Double
    public var charges: [RateLimitCharge]
    /// Appended with the claim (`outcome` as given) or with a refusal (`outcome` replaced by `rate_limited`).
    public var audit: AuditEvent

    public init(
        scope: IdempotencyScope, fingerprint: String, numberKey: String, maskedPhone: String, enrolmentId: String,
        leaseSeconds: Double, codeLifetimeSeconds: Double, charges: [RateLimitCharge], audit: AuditEvent
    ) {
        self.scope = scope
        self.fingerprint = fingerprint
        self.numberKey = numberKey
        self.maskedPhone = maskedPhone
        self.enrolmentId = enrolmentId
        self.leaseSeconds = leaseSeconds
        self.codeLifetimeSeconds = codeLifetimeSeconds
        self.charges = charges
        self.audit = audit
    }
}

/// The answer to a claim; only `.claimed` lets the caller forward SetPhone.
public enum SMSEnrolmentClaimOutcome: Sendable, Equatable {
    /// A new enrolment in `forwarding`, leased to this request: forward SetPhone now.
    case claimed(SMSEnrolment)
    /// The key finished before: replay its response.
    case replay(StoredResponse)
    /// The key was used with another request.
    case keyReused
    /// The key's first request is still running.
    case inProgress
    /// The key is now bound to this open enrolment (leased to this request): answer with it, no new forward.
    /// An enrolment still `forwarding` here was orphaned by its owner: reconcile it at the provider first.
    /// `createdByKey`: the key's own earlier request created it (a retry after a crash or timeout).
    case attached(SMSEnrolment, createdByKey: Bool)
    /// Another request is forwarding for this user right now (this number or another): retry shortly.
    case busy
    /// An orphaned forward of another number for this user, now leased to this request: reconcile it, then
    /// claim again. (Zitadel holds one phone per user, so forwards for a user never overlap.)
    case blocked(SMSEnrolment)
    /// A bucket is full; nothing was recorded but the refusal's audit event.
    case rateLimited(RateLimitRefusal)
}

/// Chooses an implementation from `store.url`.
public enum GatewayStoreFactory {
    /// `sqlite:PATH` (a file, parent directories created), `sqlite::memory:` or `:memory:`; or
    /// `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?sslmode=…&schema=…]` (`postgresql://` too), with at most
    /// `poolSize` connections and `password` (a configured secret) in place of the URL's.
    public static func open(
        url: String, poolSize: Int = 10, password: String? = nil, operationTimeout: Duration = .seconds(5),
        logger: Logger = Logger(label: "gateway.store")
    ) async throws -> any GatewayStore {
        if url == ":memory:" || url == "sqlite::memory:" {
            return try await SQLiteGatewayStore.open(path: nil, logger: logger)
        }
        if url.hasPrefix("sqlite:") {
            var path = String(url.dropFirst("sqlite:".count))
            if path.hasPrefix("//") { path.removeFirst(2) }
            guard !path.isEmpty else { throw GatewayStoreError.invalidURL("sqlite: needs a path") }
            return try await SQLiteGatewayStore.open(path: path, logger: logger)
        }
        if PostgresStoreConfiguration.handles(url) {
            var configuration = try PostgresStoreConfiguration(
                url: url, poolSize: poolSize, operationTimeout: operationTimeout)
            if let password, !password.isEmpty { configuration.password = password }
            return try await PostgresGatewayStore.open(configuration: configuration, logger: logger)
        }
        throw GatewayStoreError.invalidURL("supported: sqlite:PATH, sqlite::memory:, postgres://USER@HOST:PORT/DATABASE")
    }
}
