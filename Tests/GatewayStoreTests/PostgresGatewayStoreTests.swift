import Foundation
import GatewayCore
import Testing

@testable import GatewayStore

/// PostgreSQL specifics: what the shared contract cannot show with one store, that is two instances (two pools)
/// deciding together on one database, plus URL handling and failing closed.
@Suite struct PostgresGatewayStoreTests {
    static var serverConfigured: Bool { PostgresTestServer.url != nil }

    @Test func aServerIsConfiguredUnderCI() {
        if PostgresTestServer.runningUnderCI {
            #expect(
                Self.serverConfigured,
                "CI must run the PostgreSQL tests: \(PostgresTestServer.variable) is not set (run through scripts/with-postgres.sh)")
        }
    }

    @Test func urlsAreParsedAndPasswordsRedacted() throws {
        let configuration = try PostgresStoreConfiguration(
            url: "postgresql://gw%40x:s3cr%2Ft@db.internal:6432/gateway?sslmode=require&schema=gw_one", poolSize: 4)
        #expect(configuration.host == "db.internal" && configuration.port == 6432)
        #expect(configuration.username == "gw@x" && configuration.password == "s3cr/t")
        #expect(configuration.database == "gateway" && configuration.tls == .require && configuration.schema == "gw_one")
        #expect(configuration.poolSize == 4)
        let redacted = PostgresStoreConfiguration.redacted("postgres://gw:s3cret@db:5432/gateway")
        #expect(!redacted.contains("s3cret") && redacted.contains("<redacted>"))
        #expect(throws: GatewayStoreError.self) { try PostgresStoreConfiguration(url: "postgres://db/gateway") }
        #expect(throws: GatewayStoreError.self) { try PostgresStoreConfiguration(url: "postgres://u@db/") }
        #expect(throws: GatewayStoreError.self) { try PostgresStoreConfiguration(url: "postgres://u@db/g?schema=x;drop") }
        #expect(throws: GatewayStoreError.self) { try PostgresStoreConfiguration(url: "postgres://u@db/g?sslmode=maybe") }
    }

    @Test func anUnreachableServerFailsClosedWithinTheDeadline() async throws {
        let started = ContinuousClock.now
        await #expect(throws: GatewayStoreError.self) {
            // Port 1 on loopback: nothing listens there.
            _ = try await GatewayStoreFactory.open(
                url: "postgres://gateway@127.0.0.1:1/gateway?sslmode=disable", operationTimeout: .seconds(1))
        }
        // Fails rather than hangs; the bound is loose because the whole suite shares two busy cores.
        #expect(ContinuousClock.now - started < .seconds(30))
    }

    @Test(.enabled(if: serverConfigured)) func migrationsRunOnceWhenInstancesStartTogether() async throws {
        let url = PostgresTestServer.freshSchemaURL()
        let stores = try await withThrowingTaskGroup(of: PostgresGatewayStore.self) { group in
            for _ in 0..<3 {
                group.addTask {
                    try await PostgresGatewayStore.open(
                        configuration: PostgresStoreConfiguration(
                            url: url, poolSize: 2, operationTimeout: PostgresTestServer.operationTimeout))
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        for store in stores {
            #expect(try await store.appliedMigrations() == [1, 2, 3, 4, 5])
            try await store.close()
        }
        // Reopening applies nothing new and keeps data.
        let again = try await PostgresGatewayStore.open(
            configuration: PostgresStoreConfiguration(url: url, operationTimeout: PostgresTestServer.operationTimeout))
        #expect(try await again.appliedMigrations() == [1, 2, 3, 4, 5])
        try await again.close()
    }

    @Test(.enabled(if: serverConfigured)) func aRateLimitOfNHoldsAcrossTwoInstances() async throws {
        let url = PostgresTestServer.freshSchemaURL()
        let first = try await GatewayStoreFactory.open(url: url, poolSize: 4, operationTimeout: PostgresTestServer.operationTimeout)
        let second = try await GatewayStoreFactory.open(url: url, poolSize: 4, operationTimeout: PostgresTestServer.operationTimeout)
        let rule = RateLimitRule(name: "user", limit: 10, periodSeconds: 3600)
        let shared = RateLimitCharge(rule: rule, key: "user:t1:u1")
        let global = RateLimitCharge(rule: RateLimitRule(name: "global", limit: 1000, periodSeconds: 3600), key: "global")
        let allowed = try await withThrowingTaskGroup(of: Bool.self) { group in
            for index in 0..<60 {
                let store = index % 2 == 0 ? first : second
                group.addTask { try await store.chargeRateLimits([global, shared], refusalAudit: nil) == nil }
            }
            return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(allowed == 10)
        // The refused charges rolled back: the global bucket was charged ten times, so 990 more fit.
        let refusal = try await first.chargeRateLimits(
            [RateLimitCharge(rule: RateLimitRule(name: "global", limit: 1000, periodSeconds: 3600), key: "global")],
            refusalAudit: nil)
        #expect(refusal == nil)
        try await first.close()
        try await second.close()
    }

    @Test(.enabled(if: serverConfigured)) func claimsSpreadOverTwoInstancesYieldOneForward() async throws {
        let url = PostgresTestServer.freshSchemaURL()
        let first = try await GatewayStoreFactory.open(url: url, poolSize: 4, operationTimeout: PostgresTestServer.operationTimeout)
        let second = try await GatewayStoreFactory.open(url: url, poolSize: 4, operationTimeout: PostgresTestServer.operationTimeout)
        let outcomes = try await withThrowingTaskGroup(of: SMSEnrolmentClaimOutcome.self) { group in
            for index in 0..<40 {
                let store = index % 2 == 0 ? first : second
                // Every request has a key of its own: only the per-user serialisation can keep them apart.
                group.addTask { try await store.claimSMSEnrolment(SMSLedgerContractTests.claim(key: "k\(index)")) }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        let claimed = outcomes.filter { if case .claimed = $0 { true } else { false } }
        #expect(claimed.count == 1)
        #expect(outcomes.allSatisfy { $0 == .busy || claimed.contains($0) })
        // The same secret for both instances, whoever wrote it first.
        async let a = first.sharedSecret(named: "sms.numberKey", candidate: [1])
        async let b = second.sharedSecret(named: "sms.numberKey", candidate: [2])
        let (secretA, secretB) = try await (a, b)
        #expect(secretA == secretB)
        try await first.close()
        try await second.close()
    }

    @Test(.enabled(if: serverConfigured)) func twoInstancesSeeEachOthersRevocations() async throws {
        let url = PostgresTestServer.freshSchemaURL()
        let one = try await GatewayStoreFactory.open(url: url, poolSize: 2, operationTimeout: PostgresTestServer.operationTimeout)
        let two = try await GatewayStoreFactory.open(url: url, poolSize: 2, operationTimeout: PostgresTestServer.operationTimeout)
        let start = try await two.revocations(after: nil, limit: 10)
        #expect(start.revocations.isEmpty)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<20 {
                let store = index % 2 == 0 ? one : two
                group.addTask {
                    _ = try await store.recordRevocation(
                        SessionRevocation(userId: "u\(index)", scope: .allSessions, target: nil, expiresAt: nil))
                }
            }
            try await group.waitForAll()
        }
        let seen = try await two.revocations(after: start.cursor, limit: 100)
        #expect(Set(seen.revocations.map(\.userId)) == Set((0..<20).map { "u\($0)" }))
        // Stamped by one clock: revocation times follow the cursor's order.
        let times = seen.revocations.map(\.revokedAt)
        #expect(times == times.sorted())
        try await one.close()
        try await two.close()
    }

    @Test(.enabled(if: serverConfigured)) func aFailedMigrationIsReportedAndRolledBack() async throws {
        let store = try await PostgresGatewayStore.open(
            configuration: PostgresStoreConfiguration(
                url: PostgresTestServer.freshSchemaURL(), operationTimeout: PostgresTestServer.operationTimeout))
        // Forget that version 3 ran: re-running it meets its own table and must fail as a whole, loudly.
        try await store.transaction { connection in
            try await store.rows("DELETE FROM schema_migrations WHERE version = 3", on: connection)
        }
        await #expect(throws: GatewayStoreError.migrationFailed(version: 3)) { try await store.migrate() }
        #expect(try await store.appliedMigrations() == [1, 2, 4, 5])
        try await store.close()
    }

    @Test(.enabled(if: serverConfigured)) func aDeadlockVictimIsRetried() async throws {
        let store = try await PostgresGatewayStore.open(
            configuration: PostgresStoreConfiguration(
                url: PostgresTestServer.freshSchemaURL(), poolSize: 2,
                operationTimeout: PostgresTestServer.operationTimeout))
        let runs = RunCounter()
        let bothHoldTheirFirstLock = Barrier(parties: 2)
        // Two transactions take two locks in opposite orders, each taking its second only once both hold their
        // first (so they overlap however busy the machine is): PostgreSQL aborts one (40P01), which runs again.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (first, second) in [(1, 2), (2, 1)] {
                group.addTask {
                    try await store.transaction { connection in
                        await runs.increment()
                        try await store.rows("SELECT pg_advisory_xact_lock(\(first))", on: connection)
                        await bothHoldTheirFirstLock.arriveAndWait()
                        try await store.rows("SELECT pg_advisory_xact_lock(\(second))", on: connection)
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(await runs.count == 3)
        try await store.close()
    }
}

/// Waits until `parties` callers have arrived; later callers (a retried transaction) pass straight through.
actor Barrier {
    let parties: Int
    private var arrived = 0
    private var waiting: [CheckedContinuation<Void, Never>] = []

    init(parties: Int) { self.parties = parties }

    func arriveAndWait() async {
        arrived += 1
        if arrived < parties {
            await withCheckedContinuation { waiting.append($0) }
        } else if arrived == parties {
            for continuation in waiting { continuation.resume() }
            waiting.removeAll()
        }
    }
}

actor RunCounter {
    var count = 0
    func increment() { count += 1 }
}
