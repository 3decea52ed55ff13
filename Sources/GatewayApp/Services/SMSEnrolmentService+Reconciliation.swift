import Foundation
import GatewayCore
import GatewayStore
import Logging
import Metrics
import ZitadelClient

/// Reconciliation: learning at Zitadel what became of a forward whose outcome is unknown.
extension SMSEnrolmentService {
    /// Reads the user's phone at Zitadel to learn whether an unknown-outcome SetPhone happened. Found: the code
    /// was sent. Not found: with `concludeNotSent` (the lease is over, so no call of the forward can still be
    /// waiting for its deadline) the enrolment is closed as not forwarded and the key released for a fresh
    /// attempt, which treats a late landing as the code sent; otherwise the outcome stays unknown until the lease
    /// ends (503). Never calls SetPhone. With `lease`, every call is made under it.
    func reconcile(
        _ enrolment: SMSEnrolment, lease held: ForwardLease? = nil, scope: IdempotencyScope?, caller: Caller?,
        requestId: String?, concludeNotSent: Bool = true
    ) async throws -> SMSEnrolment {
        guard enrolment.state == .forwarding else { return enrolment }
        var lease = held
        if var current = lease {
            try await hold(&current)
            lease = current
        }
        let user: GetUserByIDResponse
        do {
            guard let directory else { throw ZitadelClientError.credentialUnavailable("no client") }
            user = try await directory.getUserByID(enrolment.userId)
        } catch {
            Counter(label: "gateway_sms_reconciliations_total", dimensions: [("outcome", "lookup_failed")]).increment()
            throw GatewayProblem(
                .providerUnavailable, "Zitadel could not be reached to confirm the enrolment; retry shortly.",
                retryAfter: Int(saturating: leaseSeconds.rounded(.up)))
        }
        let phone = user.user?.human?.phone
        let matches = phone?.phone.flatMap { try? AustralianMobile(parsing: $0) }.map { digests.number($0.e164) } == enrolment.numberKey
        let now = try await storeNow()
        var details = metadata(enrolment)
        if matches {
            let verified = phone?.isVerified == true
            if verified, let phoneAPI {
                // Verified already (the code was entered elsewhere): the enrolment is done only once SMS codes
                // are on. Failing here leaves it to the next reconciliation.
                if var current = lease {
                    try await hold(&current)
                    lease = current
                }
                try await enableOTPSMS(enrolment.userId, phoneAPI: phoneAPI)
                await lifecycle.cache.invalidate(userId: enrolment.userId)
            }
            Counter(label: "gateway_sms_reconciliations_total", dimensions: [("outcome", "forwarded")]).increment()
            var sent = lease?.enrolment ?? enrolment
            sent.state = verified ? .verified : .codeSent
            sent.leaseUntil = nil
            sent.lastSentAt = sent.lastSentAt ?? now
            sent.expiresAt = now + settings.limits.codeLifetimeSeconds
            details["found"] = "true"
            guard
                let saved = try await update(
                    sent, completing: nil,
                    audit: auditEvent(
                        caller, "sms_enrolment.reconciled", "forwarded", requestId: requestId, details, fallback: enrolment))
            else { return try await reload(enrolment) }
            return saved
        }
        guard concludeNotSent else {
            throw GatewayProblem(
                .providerUnavailable, "Zitadel did not confirm the enrolment in time; retry with the same Idempotency-Key.",
                retryAfter: max(1, Int(saturating: ((lease?.enrolment.leaseUntil ?? enrolment.leaseUntil ?? now) - now).rounded(.up))))
        }
        Counter(label: "gateway_sms_reconciliations_total", dimensions: [("outcome", "not_forwarded")]).increment()
        var failed = lease?.enrolment ?? enrolment
        failed.state = .failed
        failed.leaseUntil = nil
        failed.failure = Self.notForwarded
        details["found"] = "false"
        guard
            let saved = try await update(
                failed, completing: scope.map { .release($0) },
                audit: auditEvent(
                    caller, "sms_enrolment.reconciled", "not_forwarded", requestId: requestId, details, fallback: enrolment))
        else { return try await reload(enrolment) }
        return saved
    }

    /// Reconciles forwards orphaned by a crash or restart (run at start-up and periodically).
    func reconcileOrphans() async {
        guard let orphans = try? await store.orphanedSMSEnrolments(limit: 50) else { return }
        for orphan in orphans {
            _ = try? await reconcile(orphan, scope: nil, caller: nil, requestId: nil)
        }
    }
}
