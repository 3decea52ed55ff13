import Foundation
import GatewayCore
import GatewayStore
import Testing

/// Pruning spent state, for every store implementation (`StoreBackends.all`): what is spent goes, in bounded
/// batches; what is live, open or in flight stays.
@Suite struct StoreRetentionContractTests {
    /// A retention whose cutoffs lie `seconds` in the future: everything finished counts as old (the stores judge
    /// age by their own clock, which a test cannot move).
    static func everythingFinishedIsOld(batchSize: Int = 500, seconds: Double = 60) -> StoreRetention {
        StoreRetention(enrolmentSeconds: -seconds, idempotencySeconds: -seconds, batchSize: batchSize)
    }

    @Test(arguments: StoreBackends.all)
    func emptyBucketsGoAndFullOnesStay(backend: StoreBackend) async throws {
        let store = try await backend.open()
        let draining = RateLimitRule(name: "global", limit: 1000, periodSeconds: 1)
        let holding = RateLimitRule(name: "user", limit: 1, periodSeconds: 3600)
        for index in 0..<5 {
            #expect(try await store.chargeRateLimits([RateLimitCharge(rule: draining, key: "drain-\(index)")], refusalAudit: nil) == nil)
        }
        #expect(try await store.chargeRateLimits([RateLimitCharge(rule: holding, key: "hold")], refusalAudit: nil) == nil)
        try await Task.sleep(for: .milliseconds(50))
        // Bounded: a batch of two takes two, and says another batch may find more.
        let first = try await store.prune(StoreRetention(batchSize: 2))
        #expect(first.rateLimitBuckets == 2 && first.filledBatch(of: 2))
        let rest = try await store.prune(StoreRetention(batchSize: 10))
        #expect(rest.rateLimitBuckets == 3 && !rest.filledBatch(of: 10))
        // The held bucket still refuses: its state was kept.
        let refusal = try await store.chargeRateLimits([RateLimitCharge(rule: holding, key: "hold")], refusalAudit: nil)
        #expect(refusal?.rule == holding)
        // A pruned bucket starts afresh, exactly as it would have decided anyway.
        #expect(try await store.chargeRateLimits([RateLimitCharge(rule: draining, key: "drain-0")], refusalAudit: nil) == nil)
        try await store.close()
    }

    @Test(arguments: StoreBackends.all)
    func finishedEnrolmentsAndSpentKeysGoAfterTheirRetention(backend: StoreBackend) async throws {
        let store = try await backend.open()
        // One finished enrolment with a spent key, one open (code sent) and one still forwarding.
        let done = SMSLedgerContractTests.claim(key: "done", number: "n-done", user: "u-done")
        guard case .claimed(var finished) = try await store.claimSMSEnrolment(done) else {
            Issue.record("expected a claim")
            return
        }
        finished.state = .verified
        finished.leaseUntil = nil
        _ = try #require(
            try await store.updateSMSEnrolment(
                finished, completing: .complete(done.scope, StoredResponse(status: 201, body: "{}")), audit: nil))
        let open = SMSLedgerContractTests.claim(key: "open", number: "n-open", user: "u-open")
        guard case .claimed(var sent) = try await store.claimSMSEnrolment(open) else {
            Issue.record("expected a claim")
            return
        }
        sent.state = .codeSent
        sent.leaseUntil = nil
        _ = try #require(
            try await store.updateSMSEnrolment(
                sent, completing: .complete(open.scope, StoredResponse(status: 201, body: "{}")), audit: nil))
        let flying = SMSLedgerContractTests.claim(key: "flying", number: "n-flying", user: "u-flying")
        guard case .claimed(let forwarding) = try await store.claimSMSEnrolment(flying) else {
            Issue.record("expected a claim")
            return
        }

        // Within the default retention nothing of it is touched.
        let none = try await store.prune(StoreRetention())
        #expect(none.enrolments == 0 && none.idempotencyKeys == 0)
        #expect(try await store.smsEnrolment(id: finished.id, tenant: "t1", userId: "u-done")?.state == .verified)

        let pruned = try await store.prune(Self.everythingFinishedIsOld())
        #expect(pruned.enrolments == 1)
        // Spent keys go; the forwarding request's key is in flight and stays.
        #expect(pruned.idempotencyKeys == 2)
        #expect(try await store.smsEnrolment(id: finished.id, tenant: "t1", userId: "u-done") == nil)
        #expect(try await store.smsEnrolment(id: sent.id, tenant: "t1", userId: "u-open")?.state == .codeSent)
        #expect(try await store.smsEnrolment(id: forwarding.id, tenant: "t1", userId: "u-flying")?.state == .forwarding)
        #expect(try await store.claimSMSEnrolment(flying) == .inProgress)
        // The pruned key is a new request now (and its number is free again).
        let again = SMSLedgerContractTests.claim(key: "done", number: "n-done", user: "u-done")
        if case .claimed = try await store.claimSMSEnrolment(again) {
        } else {
            Issue.record("a pruned key must start afresh")
        }
        // An open enrolment goes once its code expired longer than the retention ago.
        let late = try await store.prune(Self.everythingFinishedIsOld(seconds: 3600))
        #expect(late.enrolments == 1)
        #expect(try await store.smsEnrolment(id: sent.id, tenant: "t1", userId: "u-open") == nil)
        // The audit trail is never pruned.
        #expect(try await store.auditEvents(tenant: "t1", after: nil, limit: 100).events.count == 4)
        try await store.close()
    }

    @Test(arguments: StoreBackends.all)
    func expiredRevocationsGoLiveOnesStay(backend: StoreBackend) async throws {
        let store = try await backend.open()
        let now = try await store.now()
        _ = try await store.recordRevocation(
            SessionRevocation(userId: "u1", scope: .allSessions, target: nil, expiresAt: now + 3600))
        _ = try await store.recordRevocation(
            SessionRevocation(userId: "u2", scope: .token, target: "t-kept", expiresAt: nil))
        // Last: recording a revocation also drops the expired ones before it.
        _ = try await store.recordRevocation(
            SessionRevocation(userId: "u1", scope: .session, target: "s-old", expiresAt: now - 1))
        let pruned = try await store.prune(StoreRetention())
        #expect(pruned.revocations == 1)
        let live = try await store.revocations(after: nil, limit: 10).revocations
        #expect(Set(live.compactMap(\.target)) == ["t-kept"])
        #expect(live.filter { $0.scope == .allSessions }.count == 1)
        #expect(try await store.prune(StoreRetention()).revocations == 0)
        // Back-channel logout token ids go after their expiry; a live one still refuses its replay.
        let logout = SessionRevocation(userId: "u3", scope: .allSessions, target: nil, expiresAt: now + 3600)
        #expect(try await store.recordBackChannelLogout(tokenId: "j-live", issuer: "i", expiresAt: now + 600, revocation: logout) != nil)
        // Last: recording one also drops the expired ids before it.
        #expect(try await store.recordBackChannelLogout(tokenId: "j-old", issuer: "i", expiresAt: now - 1, revocation: logout) != nil)
        #expect(try await store.prune(StoreRetention()).logoutTokens == 1)
        #expect(try await store.recordBackChannelLogout(tokenId: "j-live", issuer: "i", expiresAt: now + 600, revocation: logout) == nil)
        try await store.close()
    }
}
