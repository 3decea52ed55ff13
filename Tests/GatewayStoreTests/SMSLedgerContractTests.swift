import Foundation
import GatewayCore
import GatewayStore
import Testing

/// The SMS ledger's contract, for every store implementation (`StoreBackends.all`).
@Suite struct SMSLedgerContractTests {
    static let rule = RateLimitRule(name: "user", limit: 2, periodSeconds: 3600)

    static func claim(
        key: String = "key-1", fingerprint: String = "fp-1", number: String = "n-1", user: String = "u1",
        lease: Double = 30, charges: [RateLimitCharge]? = nil
    ) -> SMSEnrolmentClaim {
        SMSEnrolmentClaim(
            scope: IdempotencyScope(tenant: "t1", userId: user, key: key), fingerprint: fingerprint, numberKey: number,
            maskedPhone: "+61 4•• ••• 156", enrolmentId: "sme_\(UUID().uuidString.prefix(8))", leaseSeconds: lease,
            codeLifetimeSeconds: 600,
            charges: charges ?? [RateLimitCharge(rule: rule, key: "sms:user:t1:\(user)-\(UUID().uuidString)")],
            audit: AuditEvent(
                tenant: "t1", actor: user, session: nil, action: "sms_enrolment.requested", outcome: "claimed", requestId: nil))
    }

