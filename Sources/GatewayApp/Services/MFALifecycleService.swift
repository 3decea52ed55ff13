import Foundation
import GatewayCore
import GatewayStore
import Logging
import Metrics
import SessionValidation
import ZitadelClient

/// Everything one snapshot is computed from, plus the record revision for compare-and-set writes.
struct LifecycleSnapshot: Sendable {
    var provider: MFAProviderState
    var policy: EffectiveMFAPolicy
    var challenge: MFAChallenge
    var decision: MFALifecycleDecision
    var record: MFALifecycleRecord
    var revision: Int
    var refreshedAt: Date
    var role: PortalRole
    var recordTenant: String
    /// The active tenant the snapshot was computed for.
    var tenant: String?
    /// Whether the session is known: without it, the recovery-code-used reminder cannot be computed.
    var sessionBinding: SessionBinding
}

/// Computes MFA lifecycle snapshots and performs lifecycle actions (docs/MFA.md, "MFA lifecycle").
struct MFALifecycleService: Sendable {
    let directory: (any ZitadelUserDirectory)?
    let store: any GatewayStore
    let validator: SessionValidator
    let policy: MFAPolicyConfiguration
    let setupURLStyle: MFASetupURLStyle
    let cache: ProviderStateCache
    let logger: Logger

    /// The refusal for integrations: the lifecycle is a portal user's.
    static let portalSessionsOnly = "The MFA lifecycle is available to portal sessions only."

    init(
        directory: (any ZitadelUserDirectory)?, store: any GatewayStore, validator: SessionValidator,
        settings: MFASettings, cacheTTL: Duration, logger: Logger
    ) {
        self.directory = directory
        self.store = store
        self.validator = validator
        self.policy = settings.policy
        self.setupURLStyle = settings.setupURLStyle
        self.cache = ProviderStateCache(ttl: cacheTTL)
        self.logger = logger
    }

    // MARK: Snapshot

    func snapshot(for caller: Caller, bypassCache: Bool = false) async throws -> LifecycleSnapshot {
        let (token, rawToken) = try caller.requireSession(Self.portalSessionsOnly)
        async let challengeLookup = validator.mfaChallenge(for: token, rawToken: rawToken, companion: caller.companion)
        let provider = await providerState(for: caller, bypassCache: bypassCache)
        var challenge = await challengeLookup
        if challenge.state == .unknown, let sessionSecondFactor = provider.sessionHasSecondFactor {
            // Neither amr nor introspection told us: the Session service's factors decide.
            challenge = MFAChallenge(
                state: sessionSecondFactor ? .satisfied : .notSatisfied, source: .sessionService, amr: nil)
        }
        return try await decide(caller: caller, provider: provider.state, challenge: challenge)
    }

    /// Folds the provider's view into the stored record (new or removed recovery-code sets) and decides.
    private func decide(
        caller: Caller, provider: MFAProviderState, challenge: MFAChallenge
    ) async throws
        -> LifecycleSnapshot
    {
        let (role, homeOrg) = try caller.requirePortalUser(Self.portalSessionsOnly)
        let (token, _) = try caller.requireSession(Self.portalSessionsOnly)
        let effective = policy.resolve(role: role, tenantId: caller.tenant, userRequiresMFA: provider.userRequiresMFA)
        var stored = try await store.lifecycleRecord(tenant: homeOrg, user: caller.userId)
        var record = stored?.record ?? MFALifecycleRecord()
        if let factors = provider.enrolledFactors {
            let present = factors.contains { $0.factor == .recoveryCode }
            if record.observe(recoveryCodesPresent: present, factorFingerprint: provider.factorFingerprint) {
                let revision = stored?.revision ?? 0
                if try await store.saveLifecycleRecord(
                    record, tenant: homeOrg, user: caller.userId, expectedRevision: revision)
                {
                    stored = StoredLifecycleRecord(record: record, revision: revision + 1)
                } else if let fresh = try await store.lifecycleRecord(tenant: homeOrg, user: caller.userId) {
                    // Another request observed the same change first.
                    stored = fresh
                    record = fresh.record
                }
            }
        }
        let urls = TrustedURLBuilder(issuer: token.issuer.issuer, style: setupURLStyle)
        let decision = MFALifecycleRules.decide(
            policy: effective, session: challenge, provider: provider, record: record, sessionId: caller.sessionId,
            urls: urls, orgId: homeOrg)
        return LifecycleSnapshot(
            provider: provider, policy: effective, challenge: challenge, decision: decision, record: record,
            revision: stored?.revision ?? 0, refreshedAt: Date(), role: role, recordTenant: homeOrg,
            tenant: caller.tenant, sessionBinding: caller.sessionBinding)
    }

    struct ProviderLookup: Sendable {
        var state: MFAProviderState
        var sessionHasSecondFactor: Bool?
    }

