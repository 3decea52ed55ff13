import Foundation
import GatewayCore
import GatewayStore
import Testing

@Suite struct SQLiteGatewayStoreTests {
    @Test func migrationsRunOnceAndAreRecorded() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("store-\(UUID().uuidString)")
        let path = directory.appendingPathComponent("nested/gateway.sqlite").path
        let store = try await SQLiteGatewayStore.open(path: path)
        try await store.migrate()
        #expect(try await store.appliedMigrations() == [1, 2])
        try await store.close()
        // Reopening an existing file applies nothing new and keeps data.
        let again = try await SQLiteGatewayStore.open(path: path)
        #expect(try await again.appliedMigrations() == [1, 2])
        try await again.close()
        try? FileManager.default.removeItem(at: directory)
    }

    @Test func lifecycleRecordsUseCompareAndSet() async throws {
        let store = try await GatewayStoreFactory.open(url: "sqlite::memory:")
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

    @Test func auditEventsPageByCursorPerTenant() async throws {
        let store = try await GatewayStoreFactory.open(url: ":memory:")
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
        #expect(try await store.auditEvents(tenant: "t2", after: nil, limit: 10).events.count == 1)
        await #expect(throws: GatewayStoreError.invalidCursor) {
            _ = try await store.auditEvents(tenant: "t1", after: "abc", limit: 2)
        }
        try await store.close()
    }

    @Test func unsupportedURLsAreRefused() async throws {
        await #expect(throws: GatewayStoreError.self) { _ = try await GatewayStoreFactory.open(url: "mysql://x") }
    }
}
