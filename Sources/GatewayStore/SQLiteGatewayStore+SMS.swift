import Foundation
import GatewayCore
import NIOCore
import SQLiteNIO

/// The SMS enrolment half of the SQLite store: idempotency ledger, enrolments, GCRA buckets, shared secrets.
/// Every decision runs in one `BEGIN IMMEDIATE` transaction, so it is atomic across processes sharing the file.
extension SQLiteGatewayStore {
    /// Idempotency records are kept for a day (the draft's suggested minimum is 24 hours).
    static let idempotencyRetention: Double = 86_400

    public func now() async throws -> Double { Date().timeIntervalSince1970 }

    public func sharedSecret(named name: String, candidate: [UInt8]) async throws -> [UInt8] {
        try await transaction {
            _ = try await connection.query(
                "INSERT INTO shared_secrets (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
                [.text(name), .blob(ByteBuffer(bytes: candidate))])
            let rows = try await connection.query("SELECT value FROM shared_secrets WHERE name = ?", [.text(name)])
            guard let blob = rows.first?.column("value")?.blob else { throw GatewayStoreError.unavailable("secret missing") }
            return Array(buffer: blob)
        }
    }

    public func claimSMSEnrolment(_ claim: SMSEnrolmentClaim) async throws -> SMSEnrolmentClaimOutcome {
        try await transaction {
            let now = Date().timeIntervalSince1970
            let scope = claim.scope
            _ = try await connection.query(
                "DELETE FROM idempotency_keys WHERE created_at < ?", [.float(now - Self.idempotencyRetention)])
            let keyRows = try await connection.query(
                """
                SELECT fingerprint, state, lease_until, enrolment_id, response_status, response_body
                FROM idempotency_keys WHERE tenant = ? AND user_id = ? AND key = ?
                """, [.text(scope.tenant), .text(scope.userId), .text(scope.key)])
            if let row = keyRows.first {
                guard row.column("fingerprint")?.string == claim.fingerprint else { return .keyReused }
                if row.column("state")?.string == "done" {
                    return .replay(
                        StoredResponse(
                            status: Int(row.column("response_status")?.integer ?? 500),
                            body: row.column("response_body")?.string ?? ""))
                }
                if (row.column("lease_until")?.double ?? 0) > now { return .inProgress }
                // The key's owner is gone (crash or timeout): this request takes the key over, unless the forward is
                // still leased (its owner renews the lease call by call).
                guard let enrolment = try await fetchEnrolment(id: row.column("enrolment_id")?.string ?? "") else {
                    throw GatewayStoreError.unavailable("idempotency record without enrolment")
                }
                if enrolment.state == .forwarding && !enrolment.forwardIsOrphaned(at: now) { return .inProgress }
                _ = try await connection.query(
                    "UPDATE idempotency_keys SET lease_until = ? WHERE tenant = ? AND user_id = ? AND key = ?",
                    [.float(now + claim.leaseSeconds), .text(scope.tenant), .text(scope.userId), .text(scope.key)])
                return .attached(
                    try await leaseIfOrphaned(enrolment, now: now, leaseSeconds: claim.leaseSeconds), createdByKey: true)
            }
            // Zitadel holds one phone per user: while another number's forward is in flight nothing else may be
            // forwarded for the user, or reading the phone could no longer tell which change happened.
            let forwarding = try await connection.query(
                """
                SELECT * FROM sms_enrolments WHERE tenant = ? AND user_id = ? AND state = 'forwarding' AND number_key <> ?
                ORDER BY created_at
                """, [.text(scope.tenant), .text(scope.userId), .text(claim.numberKey)]
            ).map(Self.enrolment(from:))
            if let other = forwarding.first {
                guard other.forwardIsOrphaned(at: now) else { return .busy }
                return .blocked(try await leaseIfOrphaned(other, now: now, leaseSeconds: claim.leaseSeconds))
            }
            if let open = try await openEnrolment(claim: claim, now: now) {
                if open.state == .forwarding && !open.forwardIsOrphaned(at: now) { return .busy }
                try await insertKey(claim, enrolmentId: open.id, now: now)
                return .attached(
                    try await leaseIfOrphaned(open, now: now, leaseSeconds: claim.leaseSeconds), createdByKey: false)
            }
            if let refusal = try await charge(claim.charges, now: now) {
                var audit = claim.audit
                audit.outcome = "rate_limited"
                audit.metadata["bucket"] = refusal.rule.name
                audit.time = now
                try await insertAuditEvent(audit)
                return .rateLimited(refusal)
            }
            let enrolment = SMSEnrolment(
                id: claim.enrolmentId, tenant: scope.tenant, userId: scope.userId, numberKey: claim.numberKey,
                maskedPhone: claim.maskedPhone, state: .forwarding, createdAt: now, updatedAt: now,
                expiresAt: now + claim.leaseSeconds + claim.codeLifetimeSeconds, leaseUntil: now + claim.leaseSeconds)
            // The new number replaces the user's phone at Zitadel: an open enrolment of another number is over.
            _ = try await connection.query(
                """
                UPDATE sms_enrolments SET state = 'failed', failure = 'superseded', updated_at = ?, revision = revision + 1
                WHERE tenant = ? AND user_id = ? AND state = 'code_sent' AND number_key <> ?
                """, [.float(now), .text(scope.tenant), .text(scope.userId), .text(claim.numberKey)])
            try await insertEnrolment(enrolment)
            try await insertKey(claim, enrolmentId: enrolment.id, now: now)
            var audit = claim.audit
            audit.time = now
            try await insertAuditEvent(audit)
            return .claimed(enrolment)
        }
    }

