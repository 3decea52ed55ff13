/// One configured limit: at most `limit` requests per `periodSeconds`, as a burst or spread out.
public struct RateLimitRule: Sendable, Equatable, Hashable {
    /// Names the bucket kind in headers, audit and metrics: `user`, `number`, `tenant`, `address`, `global`.
    public var name: String
    public var limit: Int
    public var periodSeconds: Double

    public init(name: String, limit: Int, periodSeconds: Double) {
        self.name = name
        self.limit = max(1, limit)
        self.periodSeconds = max(1, periodSeconds)
    }

    /// The time one request "costs" (GCRA's emission interval).
    public var emissionInterval: Double { periodSeconds / Double(limit) }
}

/// One bucket to charge: a rule applied to a key (`user:<tenant>:<id>`, `number:<hmac>`...). Keys never hold a
/// phone number or any other personal value in clear.
public struct RateLimitCharge: Sendable, Equatable, Hashable {
    public var rule: RateLimitRule
    public var key: String

    public init(rule: RateLimitRule, key: String) {
        self.rule = rule
        self.key = key
    }
}

/// The generic cell rate algorithm: each bucket is one number, its theoretical arrival time (TAT).
///
/// A request at `now` is allowed when `max(tat, now) + interval - now <= period`; the new TAT is stored.
/// One row per bucket, so stores update it with a single atomic upsert.
public enum GCRA {
    public struct Outcome: Sendable, Equatable {
        public var allowed: Bool
        /// The TAT to store when allowed (unchanged otherwise).
        public var newTAT: Double
        /// Seconds until a request would be allowed (0 when allowed).
        public var retryAfter: Double
        /// Requests still allowed right now after this one.
        public var remaining: Int
        /// Seconds until the bucket is full again.
        public var resetAfter: Double
    }

    public static func evaluate(tat stored: Double?, now: Double, rule: RateLimitRule) -> Outcome {
        let interval = rule.emissionInterval
        let tat = max(stored ?? now, now)
        let newTAT = tat + interval
        let allowAt = newTAT - rule.periodSeconds
        if allowAt > now {
            let remaining = 0
            return Outcome(
                allowed: false, newTAT: stored ?? now, retryAfter: allowAt - now, remaining: remaining,
                resetAfter: tat - now)
        }
        let remaining = Int(saturating: ((now - allowAt) / interval).rounded(.down))
        return Outcome(allowed: true, newTAT: newTAT, retryAfter: 0, remaining: max(0, remaining), resetAfter: newTAT - now)
    }
}

/// A refusal: which bucket, and when to come back.
public struct RateLimitRefusal: Sendable, Equatable, Error {
    public var rule: RateLimitRule
    public var retryAfterSeconds: Int

    public init(rule: RateLimitRule, retryAfterSeconds: Int) {
        self.rule = rule
        self.retryAfterSeconds = retryAfterSeconds
    }
}
