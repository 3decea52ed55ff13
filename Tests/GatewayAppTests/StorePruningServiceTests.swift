import Configuration
import Foundation
import GatewayCore
import GatewayStore
import Logging
import Prometheus
import Testing

@testable import GatewayApp

/// The periodic pruning job: bounded runs, counted in metrics, configured from `store.*`.
@Suite struct StorePruningServiceTests {
    @Test func aRunDeletesAtMostItsBatchesAndCountsWhatWent() async throws {
        let registry = TestMetrics.registry
        let store = try await GatewayStoreFactory.open(url: "sqlite::memory:")
        let draining = RateLimitRule(name: "global", limit: 1000, periodSeconds: 1)
        for index in 0..<5 {
            _ = try await store.chargeRateLimits([RateLimitCharge(rule: draining, key: "b-\(index)")], refusalAudit: nil)
        }
        try await Task.sleep(for: .milliseconds(50))
        let service = StorePruningService(
            store: store, retention: StoreRetention(batchSize: 2), interval: .seconds(300), maxBatches: 2,
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        let before = Self.metrics(registry)
        // Two batches of two: a backlog is worked off over several runs, never in one long delete.
        #expect(try #require(await service.pruneOnce()).rateLimitBuckets == 4)
        #expect(try #require(await service.pruneOnce()).rateLimitBuckets == 1)
        #expect(try #require(await service.pruneOnce()).rateLimitBuckets == 0)
        let after = Self.metrics(registry)
        #expect(after.buckets - before.buckets >= 5)
        #expect(after.runs - before.runs >= 3)
        try await store.close()
    }

    @Test func aFailingStoreIsCountedAndTheRunEnds() async throws {
        let registry = TestMetrics.registry
        let service = StorePruningService(
            store: SMSEnrolmentFailClosedTests.UnavailableStore(), retention: StoreRetention(), interval: .seconds(300), maxBatches: 5,
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        let before = TestMetrics.value(
            "gateway_store_prune_runs_total", ["outcome": "failed"], in: Self.text(registry))
        #expect(await service.pruneOnce() == PrunedRows())
        let after = TestMetrics.value("gateway_store_prune_runs_total", ["outcome": "failed"], in: Self.text(registry))
        #expect(after - before >= 1)
    }

    @Test func retentionAndScheduleAreConfigured() async throws {
        let configuration = try await Self.configuration([
            "store.prune.intervalSeconds": 60, "store.prune.batchSize": 100,
            "store.prune.maxBatches": 3, "store.retention.enrolmentSeconds": 172_800,
            "store.retention.idempotencySeconds": 90_000,
        ])
        #expect(configuration.store.pruneInterval == .seconds(60) && configuration.store.pruneMaxBatches == 3)
        #expect(configuration.store.retention == StoreRetention(enrolmentSeconds: 172_800, idempotencySeconds: 90_000, batchSize: 100))
        #expect(configuration.redactedSummary().contains("store.retention.enrolmentSeconds = 172800"))
        // Less than a day would forget idempotency keys inside the draft's minimum window.
        await #expect(throws: ConfigurationError.self) {
            try await Self.configuration(["store.retention.idempotencySeconds": 60])
        }
        await #expect(throws: ConfigurationError.self) {
            try await Self.configuration(["store.prune.batchSize": 0])
        }
    }

    /// `values` over the least configuration the gateway starts with: one issuer, read through the gateway's
    /// configuration path.
    static func configuration(_ values: [String: ConfigValue]) async throws -> GatewayConfiguration {
        let issuer: [String: ConfigValue] = [
            "issuers.names": .init(.stringArray(["main"]), isSecret: false), "issuers.main.url": "https://issuer.example",
            "issuers.main.audiences": .init(.stringArray(["aud"]), isSecret: false), "issuers.main.projectId": "aud",
            "issuers.main.clientIds": .init(.stringArray(["portal@main"]), isSecret: false),
        ]
        return try await GatewayConfiguration.testing(issuer.merging(values) { $1 })
    }

    static func text(_ registry: PrometheusCollectorRegistry) -> String {
        var buffer: [UInt8] = []
        registry.emit(into: &buffer)
        return String(decoding: buffer, as: UTF8.self)
    }

    static func metrics(_ registry: PrometheusCollectorRegistry) -> (buckets: Double, runs: Double) {
        let text = text(registry)
        return (
            TestMetrics.value("gateway_store_pruned_rows_total", ["kind": "rate_limit_buckets"], in: text),
            TestMetrics.value("gateway_store_prune_runs_total", ["outcome": "ok"], in: text)
        )
    }
}
