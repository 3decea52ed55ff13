import Foundation
import GatewayCore
import GatewayStore
import Testing

/// Lifecycle records and the audit trail, for every store implementation (`StoreBackends.all`).
@Suite struct StoreContractTests {
    @Test(arguments: StoreBackends.all)
    func lifecycleRecordsUseCompareAndSet(backend: StoreBackend) async throws {
        let store = try await backend.open()
        #expect(try await store.lifecycleRecord(tenant: "t1", user: "u1") == nil)
        var record = MFALifecycleRecord(recoveryCodesPresent: true)
        #expect(try await store.saveLifecycleRecord(record, tenant: "t1", user: "u1", expectedRevision: 0))
        // A second "first write" loses.
        #expect(try await store.saveLifecycleRecord(record, tenant: "t1", user: "u1", expectedRevision: 0) == false)
        let stored = try #require(try await store.lifecycleRecord(tenant: "t1", user: "u1"))
        #expect(stored.revision == 1)
        #expect(stored.record == record)
        record.recoveryCodesAcknowledged = true
        #expect(try await store.saveLifecycleRecord(record, tenant: "t1", user: "u1", expectedRevision: 1))
        // A writer holding the old revision is refused.
        #expect(try await store.saveLifecycleRecord(record, tenant: "t1", user: "u1", expectedRevision: 1) == false)
        #expect(try await store.lifecycleRecord(tenant: "t1", user: "u1")?.record.recoveryCodesAcknowledged == true)
        // Tenants are separate.
        #expect(try await store.lifecycleRecord(tenant: "t2", user: "u1") == nil)
        try await store.close()
    }

