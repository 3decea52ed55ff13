import GatewayCore

/// The decisions of the SMS enrolment ledger and the rate limits, written once: pure functions from the rows a
/// store read (plus the request and the store's clock) to an outcome and the rows to write. Each store only
/// reads and persists, inside its transaction, so SQLite and PostgreSQL cannot drift apart.
public enum SMSLedger {
    /// An idempotency record as read.
    public struct KeyRow: Sendable, Equatable {
        public var fingerprint: String
        /// `in_flight` or `done`.
        public var state: String
        public var leaseUntil: Double?
        public var enrolmentId: String
        public var response: StoredResponse?

        public init(fingerprint: String, state: String, leaseUntil: Double?, enrolmentId: String, response: StoredResponse?) {
            self.fingerprint = fingerprint
            self.state = state
            self.leaseUntil = leaseUntil
            self.enrolmentId = enrolmentId
            self.response = response
        }
    }

    /// The enrolment an idempotency record names, once read.
    public enum KeyEnrolment: Sendable, Equatable {
        case unread
        case missing
        case found(SMSEnrolment)
    }

    /// Rows the decision asks for before it can answer (read only then, so a replay locks nothing more).
    public enum Read: Sendable, Equatable {
        /// The enrolment the idempotency record names (PostgreSQL: locked, before the key row is written).
        case keyEnrolment
        /// The stored TATs of the claim's buckets (PostgreSQL: locked in key order).
        case buckets
    }

    /// What a claim reads. With an idempotency record: the record and, when asked, the enrolment it names.
    /// Without one: the user's enrolments still `forwarding` or `code_sent` (oldest first) and, when asked, the
    /// stored TATs of the claim's buckets (absent keys: empty buckets).
    public struct ClaimReads: Sendable, Equatable {
        public var key: KeyRow?
        public var keyEnrolment: KeyEnrolment
        public var userEnrolments: [SMSEnrolment]
        public var buckets: [String: Double]?

        public init(
            key: KeyRow? = nil, keyEnrolment: KeyEnrolment = .unread, userEnrolments: [SMSEnrolment] = [],
            buckets: [String: Double]? = nil
        ) {
            self.key = key
            self.keyEnrolment = keyEnrolment
            self.userEnrolments = userEnrolments
            self.buckets = buckets
        }
    }

    /// One row change, in the order a store applies them.
    public enum Write: Sendable, Equatable {
        /// An orphaned forward leased to this request: `lease_until`, `updated_at` and `revision` as given.
        case leaseEnrolment(SMSEnrolment)
        /// The key's owner is gone: this request takes the key over until `until`.
        case renewKeyLease(until: Double)
        /// The idempotency record (`in_flight`, leased until `leaseUntil`) bound to the enrolment.
        case insertKey(enrolmentId: String, leaseUntil: Double)
        /// The user's `code_sent` enrolments of other numbers end as `failed`/`superseded` (revision + 1).
        case supersede(enrolmentIds: [String])
        case insertEnrolment(SMSEnrolment)
        /// New TATs of the charged buckets.
        case chargeBuckets([RateLimitLedger.BucketUpdate])
        case audit(AuditEvent)
    }

    /// A claim's answer, or the rows it needs to decide.
    public enum ClaimDecision: Sendable, Equatable {
        case decided(SMSEnrolmentClaimOutcome, writes: [Write])
        case needs(Read)
    }

