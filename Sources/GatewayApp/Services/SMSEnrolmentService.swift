import Crypto
import Foundation
import GatewayCore
import GatewayStore
import Logging
import Metrics
import ZitadelClient

/// SMS one-time-code enrolment, exactly once (docs/MFA.md, "SMS one-time-code enrolment").
///
/// The ledger records the intent before SetPhone and the outcome after it, so a forward is never repeated: a
/// duplicate request replays, waits, or joins the open enrolment; a forward whose outcome is unknown (timeout,
/// crash) is reconciled by reading the user's phone at Zitadel.
///
/// The workflow answers with an `SMSEnrolmentOutcome` or throws a `GatewayProblem`; the presenter spells both,
/// including the answers an Idempotency-Key replays, which the workflow records as the presenter renders them.
struct SMSEnrolmentService: Sendable {
    let phoneAPI: (any ZitadelPhoneEnrolment)?
    let directory: (any ZitadelUserDirectory)?
    let store: any GatewayStore
    let lifecycle: MFALifecycleService
    let settings: SMSSettings
    let digests: SMSNumberDigest
    let presenter: SMSEnrolmentPresenter
    /// How long a forwarding request owns its SetPhone call (longer than the provider deadline).
    let leaseSeconds: Double
    let logger: Logger

    /// Requests of one user waiting in this process for another request's forward.
    let waiters = ClaimWaiters()

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

    init(
        phoneAPI: (any ZitadelPhoneEnrolment)?, directory: (any ZitadelUserDirectory)?, store: any GatewayStore,
        lifecycle: MFALifecycleService, settings: SMSSettings, numberKey: SymmetricKey, leaseSeconds: Double, logger: Logger
    ) {
        self.phoneAPI = phoneAPI
        self.directory = directory
        self.store = store
        self.lifecycle = lifecycle
        self.settings = settings
        self.digests = SMSNumberDigest(key: numberKey)
        self.presenter = SMSEnrolmentPresenter(limits: settings.limits)
        self.leaseSeconds = leaseSeconds
        self.logger = logger
    }

    // MARK: Start

