import Foundation
import SQLiteNIO

/// Pruning on SQLite: each kind deleted in its own short transaction, at most a batch per kind, so claims and
/// charges never wait behind a long delete.
extension SQLiteGatewayStore {
    public func prune(_ retention: StoreRetention) async throws -> PrunedRows {
        let now = try await self.now()
        let limit = SQLiteData.integer(max(1, retention.batchSize))
        let enrolmentCutoff = SQLiteData.float(now - retention.enrolmentSeconds)
        var pruned = PrunedRows()
        pruned.rateLimitBuckets = try await delete(
            "DELETE FROM rate_limit_buckets WHERE rowid IN (SELECT rowid FROM rate_limit_buckets WHERE tat <= ? LIMIT ?)",
            [.float(now), limit])
        pruned.enrolments = try await delete(
            """
            DELETE FROM sms_enrolments WHERE rowid IN (
                SELECT rowid FROM sms_enrolments
                WHERE (state NOT IN ('forwarding', 'code_sent') AND updated_at < ?)
                   OR (state = 'code_sent' AND expires_at < ?)
                LIMIT ?)
            """, [enrolmentCutoff, enrolmentCutoff, limit])
        pruned.idempotencyKeys = try await delete(
            """
            DELETE FROM idempotency_keys WHERE rowid IN (
                SELECT rowid FROM idempotency_keys WHERE state = 'done' AND created_at < ? LIMIT ?)
            """, [.float(now - retention.idempotencySeconds), limit])
        pruned.revocations = try await delete(
            """
            DELETE FROM session_revocations WHERE seq IN (
                SELECT seq FROM session_revocations WHERE expires_at IS NOT NULL AND expires_at <= ? LIMIT ?)
            """, [.float(now), limit])
        pruned.logoutTokens = try await delete(
            """
            DELETE FROM logout_tokens WHERE rowid IN (SELECT rowid FROM logout_tokens WHERE expires_at <= ? LIMIT ?)
            """, [.float(now), limit])
        return pruned
    }

    /// One delete in its own transaction; the number of rows it removed.
    private func delete(_ statement: String, _ binds: [SQLiteData]) async throws -> Int {
        try await transaction {
            _ = try await connection.query(statement, binds)
            let rows = try await connection.query("SELECT changes() AS n")
            return Int(rows.first?.column("n")?.integer ?? 0)
        }
    }
}
