import Foundation
import GatewayCore
import GatewayStore
import Logging
import SessionValidation
import Synchronization
import Testing

@testable import GatewayApp

/// The real SQLite store, with revocation reads counted and able to fail.
final class CountingStore: Sendable {
    let inner: any GatewayStore
    let reads = Atomic<Int>(0)
    let failing = Atomic<Bool>(false)

    init(_ inner: any GatewayStore) { self.inner = inner }

    func recordRevocation(_ revocation: SessionRevocation) async throws -> SessionRevocation {
        try await inner.recordRevocation(revocation)
    }

    func close() async throws { try await inner.close() }

    func list(ttl: Duration) -> StoreRevocationList {
        StoreRevocationList(ttl: ttl, retention: .seconds(3600), logger: StoreRevocationListTests.logger) { cursor, limit in
            self.reads.add(1, ordering: .relaxed)
            if self.failing.load(ordering: .relaxed) { throw GatewayStoreError.unavailable("test") }
            return try await self.inner.revocations(after: cursor, limit: limit)
        }
    }
}

@Suite struct StoreRevocationListTests {
    static let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    static func query(_ user: String, session: String? = nil, token: String? = nil, iat: Double?) -> RevocationQuery {
        RevocationQuery(userId: user, sessionId: session, tokenId: token, issuedAt: iat)
    }

    @Test func answersFromMemoryWithOneStoreReadPerCacheLifetime() async throws {
        let store = CountingStore(try await GatewayStoreFactory.open(url: "sqlite::memory:"))
        let list = store.list(ttl: .seconds(60))
        let now = Date().timeIntervalSince1970
        await withTaskGroup(of: Void.self) { group in
            for index in 0..<1000 {
                group.addTask { _ = try? await list.isRevoked(Self.query("u\(index % 50)", iat: now)) }
            }
        }
        #expect(store.reads.load(ordering: .relaxed) == 1)
        try await store.close()
    }

    /// The synchronous answer that lets a cached token skip the full check: only a fresh list that holds
    /// nothing for the user says clear; before the first read, for a user with revocations, after a local note
    /// and once the list is stale, it defers to `isRevoked`.
    @Test func clearOnlyWhenFreshAndNothingIsHeldForTheUser() async throws {
        let store = CountingStore(try await GatewayStoreFactory.open(url: "sqlite::memory:"))
        _ = try await store.recordRevocation(SessionRevocation(userId: "u1", scope: .allSessions, target: nil, expiresAt: nil))
        // Two seconds of freshness: the steps before the sleep must not outlive it on a loaded machine.
        let list = store.list(ttl: .seconds(2))
        #expect(list.isClear(userId: "u2") == false)
        _ = try await list.isRevoked(Self.query("u2", iat: 0))
        #expect(list.isClear(userId: "u2"))
        #expect(list.isClear(userId: "u1") == false)
        list.note(SessionRevocation(userId: "u2", scope: .token, target: "j1", expiresAt: Date().timeIntervalSince1970 + 60))
        #expect(list.isClear(userId: "u2") == false)
        #expect(list.isClear(userId: "u3"))
        try await Task.sleep(for: .milliseconds(2100))
        #expect(list.isClear(userId: "u3") == false)
        #expect(store.reads.load(ordering: .relaxed) == 1)
        try await store.close()
    }

