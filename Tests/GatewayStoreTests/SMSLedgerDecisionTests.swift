import GatewayCore
import Testing

@testable import GatewayStore

/// The claim and rate-limit decisions as pure functions: every transition from the rows read, without a store.
@Suite struct SMSLedgerDecisionTests {
    static let now = 1_000_000.0
    static let rule = RateLimitRule(name: "user", limit: 2, periodSeconds: 3600)
    static let bucket = "sms:user:t1:u1"

    static let claim = SMSEnrolmentClaim(
        scope: IdempotencyScope(tenant: "t1", userId: "u1", key: "key-1"), fingerprint: "fp-1", numberKey: "n-1",
        maskedPhone: "+61 4•• ••• 156", enrolmentId: "sme_new", leaseSeconds: 30, codeLifetimeSeconds: 600,
        charges: [RateLimitCharge(rule: rule, key: bucket)],
        audit: AuditEvent(
            id: "a1", time: 0, tenant: "t1", actor: "u1", session: nil, action: "sms_enrolment.requested",
            outcome: "claimed", requestId: nil))

    static func enrolment(
        _ id: String, number: String = "n-1", state: SMSEnrolmentState, lease: Double? = nil, created: Double = now - 100,
        expires: Double = now + 500
    ) -> SMSEnrolment {
        SMSEnrolment(
            id: id, tenant: "t1", userId: "u1", numberKey: number, maskedPhone: "+61 4•• ••• 156", state: state,
            createdAt: created, updatedAt: created, expiresAt: expires, leaseUntil: lease, revision: 3)
    }

    static func key(
        fingerprint: String = "fp-1", state: String = "in_flight", lease: Double? = now - 1, enrolment: String = "sme_old"
    ) -> SMSLedger.KeyRow {
        SMSLedger.KeyRow(
            fingerprint: fingerprint, state: state, leaseUntil: lease, enrolmentId: enrolment,
            response: state == "done" ? StoredResponse(status: 201, body: "{}") : nil)
    }

    static func leased(_ enrolment: SMSEnrolment) -> SMSEnrolment {
        var leased = enrolment
        leased.leaseUntil = now + 30
        leased.updatedAt = now
        leased.revision = enrolment.revision + 1
        return leased
    }

    static var created: SMSEnrolment {
        SMSEnrolment(
            id: "sme_new", tenant: "t1", userId: "u1", numberKey: "n-1", maskedPhone: "+61 4•• ••• 156",
            state: .forwarding, createdAt: now, updatedAt: now, expiresAt: now + 630, leaseUntil: now + 30)
    }

    static var stampedAudit: AuditEvent {
        var audit = claim.audit
        audit.time = now
        return audit
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var reads: SMSLedger.ClaimReads
        var expected: SMSLedger.ClaimDecision
        var testDescription: String { name }
    }

    static let orphanedOwn = enrolment("sme_old", state: .forwarding, lease: now - 1)
    static let leasedOwn = enrolment("sme_old", state: .forwarding, lease: now + 10)
    static let sentOwn = enrolment("sme_old", state: .codeSent)
    static let otherForwarding = enrolment("sme_other", number: "n-2", state: .forwarding, lease: now + 10)
    static let otherOrphaned = enrolment("sme_other", number: "n-2", state: .forwarding, lease: now - 1)
    static let otherSent = enrolment("sme_other", number: "n-2", state: .codeSent)
    static let expiredSame = enrolment("sme_expired", state: .codeSent, expires: now - 1)
    static let fullBucket = [bucket: now + 3600 + 1]

