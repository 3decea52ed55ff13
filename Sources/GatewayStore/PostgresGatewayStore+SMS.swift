import Foundation
import GatewayCore
import PostgresNIO

/// The SMS enrolment half of the PostgreSQL store. Semantics are SQLite's (`SQLiteGatewayStore+SMS.swift`, checked
/// by the shared contract suite); what differs is how they hold across instances: claims for one (tenant, user)
/// take an advisory lock first, each GCRA bucket is one atomic upsert, and the clock is the database's.
extension PostgresGatewayStore {
    /// Idempotency records are kept for a day (the draft's suggested minimum is 24 hours).
    static let idempotencyRetention: Double = 86_400

    public func now() async throws -> Double {
        guard let row = try await rows(Self.clockQuery).first else { throw GatewayStoreError.unavailable("postgres: no clock") }
        return try row.decode(Double.self)
    }

    public func sharedSecret(named name: String, candidate: [UInt8]) async throws -> [UInt8] {
        try await transaction { [self] connection in
            try await rows(
                """
                INSERT INTO shared_secrets (name, value) VALUES (\(name), \(ByteBuffer(bytes: candidate)))
                ON CONFLICT (name) DO NOTHING
                """, on: connection)
            guard let row = try await rows("SELECT value FROM shared_secrets WHERE name = \(name)", on: connection).first
            else { throw GatewayStoreError.unavailable("secret missing") }
            return Array(buffer: try row.decode(ByteBuffer.self))
        }
    }

    public func claimSMSEnrolment(_ claim: SMSEnrolmentClaim) async throws -> SMSEnrolmentClaimOutcome {
        try await transaction { [self] connection in
            let scope = claim.scope
            // Every claim of this (tenant, user) waits here: two keys for one number cannot both create an
            // enrolment, whichever instance they reach.
            try await rows(
                """
                SELECT pg_advisory_xact_lock(hashtextextended(
                    'zitadel-gateway.sms-claim:' || current_schema() || ':' || \(scope.tenant) || ':' || \(scope.userId), 0))
                """, on: connection)
            let now = try await clock(on: connection)
            try await rows(
                """
                DELETE FROM idempotency_keys WHERE ctid IN (
                    SELECT ctid FROM idempotency_keys WHERE created_at < \(now - Self.idempotencyRetention)
                    LIMIT 100 FOR UPDATE SKIP LOCKED)
                """, on: connection)
            var reads = SMSLedger.ClaimReads()
            let keyRows = try await rows(
                """
                SELECT fingerprint, state, lease_until, enrolment_id, response_status, response_body
                FROM idempotency_keys WHERE tenant = \(scope.tenant) AND user_id = \(scope.userId) AND key = \(scope.key)
                """, on: connection)
            if let row = keyRows.first {
                let (fingerprint, state, leaseUntil, enrolmentId, status, body) = try row.decode(
                    (String, String, Double?, String, Int?, String?).self)
                reads.key = SMSLedger.KeyRow(
                    fingerprint: fingerprint, state: state, leaseUntil: leaseUntil, enrolmentId: enrolmentId,
                    response: status.map { StoredResponse(status: $0, body: body ?? "") })
            } else {
                reads.userEnrolments = try await rows(
                    """
                    SELECT \(unescaped: Self.enrolmentColumns) FROM sms_enrolments
                    WHERE tenant = \(scope.tenant) AND user_id = \(scope.userId) AND state IN ('forwarding', 'code_sent')
                    ORDER BY created_at
                    """, on: connection
                ).map(Self.enrolment(from:))
            }
            while true {
                switch try SMSLedger.claim(claim, reads: reads, now: now) {
                case .needs(.keyEnrolment):
                    // Locked before the key row is written, in the same order as `updateSMSEnrolment`.
                    let enrolment = try await fetchEnrolment(id: reads.key?.enrolmentId ?? "", on: connection)
                    reads.keyEnrolment = enrolment.map { .found($0) } ?? .missing
                case .needs(.buckets):
                    try await rows("SAVEPOINT rate_limits", on: connection)
                    reads.buckets = try await lockBuckets(claim.charges.map(\.key), on: connection)
                case .decided(let outcome, let writes):
                    // A refusal leaves the buckets as they were (the placeholder rows `lockBuckets` made go too).
                    if case .rateLimited = outcome {
                        try await rows("ROLLBACK TO SAVEPOINT rate_limits", on: connection)
                    } else if reads.buckets != nil {
                        try await rows("RELEASE SAVEPOINT rate_limits", on: connection)
                    }
                    try await apply(writes, claim: claim, now: now, on: connection)
                    return outcome
                }
            }
        }
    }

