import Foundation
import GatewayCore
import GatewayStore
import Logging
import Metrics
import SessionValidation
import ZitadelClient

/// Provider lookups for one user, cached briefly; failures are never cached. Concurrent requests for a key that
/// is not cached share one lookup (a portal opening several tabs, or a burst when an entry expires, makes one
/// set of Zitadel calls, not one per request).
actor ProviderStateCache {
    private var entries: [String: (state: MFAProviderState, expiresAt: ContinuousClock.Instant)] = [:]
    private var inFlight: [String: Task<MFALifecycleService.ProviderLookup, Never>] = [:]
    /// Bumped by every invalidation: a lookup that started before one is not stored (it may predate a change).
    private var generation = 0
    private let ttl: Duration
    private let capacity = 10_000
    private let hits = Counter(label: "gateway_provider_state_cache_total", dimensions: [("result", "hit")])
    private let misses = Counter(label: "gateway_provider_state_cache_total", dimensions: [("result", "miss")])
    private let shared = Counter(label: "gateway_provider_state_cache_total", dimensions: [("result", "shared")])

    init(ttl: Duration) { self.ttl = ttl }

    /// The cached state for `key`, else the result of a lookup already running for it, else of `load` (stored
    /// when it may be cached and nothing was invalidated meanwhile).
    func value(
        for key: String, load: @escaping @Sendable () async -> MFALifecycleService.ProviderLookup
    ) async -> MFALifecycleService.ProviderLookup {
        if let entry = entries[key], entry.expiresAt > ContinuousClock.now {
            hits.increment()
            return MFALifecycleService.ProviderLookup(state: entry.state, sessionHasSecondFactor: entry.state.sessionHasSecondFactor)
        }
        if let running = inFlight[key] {
            shared.increment()
            return await running.value
        }
        misses.increment()
        let started = generation
        let task = Task { await load() }
        inFlight[key] = task
        let result = await task.value
        if inFlight[key] == task { inFlight[key] = nil }
        if started == generation { store(result.state, for: key) }
        return result
    }

    func store(_ state: MFAProviderState, for key: String) {
        guard ttl > .zero, state.lookupsSucceeded, state.sessionUsedRecoveryCode != nil else { return }
        if entries.count >= capacity {
            let now = ContinuousClock.now
            entries = entries.filter { $0.value.expiresAt > now }
            if entries.count >= capacity { entries.removeAll() }
        }
        entries[key] = (state, ContinuousClock.now + ttl)
    }

    func invalidate(userId: String) {
        entries = entries.filter { !$0.key.hasPrefix(userId + "|") }
        inFlight = inFlight.filter { !$0.key.hasPrefix(userId + "|") }
        generation += 1
    }
}