    public func updateSMSEnrolment(
        _ enrolment: SMSEnrolment, completing: IdempotencyCompletion?, audit: AuditEvent?
    ) async throws -> SMSEnrolment? {
        try await transaction {
            let now = Date().timeIntervalSince1970
            var updated = enrolment
            updated.updatedAt = now
            updated.revision = enrolment.revision + 1
            let rows = try await connection.query(
                """
                UPDATE sms_enrolments SET state = ?, updated_at = ?, expires_at = ?, last_sent_at = ?, lease_until = ?,
                    verification_attempts = ?, resends = ?, failure = ?, revision = ?
                WHERE id = ? AND revision = ? RETURNING revision
                """,
                [
                    .text(updated.state.rawValue), .float(now), .float(updated.expiresAt), Self.optional(updated.lastSentAt),
                    Self.optional(updated.leaseUntil), .integer(updated.verificationAttempts), .integer(updated.resends),
                    updated.failure.map(SQLiteData.text) ?? .null, .integer(updated.revision), .text(updated.id),
                    .integer(enrolment.revision),
                ])
            guard rows.count == 1 else { return nil }
            try await finish(completing)
            if var audit {
                audit.time = now
                try await insertAuditEvent(audit)
            }
            return updated
        }
    }

    public func finishIdempotencyKey(_ completion: IdempotencyCompletion) async throws {
        try await transaction { try await finish(completion) }
    }

    private func finish(_ completion: IdempotencyCompletion?) async throws {
        switch completion {
        case .complete(let scope, let response):
            _ = try await connection.query(
                """
                UPDATE idempotency_keys SET state = 'done', lease_until = NULL, response_status = ?, response_body = ?
                WHERE tenant = ? AND user_id = ? AND key = ?
                """,
                [
                    .integer(response.status), .text(response.body), .text(scope.tenant), .text(scope.userId),
                    .text(scope.key),
                ])
        case .release(let scope):
            _ = try await connection.query(
                "DELETE FROM idempotency_keys WHERE tenant = ? AND user_id = ? AND key = ?",
                [.text(scope.tenant), .text(scope.userId), .text(scope.key)])
        case nil: break
        }
    }

    public func smsEnrolment(id: String, tenant: String, userId: String) async throws -> SMSEnrolment? {
        try await exclusive {
            guard let enrolment = try await fetchEnrolment(id: id), enrolment.tenant == tenant, enrolment.userId == userId
            else { return nil }
            return enrolment
        }
    }

    public func orphanedSMSEnrolments(limit: Int) async throws -> [SMSEnrolment] {
        try await exclusive {
            try await connection.query(
                "SELECT * FROM sms_enrolments WHERE state = 'forwarding' AND lease_until <= ? ORDER BY created_at LIMIT ?",
                [.float(Date().timeIntervalSince1970), .integer(max(1, limit))]
            ).map(Self.enrolment(from:))
        }
    }

    public func chargeRateLimits(_ charges: [RateLimitCharge], refusalAudit: AuditEvent?) async throws -> RateLimitRefusal? {
        try await transaction {
            let now = Date().timeIntervalSince1970
            guard let refusal = try await charge(charges, now: now) else { return nil }
            if var audit = refusalAudit {
                audit.outcome = "rate_limited"
                audit.metadata["bucket"] = refusal.rule.name
                audit.time = now
                try await insertAuditEvent(audit)
            }
            return refusal
        }
    }

    // MARK: Statements (called inside a transaction)