    /// The provider's view of the caller: cached, shared with a lookup already running, or looked up. After an
    /// action (`bypassCache`) it is always looked up afresh.
    func providerState(for caller: Caller, bypassCache: Bool) async -> ProviderLookup {
        let key = "\(caller.userId)|\(caller.sessionId ?? "")"
        guard bypassCache else { return await cache.value(for: key) { await self.lookUp(caller) } }
        let fresh = await lookUp(caller)
        await cache.store(fresh.state, for: key)
        return fresh
    }

    /// Runs the lookups concurrently; each failure degrades its part of the state instead of failing.
    private func lookUp(_ caller: Caller) async -> ProviderLookup {
        guard let directory else {
            // Without a service credential a configured user policy cannot be read: it is unknown, not absent.
            let userPolicy: Bool? = policy.userPolicyMetadataKey == nil ? false : nil
            return ProviderLookup(
                state: MFAProviderState(
                    profileAvailable: false, enrolledFactors: nil, userRequiresMFA: userPolicy, sessionUsedRecoveryCode: nil),
                sessionHasSecondFactor: nil)
        }
        let userId = caller.userId
        let metadataKey = policy.userPolicyMetadataKey
        async let user = Self.result { () async throws(ZitadelClientError) in try await directory.getUserByID(userId) }
        async let methods = Self.result { () async throws(ZitadelClientError) in
            try await directory.listAuthenticationMethodTypes(userId)
        }
        async let factors = Self.result { () async throws(ZitadelClientError) in
            try await directory.listAuthenticationFactors(userId)
        }
        async let passkeys = Self.result { () async throws(ZitadelClientError) in try await directory.listPasskeys(userId) }
        async let metadata = Self.optionalResult(metadataKey) { (key: String) async throws(ZitadelClientError) in
            try await directory.listUserMetadata(userId, key: key)
        }
        async let session = Self.optionalResult(caller.sessionId) { (id: String) async throws(ZitadelClientError) in
            try await directory.getSession(id)
        }
        var state = MFAProviderState()
        let (userResult, methodsResult, factorsResult, passkeysResult) = await (user, methods, factors, passkeys)
        let (metadataResult, sessionResult) = await (metadata, session)

        switch userResult {
        case .success(let response):
            let human = response.user?.human
            state.displayName = Self.nonBlank(human?.profile?.displayName)
            state.email = Self.nonBlank(human?.email?.email)
            state.emailVerified = state.email == nil ? nil : (human?.email?.isVerified ?? false)
            state.loginName = response.user?.preferredLoginName ?? response.user?.loginNames?.first ?? response.user?.username
            state.userLocked = response.user?.isLocked ?? false
        case .failure:
            state.profileAvailable = false
        }
        if case .success(let methods) = methodsResult, case .success(let factors) = factorsResult,
            case .success(let passkeys) = passkeysResult
        {
            state.enrolledFactors = Self.enrolledFactors(methods: methods, factors: factors, passkeys: passkeys)
        } else {
            state.enrolledFactors = nil
        }
        switch metadataResult {
        case nil: state.userRequiresMFA = false
        case .success(let response):
            let value = response.metadata?.first { $0.key == metadataKey }?.decodedValue
            state.userRequiresMFA = MFAPolicyConfiguration.userRequiresMFA(metadataValue: value)
        case .failure(let error):
            // A Zitadel without the metadata RPC, or a user without metadata, has no user policy. Any other
            // failure leaves it unknown, and an unknown policy is not compliance (the gate holds).
            if case .api(let api) = error, api.code == .notFound || api.code == .unimplemented {
                state.userRequiresMFA = false
            } else {
                state.userRequiresMFA = nil
            }
        }
        var sessionSecondFactor: Bool?
        switch sessionResult {
        case nil: state.sessionUsedRecoveryCode = false
        case .success(let response):
            state.sessionUsedRecoveryCode = response.session?.usedRecoveryCode ?? false
            sessionSecondFactor = response.session?.hasSecondFactor
        case .failure: state.sessionUsedRecoveryCode = nil
        }
        state.sessionHasSecondFactor = sessionSecondFactor
        return ProviderLookup(state: state, sessionHasSecondFactor: sessionSecondFactor)
    }

    static func result<T: Sendable>(
        _ body: @Sendable () async throws(ZitadelClientError) -> T
    ) async -> Result<T, ZitadelClientError> {
        do { return .success(try await body()) } catch { return .failure(error) }
    }

    static func optionalResult<T: Sendable>(
        _ input: String?, _ body: @Sendable (String) async throws(ZitadelClientError) -> T
    ) async -> Result<T, ZitadelClientError>? {
        guard let input else { return nil }
        do { return .success(try await body(input)) } catch { return .failure(error) }
    }

    static func nonBlank(_ value: String?) -> String? {
        guard let value, value.contains(where: { !$0.isWhitespace }) else { return nil }
        return value
    }

