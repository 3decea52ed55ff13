/// How long spent state is kept before the pruning job may delete it, and how much one batch deletes.
///
/// What is never pruned: the audit trail (append-only), lifecycle records, shared secrets, idempotency keys still
/// in flight and enrolments still open (a forward in flight or a code not yet expired).
public struct StoreRetention: Sendable, Equatable {
    /// Finished enrolments (verified, failed) are kept this long after their last change, and open ones this long
    /// after their code expired: long enough to answer a late verification or resend with the enrolment's state
    /// and to investigate an incident alongside the audit trail.
    public var enrolmentSeconds: Double
    /// Spent idempotency keys (a stored answer) are kept this long after their first request; a retry after that
    /// is a new request. At least a day, the Idempotency-Key draft's suggested minimum.
    public var idempotencySeconds: Double
    /// At most this many rows of each kind per batch.
    public var batchSize: Int

    public init(enrolmentSeconds: Double = 30 * 86_400, idempotencySeconds: Double = 86_400, batchSize: Int = 500) {
        self.enrolmentSeconds = enrolmentSeconds
        self.idempotencySeconds = idempotencySeconds
        self.batchSize = batchSize
    }
}

/// What one pruning batch deleted, per kind of row.
///
/// Rate-limit buckets go once they are empty (their theoretical arrival time has passed, so a fresh bucket
/// decides the same), and session revocations once their `expiresAt` has passed (no token they cover can still
/// be valid).
public struct PrunedRows: Sendable, Equatable {
    public var rateLimitBuckets: Int
    public var enrolments: Int
    public var idempotencyKeys: Int
    public var revocations: Int
    /// Back-channel logout token ids past their expiry (a replay of them is refused by its `exp` anyway).
    public var logoutTokens: Int

    public init(
        rateLimitBuckets: Int = 0, enrolments: Int = 0, idempotencyKeys: Int = 0, revocations: Int = 0,
        logoutTokens: Int = 0
    ) {
        self.rateLimitBuckets = rateLimitBuckets
        self.enrolments = enrolments
        self.idempotencyKeys = idempotencyKeys
        self.revocations = revocations
        self.logoutTokens = logoutTokens
    }

    /// Each kind with its metric label.
    public var byKind: [(kind: String, count: Int)] {
        [
            ("rate_limit_buckets", rateLimitBuckets), ("sms_enrolments", enrolments),
            ("idempotency_keys", idempotencyKeys), ("session_revocations", revocations),
            ("logout_tokens", logoutTokens),
        ]
    }

    /// Adds another batch's counts.
    public mutating func add(_ other: PrunedRows) {
        rateLimitBuckets += other.rateLimitBuckets
        enrolments += other.enrolments
        idempotencyKeys += other.idempotencyKeys
        revocations += other.revocations
        logoutTokens += other.logoutTokens
    }

    /// True when some kind filled its batch, so another batch may find more.
    public func filledBatch(of size: Int) -> Bool { byKind.contains { $0.count >= size } }
}
