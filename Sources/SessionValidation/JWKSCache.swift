import Foundation
import Logging
import Metrics
import ProviderTransport
import Synchronization

/// An issuer's signing keys: loaded before readiness, refreshed in the background, refetched once (single
/// flight, rate limited) when a token names an unknown `kid`, and served stale up to a bound when the
/// endpoint fails.
final class JWKSCache: Sendable {
    enum Lookup: Sendable {
        case found(VerificationKey)
        case unknownKid
        case kidRequired
        case unavailable
    }

    /// What readiness and metrics report about the key set.
    struct Status: Sendable {
        var loaded: Bool
        var usable: Bool
        var stale: Bool
        var ageSeconds: Double?
        var keyIds: [String]
    }

    enum FetchReason: String { case scheduled, forced }

    private struct State {
        var keySet: KeySet?
        var lastSuccess: ContinuousClock.Instant?
        var lastAttemptFailed = false
        var lastForcedFetch: ContinuousClock.Instant?
        var unknownKids: [String: ContinuousClock.Instant] = [:]
        var inFlight: Task<Duration?, Never>?
    }

    let configuration: IssuerConfiguration
    private let discovery: IssuerDiscovery
    private let http: ProviderHTTP
    private let logger: Logger
    private let clock = ContinuousClock()
    private let state = Mutex(State())
    private let fetchCounters: [String: Counter]
    private let staleGauge: Gauge
    private static let maxRememberedUnknownKids = 1024

    init(configuration: IssuerConfiguration, discovery: IssuerDiscovery, http: ProviderHTTP, logger: Logger) {
        self.configuration = configuration
        self.discovery = discovery
        self.http = http
        self.logger = logger
        var counters: [String: Counter] = [:]
        for kind in ["scheduled", "forced", "throttled", "failed"] {
            counters[kind] = Counter(
                label: "gateway_jwks_fetches_total", dimensions: [("issuer", configuration.name), ("kind", kind)])
        }
        self.fetchCounters = counters
        self.staleGauge = Gauge(label: "gateway_jwks_stale", dimensions: [("issuer", configuration.name)])
    }

    var status: Status {
        let now = clock.now
        return state.withLock { state in
            let age = state.lastSuccess.map { now - $0 }
            return Status(
                loaded: state.keySet != nil,
                usable: Self.isUsable(state, now: now, maxStaleness: configuration.jwks.maxStaleness),
                stale: state.keySet != nil && state.lastAttemptFailed,
                ageSeconds: age.map { Double($0.components.seconds) + Double($0.components.attoseconds) / 1e18 },
                keyIds: state.keySet?.kids ?? [])
        }
    }

    private static func isUsable(_ state: State, now: ContinuousClock.Instant, maxStaleness: Duration) -> Bool {
        guard state.keySet != nil, let lastSuccess = state.lastSuccess else { return false }
        return now - lastSuccess <= maxStaleness
    }

    /// Finds the key for a token's `kid`, refetching the set at most once per interval when it is unknown.
    func lookup(kid: String?) async -> Lookup {
        if let hit = immediateLookup(kid: kid) { return hit }
        let now = clock.now
        enum Plan {
            case answer(Lookup)
            case wait(Task<Duration?, Never>)
        }
        let plan: Plan = state.withLock { state in
            let usable = Self.isUsable(state, now: now, maxStaleness: configuration.jwks.maxStaleness)
            if let kid, usable, let until = state.unknownKids[kid], until > now { return .answer(.unknownKid) }
            if let inFlight = state.inFlight { return .wait(inFlight) }
            // Without usable keys, retry at most once a second rather than once per request.
            let gate = usable ? configuration.jwks.forcedRefetchInterval : min(configuration.jwks.forcedRefetchInterval, .seconds(1))
            if let last = state.lastForcedFetch, now - last < gate {
                return .answer(usable ? .unknownKid : .unavailable)
            }
            state.lastForcedFetch = now
            let task = Task { await self.fetch(reason: .forced) }
            state.inFlight = task
            return .wait(task)
        }
        switch plan {
        case .answer(let lookup):
            if case .unknownKid = lookup { fetchCounters["throttled"]?.increment() }
            return lookup
        case .wait(let task):
            _ = await task.value
        }
        if let hit = immediateLookup(kid: kid) { return hit }
        let after = clock.now
        return state.withLock { state in
            guard Self.isUsable(state, now: after, maxStaleness: configuration.jwks.maxStaleness) else {
                return .unavailable
            }
            if let kid {
                if state.unknownKids.count >= Self.maxRememberedUnknownKids {
                    state.unknownKids = state.unknownKids.filter { $0.value > after }
                    if state.unknownKids.count >= Self.maxRememberedUnknownKids { state.unknownKids.removeAll() }
                }
                state.unknownKids[kid] = after + configuration.jwks.unknownKidTTL
            }
            return .unknownKid
        }
    }

