import Crypto
import Foundation
import GatewayCore
import GatewayStore
import Logging
import Metrics
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

    static let basePath = MFALifecycleController.basePath + "/sms-enrolments"

    // MARK: Create

    func create(
        phone input: String, idempotencyKey: String?, caller: EnrolmentCaller, callerAddress: String?,
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
        while true {
            let outcome: SMSEnrolmentClaimOutcome
            do { outcome = try await store.claimSMSEnrolment(claim) } catch { throw Self.storeUnavailable(error, logger) }
            Counter(label: "gateway_sms_claims_total", dimensions: [("outcome", Self.name(outcome))]).increment()
            switch outcome {
            case .claimed(let enrolment):
                return try await forward(enrolment, mobile: mobile, phoneAPI: phoneAPI, scope: scope, caller: caller, requestId: requestId)
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
                    current = try await reconcile(current, scope: scope, caller: caller, requestId: requestId)
                }
                guard current.state == .failed else {
                    return try await complete(current, scope: scope, status: createdByKey ? 201 : 200)
                }
                guard current.failure == ProblemCode.providerUnavailable.rawValue else {
                    // Failed for good (refused, superseded): the key answers this from now on instead of staying
                    // in flight.
                    let problem = GatewayProblem(
                        .providerRejected, "This enrolment failed; start a new one with a new Idempotency-Key.")
                    let stored = StoredResponse(status: problem.status, body: ProblemResponse.body(problem, requestId: requestId))
                    do { try await store.finishIdempotencyKey(.complete(scope, stored)) } catch {
                        throw Self.storeUnavailable(error, logger)
                    }
                    throw problem
                }
                // Confirmed never sent: forget the key's old attempt and claim afresh.
                do { try await store.finishIdempotencyKey(.release(scope)) } catch { throw Self.storeUnavailable(error, logger) }
            case .busy:
                // Another request is forwarding this number: wait for its outcome rather than send a second SMS.
                guard ContinuousClock.now + .milliseconds(50) < deadline else {
                    throw GatewayProblem(
                        .requestInProgress, "An enrolment of this number is being sent; retry shortly.", retryAfter: 1)
                }
                try await Task.sleep(for: .milliseconds(50))
            case .blocked(let other):
                // Another number's forward for this user was orphaned: settle it before anything else is sent.
                _ = try await reconcile(other, scope: nil, caller: caller, requestId: requestId)
            case .rateLimited(let refusal):
                throw Self.rateLimited(refusal)
            }
        }
    }

    /// SetPhone, exactly once for this enrolment; the outcome is recorded with the idempotency result.
    private func forward(
        _ enrolment: SMSEnrolment, mobile: AustralianMobile, phoneAPI: any ZitadelPhoneEnrolment, scope: IdempotencyScope,
        caller: EnrolmentCaller, requestId: String?
    ) async throws -> EnrolmentAnswer {
        let userId = enrolment.userId
        let e164 = mobile.e164
        let result = await MFALifecycleService.result { () async throws(ZitadelClientError) in
            try await phoneAPI.setPhone(userId, phone: e164)
        }
        guard case .failure(let failure) = result else {
            Self.countForward("SetPhone", "ok")
            return try await recordSent(enrolment, scope: scope, caller: caller, requestId: requestId)
        }
        Self.countForward("SetPhone", failure.kind)
        guard Self.isDefinite(failure) else {
            logger.warning(
                "SetPhone outcome unknown; reconciling", metadata: ["enrolment": "\(enrolment.id)", "reason": "\(failure.kind)"])
            let reconciled = try await reconcile(enrolment, scope: scope, caller: caller, requestId: requestId, concludeNotSent: false)
            return try await complete(reconciled, scope: scope, status: 201)
        }
        if failure.errorId == ZitadelErrorId.phoneUnchanged {
            // The user already has this number at Zitadel: send a fresh code for it instead.
            return try await resendForUnchangedNumber(enrolment, scope: scope, caller: caller, requestId: requestId)
        }
        if Self.isTransient(failure) {
            // Not applied, and not about this request (quota, credential, permission): the key is released so
            // that a retry with it forwards afresh once the provider recovers.
            var retryAfter = 5
            if case .api(let api) = failure, api.code == .resourceExhausted { retryAfter = 30 }
            return try await fail(
                enrolment,
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
        return try await fail(enrolment, problem: problem, scope: scope, caller: caller, requestId: requestId)
    }

    /// SetPhone answered that the number is unchanged: verified numbers go straight to AddOTPSMS, others get a code.
    /// Nothing here may leave the user worse off than before: a failed lookup or a refused resend ends the attempt
    /// (nothing was sent), and the phone is removed and set again only when Zitadel says no code is pending for it.
    private func resendForUnchangedNumber(
        _ enrolment: SMSEnrolment, scope: IdempotencyScope, caller: EnrolmentCaller, requestId: String?
    ) async throws -> EnrolmentAnswer {
        guard let phoneAPI, let directory else { throw GatewayProblem(.providerUnavailable, "SMS enrolment is not configured.") }
        let notSent = GatewayProblem(
            .providerUnavailable, "Zitadel could not be reached to send the code; nothing was sent. Retry with the same Idempotency-Key.",
            retryAfter: 2)
        let user: GetUserByIDResponse
        do { user = try await directory.getUserByID(enrolment.userId) } catch {
            return try await fail(enrolment, problem: notSent, scope: scope, caller: caller, requestId: requestId, release: true)
        }
        if user.user?.human?.phone?.isVerified == true {
            try await enableOTPSMS(enrolment.userId, phoneAPI: phoneAPI)
            var verified = enrolment
            verified.state = .verified
            verified.leaseUntil = nil
            guard
                let saved = try await update(
                    verified, completing: nil,
                    audit: auditEvent(caller, "sms_enrolment.verified", "already_verified", requestId: requestId, metadata(enrolment)))
            else { throw Self.conflict() }
            await lifecycle.cache.invalidate(userId: enrolment.userId)
            return try await complete(saved, scope: scope, status: 201)
        }
        let userId = enrolment.userId
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
                    enrolment, problem: problem, scope: scope, caller: caller, requestId: requestId, release: Self.isTransient(error))
            }
            // No code is pending for the (unverified) number, e.g. set by an administrator without one: only a new
            // SetPhone issues one, and Zitadel refuses an unchanged number, so remove it first.
            let number = try await numberAtProvider(enrolment)
            let removed = await MFALifecycleService.result { () async throws(ZitadelClientError) in
                try await phoneAPI.removePhone(userId)
            }
            Self.countForward("RemovePhone", removed.kind)
            if case .failure(let failure) = removed, Self.isDefinite(failure) {
                return try await fail(
                    enrolment, problem: GatewayProblem(.providerRejected, "Zitadel refused to send a code to this number."),
                    scope: scope, caller: caller, requestId: requestId)
            }
            let set = await MFALifecycleService.result { () async throws(ZitadelClientError) in
                try await phoneAPI.setPhone(userId, phone: number)
            }
            Self.countForward("SetPhone", set.kind)
            if case .failure(let failure) = set, Self.isDefinite(failure) {
                return try await fail(
                    enrolment, problem: GatewayProblem(.providerRejected, "Zitadel refused to send a code to this number."),
                    scope: scope, caller: caller, requestId: requestId)
            }
        }
        return try await recordSent(enrolment, scope: scope, caller: caller, requestId: requestId)
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
        else { return try await afterLostRace(enrolment, scope: scope) }
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
        let body = ProblemResponse.body(problem, requestId: requestId)
        let completion: IdempotencyCompletion =
            release ? .release(scope) : .complete(scope, StoredResponse(status: problem.status, body: body))
        var details = metadata(enrolment)
        details["problem"] = problem.code.rawValue
        guard
            try await update(
                failed, completing: completion,
                audit: auditEvent(caller, "sms_enrolment.rejected", problem.code.rawValue, requestId: requestId, details)) != nil
        else { return try await afterLostRace(enrolment, scope: scope) }
        throw problem
    }

    /// Reads the user's phone at Zitadel to learn whether an unknown-outcome SetPhone happened. Found: the code
    /// was sent. Not found: with `concludeNotSent` (the lease is over, so the call cannot still land) the
    /// enrolment is returned failed and the key released for a fresh attempt; otherwise the outcome stays
    /// unknown until the lease ends (503). Never calls SetPhone.
    func reconcile(
        _ enrolment: SMSEnrolment, scope: IdempotencyScope?, caller: EnrolmentCaller?, requestId: String?,
        concludeNotSent: Bool = true
    ) async throws -> SMSEnrolment {
        guard enrolment.state == .forwarding else { return enrolment }
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
                try await enableOTPSMS(enrolment.userId, phoneAPI: phoneAPI)
                await lifecycle.cache.invalidate(userId: enrolment.userId)
            }
            Counter(label: "gateway_sms_reconciliations_total", dimensions: [("outcome", "forwarded")]).increment()
            var sent = enrolment
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
                retryAfter: max(1, Int(saturating: ((enrolment.leaseUntil ?? now) - now).rounded(.up))))
        }
        Counter(label: "gateway_sms_reconciliations_total", dimensions: [("outcome", "not_forwarded")]).increment()
        var failed = enrolment
        failed.state = .failed
        failed.leaseUntil = nil
        failed.failure = ProblemCode.providerUnavailable.rawValue
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
    private func complete(_ enrolment: SMSEnrolment, scope: IdempotencyScope, status: Int) async throws -> EnrolmentAnswer {
        let answer = try render(enrolment, status: status, now: try await storeNow())
        do {
            try await store.finishIdempotencyKey(.complete(scope, StoredResponse(status: answer.status, body: answer.body)))
        } catch { throw Self.storeUnavailable(error, logger) }
        return answer
    }

    /// Another request updated the enrolment first: answer with what it recorded.
    private func afterLostRace(_ enrolment: SMSEnrolment, scope: IdempotencyScope) async throws -> EnrolmentAnswer {
        try await complete(try await reload(enrolment), scope: scope, status: 201)
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
        case .failed: throw GatewayProblem(.enrolmentClosed, "This enrolment failed; start a new one.")
        case .forwarding:
            throw GatewayProblem(.requestInProgress, "The code is still being sent; retry shortly.", retryAfter: 1)
        case .codeSent: break
        }
        guard now < enrolment.expiresAt else {
            throw GatewayProblem(.enrolmentExpired, "The code for this enrolment has expired; start a new enrolment.")
        }
        guard let code = Self.normalisedCode(input) else {
            throw GatewayProblem(.invalidCode, "Enter the code from the text message: 4 to 12 letters or digits.")
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

    func resend(id: String, caller: EnrolmentCaller, callerAddress: String?, requestId: String?) async throws -> EnrolmentAnswer {
        let enrolment = try await load(id: id, caller: caller)
        let now = try await storeNow()
        switch enrolment.state {
        case .verified, .failed: throw GatewayProblem(.enrolmentClosed, "This enrolment is finished; nothing to resend.")
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

    private func charges(caller: EnrolmentCaller, numberKey: String, callerAddress: String?) -> [RateLimitCharge] {
        var charges = [
            RateLimitCharge(rule: settings.user, key: "sms:user:\(caller.homeOrg):\(caller.userId)"),
            RateLimitCharge(rule: settings.number, key: "sms:number:\(numberKey)"),
            RateLimitCharge(rule: settings.tenant, key: "sms:tenant:\(caller.homeOrg)"),
            RateLimitCharge(rule: settings.global, key: "sms:global"),
        ]
        if let callerAddress {
            charges.append(RateLimitCharge(rule: settings.address, key: "sms:address:\(hash("address", callerAddress))"))
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
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let json = String(decoding: try encoder.encode(body), as: UTF8.self)
        return EnrolmentAnswer(status: status, body: json, location: status == 201 ? "\(Self.basePath)/\(enrolment.id)" : nil)
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

    static func normalisedCode(_ input: String) -> String? {
        let code = input.trimmingCharacters(in: .whitespacesAndNewlines).uppercased()
        guard (4...12).contains(code.utf8.count), code.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x41...0x5A).contains($0) })
        else { return nil }
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