    /// A logout token's `jti` is claimed with its revocation in one transaction: the first of concurrent
    /// deliveries records, every other (any instance sharing the store) is a replay and records nothing.
    @Test(arguments: StoreBackends.all)
    func backChannelLogoutRefusesAReplayedTokenId(backend: StoreBackend) async throws {
        let store = try await backend.open()
        let expiresAt = Date().timeIntervalSince1970 + 300
        let revocation = SessionRevocation(userId: "u1", scope: .session, target: "s1", expiresAt: expiresAt + 3600)
        let recorded = try await withThrowingTaskGroup(of: SessionRevocation?.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    try await store.recordBackChannelLogout(
                        tokenId: "jti-1", issuer: "zitadel", expiresAt: expiresAt, revocation: revocation)
                }
            }
            return try await group.reduce(into: [SessionRevocation]()) { if let stored = $1 { $0.append(stored) } }
        }
        #expect(recorded.count == 1)
        #expect(recorded.first?.target == "s1")
        // The same jti from another issuer is another token.
        #expect(
            try await store.recordBackChannelLogout(
                tokenId: "jti-1", issuer: "other", expiresAt: expiresAt, revocation: revocation) != nil)
        let page = try await store.revocations(after: nil, limit: 100)
        #expect(page.revocations.filter { $0.target == "s1" }.count == 2)
        try await store.close()
    }

    @Test(arguments: StoreBackends.all)
    func concurrentWritersOfOneRevisionHaveOneWinner(backend: StoreBackend) async throws {
        let store = try await backend.open()
        let record = MFALifecycleRecord(recoveryCodesPresent: true)
        #expect(try await store.saveLifecycleRecord(record, tenant: "t1", user: "u1", expectedRevision: 0))
        let wins = try await withThrowingTaskGroup(of: Bool.self) { group in
            for _ in 0..<16 {
                group.addTask { try await store.saveLifecycleRecord(record, tenant: "t1", user: "u1", expectedRevision: 1) }
            }
            return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(wins == 1)
        #expect(try await store.lifecycleRecord(tenant: "t1", user: "u1")?.revision == 2)
        try await store.close()
    }

    @Test(arguments: StoreBackends.all)
    func auditEventsPageByCursorPerTenant(backend: StoreBackend) async throws {
        let store = try await backend.open()
        for index in 0..<5 {
            try await store.appendAuditEvent(
                AuditEvent(
                    tenant: "t1", actor: "u\(index)", session: "s1", action: "refresh", outcome: "ok",
                    metadata: ["phone": "+61 4•• ••• 678"], requestId: "r\(index)"))
        }
        try await store.appendAuditEvent(
            AuditEvent(tenant: "t2", actor: "x", session: nil, action: "refresh", outcome: "ok", requestId: nil))
        let first = try await store.auditEvents(tenant: "t1", after: nil, limit: 2)
        #expect(first.events.map(\.actor) == ["u0", "u1"])
        let cursor = try #require(first.nextCursor)
        let second = try await store.auditEvents(tenant: "t1", after: cursor, limit: 2)
        #expect(second.events.map(\.actor) == ["u2", "u3"])
        let third = try await store.auditEvents(tenant: "t1", after: second.nextCursor, limit: 2)
        #expect(third.events.map(\.actor) == ["u4"])
        #expect(third.nextCursor == nil)
        #expect(third.events.first?.metadata["phone"] == "+61 4•• ••• 678")
        #expect(third.events.first?.requestId == "r4")
        #expect(third.events.first?.session == "s1")
        #expect(try await store.auditEvents(tenant: "t2", after: nil, limit: 10).events.first?.session == nil)
        await #expect(throws: GatewayStoreError.invalidCursor) {
            _ = try await store.auditEvents(tenant: "t1", after: "abc", limit: 2)
        }
        try await store.close()
    }

    @Test(arguments: StoreBackends.all)
    func theStoreClockIsNow(backend: StoreBackend) async throws {
        let store = try await backend.open()
        let now = try await store.now()
        #expect(abs(now - Date().timeIntervalSince1970) < 5)
        try await store.close()
    }

    // MARK: - Session revocations

    @Test(arguments: StoreBackends.all)
    func revocationsAreStampedByTheStoreAndReadFromACursor(backend: StoreBackend) async throws {
        let store = try await backend.open()
        let before = Date().timeIntervalSince1970
        let all = try await store.recordRevocation(
            SessionRevocation(userId: "u1", scope: .allSessions, target: nil, revokedAt: 1, expiresAt: nil))
        #expect(all.revokedAt >= before && all.revokedAt <= Date().timeIntervalSince1970)
        let session = try await store.recordRevocation(
            SessionRevocation(userId: "u1", scope: .session, target: "s1", expiresAt: Date().timeIntervalSince1970 + 60))
        _ = try await store.recordRevocation(
            SessionRevocation(userId: "u2", scope: .token, target: "j1", expiresAt: Date().timeIntervalSince1970 + 60))

        let first = try await store.revocations(after: nil, limit: 2)
        #expect(first.revocations == [all, session])
        #expect(first.hasMore)
        let second = try await store.revocations(after: first.cursor, limit: 2)
        #expect(second.revocations.map(\.target) == ["j1"])
        #expect(second.revocations.first?.scope == .token)
        #expect(second.hasMore == false)
        // Nothing new: the same cursor comes back, and a later revocation follows it.
        let idle = try await store.revocations(after: second.cursor, limit: 2)
        #expect(idle.revocations.isEmpty)
        #expect(idle.cursor == second.cursor)
        _ = try await store.recordRevocation(SessionRevocation(userId: "u3", scope: .allSessions, target: nil, expiresAt: nil))
        #expect(try await store.revocations(after: idle.cursor, limit: 10).revocations.map(\.userId) == ["u3"])
        await #expect(throws: GatewayStoreError.invalidCursor) { try await store.revocations(after: "x", limit: 1) }
        try await store.close()
    }

    @Test(arguments: StoreBackends.all)
    func expiredRevocationsAreNeitherReturnedNorKept(backend: StoreBackend) async throws {
        let store = try await backend.open()
        let now = Date().timeIntervalSince1970
        _ = try await store.recordRevocation(SessionRevocation(userId: "u1", scope: .session, target: "old", expiresAt: now - 1))
        _ = try await store.recordRevocation(SessionRevocation(userId: "u1", scope: .session, target: "live", expiresAt: now + 60))
        let page = try await store.revocations(after: nil, limit: 10)
        #expect(page.revocations.map(\.target) == ["live"])
        try await store.close()
    }
}