    @Test func decidesByNotBeforeSessionAndToken() async throws {
        let store = CountingStore(try await GatewayStoreFactory.open(url: "sqlite::memory:"))
        // Recorded elsewhere (another instance): read from the store on the first query.
        let all = try await store.recordRevocation(SessionRevocation(userId: "u1", scope: .allSessions, target: nil, expiresAt: nil))
        let future = Date().timeIntervalSince1970 + 60
        _ = try await store.recordRevocation(SessionRevocation(userId: "u2", scope: .session, target: "s1", expiresAt: future))
        _ = try await store.recordRevocation(SessionRevocation(userId: "u2", scope: .token, target: "j1", expiresAt: future))
        _ = try await store.recordRevocation(
            SessionRevocation(userId: "u2", scope: .session, target: "gone", expiresAt: Date().timeIntervalSince1970 - 1))
        let list = store.list(ttl: .seconds(60))
        #expect(try await list.isRevoked(Self.query("u1", iat: all.revokedAt.rounded(.down) - 1)))
        #expect(try await list.isRevoked(Self.query("u1", iat: nil)))
        #expect(try await list.isRevoked(Self.query("u1", iat: all.revokedAt + 1)) == false)
        #expect(try await list.isRevoked(Self.query("u2", session: "s1", iat: 0)))
        #expect(try await list.isRevoked(Self.query("u2", token: "j1", iat: 0)))
        #expect(try await list.isRevoked(Self.query("u2", session: "s2", token: "j2", iat: 0)) == false)
        #expect(try await list.isRevoked(Self.query("u2", session: "gone", iat: 0)) == false)
        // A session id is only revoked for its own user.
        #expect(try await list.isRevoked(Self.query("u3", session: "s1", iat: 0)) == false)
        // Noted locally: bites at once, without waiting for the next read.
        let local = try await store.recordRevocation(SessionRevocation(userId: "u3", scope: .allSessions, target: nil, expiresAt: nil))
        list.note(local)
        #expect(try await list.isRevoked(Self.query("u3", iat: local.revokedAt - 1)))
        #expect(store.reads.load(ordering: .relaxed) == 1)
        try await store.close()
    }

    @Test func picksUpOtherInstancesRevocationsAfterTheCacheLifetimeAndFailsClosed() async throws {
        let store = CountingStore(try await GatewayStoreFactory.open(url: "sqlite::memory:"))
        let list = store.list(ttl: .milliseconds(200))
        let iat = Date().timeIntervalSince1970 - 10
        #expect(try await list.isRevoked(Self.query("u1", iat: iat)) == false)
        _ = try await store.recordRevocation(SessionRevocation(userId: "u1", scope: .allSessions, target: nil, expiresAt: nil))
        // Within the lifetime the copy may be stale; after it, the revocation is seen.
        try await Task.sleep(for: .milliseconds(250))
        #expect(try await list.isRevoked(Self.query("u1", iat: iat)))
        store.failing.store(true, ordering: .relaxed)
        try await Task.sleep(for: .milliseconds(250))
        await #expect(throws: ValidationFailure.revocationListUnavailable) {
            try await list.isRevoked(Self.query("u2", iat: iat))
        }
        store.failing.store(false, ordering: .relaxed)
        #expect(try await list.isRevoked(Self.query("u2", iat: iat)) == false)
        try await store.close()
    }
}

/// `sessions.*` as read through the configuration chain.
@Suite struct SessionSettingsConfigurationTests {
    @Test func defaultsAndEnvironment() async throws {
        let defaults = try await MFAConfigurationTests.configuration([:])
        #expect(defaults.sessions == SessionSettings())
        #expect(defaults.sessions.revocationCacheTTL == .seconds(5))
        let configured = try await MFAConfigurationTests.configuration([
            "ZITADEL_GATEWAY_SESSIONS_REVOCATION_CACHE_SECONDS": "2",
            "ZITADEL_GATEWAY_SESSIONS_REVOCATION_RETENTION_SECONDS": "7200",
            "ZITADEL_GATEWAY_SESSIONS_POST_LOGOUT_REDIRECT_URI": "https://portal.example.com/",
        ])
        #expect(configured.sessions.revocationCacheTTL == .seconds(2))
        #expect(configured.sessions.revocationRetention == .seconds(7200))
        #expect(configured.sessions.postLogoutRedirectURI == "https://portal.example.com/")
        #expect(configured.redactedSummary().contains("sessions.revocationCacheSeconds = 2"))
    }

    @Test(arguments: ["-1", "301"])
    func anOutOfRangeCacheLifetimeDoesNotStart(_ seconds: String) async throws {
        await #expect(throws: ConfigurationError.self) {
            _ = try await MFAConfigurationTests.configuration(["ZITADEL_GATEWAY_SESSIONS_REVOCATION_CACHE_SECONDS": seconds])
        }
    }
}
