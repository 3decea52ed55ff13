import Crypto
import Foundation
import GatewayCore
import GatewayStore
import Logging
import Metrics
import Synchronization
import ZitadelClient

/// The caller facts an enrolment needs (no token: SMS enrolment talks to Zitadel with the service credential).
struct EnrolmentCaller: Sendable {
    var userId: String
    var role: PortalRole
    /// The active tenant (policy and audit scope).
    var tenant: String?
    /// The user's own organisation: enrolments, ledger keys and per-tenant budgets live there.
    var homeOrg: String
    var sessionId: String?

    init(userId: String, role: PortalRole, tenant: String?, homeOrg: String, sessionId: String?) {
        self.userId = userId
        self.role = role
        self.tenant = tenant
        self.homeOrg = homeOrg
        self.sessionId = sessionId
    }

    init(_ caller: LifecycleCaller) {
        self.init(
            userId: caller.userId, role: caller.role, tenant: caller.tenant, homeOrg: caller.homeOrg,
            sessionId: caller.sessionId)
    }

    var auditTenant: String { tenant ?? homeOrg }
}

/// A finished enrolment request: status and JSON body (the enrolment, or a problem document).
struct EnrolmentAnswer: Sendable {
    var status: Int
    var body: String
    /// The body replays an earlier request with the same Idempotency-Key.
    var replayed = false
    var location: String?
}

/// SMS one-time-code enrolment, exactly once (DESIGN.md "SMS one-time-code enrolment, exactly once").
///
/// The ledger records the intent before SetPhone and the outcome after it, so a forward is never repeated: a
/// duplicate request replays, waits, or joins the open enrolment; a forward whose outcome is unknown (timeout,
/// crash) is reconciled by reading the user's phone at Zitadel.
struct SMSEnrolmentService: Sendable {
    let phoneAPI: (any ZitadelPhoneEnrolment)?
    let directory: (any ZitadelUserDirectory)?
    let store: any GatewayStore
    let lifecycle: MFALifecycleService
    let settings: SMSSettings
    let numberKey: SymmetricKey
    /// How long a forwarding request owns its SetPhone call (longer than the provider deadline).
    let leaseSeconds: Double
    let logger: Logger

    /// Requests of one user waiting in this process for another request's forward.
    let waiters = ClaimWaiters()

    static let basePath = MFALifecycleController.basePath + "/sms-enrolments"
    /// How many requests per user wait in this process for another request's forward; the others are answered
    /// 409 at once, so that a burst costs one claim transaction per request plus a few polls.
    static let waitersPerUser = 2
    /// A waiting request's first pause; it doubles up to `longestPause`.
    static let firstPause = Duration.milliseconds(100)
    static let longestPause = Duration.seconds(1)
    /// `failure` of a forward read as not applied after its lease (the key retries afresh).
    static let notForwarded = "not_forwarded"
    /// `failure` of an open enrolment whose number a newer enrolment replaced at Zitadel (written by the store).
    static let superseded = "superseded"

    // MARK: Create

