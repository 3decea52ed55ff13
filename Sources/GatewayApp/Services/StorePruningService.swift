import GatewayStore
import Logging
import Metrics
import ServiceLifecycle

/// Deletes spent store state on a schedule: empty rate-limit buckets, finished enrolments past their retention,
/// spent idempotency keys past their window and expired session revocations (see `StoreRetention`).
///
/// Each run deletes in bounded batches (at most `maxBatches` of `retention.batchSize` rows per kind), so a backlog
/// is worked off over several runs without long transactions. Every instance sharing a store may run it: the
/// stores skip rows another instance is deleting. Counted in `gateway_store_pruned_rows_total{kind}` and
/// `gateway_store_prune_runs_total{outcome}`.
struct StorePruningService: Service {
    let store: any GatewayStore
    let retention: StoreRetention
    let interval: Duration
    let maxBatches: Int
    let logger: Logger

    func run() async throws {
        guard interval > .zero else { return }
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do { try await Task.sleep(for: interval) } catch { return }
                await pruneOnce()
            }
        }
    }

    /// One run: batches until no kind fills a batch or `maxBatches` were deleted. Failures are logged and counted;
    /// the next run tries again.
    @discardableResult
    func pruneOnce() async -> PrunedRows {
        var total = PrunedRows()
        do {
            for _ in 0..<maxBatches {
                let batch = try await store.prune(retention)
                for (kind, count) in batch.byKind where count > 0 {
                    Counter(label: "gateway_store_pruned_rows_total", dimensions: [("kind", kind)]).increment(by: count)
                }
                total.add(batch)
                guard batch.filledBatch(of: retention.batchSize), !Task.isCancelled else { break }
            }
            Counter(label: "gateway_store_prune_runs_total", dimensions: [("outcome", "ok")]).increment()
            if total.byKind.contains(where: { $0.count > 0 }) {
                logger.debug(
                    "Pruned spent store state",
                    metadata: Logger.Metadata(uniqueKeysWithValues: total.byKind.map { ($0.kind, "\($0.count)") }))
            }
        } catch {
            Counter(label: "gateway_store_prune_runs_total", dimensions: [("outcome", "failed")]).increment()
            logger.warning("Pruning the store failed; the next run retries", metadata: ["error_type": "\(type(of: error))"])
        }
        return total
    }
}
