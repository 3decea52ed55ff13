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
        #expect(try await store.appliedMigrations() == [1, 2, 3, 4, 5])
        try await store.close()
        // Reopening an existing file applies nothing new and keeps data.
        let again = try await SQLiteGatewayStore.open(path: path)
        #expect(try await again.appliedMigrations() == [1, 2, 3, 4, 5])
        try await again.close()
        try? FileManager.default.removeItem(at: directory)
    }

    @Test func unsupportedURLsAreRefused() async throws {
        await #expect(throws: GatewayStoreError.self) { _ = try await GatewayStoreFactory.open(url: "mysql://x") }
    }

    @Test func twoConnectionsToOneFileSeeEachOthersRevocations() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("store-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = "sqlite:" + directory.appendingPathComponent("shared.sqlite").path
        let one = try await GatewayStoreFactory.open(url: url)
        let two = try await GatewayStoreFactory.open(url: url)
        let start = try await two.revocations(after: nil, limit: 10)
        #expect(start.revocations.isEmpty)
        async let a = one.recordRevocation(SessionRevocation(userId: "u1", scope: .allSessions, target: nil, expiresAt: nil))
        async let b = two.recordRevocation(SessionRevocation(userId: "u2", scope: .allSessions, target: nil, expiresAt: nil))
        _ = try await (a, b)
        let seen = try await two.revocations(after: start.cursor, limit: 10)
        #expect(Set(seen.revocations.map(\.userId)) == ["u1", "u2"])
        try await one.close()
        try await two.close()
    }
}
