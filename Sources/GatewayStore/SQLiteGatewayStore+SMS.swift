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
            var reads = SMSLedger.ClaimReads()
            let keyRows = try await connection.query(
                """
                SELECT fingerprint, state, lease_until, enrolment_id, response_status, response_body
                FROM idempotency_keys WHERE tenant = ? AND user_id = ? AND key = ?
                """, [.text(scope.tenant), .text(scope.userId), .text(scope.key)])
            if let row = keyRows.first {
                reads.key = SMSLedger.KeyRow(
                    fingerprint: row.column("fingerprint")?.string ?? "", state: row.column("state")?.string ?? "",
                    leaseUntil: row.column("lease_until")?.double, enrolmentId: row.column("enrolment_id")?.string ?? "",
                    response: row.column("response_status")?.integer.map {
                        StoredResponse(status: Int($0), body: row.column("response_body")?.string ?? "")
                    })
            } else {
                reads.userEnrolments = try await connection.query(
                    """
                    SELECT * FROM sms_enrolments WHERE tenant = ? AND user_id = ? AND state IN ('forwarding', 'code_sent')
                    ORDER BY created_at
                    """, [.text(scope.tenant), .text(scope.userId)]
                ).map(Self.enrolment(from:))
            }
            while true {
                switch try SMSLedger.claim(claim, reads: reads, now: now) {
                case .needs(.keyEnrolment):
                    let enrolment = try await fetchEnrolment(id: reads.key?.enrolmentId ?? "")
                    reads.keyEnrolment = enrolment.map { .found($0) } ?? .missing
                case .needs(.buckets):
                    reads.buckets = try await bucketTATs(claim.charges.map(\.key))
                case .decided(let outcome, let writes):
                    try await apply(writes, claim: claim, now: now)
                    return outcome
                }
            }
        }
    }

    /// Persists a claim's row changes.
    private func apply(_ writes: [SMSLedger.Write], claim: SMSEnrolmentClaim, now: Double) async throws {
        let scope = claim.scope
        for write in writes {
            switch write {
            case .leaseEnrolment(let leased):
                _ = try await connection.query(
                    "UPDATE sms_enrolments SET lease_until = ?, updated_at = ?, revision = ? WHERE id = ?",
                    [Self.optional(leased.leaseUntil), .float(leased.updatedAt), .integer(leased.revision), .text(leased.id)])
            case .renewKeyLease(let until):
                _ = try await connection.query(
                    "UPDATE idempotency_keys SET lease_until = ? WHERE tenant = ? AND user_id = ? AND key = ?",
                    [.float(until), .text(scope.tenant), .text(scope.userId), .text(scope.key)])
            case .insertKey(let enrolmentId, let leaseUntil):
                _ = try await connection.query(
                    """
                    INSERT INTO idempotency_keys (tenant, user_id, key, fingerprint, enrolment_id, state, lease_until, created_at)
                    VALUES (?, ?, ?, ?, ?, 'in_flight', ?, ?)
                    """,
                    [
                        .text(scope.tenant), .text(scope.userId), .text(scope.key), .text(claim.fingerprint),
                        .text(enrolmentId), .float(leaseUntil), .float(now),
                    ])
            case .supersede(let ids):
                for id in ids {
                    _ = try await connection.query(
                        """
                        UPDATE sms_enrolments SET state = 'failed', failure = 'superseded', updated_at = ?, revision = revision + 1
                        WHERE id = ? AND state = 'code_sent'
                        """, [.float(now), .text(id)])
                }
            case .insertEnrolment(let enrolment):
                try await insertEnrolment(enrolment)
            case .chargeBuckets(let updates):
                try await storeBuckets(updates)
            case .audit(let audit):
                try await insertAuditEvent(audit)
            }
        }
    }

    public func updateSMSEnrolment(
        _ enrolment: SMSEnrolment, completing: IdempotencyCompletion?, audit: AuditEvent?
    ) async throws -> SMSEnrolment? {
        try await transaction {
            let now = Date().timeIntervalSince1970
            let updated = SMSLedger.update(enrolment, now: now)
            let rows = try await connection.query(
                """
                UPDATE sms_enrolments SET state = ?, updated_at = ?, expires_at = ?, last_sent_at = ?, lease_until = ?,
                    verification_attempts = ?, resends = ?, failure = ?, revision = ?
                WHERE id = ? AND revision = ? RETURNING revision
                """,
                [
                    .text(updated.state.rawValue), .float(updated.updatedAt), .float(updated.expiresAt),
                    Self.optional(updated.lastSentAt), Self.optional(updated.leaseUntil),
                    .integer(updated.verificationAttempts), .integer(updated.resends),
                    updated.failure.map(SQLiteData.text) ?? .null, .integer(updated.revision), .text(updated.id),
                    .integer(enrolment.revision),
                ])
            guard rows.count == 1 else { return nil }
            try await finish(completing)
            if let audit = SMSLedger.stamped(audit, now: now) { try await insertAuditEvent(audit) }
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
            let tats = try await bucketTATs(charges.map(\.key))
            switch RateLimitLedger.charge(charges, tats: tats, now: now) {
            case .allowed(let updates):
                try await storeBuckets(updates)
                return nil
            case .refused(let refusal):
                if let audit = refusalAudit {
                    try await insertAuditEvent(RateLimitLedger.refusalAudit(audit, refusal: refusal, now: now))
                }
                return refusal
            }
        }
    }

    // MARK: Statements (called inside a transaction)

    private func bucketTATs(_ keys: [String]) async throws -> [String: Double] {
        var tats: [String: Double] = [:]
        for key in keys {
            let rows = try await connection.query("SELECT tat FROM rate_limit_buckets WHERE key = ?", [.text(key)])
            if let tat = rows.first?.column("tat")?.double { tats[key] = tat }
        }
        return tats
    }

    private func storeBuckets(_ updates: [RateLimitLedger.BucketUpdate]) async throws {
        for update in updates {
            _ = try await connection.query(
                "INSERT INTO rate_limit_buckets (key, tat) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET tat = excluded.tat",
                [.text(update.key), .float(update.tat)])
        }
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
