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
}
