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
            let keyRows = try await rows(
                """
                SELECT fingerprint, state, lease_until, enrolment_id, response_status, response_body
                FROM idempotency_keys WHERE tenant = \(scope.tenant) AND user_id = \(scope.userId) AND key = \(scope.key)
                """, on: connection)
            if let row = keyRows.first {
                let (fingerprint, state, leaseUntil, enrolmentId, status, body) = try row.decode(
                    (String, String, Double?, String, Int?, String?).self)
                guard fingerprint == claim.fingerprint else { return .keyReused }
                if state == "done" { return .replay(StoredResponse(status: status ?? 500, body: body ?? "")) }
                if (leaseUntil ?? 0) > now { return .inProgress }
                // The key's owner is gone (crash or timeout): this request takes the key over. The enrolment row
                // is locked before the key row, in the same order as `updateSMSEnrolment`.
                guard let enrolment = try await fetchEnrolment(id: enrolmentId, on: connection) else {
                    throw GatewayStoreError.unavailable("idempotency record without enrolment")
                }
                // Unless the forward is still leased: its owner renews the lease call by call.
                if enrolment.state == .forwarding && !enrolment.forwardIsOrphaned(at: now) { return .inProgress }
                let leased = try await leaseIfOrphaned(enrolment, now: now, leaseSeconds: claim.leaseSeconds, on: connection)
                try await rows(
                    """
                    UPDATE idempotency_keys SET lease_until = \(now + claim.leaseSeconds)
                    WHERE tenant = \(scope.tenant) AND user_id = \(scope.userId) AND key = \(scope.key)
                    """, on: connection)
                return .attached(leased, createdByKey: true)
            }
            // Zitadel holds one phone per user: while another number's forward is in flight nothing else may be
            // forwarded for the user, or reading the phone could no longer tell which change happened.
            let forwarding = try await rows(
                """
                SELECT \(unescaped: Self.enrolmentColumns) FROM sms_enrolments
                WHERE tenant = \(scope.tenant) AND user_id = \(scope.userId) AND state = 'forwarding'
                AND number_key <> \(claim.numberKey) ORDER BY created_at
                """, on: connection
            ).map(Self.enrolment(from:))
            if let other = forwarding.first {
                guard other.forwardIsOrphaned(at: now) else { return .busy }
                return .blocked(try await leaseIfOrphaned(other, now: now, leaseSeconds: claim.leaseSeconds, on: connection))
            }
            if let open = try await openEnrolment(claim: claim, now: now, on: connection) {
                if open.state == .forwarding && !open.forwardIsOrphaned(at: now) { return .busy }
                let leased = try await leaseIfOrphaned(open, now: now, leaseSeconds: claim.leaseSeconds, on: connection)
                try await insertKey(claim, enrolmentId: open.id, now: now, on: connection)
                return .attached(leased, createdByKey: false)
            }
            if let refusal = try await charge(claim.charges, now: now, on: connection) {
                var audit = claim.audit
                audit.outcome = "rate_limited"
                audit.metadata["bucket"] = refusal.rule.name
                try await insertAuditEvent(audit, time: now, on: connection)
                return .rateLimited(refusal)
            }
            let enrolment = SMSEnrolment(
                id: claim.enrolmentId, tenant: scope.tenant, userId: scope.userId, numberKey: claim.numberKey,
                maskedPhone: claim.maskedPhone, state: .forwarding, createdAt: now, updatedAt: now,
                expiresAt: now + claim.leaseSeconds + claim.codeLifetimeSeconds, leaseUntil: now + claim.leaseSeconds)
            // The new number replaces the user's phone at Zitadel: an open enrolment of another number is over.
            try await rows(
                """
                UPDATE sms_enrolments SET state = 'failed', failure = 'superseded', updated_at = \(now), revision = revision + 1
                WHERE tenant = \(scope.tenant) AND user_id = \(scope.userId) AND state = 'code_sent'
                AND number_key <> \(claim.numberKey)
                """, on: connection)
            try await insertEnrolment(enrolment, on: connection)
            try await insertKey(claim, enrolmentId: enrolment.id, now: now, on: connection)
            try await insertAuditEvent(claim.audit, time: now, on: connection)
            return .claimed(enrolment)
        }
    }

    public func updateSMSEnrolment(
        _ enrolment: SMSEnrolment, completing: IdempotencyCompletion?, audit: AuditEvent?
    ) async throws -> SMSEnrolment? {
        try await transaction { [self] connection in
            let now = try await clock(on: connection)
            var updated = enrolment
            updated.updatedAt = now
            updated.revision = enrolment.revision + 1
            let written = try await rows(
                """
                UPDATE sms_enrolments SET state = \(updated.state.rawValue), updated_at = \(now),
                    expires_at = \(updated.expiresAt), last_sent_at = \(updated.lastSentAt),
                    lease_until = \(updated.leaseUntil), verification_attempts = \(updated.verificationAttempts),
                    resends = \(updated.resends), failure = \(updated.failure), revision = \(updated.revision)
                WHERE id = \(updated.id) AND revision = \(enrolment.revision) RETURNING revision
                """, on: connection)
            guard written.count == 1 else { return nil }
            try await finish(completing, on: connection)
            if let audit { try await insertAuditEvent(audit, time: now, on: connection) }
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
            guard let refusal = try await charge(charges, now: now, on: connection) else { return nil }
            if var audit = refusalAudit {
                audit.outcome = "rate_limited"
                audit.metadata["bucket"] = refusal.rule.name
                try await insertAuditEvent(audit, time: now, on: connection)
            }
            return refusal
        }
    }

    // MARK: Statements (called inside a transaction)

    /// Charges every bucket with one atomic upsert each (GCRA's new TAT computed in SQL, written only when the
    /// request fits), all or nothing: a refusal rolls the others back to the savepoint. Buckets are charged in
    /// key order so that two transactions never wait on each other's rows in opposite orders. The refusal reported
    /// is the one that lasts longest, as in SQLite.
    private func charge(
        _ charges: [RateLimitCharge], now: Double, on connection: PostgresConnection
    ) async throws
        -> RateLimitRefusal?
    {
        try await rows("SAVEPOINT rate_limits", on: connection)
        var refusal: RateLimitRefusal?
        for charge in charges.sorted(by: { $0.key < $1.key }) {
            let interval = charge.rule.emissionInterval
            let period = charge.rule.periodSeconds
            let charged = try await rows(
                """
                INSERT INTO rate_limit_buckets AS bucket (key, tat) VALUES (\(charge.key), \(now) + \(interval))
                ON CONFLICT (key) DO UPDATE SET tat = GREATEST(bucket.tat, \(now)) + \(interval)
                WHERE GREATEST(bucket.tat, \(now)) + \(interval) - \(period) <= \(now)
                RETURNING tat
                """, on: connection)
            guard charged.isEmpty else { continue }
            // Refused: the upsert left the row as it was (and locked); read it to say when to come back.
            let stored = try await rows("SELECT tat FROM rate_limit_buckets WHERE key = \(charge.key)", on: connection)
            let tat = try stored.first?.decode(Double.self)
            let outcome = GCRA.evaluate(tat: tat, now: now, rule: charge.rule)
            let seconds = Int(saturating: outcome.retryAfter.rounded(.up))
            if seconds > refusal?.retryAfterSeconds ?? -1 {
                refusal = RateLimitRefusal(rule: charge.rule, retryAfterSeconds: max(1, seconds))
            }
        }
        try await rows(refusal == nil ? "RELEASE SAVEPOINT rate_limits" : "ROLLBACK TO SAVEPOINT rate_limits", on: connection)
        return refusal
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

    private func openEnrolment(
        claim: SMSEnrolmentClaim, now: Double, on connection: PostgresConnection
    ) async throws
        -> SMSEnrolment?
    {
        try await rows(
            """
            SELECT \(unescaped: Self.enrolmentColumns) FROM sms_enrolments
            WHERE tenant = \(claim.scope.tenant) AND user_id = \(claim.scope.userId) AND number_key = \(claim.numberKey)
            AND state IN ('forwarding', 'code_sent') ORDER BY created_at DESC
            """, on: connection
        ).map(Self.enrolment(from:)).first { $0.isOpen(at: now) }
    }

    private func leaseIfOrphaned(
        _ enrolment: SMSEnrolment, now: Double, leaseSeconds: Double, on connection: PostgresConnection
    ) async throws -> SMSEnrolment {
        guard enrolment.forwardIsOrphaned(at: now) else { return enrolment }
        var leased = enrolment
        leased.leaseUntil = now + leaseSeconds
        leased.revision += 1
        leased.updatedAt = now
        try await rows(
            """
            UPDATE sms_enrolments SET lease_until = \(now + leaseSeconds), updated_at = \(now), revision = \(leased.revision)
            WHERE id = \(enrolment.id)
            """, on: connection)
        return leased
    }

    private func insertKey(
        _ claim: SMSEnrolmentClaim, enrolmentId: String, now: Double, on connection: PostgresConnection
    )
        async throws
    {
        try await rows(
            """
            INSERT INTO idempotency_keys (tenant, user_id, key, fingerprint, enrolment_id, state, lease_until, created_at)
            VALUES (\(claim.scope.tenant), \(claim.scope.userId), \(claim.scope.key), \(claim.fingerprint), \(enrolmentId),
                'in_flight', \(now + claim.leaseSeconds), \(now))
            """, on: connection)
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