    func create(
        phone input: String, idempotencyKey: String?, caller: EnrolmentCaller, callerAddress: CallerAddress?,
        requestId: String?
    ) async throws -> EnrolmentAnswer {
        try requireSMSAllowed(caller)
        let key = try Self.validatedKey(idempotencyKey)
        let mobile: AustralianMobile
        do { mobile = try AustralianMobile(parsing: input) } catch { throw GatewayProblem(.invalidPhone, error.message) }
        guard let phoneAPI else {
            throw GatewayProblem(.providerUnavailable, "SMS enrolment is not configured (no Zitadel credential).", retryAfter: 30)
        }
        let numberKey = hash("number", mobile.e164)
        let scope = IdempotencyScope(tenant: caller.homeOrg, userId: caller.userId, key: key)
        let claim = SMSEnrolmentClaim(
            scope: scope, fingerprint: hash("POST sms-enrolments", mobile.e164), numberKey: numberKey,
            maskedPhone: mobile.masked, enrolmentId: Self.newId(), leaseSeconds: leaseSeconds,
            codeLifetimeSeconds: settings.limits.codeLifetimeSeconds,
            charges: charges(caller: caller, numberKey: numberKey, callerAddress: callerAddress),
            audit: auditEvent(caller, "sms_enrolment.requested", "claimed", requestId: requestId, ["phone": mobile.masked]))
        let deadline = ContinuousClock.now + .seconds(leaseSeconds)
        let waiter = "\(caller.homeOrg)\u{0}\(caller.userId)"
        var waiting = false
        defer { if waiting { waiters.leave(waiter) } }
        var pause = Self.firstPause
        // The key's earlier forward of this number was read as not applied: should it land after all, its code is
        // the one pending at Zitadel.
        var earlierForwardUnconfirmed = false
        while true {
            let asked = ContinuousClock.now
            let outcome: SMSEnrolmentClaimOutcome
            do { outcome = try await store.claimSMSEnrolment(claim) } catch { throw Self.storeUnavailable(error, logger) }
            Counter(label: "gateway_sms_claims_total", dimensions: [("outcome", Self.name(outcome))]).increment()
            switch outcome {
            case .claimed(let enrolment):
                var lease = ForwardLease(enrolment, grantedAfter: asked, seconds: leaseSeconds)
                return try await forward(
                    &lease, mobile: mobile, phoneAPI: phoneAPI, scope: scope, caller: caller, requestId: requestId,
                    codeMayBePending: earlierForwardUnconfirmed)
            case .replay(let stored):
                return EnrolmentAnswer(status: stored.status, body: stored.body, replayed: true)
            case .keyReused:
                throw GatewayProblem(
                    .idempotencyKeyReused, "This Idempotency-Key was used for a different request; use a new key for a new number.")
            case .inProgress:
                throw GatewayProblem(
                    .requestInProgress, "A request with this Idempotency-Key is still being processed; retry shortly.", retryAfter: 1)
            case .attached(let enrolment, let createdByKey):
                var current = enrolment
                if current.state == .forwarding {
                    current = try await reconcile(
                        current, lease: ForwardLease(enrolment, grantedAfter: asked, seconds: leaseSeconds), scope: scope,
                        caller: caller, requestId: requestId)
                }
                if current.state == .failed, Self.mayForwardAgain(current) {
                    // Not applied (read or refused for the moment): forget the key's old attempt and claim afresh.
                    earlierForwardUnconfirmed = current.failure == Self.notForwarded
                    do { try await store.finishIdempotencyKey(.release(scope)) } catch { throw Self.storeUnavailable(error, logger) }
                    continue
                }
                return try await settle(current, scope: scope, status: createdByKey ? 201 : 200, requestId: requestId)
            case .busy:
                // Another request is forwarding for this user: a few wait for its outcome (backing off) rather than
                // send a second SMS; the rest are told at once, so that a burst costs one claim per request.
                if !waiting {
                    guard waiters.enter(waiter, limit: Self.waitersPerUser) else { throw Self.busy() }
                    waiting = true
                }
                guard ContinuousClock.now + pause < deadline else { throw Self.busy() }
                try await Task.sleep(for: pause)
                pause = min(pause * 2, Self.longestPause)
            case .blocked(let other):
                // Another number's forward for this user was orphaned: settle it before anything else is sent.
                _ = try await reconcile(
                    other, lease: ForwardLease(other, grantedAfter: asked, seconds: leaseSeconds), scope: nil, caller: caller,
                    requestId: requestId)
            case .rateLimited(let refusal):
                throw Self.rateLimited(refusal)
            }
        }
    }

    /// Answers with an enrolment the key is bound to, and binds the key to that answer. Only an enrolment Zitadel
    /// refused answers as refused; a superseded or expired one says so, and one still forwarding is in progress.
    private func settle(
        _ enrolment: SMSEnrolment, scope: IdempotencyScope, status: Int, requestId: String?
    ) async throws -> EnrolmentAnswer {
        let now = try await storeNow()
        let problem: GatewayProblem
        switch enrolment.state {
        case .forwarding:
            // Another request holds it now (this one lost a race): its outcome is theirs to record.
            throw GatewayProblem(.requestInProgress, "This enrolment is still being sent; retry shortly.", retryAfter: 1)
        case .verified:
            return try await complete(enrolment, scope: scope, status: status, now: now)
        case .codeSent:
            guard now >= enrolment.expiresAt else { return try await complete(enrolment, scope: scope, status: status, now: now) }
            problem = GatewayProblem(
                .enrolmentExpired, "This enrolment's code has expired; start a new enrolment with a new Idempotency-Key.")
        case .failed:
            problem = Self.closedProblem(enrolment)
        }
        let stored = StoredResponse(status: problem.status, body: ProblemRenderer.body(problem, requestId: requestId))
        do { try await store.finishIdempotencyKey(.complete(scope, stored)) } catch { throw Self.storeUnavailable(error, logger) }
        throw problem
    }

    /// Why a failed enrolment is over, in its own code: superseded by a newer number, refused by Zitadel, or not
    /// sent (nothing reached the user).
    static func closedProblem(_ enrolment: SMSEnrolment) -> GatewayProblem {
        switch enrolment.failure ?? "" {
        case Self.superseded:
            GatewayProblem(
                .enrolmentSuperseded,
                "A newer number replaced this one on the account before it was verified; start a new enrolment to use it again.")
        case ProblemCode.invalidPhone.rawValue:
            GatewayProblem(.invalidPhone, "Zitadel did not accept this number. " + AustralianMobile.acceptedForms)
        case ProblemCode.providerRejected.rawValue:
            GatewayProblem(.providerRejected, "Zitadel refused this enrolment; start a new one with a new Idempotency-Key.")
        default:
            GatewayProblem(.enrolmentClosed, "This enrolment was not sent; start a new one with a new Idempotency-Key.")
        }
    }

