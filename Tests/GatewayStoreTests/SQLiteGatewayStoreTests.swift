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
        #expect(try await store.appliedMigrations() == [1, 2, 3])
        try await store.close()
        // Reopening an existing file applies nothing new and keeps data.
        let again = try await SQLiteGatewayStore.open(path: path)
        #expect(try await again.appliedMigrations() == [1, 2, 3])
        try await again.close()
        try? FileManager.default.removeItem(at: directory)
    }

    @Test func unsupportedURLsAreRefused() async throws {
        await #expect(throws: GatewayStoreError.self) { _ = try await GatewayStoreFactory.open(url: "mysql://x") }
    }

    // MARK: - Session revocations

    @Test func revocationsAreStampedByTheStoreAndReadFromACursor() async throws {
        let store = try await GatewayStoreFactory.open(url: "sqlite::memory:")
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

    @Test func expiredRevocationsAreNeitherReturnedNorKept() async throws {
        let store = try await GatewayStoreFactory.open(url: "sqlite::memory:")
        let now = Date().timeIntervalSince1970
        _ = try await store.recordRevocation(SessionRevocation(userId: "u1", scope: .session, target: "old", expiresAt: now - 1))
        _ = try await store.recordRevocation(SessionRevocation(userId: "u1", scope: .session, target: "live", expiresAt: now + 60))
        let page = try await store.revocations(after: nil, limit: 10)
        #expect(page.revocations.map(\.target) == ["live"])
        try await store.close()
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