    /// Starts an enrolment for `phone` under the (validated) Idempotency-Key, or answers for the key's earlier one.
    func create(
        phone input: String, idempotencyKey key: String, caller: Caller, callerAddress: CallerAddress?, requestId: String?
    ) async throws -> SMSEnrolmentOutcome {
        let homeOrg = try requireSMSAllowed(caller)
        let mobile: AustralianMobile
        do { mobile = try AustralianMobile(parsing: input) } catch { throw GatewayProblem(.invalidPhone, error.message) }
        guard let phoneAPI else {
            throw GatewayProblem(.providerUnavailable, "SMS enrolment is not configured (no Zitadel credential).", retryAfter: 30)
        }
        let numberKey = digests.number(mobile.e164)
        let scope = IdempotencyScope(tenant: homeOrg, userId: caller.userId, key: key)
        let claim = SMSEnrolmentClaim(
            scope: scope, fingerprint: digests.request(mobile.e164), numberKey: numberKey,
            maskedPhone: mobile.masked, enrolmentId: Self.newId(), leaseSeconds: leaseSeconds,
            codeLifetimeSeconds: settings.limits.codeLifetimeSeconds,
            charges: charges(caller: caller, homeOrg: homeOrg, numberKey: numberKey, callerAddress: callerAddress),
            audit: auditEvent(caller, "sms_enrolment.requested", "claimed", requestId: requestId, ["phone": mobile.masked]))
        let deadline = ContinuousClock.now + .seconds(leaseSeconds)
        let waiter = "\(homeOrg)\u{0}\(caller.userId)"
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
                return .replayed(stored)
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
                return try await settle(current, scope: scope, created: createdByKey, requestId: requestId)
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
    func settle(
        _ enrolment: SMSEnrolment, scope: IdempotencyScope, created: Bool, requestId: String?
    ) async throws -> SMSEnrolmentOutcome {
        let now = try await storeNow()
        let problem: GatewayProblem
        switch enrolment.state {
        case .forwarding:
            // Another request holds it now (this one lost a race): its outcome is theirs to record.
            throw GatewayProblem(.requestInProgress, "This enrolment is still being sent; retry shortly.", retryAfter: 1)
        case .verified:
            return try await complete(enrolment, scope: scope, created: created, now: now)
        case .codeSent:
            guard now >= enrolment.expiresAt else {
                return try await complete(enrolment, scope: scope, created: created, now: now)
            }
            problem = GatewayProblem(
                .enrolmentExpired, "This enrolment's code has expired; start a new enrolment with a new Idempotency-Key.")
        case .failed:
            problem = Self.closedProblem(enrolment)
        }
        let stored = presenter.recorded(problem, requestId: requestId)
        do { try await store.finishIdempotencyKey(.complete(scope, stored)) } catch { throw Self.storeUnavailable(error, logger) }
        throw problem
    }

    /// Binds the key to the enrolment's current state and answers with it.
    func complete(
        _ enrolment: SMSEnrolment, scope: IdempotencyScope, created: Bool, now: Double
    ) async throws -> SMSEnrolmentOutcome {
        let outcome = SMSEnrolmentOutcome.enrolment(enrolment, now: now, created: created)
        let stored = try presenter.recorded(outcome)
        do { try await store.finishIdempotencyKey(.complete(scope, stored)) } catch { throw Self.storeUnavailable(error, logger) }
        return outcome
    }

    /// Another request updated the enrolment first: answer with what it recorded.
    func afterLostRace(
        _ enrolment: SMSEnrolment, scope: IdempotencyScope, requestId: String?
    ) async throws -> SMSEnrolmentOutcome {
        try await settle(try await reload(enrolment), scope: scope, created: true, requestId: requestId)
    }

    func reload(_ enrolment: SMSEnrolment) async throws -> SMSEnrolment {
        do {
            guard let fresh = try await store.smsEnrolment(id: enrolment.id, tenant: enrolment.tenant, userId: enrolment.userId)
            else { throw GatewayProblem.notFound() }
            return fresh
        } catch let problem as GatewayProblem { throw problem } catch { throw Self.storeUnavailable(error, logger) }
    }

    // MARK: Parts

    /// Refuses a caller SMS codes are not for (not a portal user, or a policy without them); returns the user's
    /// organisation, where the enrolment lives.
    @discardableResult
    func requireSMSAllowed(_ caller: Caller) throws -> String {
        let (role, homeOrg) = try caller.requirePortalUser(MFALifecycleService.portalSessionsOnly)
        let policy = lifecycle.policy.resolve(role: role, tenantId: caller.tenant, userRequiresMFA: false)
        guard policy.allowedFactors.contains(.smsOTP) else {
            throw GatewayProblem(.factorNotAllowed, "SMS one-time codes are not allowed for this account.")
        }
        return homeOrg
    }

    func charges(caller: Caller, homeOrg: String, numberKey: String, callerAddress: CallerAddress?) -> [RateLimitCharge] {
        var charges = [
            RateLimitCharge(rule: settings.user, key: "sms:user:\(homeOrg):\(caller.userId)"),
            RateLimitCharge(rule: settings.number, key: "sms:number:\(numberKey)"),
            RateLimitCharge(rule: settings.tenant, key: "sms:tenant:\(homeOrg)"),
            RateLimitCharge(rule: settings.global, key: "sms:global"),
        ]
        if let callerAddress {
            charges.append(RateLimitCharge(rule: settings.address, key: "sms:address:\(digests.address(callerAddress))"))
        }
        return charges
    }

    func update(
        _ enrolment: SMSEnrolment, completing: IdempotencyCompletion?, audit: AuditEvent?
    ) async throws
        -> SMSEnrolment?
    {
        do { return try await store.updateSMSEnrolment(enrolment, completing: completing, audit: audit) } catch {
            throw Self.storeUnavailable(error, logger)
        }
    }

    func storeNow() async throws -> Double {
        do { return try await store.now() } catch { throw Self.storeUnavailable(error, logger) }
    }

    func metadata(_ enrolment: SMSEnrolment) -> [String: String] {
        ["enrolmentId": enrolment.id, "phone": enrolment.maskedPhone]
    }

    func auditEvent(
        _ caller: Caller?, _ action: String, _ outcome: String, requestId: String?, _ metadata: [String: String],
        fallback: SMSEnrolment? = nil
    ) -> AuditEvent {
        var metadata = metadata
        if let role = caller?.role { metadata["role"] = role.rawValue }
        return AuditEvent(
            tenant: caller?.auditTenant ?? fallback?.tenant ?? "-", actor: caller?.userId ?? "gateway",
            session: caller?.sessionId, action: action, outcome: outcome, metadata: metadata, requestId: requestId)
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

    /// A failed enrolment the key may forward afresh: read as not applied, or refused for the moment.
    static func mayForwardAgain(_ enrolment: SMSEnrolment) -> Bool {
        enrolment.failure == notForwarded || enrolment.failure == ProblemCode.providerUnavailable.rawValue
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