    /// Persists a claim's row changes.
    private func apply(
        _ writes: [SMSLedger.Write], claim: SMSEnrolmentClaim, now: Double, on connection: PostgresConnection
    ) async throws {
        let scope = claim.scope
        for write in writes {
            switch write {
            case .leaseEnrolment(let leased):
                try await rows(
                    """
                    UPDATE sms_enrolments SET lease_until = \(leased.leaseUntil), updated_at = \(leased.updatedAt),
                        revision = \(leased.revision)
                    WHERE id = \(leased.id)
                    """, on: connection)
            case .renewKeyLease(let until):
                try await rows(
                    """
                    UPDATE idempotency_keys SET lease_until = \(until)
                    WHERE tenant = \(scope.tenant) AND user_id = \(scope.userId) AND key = \(scope.key)
                    """, on: connection)
            case .insertKey(let enrolmentId, let leaseUntil):
                try await rows(
                    """
                    INSERT INTO idempotency_keys (tenant, user_id, key, fingerprint, enrolment_id, state, lease_until, created_at)
                    VALUES (\(scope.tenant), \(scope.userId), \(scope.key), \(claim.fingerprint), \(enrolmentId),
                        'in_flight', \(leaseUntil), \(now))
                    """, on: connection)
            case .supersede(let ids):
                try await rows(
                    """
                    UPDATE sms_enrolments SET state = 'failed', failure = 'superseded', updated_at = \(now),
                        revision = revision + 1
                    WHERE id = ANY(\(ids)) AND state = 'code_sent'
                    """, on: connection)
            case .insertEnrolment(let enrolment):
                try await insertEnrolment(enrolment, on: connection)
            case .chargeBuckets(let updates):
                try await storeBuckets(updates, on: connection)
            case .audit(let audit):
                try await insertAuditEvent(audit, time: audit.time, on: connection)
            }
        }
    }

    public func updateSMSEnrolment(
        _ enrolment: SMSEnrolment, completing: IdempotencyCompletion?, audit: AuditEvent?
    ) async throws -> SMSEnrolment? {
        try await transaction { [self] connection in
            let now = try await clock(on: connection)
            let updated = SMSLedger.update(enrolment, now: now)
            let written = try await rows(
                """
                UPDATE sms_enrolments SET state = \(updated.state.rawValue), updated_at = \(updated.updatedAt),
                    expires_at = \(updated.expiresAt), last_sent_at = \(updated.lastSentAt),
                    lease_until = \(updated.leaseUntil), verification_attempts = \(updated.verificationAttempts),
                    resends = \(updated.resends), failure = \(updated.failure), revision = \(updated.revision)
                WHERE id = \(updated.id) AND revision = \(enrolment.revision) RETURNING revision
                """, on: connection)
            guard written.count == 1 else { return nil }
            try await finish(completing, on: connection)
            if let audit = SMSLedger.stamped(audit, now: now) {
                try await insertAuditEvent(audit, time: audit.time, on: connection)
            }
            return updated
        }
    }

    public func finishIdempotencyKey(_ completion: IdempotencyCompletion) async throws {
        try await transaction { [self] connection in try await finish(completion, on: connection) }
    }

    public func smsEnrolment(id: String, tenant: String, userId: String) async throws -> SMSEnrolment? {
        try await rows(
            "SELECT \(unescaped: Self.enrolmentColumns) FROM sms_enrolments WHERE id = \(id) AND tenant = \(tenant) AND user_id = \(userId)"
        ).first.map(Self.enrolment(from:))
    }

    public func orphanedSMSEnrolments(limit: Int) async throws -> [SMSEnrolment] {
        try await rows(
            """
            SELECT \(unescaped: Self.enrolmentColumns) FROM sms_enrolments
            WHERE state = 'forwarding' AND lease_until <= extract(epoch FROM clock_timestamp())::float8
            ORDER BY created_at LIMIT \(max(1, limit))
            """
        ).map(Self.enrolment(from:))
    }

    public func chargeRateLimits(_ charges: [RateLimitCharge], refusalAudit: AuditEvent?) async throws -> RateLimitRefusal? {
        try await transaction { [self] connection in
            let now = try await clock(on: connection)
            try await rows("SAVEPOINT rate_limits", on: connection)
            let tats = try await lockBuckets(charges.map(\.key), on: connection)
            switch RateLimitLedger.charge(charges, tats: tats, now: now) {
            case .allowed(let updates):
                try await storeBuckets(updates, on: connection)
                try await rows("RELEASE SAVEPOINT rate_limits", on: connection)
                return nil
            case .refused(let refusal):
                try await rows("ROLLBACK TO SAVEPOINT rate_limits", on: connection)
                if let audit = refusalAudit {
                    let refused = RateLimitLedger.refusalAudit(audit, refusal: refusal, now: now)
                    try await insertAuditEvent(refused, time: refused.time, on: connection)
                }
                return refusal
            }
        }
    }