    /// The lock-only path: answers from the current set, or nil when a fetch may help.
    private func immediateLookup(kid: String?) -> Lookup? {
        let now = clock.now
        return state.withLock { state -> Lookup? in
            guard let keySet = state.keySet,
                Self.isUsable(state, now: now, maxStaleness: configuration.jwks.maxStaleness)
            else { return nil }
            if let kid {
                return keySet.key(kid: kid).map { .found($0) }
            }
            if keySet.keys.count == 1 { return .found(keySet.keys[0]) }
            return keySet.keys.isEmpty ? nil : .kidRequired
        }
    }

    /// True while `kid` is still published (cached verifications end when their key is withdrawn).
    func isPublished(kid: String?) -> Bool {
        let now = clock.now
        return state.withLock { state in
            guard let keySet = state.keySet,
                Self.isUsable(state, now: now, maxStaleness: configuration.jwks.maxStaleness)
            else { return false }
            guard let kid else { return keySet.keys.count == 1 }
            return keySet.key(kid: kid) != nil
        }
    }

    /// Installs a key set obtained out of band (an offline JWKS document), as if just fetched.
    func install(_ keySet: KeySet) {
        let now = clock.now
        state.withLock { state in
            state.keySet = keySet
            state.lastSuccess = now
            state.lastAttemptFailed = false
        }
    }

    /// Fetches the set now; returns the next refresh delay on success, nil on failure.
    private func fetch(reason: FetchReason) async -> Duration? {
        defer { state.withLock { $0.inFlight = nil } }
        fetchCounters[reason.rawValue]?.increment()
        guard let endpoints = await discovery.endpoints() else {
            recordFailure("discovery failed")
            return nil
        }
        do {
            let response = try await http.get(
                endpoints.jwksURL, timeout: configuration.jwks.fetchTimeout, issuer: configuration.name, call: .jwks)
            guard response.status == 200 else {
                recordFailure("status \(response.status)")
                return nil
            }
            let (keySet, skipped) = try await KeySet.parse(response.body, allowed: configuration.algorithms)
            for skip in skipped {
                logger.warning("JWKS key skipped", metadata: ["issuer": "\(configuration.name)", "key": "\(skip)"])
            }
            guard !keySet.keys.isEmpty else {
                recordFailure("no usable keys in the set")
                return nil
            }
            let now = clock.now
            state.withLock { state in
                state.keySet = keySet
                state.lastSuccess = now
                state.lastAttemptFailed = false
                for kid in keySet.kids { state.unknownKids[kid] = nil }
            }
            staleGauge.record(0)
            logger.debug("JWKS loaded", metadata: ["issuer": "\(configuration.name)", "kids": "\(keySet.kids)"])
            let maxAge = CacheControl.maxAge(response.headers).map { Duration.seconds($0) } ?? .seconds(300)
            return min(max(maxAge, configuration.jwks.minRefreshInterval), configuration.jwks.maxRefreshInterval)
        } catch let error as ProviderFetchError {
            recordFailure(error.description)
            return nil
        } catch {
            recordFailure("malformed key set")
            return nil
        }
    }

    private func recordFailure(_ reason: String) {
        fetchCounters["failed"]?.increment()
        let hasSet = state.withLock { state in
            state.lastAttemptFailed = true
            return state.keySet != nil
        }
        if hasSet { staleGauge.record(1) }
        logger.warning(
            "JWKS fetch failed", metadata: ["issuer": "\(configuration.name)", "reason": "\(reason)", "serving_stale": "\(hasSet)"])
    }

    /// The background refresh loop: first load at once, then by `Cache-Control` within bounds, retrying
    /// failures with capped exponential backoff.
    func run() async {
        var backoff: Duration = .seconds(1)
        while !Task.isCancelled {
            let task: Task<Duration?, Never> = state.withLock { state in
                if let inFlight = state.inFlight { return inFlight }
                let task = Task { await self.fetch(reason: .scheduled) }
                state.inFlight = task
                return task
            }
            let delay: Duration
            if let next = await task.value {
                delay = next
                backoff = .seconds(1)
            } else {
                delay = min(backoff, configuration.jwks.minRefreshInterval)
                backoff = min(backoff * 2, .seconds(60))
            }
            do { try await Task.sleep(for: delay) } catch { return }
        }
    }
}
