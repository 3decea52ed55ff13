import Foundation
import PostgresNIO

/// Pruning on PostgreSQL: the database clock decides; each kind is one statement (its own implicit
/// transaction) over at most a batch of rows, skipping rows another instance holds locked, so several instances
/// pruning at once neither block each other nor a claim.
extension PostgresGatewayStore {
    public func prune(_ retention: StoreRetention) async throws -> PrunedRows {
        let now = try await self.now()
        let limit = max(1, retention.batchSize)
        let enrolmentCutoff = now - retention.enrolmentSeconds
        let idempotencyCutoff = now - retention.idempotencySeconds
        var pruned = PrunedRows()
        pruned.rateLimitBuckets = try await rows(
            """
            DELETE FROM rate_limit_buckets WHERE ctid IN (
                SELECT ctid FROM rate_limit_buckets WHERE tat <= \(now) LIMIT \(limit) FOR UPDATE SKIP LOCKED)
            RETURNING 1
            """
        ).count
        pruned.enrolments = try await rows(
            """
            DELETE FROM sms_enrolments WHERE ctid IN (
                SELECT ctid FROM sms_enrolments
                WHERE (state NOT IN ('forwarding', 'code_sent') AND updated_at < \(enrolmentCutoff))
                   OR (state = 'code_sent' AND expires_at < \(enrolmentCutoff))
                LIMIT \(limit) FOR UPDATE SKIP LOCKED)
            RETURNING 1
            """
        ).count
        pruned.idempotencyKeys = try await rows(
            """
            DELETE FROM idempotency_keys WHERE ctid IN (
                SELECT ctid FROM idempotency_keys WHERE state = 'done' AND created_at < \(idempotencyCutoff)
                LIMIT \(limit) FOR UPDATE SKIP LOCKED)
            RETURNING 1
            """
        ).count
        pruned.revocations = try await rows(
            """
            DELETE FROM session_revocations WHERE seq IN (
                SELECT seq FROM session_revocations WHERE expires_at IS NOT NULL AND expires_at <= \(now)
                LIMIT \(limit) FOR UPDATE SKIP LOCKED)
            RETURNING 1
            """
        ).count
        pruned.logoutTokens = try await rows(
            """
            DELETE FROM logout_tokens WHERE ctid IN (
                SELECT ctid FROM logout_tokens WHERE expires_at <= \(now) LIMIT \(limit) FOR UPDATE SKIP LOCKED)
            RETURNING 1
            """
        ).count
        return pruned
    }
}