    // MARK: Statements (called inside a transaction)

    /// The buckets' stored TATs, each row locked until the transaction ends (in key order, so two transactions
    /// never wait on each other's rows in opposite orders). A bucket not stored yet gets a placeholder row first
    /// (TAT 0, which GCRA reads as empty) so that it can be locked too: concurrent first charges cannot both
    /// count against an empty bucket.
    private func lockBuckets(_ keys: [String], on connection: PostgresConnection) async throws -> [String: Double] {
        let sorted = Array(Set(keys)).sorted()
        guard !sorted.isEmpty else { return [:] }
        try await rows(
            """
            INSERT INTO rate_limit_buckets (key, tat) SELECT key, 0 FROM unnest(\(sorted)::text[]) AS key
            ON CONFLICT (key) DO NOTHING
            """, on: connection)
        var tats: [String: Double] = [:]
        for row in try await rows(
            "SELECT key, tat FROM rate_limit_buckets WHERE key = ANY(\(sorted)) ORDER BY key FOR UPDATE", on: connection)
        {
            let (key, tat) = try row.decode((String, Double).self)
            if tat > 0 { tats[key] = tat }
        }
        return tats
    }

    private func storeBuckets(_ updates: [RateLimitLedger.BucketUpdate], on connection: PostgresConnection) async throws {
        for update in updates.sorted(by: { $0.key < $1.key }) {
            try await rows(
                "UPDATE rate_limit_buckets SET tat = \(update.tat) WHERE key = \(update.key)", on: connection)
        }
    }

    private func finish(_ completion: IdempotencyCompletion?, on connection: PostgresConnection) async throws {
        switch completion {
        case .complete(let scope, let response):
            try await rows(
                """
                UPDATE idempotency_keys SET state = 'done', lease_until = NULL, response_status = \(response.status),
                    response_body = \(response.body)
                WHERE tenant = \(scope.tenant) AND user_id = \(scope.userId) AND key = \(scope.key)
                """, on: connection)
        case .release(let scope):
            try await rows(
                """
                DELETE FROM idempotency_keys
                WHERE tenant = \(scope.tenant) AND user_id = \(scope.userId) AND key = \(scope.key)
                """, on: connection)
        case nil: break
        }
    }

    private func insertEnrolment(_ enrolment: SMSEnrolment, on connection: PostgresConnection) async throws {
        try await rows(
            """
            INSERT INTO sms_enrolments (id, tenant, user_id, number_key, masked_phone, state, created_at, updated_at,
                expires_at, last_sent_at, lease_until, verification_attempts, resends, failure, revision)
            VALUES (\(enrolment.id), \(enrolment.tenant), \(enrolment.userId), \(enrolment.numberKey),
                \(enrolment.maskedPhone), \(enrolment.state.rawValue), \(enrolment.createdAt), \(enrolment.updatedAt),
                \(enrolment.expiresAt), \(enrolment.lastSentAt), \(enrolment.leaseUntil), \(enrolment.verificationAttempts),
                \(enrolment.resends), \(enrolment.failure), \(enrolment.revision))
            """, on: connection)
    }

    private func fetchEnrolment(id: String, on connection: PostgresConnection) async throws -> SMSEnrolment? {
        try await rows(
            "SELECT \(unescaped: Self.enrolmentColumns) FROM sms_enrolments WHERE id = \(id) FOR UPDATE", on: connection
        ).first.map(Self.enrolment(from:))
    }

    static let enrolmentColumns = """
        id, tenant, user_id, number_key, masked_phone, state, created_at, updated_at, expires_at, last_sent_at,
        lease_until, verification_attempts, resends, failure, revision
        """

    static func enrolment(from row: PostgresRow) throws -> SMSEnrolment {
        let (
            id, tenant, userId, numberKey, masked, state, created, updated, expires, lastSent, lease, attempts, resends,
            failure, revision
        ) = try row.decode(
            (
                String, String, String, String, String, String, Double, Double, Double, Double?, Double?, Int, Int,
                String?, Int
            ).self)
        return SMSEnrolment(
            id: id, tenant: tenant, userId: userId, numberKey: numberKey, maskedPhone: masked,
            state: SMSEnrolmentState(rawValue: state) ?? .failed, createdAt: created, updatedAt: updated,
            expiresAt: expires, lastSentAt: lastSent, leaseUntil: lease, verificationAttempts: attempts,
            resends: resends, failure: failure, revision: revision)
    }
}
