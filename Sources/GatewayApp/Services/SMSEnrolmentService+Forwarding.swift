import Foundation
import GatewayCore
import GatewayStore
import Logging
import Metrics
import ZitadelClient

/// Forwarding: SetPhone exactly once under the forward's lease, and what follows from its answer.
extension SMSEnrolmentService {
    /// SetPhone, exactly once for this enrolment; the outcome is recorded with the idempotency result.
    /// `codeMayBePending`: an earlier forward of this number for the key was read as not applied, so a SetPhone
    /// refused as unchanged means that forward landed after all and its code is the one pending.
    func forward(
        _ lease: inout ForwardLease, mobile: AustralianMobile, phoneAPI: any ZitadelPhoneEnrolment, scope: IdempotencyScope,
        caller: Caller, requestId: String?, codeMayBePending: Bool
    ) async throws -> SMSEnrolmentOutcome {
        let userId = lease.enrolment.userId
        let e164 = mobile.e164
        try await hold(&lease)
        let result = await MFALifecycleService.result { () async throws(ZitadelClientError) in
            try await phoneAPI.setPhone(userId, phone: e164)
        }
        guard case .failure(let failure) = result else {
            Self.countForward("SetPhone", "ok")
            return try await recordSent(lease.enrolment, scope: scope, caller: caller, requestId: requestId)
        }
        Self.countForward("SetPhone", failure.kind)
        guard failure.classification != .outcomeUnknown else {
            logger.warning(
                "SetPhone outcome unknown; reconciling", metadata: ["enrolment": "\(lease.enrolment.id)", "reason": "\(failure.kind)"])
            let reconciled = try await reconcile(
                lease.enrolment, lease: lease, scope: scope, caller: caller, requestId: requestId, concludeNotSent: false)
            return try await settle(reconciled, scope: scope, created: true, requestId: requestId)
        }
        if failure.errorId == ZitadelErrorId.phoneUnchanged {
            // The user already has this number at Zitadel: send a fresh code for it instead.
            return try await resendForUnchangedNumber(
                &lease, codeMayBePending: codeMayBePending, scope: scope, caller: caller, requestId: requestId)
        }
        if failure.classification == .unavailable {
            // Not applied, and not about this request (quota, credential, permission): the key is released so
            // that a retry with it forwards afresh once the provider recovers.
            var retryAfter = 5
            if case .api(let api) = failure, api.code == .resourceExhausted { retryAfter = 30 }
            return try await fail(
                lease.enrolment,
                problem: GatewayProblem(
                    .providerUnavailable,
                    "Zitadel did not take the change now; nothing was sent. Retry later with the same Idempotency-Key.",
                    retryAfter: retryAfter),
                scope: scope, caller: caller, requestId: requestId, release: true)
        }
        let problem =
            failure.errorId == ZitadelErrorId.phoneInvalid
            ? GatewayProblem(.invalidPhone, "Zitadel did not accept this number. " + AustralianMobile.acceptedForms)
            : GatewayProblem(.providerRejected, "Zitadel refused to set the phone number.")
        return try await fail(lease.enrolment, problem: problem, scope: scope, caller: caller, requestId: requestId)
    }