    static let cases: [Case] = [
        Case(
            name: "another request under the key is refused", reads: .init(key: key(fingerprint: "fp-2")),
            expected: .decided(.keyReused, writes: [])),
        Case(
            name: "a finished key replays", reads: .init(key: key(state: "done")),
            expected: .decided(.replay(StoredResponse(status: 201, body: "{}")), writes: [])),
        Case(
            name: "a leased key is in progress", reads: .init(key: key(lease: now + 5)),
            expected: .decided(.inProgress, writes: [])),
        Case(
            name: "an expired key asks for its enrolment", reads: .init(key: key()),
            expected: .needs(.keyEnrolment)),
        Case(
            name: "an expired key whose forward is still leased is in progress",
            reads: .init(key: key(), keyEnrolment: .found(leasedOwn)), expected: .decided(.inProgress, writes: [])),
        Case(
            name: "an expired key with an orphaned forward takes both over",
            reads: .init(key: key(), keyEnrolment: .found(orphanedOwn)),
            expected: .decided(
                .attached(leased(orphanedOwn), createdByKey: true),
                writes: [.leaseEnrolment(leased(orphanedOwn)), .renewKeyLease(until: now + 30)])),
        Case(
            name: "an expired key with a sent code takes the key over",
            reads: .init(key: key(), keyEnrolment: .found(sentOwn)),
            expected: .decided(.attached(sentOwn, createdByKey: true), writes: [.renewKeyLease(until: now + 30)])),
        Case(
            name: "another number in flight: busy", reads: .init(userEnrolments: [otherForwarding]),
            expected: .decided(.busy, writes: [])),
        Case(
            name: "another number's orphaned forward blocks and is leased", reads: .init(userEnrolments: [otherOrphaned]),
            expected: .decided(.blocked(leased(otherOrphaned)), writes: [.leaseEnrolment(leased(otherOrphaned))])),
        Case(
            name: "the same number in flight: busy", reads: .init(userEnrolments: [leasedOwn]),
            expected: .decided(.busy, writes: [])),
        Case(
            name: "the same number's open code: attached with a new key", reads: .init(userEnrolments: [sentOwn]),
            expected: .decided(
                .attached(sentOwn, createdByKey: false), writes: [.insertKey(enrolmentId: "sme_old", leaseUntil: now + 30)])),
        Case(
            name: "the same number's orphaned forward: attached and leased", reads: .init(userEnrolments: [orphanedOwn]),
            expected: .decided(
                .attached(leased(orphanedOwn), createdByKey: false),
                writes: [.leaseEnrolment(leased(orphanedOwn)), .insertKey(enrolmentId: "sme_old", leaseUntil: now + 30)])),
        Case(
            name: "nothing open asks for the buckets", reads: .init(userEnrolments: [expiredSame]),
            expected: .needs(.buckets)),
        Case(
            name: "a full bucket refuses and audits the refusal",
            reads: .init(userEnrolments: [], buckets: fullBucket),
            expected: .decided(
                .rateLimited(RateLimitRefusal(rule: rule, retryAfterSeconds: 1801)),
                writes: [.audit(RateLimitLedger.refusalAudit(claim.audit, refusal: .init(rule: rule, retryAfterSeconds: 1801), now: now))])),
        Case(
            name: "an expired code of the same number: a new enrolment",
            reads: .init(userEnrolments: [expiredSame], buckets: [:]),
            expected: .decided(
                .claimed(created),
                writes: [
                    .chargeBuckets([.init(key: bucket, tat: now + 1800)]), .insertEnrolment(created),
                    .insertKey(enrolmentId: "sme_new", leaseUntil: now + 30), .audit(stampedAudit),
                ])),
        Case(
            name: "another number's open code is superseded by the new enrolment",
            reads: .init(userEnrolments: [otherSent], buckets: [:]),
            expected: .decided(
                .claimed(created),
                writes: [
                    .chargeBuckets([.init(key: bucket, tat: now + 1800)]), .supersede(enrolmentIds: ["sme_other"]),
                    .insertEnrolment(created), .insertKey(enrolmentId: "sme_new", leaseUntil: now + 30),
                    .audit(stampedAudit),
                ])),
    ]

    @Test(arguments: cases)
    func claimTransition(_ transition: Case) throws {
        #expect(try SMSLedger.claim(Self.claim, reads: transition.reads, now: Self.now) == transition.expected)
    }

    @Test func aKeyNamingNoEnrolmentIsAStoreFault() {
        #expect(throws: GatewayStoreError.unavailable("idempotency record without enrolment")) {
            try SMSLedger.claim(Self.claim, reads: .init(key: Self.key(), keyEnrolment: .missing), now: Self.now)
        }
    }

    @Test func anUpdateIsACompareAndSetOnTheNextRevision() {
        let updated = SMSLedger.update(Self.sentOwn, now: Self.now)
        #expect(updated.revision == Self.sentOwn.revision + 1)
        #expect(updated.updatedAt == Self.now)
        #expect(SMSLedger.stamped(Self.claim.audit, now: Self.now)?.time == Self.now)
        #expect(SMSLedger.stamped(nil, now: Self.now) == nil)
    }

    @Test(arguments: [
        // (stored TATs, expected): empty buckets take the charge; one full bucket refuses all, nothing is stored;
        // the longest refusal is the one reported.
        ([String: Double](), RateLimitLedger.Decision.allowed([.init(key: "a", tat: now + 1800), .init(key: "b", tat: now + 1800)])),
        (["a": now + 1800], .allowed([.init(key: "a", tat: now + 3600), .init(key: "b", tat: now + 1800)])),
        (["a": now + 3600], .refused(RateLimitRefusal(rule: rule, retryAfterSeconds: 1800))),
        (["a": now + 3600, "b": now + 3700], .refused(RateLimitRefusal(rule: rule, retryAfterSeconds: 1900))),
    ])
    func rateLimitDecision(_ tats: [String: Double], _ expected: RateLimitLedger.Decision) {
        let charges = ["a", "b"].map { RateLimitCharge(rule: Self.rule, key: $0) }
        #expect(RateLimitLedger.charge(charges, tats: tats, now: Self.now) == expected)
    }

    @Test func aRefusalsAuditNamesTheBucket() {
        let audit = RateLimitLedger.refusalAudit(
            Self.claim.audit, refusal: RateLimitRefusal(rule: Self.rule, retryAfterSeconds: 5), now: Self.now)
        #expect(audit.outcome == "rate_limited")
        #expect(audit.metadata["bucket"] == "user")
        #expect(audit.time == Self.now)
    }
}