    /// SetPhone, exactly once for this enrolment; the outcome is recorded with the idempotency result.
    /// `codeMayBePending`: an earlier forward of this number for the key was read as not applied, so a SetPhone
    /// refused as unchanged means that forward landed after all and its code is the one pending.
    private func forward(
        _ lease: inout ForwardLease, mobile: AustralianMobile, phoneAPI: any ZitadelPhoneEnrolment, scope: IdempotencyScope,
        caller: EnrolmentCaller, requestId: String?, codeMayBePending: Bool
    ) async throws -> EnrolmentAnswer {
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
        guard Self.isDefinite(failure) else {
            logger.warning(
                "SetPhone outcome unknown; reconciling", metadata: ["enrolment": "\(lease.enrolment.id)", "reason": "\(failure.kind)"])
            let reconciled = try await reconcile(
                lease.enrolment, lease: lease, scope: scope, caller: caller, requestId: requestId, concludeNotSent: false)
            return try await settle(reconciled, scope: scope, status: 201, requestId: requestId)
        }
        if failure.errorId == ZitadelErrorId.phoneUnchanged {
            // The user already has this number at Zitadel: send a fresh code for it instead.
            return try await resendForUnchangedNumber(
                &lease, codeMayBePending: codeMayBePending, scope: scope, caller: caller, requestId: requestId)
        }
        if Self.isTransient(failure) {
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
    private func resendForUnchangedNumber(
        _ lease: inout ForwardLease, codeMayBePending: Bool, scope: IdempotencyScope, caller: EnrolmentCaller,
        requestId: String?
    ) async throws -> EnrolmentAnswer {
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
            return try await complete(saved, scope: scope, status: 201, now: try await storeNow())
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
        if case .failure(let error) = resent, Self.isDefinite(error) {
            guard error.errorId == ZitadelErrorId.phoneCodeEmpty else {
                // Refused for another reason (quota, credential, permission, ...): nothing was sent or changed.
                let problem =
                    Self.isTransient(error)
                    ? notSent : GatewayProblem(.providerRejected, "Zitadel refused to send a code to this number.")
                return try await fail(
                    lease.enrolment, problem: problem, scope: scope, caller: caller, requestId: requestId,
                    release: Self.isTransient(error))
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
            if case .failure(let failure) = removed, Self.isDefinite(failure) {
                return try await fail(
                    lease.enrolment, problem: GatewayProblem(.providerRejected, "Zitadel refused to send a code to this number."),
                    scope: scope, caller: caller, requestId: requestId)
            }
            try await hold(&lease)
            let set = await MFALifecycleService.result { () async throws(ZitadelClientError) in
                try await phoneAPI.setPhone(userId, phone: number)
            }
            Self.countForward("SetPhone", set.kind)
            if case .failure(let failure) = set, Self.isDefinite(failure) {
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
    private func hold(_ lease: inout ForwardLease) async throws {
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
    private func numberAtProvider(_ enrolment: SMSEnrolment) async throws -> String {
        guard let user = try? await directory?.getUserByID(enrolment.userId),
            let number = user.user?.human?.phone?.phone.flatMap({ try? AustralianMobile(parsing: $0) }),
            hash("number", number.e164) == enrolment.numberKey
        else { throw GatewayProblem(.providerUnavailable, "Zitadel could not be reached to send the code; retry.", retryAfter: 2) }
        return number.e164
    }

    /// The code went out: the enrolment waits for it, and the key replays this answer.
    private func recordSent(
        _ enrolment: SMSEnrolment, scope: IdempotencyScope, caller: EnrolmentCaller, requestId: String?
    ) async throws -> EnrolmentAnswer {
        let now = try await storeNow()
        var sent = enrolment
        sent.state = .codeSent
        sent.leaseUntil = nil
        sent.lastSentAt = now
        sent.expiresAt = now + settings.limits.codeLifetimeSeconds
        let answer = try render(sent, status: 201, now: now)
        guard
            let saved = try await update(
                sent, completing: .complete(scope, StoredResponse(status: answer.status, body: answer.body)),
                audit: auditEvent(caller, "sms_enrolment.code_sent", "ok", requestId: requestId, metadata(enrolment)))
        else { return try await afterLostRace(enrolment, scope: scope, requestId: requestId) }
        return try render(saved, status: 201, now: now)
    }

    /// A definite refusal: the enrolment fails and the key replays the problem (or, `release`, is forgotten).
    private func fail(
        _ enrolment: SMSEnrolment, problem: GatewayProblem, scope: IdempotencyScope, caller: EnrolmentCaller,
        requestId: String?, release: Bool = false
    ) async throws -> EnrolmentAnswer {
        var failed = enrolment
        failed.state = .failed
        failed.leaseUntil = nil
        failed.failure = problem.code.rawValue
        let body = ProblemRenderer.body(problem, requestId: requestId)
        let completion: IdempotencyCompletion =
            release ? .release(scope) : .complete(scope, StoredResponse(status: problem.status, body: body))
        var details = metadata(enrolment)
        details["problem"] = problem.code.rawValue
        guard
            try await update(
                failed, completing: completion,
                audit: auditEvent(caller, "sms_enrolment.rejected", problem.code.rawValue, requestId: requestId, details)) != nil
        else { return try await afterLostRace(enrolment, scope: scope, requestId: requestId) }
        throw problem
    }

    /// Reads the user's phone at Zitadel to learn whether an unknown-outcome SetPhone happened. Found: the code
    /// was sent. Not found: with `concludeNotSent` (the lease is over, so no call of the forward can still be
    /// waiting for its deadline) the enrolment is closed as not forwarded and the key released for a fresh
    /// attempt, which treats a late landing as the code sent; otherwise the outcome stays unknown until the lease
    /// ends (503). Never calls SetPhone. With `lease`, every call is made under it.
    func reconcile(
        _ enrolment: SMSEnrolment, lease held: ForwardLease? = nil, scope: IdempotencyScope?, caller: EnrolmentCaller?,
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
        let matches = phone?.phone.flatMap { try? AustralianMobile(parsing: $0) }.map { hash("number", $0.e164) } == enrolment.numberKey
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

    /// Binds the key to the enrolment's current state and answers with it.
    private func complete(
        _ enrolment: SMSEnrolment, scope: IdempotencyScope, status: Int, now: Double
    ) async throws -> EnrolmentAnswer {
        let answer = try render(enrolment, status: status, now: now)
        do {
            try await store.finishIdempotencyKey(.complete(scope, StoredResponse(status: answer.status, body: answer.body)))
        } catch { throw Self.storeUnavailable(error, logger) }
        return answer
    }

    /// Another request updated the enrolment first: answer with what it recorded.
    private func afterLostRace(_ enrolment: SMSEnrolment, scope: IdempotencyScope, requestId: String?) async throws -> EnrolmentAnswer {
        try await settle(try await reload(enrolment), scope: scope, status: 201, requestId: requestId)
    }

    private func reload(_ enrolment: SMSEnrolment) async throws -> SMSEnrolment {
        do {
            guard let fresh = try await store.smsEnrolment(id: enrolment.id, tenant: enrolment.tenant, userId: enrolment.userId)
            else { throw GatewayProblem.notFound() }
            return fresh
        } catch let problem as GatewayProblem { throw problem } catch { throw Self.storeUnavailable(error, logger) }
    }

    // MARK: Verify and resend

    func verify(id: String, code input: String, caller: EnrolmentCaller, requestId: String?) async throws -> EnrolmentAnswer {
        var enrolment = try await load(id: id, caller: caller)
        if enrolment.forwardIsOrphaned(at: try await storeNow()) {
            enrolment = try await reconcile(enrolment, scope: nil, caller: caller, requestId: requestId)
        }
        let now = try await storeNow()
        switch enrolment.state {
        case .verified: return try render(enrolment, status: 200, now: now)
        case .failed: throw Self.finished(enrolment)
        case .forwarding:
            throw GatewayProblem(.requestInProgress, "The code is still being sent; retry shortly.", retryAfter: 1)
        case .codeSent: break
        }
        guard now < enrolment.expiresAt else {
            throw GatewayProblem(.enrolmentExpired, "The code for this enrolment has expired; start a new enrolment.")
        }
        guard let code = Self.normalisedCode(input) else {
            throw GatewayProblem(.invalidCode, "Enter the code from the text message exactly as it appears.")
        }
        guard let phoneAPI else { throw GatewayProblem(.providerUnavailable, "SMS enrolment is not configured.") }
        let limits = settings.limits
        guard enrolment.verificationAttempts < limits.maxVerificationAttempts else {
            throw Self.rateLimited(
                RateLimitRefusal(
                    rule: RateLimitRule(
                        name: "verification", limit: limits.maxVerificationAttempts, periodSeconds: limits.codeLifetimeSeconds),
                    retryAfterSeconds: max(1, Int(saturating: (enrolment.expiresAt - now).rounded(.up)))),
                detail: "Too many wrong codes for this enrolment; wait for it to expire, then start again.")
        }
        // The attempt is counted before the provider sees the code, so concurrent guesses share the limit.
        var attempt = enrolment
        attempt.verificationAttempts += 1
        guard let counted = try await update(attempt, completing: nil, audit: nil) else {
            throw GatewayProblem(.requestInProgress, "Another verification of this enrolment is in progress; retry.", retryAfter: 1)
        }
        var details = metadata(counted)
        details["attempt"] = String(counted.verificationAttempts)
        do throws(ZitadelClientError) {
            _ = try await phoneAPI.verifyPhone(counted.userId, code: code)
            Self.countForward("VerifyPhone", "ok")
        } catch {
            Self.countForward("VerifyPhone", error.kind)
            // Unknown outcome, a wrong code, or a code already spent by an earlier attempt whose AddOTPSMS failed
            // ("verify again"): the user's phone at Zitadel decides. Verified there means this number was verified.
            let verifiedAtProvider = await phoneIsVerified(counted)
            if verifiedAtProvider != true {
                guard case .api(let api) = error, api.code == .invalidArgument else {
                    throw GatewayProblem(.providerUnavailable, "Zitadel could not check the code; try again.", retryAfter: 2)
                }
                do {
                    try await store.appendAuditEvent(
                        auditEvent(caller, "sms_enrolment.verification_failed", "invalid_code", requestId: requestId, details))
                } catch { throw Self.storeUnavailable(error, logger) }
                let remaining = limits.maxVerificationAttempts - counted.verificationAttempts
                throw GatewayProblem(
                    .invalidCode, "The code is not correct. \(remaining) attempt\(remaining == 1 ? "" : "s") left.")
            }
        }
        try await enableOTPSMS(counted.userId, phoneAPI: phoneAPI)
        var verified = counted
        verified.state = .verified
        guard
            let saved = try await update(
                verified, completing: nil,
                audit: auditEvent(caller, "sms_enrolment.verified", "ok", requestId: requestId, details))
        else { return try render(try await reload(counted), status: 200, now: now) }
        await lifecycle.cache.invalidate(userId: counted.userId)
        return try render(saved, status: 200, now: now)
    }

    /// Whether the user's phone at Zitadel is this enrolment's number and verified; nil when it cannot be read.
    private func phoneIsVerified(_ enrolment: SMSEnrolment) async -> Bool? {
        guard let user = try? await directory?.getUserByID(enrolment.userId) else { return nil }
        guard let phone = user.user?.human?.phone, let number = phone.phone.flatMap({ try? AustralianMobile(parsing: $0) }),
            hash("number", number.e164) == enrolment.numberKey
        else { return false }
        return phone.isVerified == true
    }

    /// AddOTPSMS; AlreadyExists counts as success, and an unknown outcome is retried (the call is idempotent).
    private func enableOTPSMS(_ userId: String, phoneAPI: any ZitadelPhoneEnrolment) async throws {
        for attempt in 1...2 {
            do throws(ZitadelClientError) {
                _ = try await phoneAPI.addOTPSMS(userId)
                Self.countForward("AddOTPSMS", "ok")
                return
            } catch {
                Self.countForward("AddOTPSMS", error.kind)
                if case .api(let api) = error, api.code == .alreadyExists { return }
                if Self.isDefinite(error) || attempt == 2 {
                    throw GatewayProblem(
                        .providerUnavailable, "The number is verified but SMS codes could not be enabled yet; verify again.",
                        retryAfter: 2)
                }
            }
        }
    }

    func resend(
        id: String, caller: EnrolmentCaller, callerAddress: CallerAddress?, requestId: String?
    ) async throws -> EnrolmentAnswer {
        let enrolment = try await load(id: id, caller: caller)
        let now = try await storeNow()
        switch enrolment.state {
        case .verified: throw GatewayProblem(.enrolmentClosed, "This enrolment is finished; nothing to resend.")
        case .failed: throw Self.finished(enrolment)
        case .forwarding: throw GatewayProblem(.requestInProgress, "The code is still being sent; retry shortly.", retryAfter: 1)
        case .codeSent: break
        }
        guard now < enrolment.expiresAt else {
            throw GatewayProblem(.enrolmentExpired, "This enrolment has expired; start a new enrolment.")
        }
        guard let phoneAPI else { throw GatewayProblem(.providerUnavailable, "SMS enrolment is not configured.") }
        let limits = settings.limits
        if enrolment.resends >= limits.maxResends {
            throw Self.rateLimited(
                RateLimitRefusal(
                    rule: RateLimitRule(name: "resend", limit: max(1, limits.maxResends), periodSeconds: limits.codeLifetimeSeconds),
                    retryAfterSeconds: max(1, Int(saturating: (enrolment.expiresAt - now).rounded(.up)))),
                detail: "No more codes can be sent for this enrolment; wait for it to expire, then start again.")
        }
        let nextSend = (enrolment.lastSentAt ?? 0) + limits.resendIntervalSeconds
        if nextSend > now {
            throw Self.rateLimited(
                RateLimitRefusal(
                    rule: RateLimitRule(name: "resend", limit: 1, periodSeconds: max(1, limits.resendIntervalSeconds)),
                    retryAfterSeconds: max(1, Int(saturating: (nextSend - now).rounded(.up)))),
                detail: "A code was sent moments ago; wait before asking for another.")
        }
        let refusal: RateLimitRefusal?
        do {
            // Every resend is another text message: it counts against the number, tenant, address and global
            // budgets (the per-user budget counts enrolments; resends have their own per-enrolment limit).
            refusal = try await store.chargeRateLimits(
                charges(caller: caller, numberKey: enrolment.numberKey, callerAddress: callerAddress).filter { $0.rule.name != "user" },
                refusalAudit: auditEvent(caller, "sms_enrolment.resend", "rate_limited", requestId: requestId, metadata(enrolment)))
        } catch { throw Self.storeUnavailable(error, logger) }
        if let refusal {
            throw Self.rateLimited(refusal)
        }
        // Intent first: the resend is counted before the call, so a lost answer cannot send more than allowed.
        var resent = enrolment
        resent.resends += 1
        resent.lastSentAt = now
        resent.expiresAt = now + limits.codeLifetimeSeconds
        guard
            let saved = try await update(
                resent, completing: nil,
                audit: auditEvent(caller, "sms_enrolment.resend", "requested", requestId: requestId, metadata(enrolment)))
        else { throw GatewayProblem(.requestInProgress, "Another request changed this enrolment; retry.", retryAfter: 1) }
        let outcome: String
        var refused: GatewayProblem?
        do throws(ZitadelClientError) {
            _ = try await phoneAPI.resendPhoneCode(enrolment.userId)
            Self.countForward("ResendPhoneCode", "ok")
            outcome = "ok"
        } catch {
            Self.countForward("ResendPhoneCode", error.kind)
            if Self.isDefinite(error) {
                outcome = "rejected"
                refused =
                    Self.isTransient(error)
                    ? GatewayProblem(.providerUnavailable, "Zitadel did not send another code now; retry later.", retryAfter: 30)
                    : GatewayProblem(.providerRejected, "Zitadel refused to send another code.")
            } else {
                outcome = "unknown"
                logger.warning(
                    "ResendPhoneCode outcome unknown", metadata: ["enrolment": "\(enrolment.id)", "reason": "\(error.kind)"])
            }
        }
        do {
            try await store.appendAuditEvent(
                auditEvent(caller, "sms_enrolment.resent", outcome, requestId: requestId, metadata(enrolment)))
        } catch {
            // The text message is out (or refused) either way; the intent above is already on record.
            logger.error("Audit of a resend outcome failed", metadata: ["enrolment": "\(enrolment.id)", "outcome": "\(outcome)"])
        }
        if let refused { throw refused }
        return try render(saved, status: 200, now: now)
    }

    private func load(id: String, caller: EnrolmentCaller) async throws -> SMSEnrolment {
        guard Self.isWellFormedId(id) else { throw GatewayProblem.notFound() }
        let found: SMSEnrolment?
        do { found = try await store.smsEnrolment(id: id, tenant: caller.homeOrg, userId: caller.userId) } catch {
            throw Self.storeUnavailable(error, logger)
        }
        guard let found else { throw GatewayProblem.notFound() }
        return found
    }

    // MARK: Sweep

    /// Reconciles forwards orphaned by a crash or restart (run at start-up and periodically).
    func reconcileOrphans() async {
        guard let orphans = try? await store.orphanedSMSEnrolments(limit: 50) else { return }
        for orphan in orphans {
            _ = try? await reconcile(orphan, scope: nil, caller: nil, requestId: nil)
        }
    }

    // MARK: Parts

    func requireSMSAllowed(_ caller: EnrolmentCaller) throws {
        let policy = lifecycle.policy.resolve(role: caller.role, tenantId: caller.tenant, userRequiresMFA: false)
        guard policy.allowedFactors.contains(.smsOTP) else {
            throw GatewayProblem(.factorNotAllowed, "SMS one-time codes are not allowed for this account.")
        }
    }

    private func charges(caller: EnrolmentCaller, numberKey: String, callerAddress: CallerAddress?) -> [RateLimitCharge] {
        var charges = [
            RateLimitCharge(rule: settings.user, key: "sms:user:\(caller.homeOrg):\(caller.userId)"),
            RateLimitCharge(rule: settings.number, key: "sms:number:\(numberKey)"),
            RateLimitCharge(rule: settings.tenant, key: "sms:tenant:\(caller.homeOrg)"),
            RateLimitCharge(rule: settings.global, key: "sms:global"),
        ]
        if let callerAddress {
            charges.append(RateLimitCharge(rule: settings.address, key: "sms:address:\(hash("address", callerAddress.key))"))
        }
        return charges
    }

    /// HMAC-SHA256 under the number key, domain-separated: phone numbers and addresses never stored in clear.
    func hash(_ domain: String, _ value: String) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Array("\(domain)\u{0}\(value)".utf8), using: numberKey)
        return mac.map { String(format: "%02x", $0) }.joined()
    }

    private func update(
        _ enrolment: SMSEnrolment, completing: IdempotencyCompletion?, audit: AuditEvent?
    ) async throws
        -> SMSEnrolment?
    {
        do { return try await store.updateSMSEnrolment(enrolment, completing: completing, audit: audit) } catch {
            throw Self.storeUnavailable(error, logger)
        }
    }

    private func storeNow() async throws -> Double {
        do { return try await store.now() } catch { throw Self.storeUnavailable(error, logger) }
    }

    private func metadata(_ enrolment: SMSEnrolment) -> [String: String] {
        ["enrolmentId": enrolment.id, "phone": enrolment.maskedPhone]
    }

    private func auditEvent(
        _ caller: EnrolmentCaller?, _ action: String, _ outcome: String, requestId: String?, _ metadata: [String: String],
        fallback: SMSEnrolment? = nil
    ) -> AuditEvent {
        var metadata = metadata
        if let caller { metadata["role"] = caller.role.rawValue }
        return AuditEvent(
            tenant: caller?.auditTenant ?? fallback?.tenant ?? "-", actor: caller?.userId ?? "gateway",
            session: caller?.sessionId, action: action, outcome: outcome, metadata: metadata, requestId: requestId)
    }

    func render(_ enrolment: SMSEnrolment, status: Int, now: Double) throws -> EnrolmentAnswer {
        let body = EnrolmentDTO(enrolment, limits: settings.limits, now: now)
        return EnrolmentAnswer(
            status: status, body: try APIResponseEncoder.text(body), location: status == 201 ? "\(Self.basePath)/\(enrolment.id)" : nil)
    }

    static func validatedKey(_ key: String?) throws -> String {
        guard var key, !key.isEmpty else {
            throw GatewayProblem(.idempotencyKeyMissing, "Send an Idempotency-Key header (a fresh random value per enrolment).")
        }
        // The draft sends the key as a structured-field string: accept it quoted or bare.
        if key.count >= 2, key.hasPrefix("\""), key.hasSuffix("\"") { key = String(key.dropFirst().dropLast()) }
        guard (1...255).contains(key.utf8.count), key.utf8.allSatisfy({ (0x21...0x7E).contains($0) }) else {
            throw GatewayProblem(.invalidRequest, "The Idempotency-Key must be 1 to 255 visible ASCII characters.")
        }
        return key
    }

    /// The code as the user typed it, trimmed of surrounding whitespace only: Zitadel compares codes exactly, case
    /// included, and an instance's generator may use lower and upper case letters, digits and symbols
    /// (internal/crypto/code.go). Anything that cannot be such a code is refused before it costs an attempt.
    static func normalisedCode(_ input: String) -> String? {
        let code = input.trimmingCharacters(in: .whitespacesAndNewlines)
        guard (1...64).contains(code.utf8.count), code.utf8.allSatisfy({ (0x21...0x7E).contains($0) }) else { return nil }
        return code
    }

    static func newId() -> String {
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array("abcdefghijkmnopqrstuvwxyz23456789")
        return "sme_" + String((0..<24).map { _ in alphabet[Int(generator.next(upperBound: UInt32(alphabet.count)))] })
    }

    static func isWellFormedId(_ id: String) -> Bool {
        id.hasPrefix("sme_") && id.utf8.count == 28
            && id.utf8.dropFirst(4).allSatisfy { (0x30...0x39).contains($0) || (0x61...0x7A).contains($0) }
    }

    /// Zitadel answered: the change was not applied. Timeouts, transport errors, 5xx and unreadable answers are
    /// unknown outcomes.
    static func isDefinite(_ error: ZitadelClientError) -> Bool {
        guard case .api(let api) = error else {
            // A missing service credential means the call never left the gateway.
            if case .credentialUnavailable = error { return true }
            return false
        }
        switch api.code {
        case .invalidArgument, .notFound, .alreadyExists, .permissionDenied, .failedPrecondition, .outOfRange,
            .unauthenticated, .resourceExhausted, .aborted, .unimplemented:
            return true
        case .unknown, .deadlineExceeded, .internal, .unavailable, .dataLoss, .canceled:
            return false
        }
    }

    /// Definite but not about the request: the provider's quota, the gateway's credential or permissions.
    static func isTransient(_ error: ZitadelClientError) -> Bool {
        guard case .api(let api) = error else { return true }
        return [.resourceExhausted, .unauthenticated, .permissionDenied, .aborted, .unimplemented].contains(api.code)
    }

    /// A 429 for the refusal, counted in `gateway_rate_limit_refusals_total{bucket}`.
    static func rateLimited(_ refusal: RateLimitRefusal, detail: String? = nil) -> GatewayProblem {
        Counter(label: "gateway_rate_limit_refusals_total", dimensions: [("bucket", refusal.rule.name)]).increment()
        var problem = GatewayProblem(
            .rateLimited, detail ?? "Too many SMS enrolment requests (\(refusal.rule.name) limit); retry later.",
            retryAfter: refusal.retryAfterSeconds)
        problem.rateLimit = refusal
        return problem
    }

    static func storeUnavailable(_ error: any Error, _ logger: Logger) -> GatewayProblem {
        if let problem = error as? GatewayProblem { return problem }
        logger.error("Store unavailable; refusing (fail closed)", metadata: ["error_type": "\(type(of: error))"])
        return GatewayProblem(.storeUnavailable, "The enrolment ledger is unavailable; nothing was sent. Retry shortly.", retryAfter: 2)
    }

    /// A failed enrolment, for its verification or resend: superseded says so, anything else is closed.
    static func finished(_ enrolment: SMSEnrolment) -> GatewayProblem {
        guard enrolment.failure == superseded else {
            return GatewayProblem(.enrolmentClosed, "This enrolment failed; start a new one.")
        }
        return closedProblem(enrolment)
    }

    /// A failed enrolment the key may forward afresh: read as not applied, or refused for the moment.
    static func mayForwardAgain(_ enrolment: SMSEnrolment) -> Bool {
        enrolment.failure == notForwarded || enrolment.failure == ProblemCode.providerUnavailable.rawValue
    }

    static func busy() -> GatewayProblem {
        GatewayProblem(.requestInProgress, "An enrolment for this account is being sent; retry shortly.", retryAfter: 1)
    }

    static func conflict() -> GatewayProblem {
        GatewayProblem(.requestInProgress, "Another request changed this enrolment; retry.", retryAfter: 1)
    }

    static func countForward(_ rpc: String, _ outcome: String) {
        Counter(label: "gateway_sms_forwards_total", dimensions: [("rpc", rpc), ("outcome", outcome)]).increment()
    }

    static func name(_ outcome: SMSEnrolmentClaimOutcome) -> String {
        switch outcome {
        case .claimed: "claimed"
        case .replay: "replay"
        case .keyReused: "key_reused"
        case .inProgress: "in_progress"
        case .attached: "attached"
        case .busy: "busy"
        case .blocked: "blocked"
        case .rateLimited: "rate_limited"
        }
    }
}

/// An enrolment as the portal reads it: masked number only.
struct EnrolmentDTO: Encodable {
    var id: String
    var status: String
    var phone: String
    var createdAt: String
    var expiresAt: String?
    var verification: Verification
    var resend: Resend

    struct Verification: Encodable {
        var attemptsRemaining: Int
    }

    struct Resend: Encodable {
        var remaining: Int
        var availableAt: String?
    }

    init(_ enrolment: SMSEnrolment, limits: SMSEnrolmentLimits, now: Double) {
        id = enrolment.id
        status = enrolment.state.rawValue
        phone = enrolment.maskedPhone
        createdAt = Self.timestamp(enrolment.createdAt)
        expiresAt = enrolment.state == .codeSent ? Self.timestamp(enrolment.expiresAt) : nil
        verification = Verification(attemptsRemaining: max(0, limits.maxVerificationAttempts - enrolment.verificationAttempts))
        let remaining = enrolment.state == .codeSent ? max(0, limits.maxResends - enrolment.resends) : 0
        resend = Resend(
            remaining: remaining,
            availableAt: remaining > 0 ? Self.timestamp(max(now, (enrolment.lastSentAt ?? now) + limits.resendIntervalSeconds)) : nil)
    }

    static func timestamp(_ seconds: Double) -> String {
        Timestamp.rfc3339(seconds)
    }
}

extension Result where Failure == ZitadelClientError {
    /// The metrics outcome label.
    var kind: String {
        switch self {
        case .success: "ok"
        case .failure(let error): error.kind
        }
    }
}

/// A forward's hold on its enrolment: the row as last written (for compare-and-set) and when the ledger's lease
/// ends at the earliest (counted from before the store granted it, so never later than the store's).
struct ForwardLease {
    var enrolment: SMSEnrolment
    var expires: ContinuousClock.Instant

    init(_ enrolment: SMSEnrolment, grantedAfter asked: ContinuousClock.Instant, seconds: Double) {
        self.enrolment = enrolment
        expires = asked + .seconds(seconds)
    }

    var remaining: Duration { expires - .now }
}

/// Counts the requests of each user waiting for another request's forward in this process.
final class ClaimWaiters: Sendable {
    private let counts = Mutex<[String: Int]>([:])

    /// Takes a waiting place for `key` when fewer than `limit` are taken.
    func enter(_ key: String, limit: Int) -> Bool {
        counts.withLock { counts in
            guard counts[key, default: 0] < limit else { return false }
            counts[key, default: 0] += 1
            return true
        }
    }

    func leave(_ key: String) {
        counts.withLock { counts in
            let left = counts[key, default: 1] - 1
            counts[key] = left > 0 ? left : nil
        }
    }
}