    /// Method types say which factors exist; factors and passkeys add the webauthn device rows.
    static func enrolledFactors(
        methods: ListAuthenticationMethodTypesResponse, factors: ListAuthenticationFactorsResponse,
        passkeys: ListPasskeysResponse
    ) -> [EnrolledFactor] {
        var result: [EnrolledFactor] = []
        var kinds = Set((methods.authMethodTypes ?? []).compactMap(MFAFactor.init(zitadelMethodType:)))
        for row in factors.result ?? [] where row.state == nil || row.state == "AUTH_FACTOR_STATE_READY" {
            if row.otp != nil { kinds.insert(.totp) }
            if row.otpSms != nil { kinds.insert(.smsOTP) }
            if row.otpEmail != nil { kinds.insert(.emailOTP) }
            if let u2f = row.u2f {
                result.append(EnrolledFactor(factor: .webauthn, id: u2f.id, label: u2f.name, kind: "security_key"))
            }
        }
        for passkey in passkeys.result ?? [] where passkey.state == nil || passkey.state == "AUTH_FACTOR_STATE_READY" {
            result.append(EnrolledFactor(factor: .webauthn, id: passkey.id, label: passkey.name, kind: "passkey"))
        }
        for kind in kinds.sorted() where kind != .webauthn {
            result.append(EnrolledFactor(factor: kind))
        }
        if kinds.contains(.webauthn) && !result.contains(where: { $0.factor == .webauthn }) {
            result.append(EnrolledFactor(factor: .webauthn))
        }
        return result.sorted { ($0.factor, $0.id ?? "") < ($1.factor, $1.id ?? "") }
    }

    // MARK: Actions

    /// Checks availability and the marker, records the change (compare-and-set), audits, and re-decides.
    func perform(
        _ action: MFALifecycleAction, marker: String?, caller: Caller, requestId: String?
    ) async throws -> (LifecycleSnapshot, url: String?) {
        if action == .refresh {
            await cache.invalidate(userId: caller.userId)
            let fresh = try await snapshot(for: caller, bypassCache: true)
            await audit(caller, action, "ok", requestId: requestId, ["status": fresh.decision.status.rawValue])
            return (fresh, nil)
        }
        let current = try await snapshot(for: caller)
        guard let marker, marker == current.decision.marker else {
            await audit(caller, action, "stale_marker", requestId: requestId)
            throw StaleMarker(snapshot: current)
        }
        guard current.decision.isAvailable(action) else {
            await audit(caller, action, "unavailable", requestId: requestId)
            throw GatewayProblem(.actionUnavailable, "This action is not available for the current account state.")
        }
        let url = current.decision.url(for: action)
        var record = current.record
        switch action {
        case .openMFASetup, .refresh:
            await audit(caller, action, "ok", requestId: requestId)
            return (current, url)
        case .recoveryCodesStored:
            record.recoveryCodesAcknowledged = true
            record.version += 1
        case .recoveryCodesReviewed:
            guard let sessionId = caller.sessionId else {
                throw GatewayProblem(.actionUnavailable, "This action is not available for the current account state.")
            }
            record.markReviewed(session: sessionId)
        case .recoveryCodesRegenerated:
            // A regenerated set is a new set: it needs storing again.
            record.regenerations += 1
            record.recoveryCodesAcknowledged = false
            record.version += 1
        case .openMFAManagementToDisable:
            record.disableLaunches += 1
            record.version += 1
        }
        let saved = try await store.saveLifecycleRecord(
            record, tenant: current.recordTenant, user: caller.userId, expectedRevision: current.revision)
        guard saved else {
            // Another tab changed the record between our read and write.
            await audit(caller, action, "stale_marker", requestId: requestId)
            throw StaleMarker(snapshot: try await snapshot(for: caller))
        }
        await audit(caller, action, "ok", requestId: requestId)
        let updated = try await decide(caller: caller, provider: current.provider, challenge: current.challenge)
        return (updated, url)
    }

    /// Audit writes never fail the action they describe; a failure is logged.
    func audit(
        _ caller: Caller, _ action: MFALifecycleAction, _ outcome: String, requestId: String?,
        _ metadata: [String: String] = [:]
    ) async {
        var metadata = metadata
        if let role = caller.role { metadata["role"] = role.rawValue }
        do {
            try await store.appendAuditEvent(
                AuditEvent(
                    tenant: caller.auditTenant, actor: caller.userId, session: caller.sessionId,
                    action: "mfa_lifecycle.\(action.rawValue)", outcome: outcome, metadata: metadata,
                    requestId: requestId))
        } catch {
            logger.error("Audit write failed", metadata: ["action": "\(action.rawValue)"])
        }
    }

    /// Compliance for the remediation gate (cached provider state).
    func isCompliant(_ caller: Caller) async -> Bool {
        guard let snapshot = try? await snapshot(for: caller) else { return false }
        return snapshot.decision.mfaCompliant
    }
}

/// A stale marker: answered 409 with the fresh snapshot.
struct StaleMarker: Error {
    var snapshot: LifecycleSnapshot
}
