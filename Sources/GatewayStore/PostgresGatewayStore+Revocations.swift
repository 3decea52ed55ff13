import Foundation
import PostgresNIO

/// Session revocations on PostgreSQL: stamped with the database clock, read by every instance from a cursor.
extension PostgresGatewayStore {
    public func recordRevocation(_ revocation: SessionRevocation) async throws -> SessionRevocation {
        try await transaction { [self] connection in try await insertRevocation(revocation, on: connection) }
    }

    public func recordBackChannelLogout(
        tokenId: String, issuer: String, expiresAt: Double, revocation: SessionRevocation
    ) async throws -> SessionRevocation? {
        try await transaction { [self] connection in
            try await rows(
                "DELETE FROM logout_tokens WHERE expires_at <= extract(epoch FROM clock_timestamp())::float8", on: connection)
            // The primary key decides between instances: a second insert of the same jti inserts nothing.
            let claimed = try await rows(
                """
                INSERT INTO logout_tokens (issuer, jti, expires_at) VALUES (\(issuer), \(tokenId), \(expiresAt))
                ON CONFLICT (issuer, jti) DO NOTHING RETURNING jti
                """, on: connection)
            guard !claimed.isEmpty else { return nil }
            return try await insertRevocation(revocation, on: connection)
        }
    }

    /// Inside a transaction: stamps (database clock) and inserts a revocation, dropping expired ones.
    private func insertRevocation(
        _ revocation: SessionRevocation, on connection: PostgresConnection
    ) async throws
        -> SessionRevocation
    {
        // Held until commit: `seq` follows commit order (and so does `revokedAt`, read after the lock), so a
        // poller's cursor never passes a revocation that commits later with a smaller `seq`.
        try await rows(
            "SELECT pg_advisory_xact_lock(hashtextextended('zitadel-gateway.revocations:' || current_schema(), 0))",
            on: connection)
        var stored = revocation
        stored.revokedAt = try await clock(on: connection)
        try await rows(
            """
            DELETE FROM session_revocations WHERE expires_at IS NOT NULL AND expires_at <= \(stored.revokedAt)
            """, on: connection)
        try await rows(
            """
            INSERT INTO session_revocations (user_id, scope, target, revoked_at, expires_at)
            VALUES (\(stored.userId), \(stored.scope.rawValue), \(stored.target), \(stored.revokedAt), \(stored.expiresAt))
            """, on: connection)
        return stored
    }

    public func revocations(after cursor: String?, limit: Int) async throws -> RevocationPage {
        let after = try Self.sequence(cursor)
        let pageSize = max(1, min(limit, 10_000))
        let found = try await rows(
            """
            SELECT seq, user_id, scope, target, revoked_at, expires_at FROM session_revocations
            WHERE seq > \(after)
            AND (expires_at IS NULL OR expires_at > extract(epoch FROM clock_timestamp())::float8)
            ORDER BY seq LIMIT \(pageSize + 1)
            """)
        var revocations: [SessionRevocation] = []
        var last = after
        for row in found.prefix(pageSize) {
            let (seq, user, scope, target, revokedAt, expiresAt) = try row.decode(
                (Int, String, String, String?, Double, Double?).self)
            last = seq
            guard let scope = RevocationScope(rawValue: scope) else { continue }
            revocations.append(
                SessionRevocation(userId: user, scope: scope, target: target, revokedAt: revokedAt, expiresAt: expiresAt))
        }
        return RevocationPage(revocations: revocations, cursor: String(last), hasMore: found.count > pageSize)
    }

    /// A cursor is the last `seq` read; nil starts at the beginning.
    static func sequence(_ cursor: String?) throws -> Int {
        guard let cursor else { return 0 }
        guard let value = Int(cursor), value >= 0 else { throw GatewayStoreError.invalidCursor }
        return value
    }
}