    /// SetPhone answered that the number is unchanged: verified numbers go straight to AddOTPSMS, others get a code.
    /// Nothing here may leave the user worse off than before: a failed lookup or a refused resend ends the attempt
    /// (nothing was sent), and the phone is removed and set again only when Zitadel says no code is pending for it.
    /// Every call is made under the forward's lease, renewed as the chain goes on.
    func resendForUnchangedNumber(
        _ lease: inout ForwardLease, codeMayBePending: Bool, scope: IdempotencyScope, caller: Caller,
        requestId: String?
    ) async throws -> SMSEnrolmentOutcome {
        guard let phoneAPI, let directory else { throw GatewayProblem(.providerUnavailable, "SMS enrolment is not configured.") }
        let notSent = GatewayProblem(
            .providerUnavailable, "Zitadel could not be reached to send the code; nothing was sent. Retry with the same Idempotency-Key.",
            retryAfter: 2)
        let user: GetUserByIDResponse
        try await hold(&lease)
        do { user = try await directory.getUserByID(lease.enrolment.userId) } catch {
            return try await fail(lease.enrolment, problem: notSent, scope: scope, caller: caller, requestId: requestId, release: true)
        }
        if user.user?.human?.phone?.isVerified == true {
            try await hold(&lease)
            try await enableOTPSMS(lease.enrolment.userId, phoneAPI: phoneAPI)
            var verified = lease.enrolment
            verified.state = .verified
            verified.leaseUntil = nil
            guard
                let saved = try await update(
                    verified, completing: nil,
                    audit: auditEvent(caller, "sms_enrolment.verified", "already_verified", requestId: requestId, metadata(verified)))
            else { throw Self.conflict() }
            await lifecycle.cache.invalidate(userId: saved.userId)
            return try await complete(saved, scope: scope, created: true, now: try await storeNow())
        }
        if codeMayBePending {
            // The earlier forward set the number after it was read as absent: it sent the code the user receives.
            return try await recordSent(lease.enrolment, scope: scope, caller: caller, requestId: requestId)
        }
        let userId = lease.enrolment.userId
        try await hold(&lease)
        let resent = await MFALifecycleService.result { () async throws(ZitadelClientError) in
            try await phoneAPI.resendPhoneCode(userId)
        }
        Self.countForward("ResendPhoneCode", resent.kind)
        if case .failure(let error) = resent, error.classification != .outcomeUnknown {
            guard error.errorId == ZitadelErrorId.phoneCodeEmpty else {
                // Refused for another reason (quota, credential, permission, ...): nothing was sent or changed.
                let problem =
                    error.classification == .unavailable
                    ? notSent : GatewayProblem(.providerRejected, "Zitadel refused to send a code to this number.")
                return try await fail(
                    lease.enrolment, problem: problem, scope: scope, caller: caller, requestId: requestId,
                    release: error.classification == .unavailable)
            }
            // No code is pending for the (unverified) number, e.g. set by an administrator without one: only a new
            // SetPhone issues one, and Zitadel refuses an unchanged number, so remove it first.
            try await hold(&lease)
            let number = try await numberAtProvider(lease.enrolment)
            try await hold(&lease)
            let removed = await MFALifecycleService.result { () async throws(ZitadelClientError) in
                try await phoneAPI.removePhone(userId)
            }
            Self.countForward("RemovePhone", removed.kind)
            if case .failure(let failure) = removed, failure.classification != .outcomeUnknown {
                return try await fail(
                    lease.enrolment, problem: GatewayProblem(.providerRejected, "Zitadel refused to send a code to this number."),
                    scope: scope, caller: caller, requestId: requestId)
            }
            try await hold(&lease)
            let set = await MFALifecycleService.result { () async throws(ZitadelClientError) in
                try await phoneAPI.setPhone(userId, phone: number)
            }
            Self.countForward("SetPhone", set.kind)
            if case .failure(let failure) = set, failure.classification != .outcomeUnknown {
                return try await fail(
                    lease.enrolment, problem: GatewayProblem(.providerRejected, "Zitadel refused to send a code to this number."),
                    scope: scope, caller: caller, requestId: requestId)
            }
        }
        return try await recordSent(lease.enrolment, scope: scope, caller: caller, requestId: requestId)
    }