    /// The claim state machine: replay, reuse, in progress, take-over of an orphaned key, busy, blocked by another
    /// number's orphaned forward, attach to an open enrolment, rate-limited, or a new enrolment superseding
    /// another number's open one.
    public static func claim(
        _ claim: SMSEnrolmentClaim, reads: ClaimReads, now: Double
    ) throws(GatewayStoreError) -> ClaimDecision {
        if let key = reads.key {
            guard key.fingerprint == claim.fingerprint else { return .decided(.keyReused, writes: []) }
            if key.state == "done" {
                return .decided(.replay(key.response ?? StoredResponse(status: 500, body: "")), writes: [])
            }
            if (key.leaseUntil ?? 0) > now { return .decided(.inProgress, writes: []) }
            // The key's owner is gone (crash or timeout): this request takes the key over, unless the forward is
            // still leased (its owner renews the lease call by call).
            let enrolment: SMSEnrolment
            switch reads.keyEnrolment {
            case .unread: return .needs(.keyEnrolment)
            case .missing: throw .unavailable("idempotency record without enrolment")
            case .found(let found): enrolment = found
            }
            if enrolment.state == .forwarding && !enrolment.forwardIsOrphaned(at: now) {
                return .decided(.inProgress, writes: [])
            }
            var writes: [Write] = []
            let leased = lease(enrolment, claim: claim, now: now, writes: &writes)
            writes.append(.renewKeyLease(until: now + claim.leaseSeconds))
            return .decided(.attached(leased, createdByKey: true), writes: writes)
        }
        // Zitadel holds one phone per user: while another number's forward is in flight nothing else may be
        // forwarded for the user, or reading the phone could no longer tell which change happened.
        if let other = reads.userEnrolments.first(where: { $0.state == .forwarding && $0.numberKey != claim.numberKey }) {
            guard other.forwardIsOrphaned(at: now) else { return .decided(.busy, writes: []) }
            var writes: [Write] = []
            let leased = lease(other, claim: claim, now: now, writes: &writes)
            return .decided(.blocked(leased), writes: writes)
        }
        let sameNumber = reads.userEnrolments.filter { $0.numberKey == claim.numberKey }
        if let open = sameNumber.sorted(by: { $0.createdAt > $1.createdAt }).first(where: { $0.isOpen(at: now) }) {
            if open.state == .forwarding && !open.forwardIsOrphaned(at: now) { return .decided(.busy, writes: []) }
            var writes: [Write] = []
            let leased = lease(open, claim: claim, now: now, writes: &writes)
            writes.append(.insertKey(enrolmentId: open.id, leaseUntil: now + claim.leaseSeconds))
            return .decided(.attached(leased, createdByKey: false), writes: writes)
        }
        guard let buckets = reads.buckets else { return .needs(.buckets) }
        switch RateLimitLedger.charge(claim.charges, tats: buckets, now: now) {
        case .refused(let refusal):
            let audit = RateLimitLedger.refusalAudit(claim.audit, refusal: refusal, now: now)
            return .decided(.rateLimited(refusal), writes: [.audit(audit)])
        case .allowed(let updates):
            let enrolment = SMSEnrolment(
                id: claim.enrolmentId, tenant: claim.scope.tenant, userId: claim.scope.userId,
                numberKey: claim.numberKey, maskedPhone: claim.maskedPhone, state: .forwarding, createdAt: now,
                updatedAt: now, expiresAt: now + claim.leaseSeconds + claim.codeLifetimeSeconds,
                leaseUntil: now + claim.leaseSeconds)
            var audit = claim.audit
            audit.time = now
            // The new number replaces the user's phone at Zitadel: an open enrolment of another number is over.
            let superseded = reads.userEnrolments.filter { $0.state == .codeSent && $0.numberKey != claim.numberKey }
            var writes: [Write] = updates.isEmpty ? [] : [.chargeBuckets(updates)]
            if !superseded.isEmpty { writes.append(.supersede(enrolmentIds: superseded.map(\.id))) }
            writes += [
                .insertEnrolment(enrolment), .insertKey(enrolmentId: enrolment.id, leaseUntil: now + claim.leaseSeconds),
                .audit(audit),
            ]
            return .decided(.claimed(enrolment), writes: writes)
        }
    }

    /// An orphaned forward, leased to the claiming request; any other enrolment as it is.
    private static func lease(
        _ enrolment: SMSEnrolment, claim: SMSEnrolmentClaim, now: Double, writes: inout [Write]
    ) -> SMSEnrolment {
        guard enrolment.forwardIsOrphaned(at: now) else { return enrolment }
        var leased = enrolment
        leased.leaseUntil = now + claim.leaseSeconds
        leased.revision += 1
        leased.updatedAt = now
        writes.append(.leaseEnrolment(leased))
        return leased
    }

    /// A compare-and-set update (a state change, or the owner renewing its lease): the row to write, stored only
    /// while the stored revision is still `enrolment.revision`.
    public static func update(_ enrolment: SMSEnrolment, now: Double) -> SMSEnrolment {
        var updated = enrolment
        updated.updatedAt = now
        updated.revision = enrolment.revision + 1
        return updated
    }

    /// The audit event that goes with an update, stamped with the store's clock.
    public static func stamped(_ audit: AuditEvent?, now: Double) -> AuditEvent? {
        audit.map {
            var stamped = $0
            stamped.time = now
            return stamped
        }
    }
}

/// The rate-limit decision, written once: GCRA over every bucket, all or nothing.
public enum RateLimitLedger {
    public struct BucketUpdate: Sendable, Equatable {
        public var key: String
        public var tat: Double

        public init(key: String, tat: Double) {
            self.key = key
            self.tat = tat
        }
    }

    public enum Decision: Sendable, Equatable {
        /// Every bucket had room: store these TATs.
        case allowed([BucketUpdate])
        /// Nothing is stored.
        case refused(RateLimitRefusal)
    }

    /// Evaluates every bucket against its stored TAT (`tats`, absent: empty). The refusal reported is the one that
    /// lasts longest, so a retry after `Retry-After` is not refused by another full bucket.
    public static func charge(_ charges: [RateLimitCharge], tats: [String: Double], now: Double) -> Decision {
        var updates: [BucketUpdate] = []
        var refusal: RateLimitRefusal?
        for charge in charges {
            let outcome = GCRA.evaluate(tat: tats[charge.key], now: now, rule: charge.rule)
            if outcome.allowed {
                updates.append(BucketUpdate(key: charge.key, tat: outcome.newTAT))
            } else {
                let seconds = Int(saturating: outcome.retryAfter.rounded(.up))
                if seconds > refusal?.retryAfterSeconds ?? -1 {
                    refusal = RateLimitRefusal(rule: charge.rule, retryAfterSeconds: max(1, seconds))
                }
            }
        }
        if let refusal { return .refused(refusal) }
        return .allowed(updates)
    }

    /// A refusal's audit event: the request's, its outcome `rate_limited` and the bucket named.
    public static func refusalAudit(_ audit: AuditEvent, refusal: RateLimitRefusal, now: Double) -> AuditEvent {
        var refused = audit
        refused.outcome = "rate_limited"
        refused.metadata["bucket"] = refusal.rule.name
        refused.time = now
        return refused
    }
}