    /// Evaluates every bucket; stores the new TATs only when all allow. The refusal reported is the one that
    /// lasts longest, so a retry after `Retry-After` is not refused by another full bucket.
    private func charge(_ charges: [RateLimitCharge], now: Double) async throws -> RateLimitRefusal? {
        var updates: [(String, Double)] = []
        var refusal: RateLimitRefusal?
        for charge in charges {
            let rows = try await connection.query("SELECT tat FROM rate_limit_buckets WHERE key = ?", [.text(charge.key)])
            let outcome = GCRA.evaluate(tat: rows.first?.column("tat")?.double, now: now, rule: charge.rule)
            if outcome.allowed {
                updates.append((charge.key, outcome.newTAT))
            } else {
                let seconds = Int(saturating: outcome.retryAfter.rounded(.up))
                if seconds > refusal?.retryAfterSeconds ?? -1 {
                    refusal = RateLimitRefusal(rule: charge.rule, retryAfterSeconds: max(1, seconds))
                }
            }
        }
        if let refusal { return refusal }
        for (key, tat) in updates {
            _ = try await connection.query(
                "INSERT INTO rate_limit_buckets (key, tat) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET tat = excluded.tat",
                [.text(key), .float(tat)])
        }
        return nil
    }

    private func openEnrolment(claim: SMSEnrolmentClaim, now: Double) async throws -> SMSEnrolment? {
        let rows = try await connection.query(
            """
            SELECT * FROM sms_enrolments WHERE tenant = ? AND user_id = ? AND number_key = ?
            AND state IN ('forwarding', 'code_sent') ORDER BY created_at DESC
            """, [.text(claim.scope.tenant), .text(claim.scope.userId), .text(claim.numberKey)])
        return rows.lazy.map(Self.enrolment(from:)).first { $0.isOpen(at: now) }
    }

    private func leaseIfOrphaned(_ enrolment: SMSEnrolment, now: Double, leaseSeconds: Double) async throws -> SMSEnrolment {
        guard enrolment.forwardIsOrphaned(at: now) else { return enrolment }
        var leased = enrolment
        leased.leaseUntil = now + leaseSeconds
        leased.revision += 1
        leased.updatedAt = now
        _ = try await connection.query(
            "UPDATE sms_enrolments SET lease_until = ?, updated_at = ?, revision = ? WHERE id = ?",
            [.float(now + leaseSeconds), .float(now), .integer(leased.revision), .text(enrolment.id)])
        return leased
    }

    private func insertKey(_ claim: SMSEnrolmentClaim, enrolmentId: String, now: Double) async throws {
        _ = try await connection.query(
            """
            INSERT INTO idempotency_keys (tenant, user_id, key, fingerprint, enrolment_id, state, lease_until, created_at)
            VALUES (?, ?, ?, ?, ?, 'in_flight', ?, ?)
            """,
            [
                .text(claim.scope.tenant), .text(claim.scope.userId), .text(claim.scope.key), .text(claim.fingerprint),
                .text(enrolmentId), .float(now + claim.leaseSeconds), .float(now),
            ])
    }

    private func insertEnrolment(_ enrolment: SMSEnrolment) async throws {
        _ = try await connection.query(
            """
            INSERT INTO sms_enrolments (id, tenant, user_id, number_key, masked_phone, state, created_at, updated_at,
                expires_at, last_sent_at, lease_until, verification_attempts, resends, failure, revision)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """,
            [
                .text(enrolment.id), .text(enrolment.tenant), .text(enrolment.userId), .text(enrolment.numberKey),
                .text(enrolment.maskedPhone), .text(enrolment.state.rawValue), .float(enrolment.createdAt),
                .float(enrolment.updatedAt), .float(enrolment.expiresAt), Self.optional(enrolment.lastSentAt),
                Self.optional(enrolment.leaseUntil), .integer(enrolment.verificationAttempts), .integer(enrolment.resends),
                enrolment.failure.map(SQLiteData.text) ?? .null, .integer(enrolment.revision),
            ])
    }

    private func fetchEnrolment(id: String) async throws -> SMSEnrolment? {
        try await connection.query("SELECT * FROM sms_enrolments WHERE id = ?", [.text(id)]).first.map(Self.enrolment(from:))
    }

    static func optional(_ value: Double?) -> SQLiteData {
        value.map(SQLiteData.float) ?? .null
    }

    static func enrolment(from row: SQLiteRow) -> SMSEnrolment {
        SMSEnrolment(
            id: row.column("id")?.string ?? "", tenant: row.column("tenant")?.string ?? "",
            userId: row.column("user_id")?.string ?? "", numberKey: row.column("number_key")?.string ?? "",
            maskedPhone: row.column("masked_phone")?.string ?? "",
            state: SMSEnrolmentState(rawValue: row.column("state")?.string ?? "") ?? .failed,
            createdAt: row.column("created_at")?.double ?? 0, updatedAt: row.column("updated_at")?.double ?? 0,
            expiresAt: row.column("expires_at")?.double ?? 0, lastSentAt: row.column("last_sent_at")?.double,
            leaseUntil: row.column("lease_until")?.double,
            verificationAttempts: Int(row.column("verification_attempts")?.integer ?? 0),
            resends: Int(row.column("resends")?.integer ?? 0), failure: row.column("failure")?.string,
            revision: Int(row.column("revision")?.integer ?? 0))
    }
}