    @Test(arguments: StoreBackends.all)
    func aClaimRecordsIntentThenReplaysTheOutcome(backend: StoreBackend) async throws {
        let store = try await backend.open()
        let first = Self.claim()
        guard case .claimed(let enrolment) = try await store.claimSMSEnrolment(first) else {
            Issue.record("expected a claim")
            return
        }
        #expect(enrolment.state == .forwarding)
        // In flight: the same key waits, another key for the same number is told to wait too.
        #expect(try await store.claimSMSEnrolment(Self.claim()) == .inProgress)
        #expect(try await store.claimSMSEnrolment(Self.claim(key: "key-2")) == .busy)
        // The same key with another request is refused.
        #expect(try await store.claimSMSEnrolment(Self.claim(fingerprint: "fp-2")) == .keyReused)
        var sent = enrolment
        sent.state = .codeSent
        sent.leaseUntil = nil
        let response = StoredResponse(status: 201, body: "{\"id\":\"\(enrolment.id)\"}")
        let saved = try #require(
            try await store.updateSMSEnrolment(sent, completing: .complete(first.scope, response), audit: nil))
        #expect(saved.revision == enrolment.revision + 1)
        // A stale revision loses.
        #expect(try await store.updateSMSEnrolment(sent, completing: nil, audit: nil) == nil)
        #expect(try await store.claimSMSEnrolment(Self.claim()) == .replay(response))
        // Another key for the open enrolment attaches to it instead of sending again.
        guard case .attached(let attached, let createdByKey) = try await store.claimSMSEnrolment(Self.claim(key: "key-3"))
        else {
            Issue.record("expected to attach")
            return
        }
        #expect(attached.id == enrolment.id && !createdByKey)
        // Scoped: the same key from another user is another key, and the enrolment is invisible to them.
        if case .claimed = try await store.claimSMSEnrolment(Self.claim(number: "n-9", user: "u2")) {
        } else {
            Issue.record("another user's key must be independent")
        }
        #expect(try await store.smsEnrolment(id: enrolment.id, tenant: "t1", userId: "u2") == nil)
        #expect(try await store.smsEnrolment(id: enrolment.id, tenant: "t2", userId: "u1") == nil)
        #expect(try await store.smsEnrolment(id: enrolment.id, tenant: "t1", userId: "u1")?.state == .codeSent)
        let audit = try await store.auditEvents(tenant: "t1", after: nil, limit: 10)
        #expect(audit.events.filter { $0.action == "sms_enrolment.requested" }.count == 2)
        try await store.close()
    }

    @Test(arguments: StoreBackends.all)
    func anOrphanedForwardIsHandedOverForReconciliation(backend: StoreBackend) async throws {
        let store = try await backend.open()
        guard case .claimed(let enrolment) = try await store.claimSMSEnrolment(Self.claim(lease: 0.2)) else {
            Issue.record("expected a claim")
            return
        }
        try await Task.sleep(for: .milliseconds(300))
        #expect(try await store.orphanedSMSEnrolments(limit: 10).map(\.id) == [enrolment.id])
        guard case .attached(let orphan, let createdByKey) = try await store.claimSMSEnrolment(Self.claim(lease: 30)) else {
            Issue.record("the key's retry must take the orphan over")
            return
        }
        #expect(orphan.id == enrolment.id && orphan.state == .forwarding && createdByKey)
        // Leased again: no longer orphaned, and a third request waits.
        #expect(try await store.orphanedSMSEnrolments(limit: 10).isEmpty)
        #expect(try await store.claimSMSEnrolment(Self.claim()) == .inProgress)
        // Confirmed never sent: the key is released and a retry claims afresh.
        var failed = orphan
        failed.state = .failed
        failed.leaseUntil = nil
        #expect(try await store.updateSMSEnrolment(failed, completing: .release(Self.claim().scope), audit: nil) != nil)
        if case .claimed(let fresh) = try await store.claimSMSEnrolment(Self.claim()) {
            #expect(fresh.id != enrolment.id)
        } else {
            Issue.record("a released key claims afresh")
        }
        try await store.close()
    }

    /// A forward renews its lease call by call (compare-and-set on the row): the key's retry never takes over a
    /// forward whose lease was renewed, even once the key's own lease is over.
    @Test(arguments: StoreBackends.all)
    func aRenewedForwardIsNotTakenOverByTheKeysRetry(backend: StoreBackend) async throws {
        let store = try await backend.open()
        guard case .claimed(let enrolment) = try await store.claimSMSEnrolment(Self.claim(lease: 0.2)) else {
            Issue.record("expected a claim")
            return
        }
        var renewed = enrolment
        renewed.leaseUntil = try await store.now() + 600
        let held = try #require(try await store.updateSMSEnrolment(renewed, completing: nil, audit: nil))
        // A stale revision cannot renew: whoever took the row over owns it.
        #expect(try await store.updateSMSEnrolment(renewed, completing: nil, audit: nil) == nil)
        try await Task.sleep(for: .milliseconds(300))
        #expect(try await store.claimSMSEnrolment(Self.claim()) == .inProgress)
        #expect(try await store.orphanedSMSEnrolments(limit: 10).allSatisfy { $0.id != enrolment.id })
        #expect(try await store.smsEnrolment(id: enrolment.id, tenant: "t1", userId: "u1")?.revision == held.revision)
        try await store.close()
    }

    @Test(arguments: StoreBackends.all)
    func forwardsForOneUserNeverOverlapAndANewNumberSupersedes(backend: StoreBackend) async throws {
        let store = try await backend.open()
        // Another number for the same user waits while the first forward is in flight (a lease no busy machine
        // outlasts between two statements)...
        guard case .claimed = try await store.claimSMSEnrolment(Self.claim(key: "a", number: "n-a", user: "u2", lease: 600)) else {
            Issue.record("expected a claim")
            return
        }
        #expect(try await store.claimSMSEnrolment(Self.claim(key: "b", fingerprint: "fp-b", number: "n-b", user: "u2")) == .busy)
        // ...and once a forward is orphaned (its lease over), the other number must settle it first (leased to the
        // asker). A short lease and a sleep past it: whatever the machine's load, the forward is orphaned.
        guard case .claimed(let first) = try await store.claimSMSEnrolment(Self.claim(key: "a", number: "n-a", lease: 0.2)) else {
            Issue.record("expected a claim")
            return
        }
        try await Task.sleep(for: .milliseconds(300))
        guard case .blocked(let orphan) = try await store.claimSMSEnrolment(Self.claim(key: "b", fingerprint: "fp-b", number: "n-b"))
        else {
            Issue.record("expected to be told to reconcile the orphan")
            return
        }
        let now = try await store.now()
        #expect(orphan.id == first.id && !orphan.forwardIsOrphaned(at: now))
        var sent = orphan
        sent.state = .codeSent
        sent.leaseUntil = nil
        _ = try #require(try await store.updateSMSEnrolment(sent, completing: nil, audit: nil))
        // Now the other number goes ahead, and the first number's open enrolment is superseded.
        guard case .claimed = try await store.claimSMSEnrolment(Self.claim(key: "b", fingerprint: "fp-b", number: "n-b")) else {
            Issue.record("expected a claim")
            return
        }
        let superseded = try #require(try await store.smsEnrolment(id: first.id, tenant: "t1", userId: "u1"))
        #expect(superseded.state == .failed && superseded.failure == "superseded")
        // Other users are independent.
        if case .claimed = try await store.claimSMSEnrolment(Self.claim(key: "c", number: "n-c", user: "u3")) {
        } else {
            Issue.record("another user's forward is independent")
        }
        try await store.close()
    }

    @Test(arguments: StoreBackends.all)
    func rateLimitsAreAllOrNothingAndAudited(backend: StoreBackend) async throws {
        let store = try await backend.open()
        let suffix = UUID().uuidString
        let tight = RateLimitCharge(rule: RateLimitRule(name: "number", limit: 1, periodSeconds: 3600), key: "n-\(suffix)")
        let loose = RateLimitCharge(rule: RateLimitRule(name: "user", limit: 10, periodSeconds: 3600), key: "u-\(suffix)")
        #expect(try await store.chargeRateLimits([loose, tight], refusalAudit: nil) == nil)
        let audit = AuditEvent(
            tenant: "t-\(suffix)", actor: "u1", session: nil, action: "sms_enrolment.resend", outcome: "", requestId: nil)
        let refusal = try #require(try await store.chargeRateLimits([loose, tight], refusalAudit: audit))
        #expect(refusal.rule.name == "number")
        #expect(refusal.retryAfterSeconds > 3000)
        // The refused charge did not consume the loose bucket: 9 more fit, then it refuses.
        for _ in 0..<9 { #expect(try await store.chargeRateLimits([loose], refusalAudit: nil) == nil) }
        #expect(try await store.chargeRateLimits([loose], refusalAudit: nil)?.rule.name == "user")
        let events = try await store.auditEvents(tenant: "t-\(suffix)", after: nil, limit: 10).events
        #expect(events.map(\.outcome) == ["rate_limited"])
        #expect(events.first?.metadata["bucket"] == "number")
        // A claim over the limit records nothing but its refusal.
        let claim = Self.claim(number: "n-\(suffix)", charges: [tight])
        guard case .rateLimited = try await store.claimSMSEnrolment(claim) else {
            Issue.record("expected a refusal")
            return
        }
        #expect(try await store.orphanedSMSEnrolments(limit: 100).allSatisfy { $0.numberKey != "n-\(suffix)" })
        try await store.close()
    }

    @Test(arguments: StoreBackends.all)
    func concurrentClaimsForOneNumberYieldOneForward(backend: StoreBackend) async throws {
        let store = try await backend.open()
        let number = "n-\(UUID().uuidString)"
        let outcomes = try await withThrowingTaskGroup(of: SMSEnrolmentClaimOutcome.self) { group in
            for index in 0..<40 {
                group.addTask { try await store.claimSMSEnrolment(Self.claim(key: "k\(index % 4)", number: number)) }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        let claimed = outcomes.filter { if case .claimed = $0 { true } else { false } }
        #expect(claimed.count == 1)
        #expect(outcomes.allSatisfy { [.inProgress, .busy].contains($0) || claimed.contains($0) })
        let secret = try await store.sharedSecret(named: "test", candidate: [1, 2, 3])
        #expect(try await store.sharedSecret(named: "test", candidate: [9]) == secret)
        try await store.close()
    }
}
