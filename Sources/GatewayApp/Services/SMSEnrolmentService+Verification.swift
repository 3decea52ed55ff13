import Foundation
import GatewayCore
import GatewayStore
import Logging
import Metrics
import ZitadelClient

/// Verifying the code and sending another one.
extension SMSEnrolmentService {
    func verify(id: String, code input: String, caller: Caller, requestId: String?) async throws -> SMSEnrolmentOutcome {
        var enrolment = try await load(id: id, caller: caller)
        if enrolment.forwardIsOrphaned(at: try await storeNow()) {
            enrolment = try await reconcile(enrolment, scope: nil, caller: caller, requestId: requestId)
        }
        let now = try await storeNow()
        switch enrolment.state {
        case .verified: return .enrolment(enrolment, now: now, created: false)
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
        else { return .enrolment(try await reload(counted), now: now, created: false) }
        await lifecycle.cache.invalidate(userId: counted.userId)
        return .enrolment(saved, now: now, created: false)
    }

    /// Whether the user's phone at Zitadel is this enrolment's number and verified; nil when it cannot be read.
    func phoneIsVerified(_ enrolment: SMSEnrolment) async -> Bool? {
        guard let user = try? await directory?.getUserByID(enrolment.userId) else { return nil }
        guard let phone = user.user?.human?.phone, let number = phone.phone.flatMap({ try? AustralianMobile(parsing: $0) }),
            digests.number(number.e164) == enrolment.numberKey
        else { return false }
        return phone.isVerified == true
    }

    func resend(
        id: String, caller: Caller, callerAddress: CallerAddress?, requestId: String?
    ) async throws -> SMSEnrolmentOutcome {
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
                charges(caller: caller, homeOrg: enrolment.tenant, numberKey: enrolment.numberKey, callerAddress: callerAddress).filter {
                    $0.rule.name != "user"
                },
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
            if error.classification != .outcomeUnknown {
                outcome = "rejected"
                refused =
                    error.classification == .unavailable
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
        return .enrolment(saved, now: now, created: false)
    }

    func load(id: String, caller: Caller) async throws -> SMSEnrolment {
        guard Self.isWellFormedId(id) else { throw GatewayProblem.notFound() }
        let found: SMSEnrolment?
        let homeOrg = try caller.requirePortalUser(MFALifecycleService.portalSessionsOnly).homeOrg
        do { found = try await store.smsEnrolment(id: id, tenant: homeOrg, userId: caller.userId) } catch {
            throw Self.storeUnavailable(error, logger)
        }
        guard let found else { throw GatewayProblem.notFound() }
        return found
    }
}