    /// Renews the forward's lease (compare-and-set on the ledger row) unless the lease has at least
    /// `leaseSeconds - 1` left: no Zitadel call of a forward starts without its deadline ahead of it on the lease
    /// (the lease is at least the call deadline plus a second), so no other request can take the forward over
    /// while a call it made may still land. A lost compare-and-set means the lease ran out and another request
    /// took over: nothing more is called.
    func hold(_ lease: inout ForwardLease) async throws {
        guard lease.remaining < .seconds(leaseSeconds - 1) else { return }
        let asked = ContinuousClock.now
        var renewed = lease.enrolment
        renewed.leaseUntil = try await storeNow() + leaseSeconds
        guard let saved = try await update(renewed, completing: nil, audit: nil) else {
            Counter(label: "gateway_sms_lease_renewals_total", dimensions: [("outcome", "lost")]).increment()
            throw GatewayProblem(.requestInProgress, "Another request took this enrolment over; retry shortly.", retryAfter: 1)
        }
        Counter(label: "gateway_sms_lease_renewals_total", dimensions: [("outcome", "renewed")]).increment()
        lease = ForwardLease(saved, grantedAfter: asked, seconds: leaseSeconds)
    }

    /// The user's number at Zitadel, when it is this enrolment's number.
    func numberAtProvider(_ enrolment: SMSEnrolment) async throws -> String {
        guard let user = try? await directory?.getUserByID(enrolment.userId),
            let number = user.user?.human?.phone?.phone.flatMap({ try? AustralianMobile(parsing: $0) }),
            digests.number(number.e164) == enrolment.numberKey
        else { throw GatewayProblem(.providerUnavailable, "Zitadel could not be reached to send the code; retry.", retryAfter: 2) }
        return number.e164
    }

    /// The code went out: the enrolment waits for it, and the key replays this answer.
    func recordSent(
        _ enrolment: SMSEnrolment, scope: IdempotencyScope, caller: Caller, requestId: String?
    ) async throws -> SMSEnrolmentOutcome {
        let now = try await storeNow()
        var sent = enrolment
        sent.state = .codeSent
        sent.leaseUntil = nil
        sent.lastSentAt = now
        sent.expiresAt = now + settings.limits.codeLifetimeSeconds
        let recorded = try presenter.recorded(.enrolment(sent, now: now, created: true))
        guard
            let saved = try await update(
                sent, completing: .complete(scope, recorded),
                audit: auditEvent(caller, "sms_enrolment.code_sent", "ok", requestId: requestId, metadata(enrolment)))
        else { return try await afterLostRace(enrolment, scope: scope, requestId: requestId) }
        return .enrolment(saved, now: now, created: true)
    }

    /// A definite refusal: the enrolment fails and the key replays the problem (or, `release`, is forgotten).
    func fail(
        _ enrolment: SMSEnrolment, problem: GatewayProblem, scope: IdempotencyScope, caller: Caller,
        requestId: String?, release: Bool = false
    ) async throws -> SMSEnrolmentOutcome {
        var failed = enrolment
        failed.state = .failed
        failed.leaseUntil = nil
        failed.failure = problem.code.rawValue
        let completion: IdempotencyCompletion =
            release ? .release(scope) : .complete(scope, presenter.recorded(problem, requestId: requestId))
        var details = metadata(enrolment)
        details["problem"] = problem.code.rawValue
        guard
            try await update(
                failed, completing: completion,
                audit: auditEvent(caller, "sms_enrolment.rejected", problem.code.rawValue, requestId: requestId, details)) != nil
        else { return try await afterLostRace(enrolment, scope: scope, requestId: requestId) }
        throw problem
    }

    /// AddOTPSMS; AlreadyExists counts as success, and an unknown outcome is retried (the call is idempotent).
    func enableOTPSMS(_ userId: String, phoneAPI: any ZitadelPhoneEnrolment) async throws {
        for attempt in 1...2 {
            do throws(ZitadelClientError) {
                _ = try await phoneAPI.addOTPSMS(userId)
                Self.countForward("AddOTPSMS", "ok")
                return
            } catch {
                Self.countForward("AddOTPSMS", error.kind)
                if case .api(let api) = error, api.code == .alreadyExists { return }
                if error.classification != .outcomeUnknown || attempt == 2 {
                    throw GatewayProblem(
                        .providerUnavailable, "The number is verified but SMS codes could not be enabled yet; verify again.",
                        retryAfter: 2)
                }
            }
        }
    }
}
