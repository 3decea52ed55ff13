/// Whether the user has a usable second factor.
public enum MFAEnrollment: String, Sendable, Codable {
    case enrolled
    case notEnrolled = "not_enrolled"
    case unknown
}

/// The challenge state of the current session, as the snapshot reports it.
public enum MFAChallengeStatus: String, Sendable, Codable {
    case satisfied
    case required
    case failed
    case unknown
}

/// The portal's security status (docs/MFA.md, "Decision tables").
public enum MFASecurityStatus: String, Sendable, Codable, CaseIterable {
    case unavailable
    case failed
    case required
    case pending
    case satisfied
    case optional
}

/// Which recovery-code prompt the portal shows.
public enum RecoveryCodeReminder: String, Sendable, Codable {
    case none
    case storeNewSet = "store_new_set"
    case reviewAfterUse = "review_after_use"
}

/// The lifecycle actions the portal can request.
public enum MFALifecycleAction: String, Sendable, Codable, CaseIterable {
    case openMFASetup = "open_mfa_setup"
    case recoveryCodesStored = "recovery_codes_stored"
    case recoveryCodesReviewed = "recovery_codes_reviewed"
    case recoveryCodesRegenerated = "recovery_codes_regenerated"
    case openMFAManagementToDisable = "open_mfa_management_to_disable"
    case refresh

    /// Every action but `refresh` needs the current marker.
    public var requiresMarker: Bool { self != .refresh }
}

/// One enrolled factor as the provider reports it; webauthn rows carry the device label when known.
public struct EnrolledFactor: Sendable, Equatable, Codable, Hashable {
    public var factor: MFAFactor
    /// Provider id (passkey or U2F id); nil for factors a user has at most one of.
    public var id: String?
    /// Device label (passkey or security key name) when reported.
    public var label: String?
    /// `passkey` or `security_key` for webauthn rows.
    public var kind: String?
    /// Zitadel reports no last-used time today; kept for when it does.
    public var lastUsedAt: String?

    public init(factor: MFAFactor, id: String? = nil, label: String? = nil, kind: String? = nil, lastUsedAt: String? = nil) {
        self.factor = factor
        self.id = id
        self.label = label
        self.kind = kind
        self.lastUsedAt = lastUsedAt
    }
}

/// The gateway's own record of a user's lifecycle in one tenant (persisted in the store).
public struct MFALifecycleRecord: Sendable, Equatable, Codable {
    /// Whether the provider reported a recovery-code set when last observed.
    public var recoveryCodesPresent: Bool
    /// Whether the current recovery-code set has been acknowledged as stored.
    public var recoveryCodesAcknowledged: Bool
    /// Sessions in which a used recovery code was reviewed (most recent last, bounded).
    public var reviewedSessions: [String]
    /// Fingerprint of the provider-reported factor set when last observed.
    public var factorFingerprint: String?
    /// How many disable launches were recorded.
    public var disableLaunches: Int
    /// How many recovery-code regenerations were recorded.
    public var regenerations: Int
    /// Incremented on every change, so that a record change always changes the marker.
    public var version: Int

    public init(
        recoveryCodesPresent: Bool = false, recoveryCodesAcknowledged: Bool = false, reviewedSessions: [String] = [],
        factorFingerprint: String? = nil, disableLaunches: Int = 0, regenerations: Int = 0, version: Int = 0
    ) {
        self.recoveryCodesPresent = recoveryCodesPresent
        self.recoveryCodesAcknowledged = recoveryCodesAcknowledged
        self.reviewedSessions = reviewedSessions
        self.factorFingerprint = factorFingerprint
        self.disableLaunches = disableLaunches
        self.regenerations = regenerations
        self.version = version
    }

    public static let maxReviewedSessions = 20

    /// Folds in the provider's current view: a recovery-code set that appeared (new or re-enabled) needs a fresh
    /// acknowledgement; one that disappeared resets it. Returns true when the record changed.
    public mutating func observe(recoveryCodesPresent present: Bool, factorFingerprint fingerprint: String) -> Bool {
        var changed = false
        if present != recoveryCodesPresent {
            recoveryCodesPresent = present
            recoveryCodesAcknowledged = false
            changed = true
        }
        if fingerprint != factorFingerprint {
            factorFingerprint = fingerprint
            changed = true
        }
        if changed { version += 1 }
        return changed
    }

    public mutating func markReviewed(session: String) {
        reviewedSessions.removeAll { $0 == session }
        reviewedSessions.append(session)
        if reviewedSessions.count > Self.maxReviewedSessions {
            reviewedSessions.removeFirst(reviewedSessions.count - Self.maxReviewedSessions)
        }
        version += 1
    }
}

/// What the provider told us about the user, each lookup possibly failed (nil).
public struct MFAProviderState: Sendable, Equatable {
    public var displayName: String?
    public var email: String?
    public var emailVerified: Bool?
    public var loginName: String?
    /// Profile lookup succeeded.
    public var profileAvailable: Bool
    /// The user is locked at the provider (too many failed checks).
    public var userLocked: Bool
    /// Enrolled factors from method types, factors and passkeys; nil when any of those lookups failed.
    public var enrolledFactors: [EnrolledFactor]?
    /// Whether the user's policy metadata says `required`; nil when the lookup failed.
    public var userRequiresMFA: Bool?
    /// The session used a recovery code; nil when the session's factors could not be read.
    public var sessionUsedRecoveryCode: Bool?
    /// The Session service saw a second factor in this session; nil when unknown (used when `amr` is absent).
    public var sessionHasSecondFactor: Bool?

    public init(
        displayName: String? = nil, email: String? = nil, emailVerified: Bool? = nil, loginName: String? = nil,
        profileAvailable: Bool = true, userLocked: Bool = false, enrolledFactors: [EnrolledFactor]? = [],
        userRequiresMFA: Bool? = false, sessionUsedRecoveryCode: Bool? = false
    ) {
        self.displayName = displayName
        self.email = email
        self.emailVerified = emailVerified
        self.loginName = loginName
        self.profileAvailable = profileAvailable
        self.userLocked = userLocked
        self.enrolledFactors = enrolledFactors
        self.userRequiresMFA = userRequiresMFA
        self.sessionUsedRecoveryCode = sessionUsedRecoveryCode
    }

    /// Every lookup the decision depends on answered.
    public var lookupsSucceeded: Bool { profileAvailable && enrolledFactors != nil && userRequiresMFA != nil }

    /// A stable fingerprint of the enrolled factor set (the marker's provider half).
    public var factorFingerprint: String {
        guard let factors = enrolledFactors else { return "unknown" }
        let rows = factors.map { "\($0.factor.rawValue):\($0.id ?? ""):\($0.kind ?? "")" }.sorted()
        return SHA256Digest.hex(rows.joined(separator: "\n")).prefix(32).description
    }
}

/// An action as offered to the portal.
public struct AvailableAction: Sendable, Equatable, Codable {
    public var action: MFALifecycleAction
    public var url: String?

    public init(action: MFALifecycleAction, url: String?) {
        self.action = action
        self.url = url
    }
}

/// The computed MFA lifecycle snapshot, less the presentation fields the HTTP layer adds.
public struct MFALifecycleDecision: Sendable, Equatable {
    public var policy: EffectiveMFAPolicy
    public var enrollment: MFAEnrollment
    public var challenge: MFAChallengeStatus
    public var status: MFASecurityStatus
    public var reminder: RecoveryCodeReminder
    public var mfaCompliant: Bool
    public var actions: [AvailableAction]
    public var marker: String

    public func isAvailable(_ action: MFALifecycleAction) -> Bool {
        actions.contains { $0.action == action }
    }

    public func url(for action: MFALifecycleAction) -> String? {
        actions.first { $0.action == action }?.url
    }
}

/// The decision tables of docs/MFA.md, as pure functions.
public enum MFALifecycleRules {
    public static func enrollment(_ provider: MFAProviderState) -> MFAEnrollment {
        guard let factors = provider.enrolledFactors else { return .unknown }
        return factors.contains { $0.factor.isPrimarySecondFactor } ? .enrolled : .notEnrolled
    }

    /// Session challenge from `amr` or introspection; a provider lock means the factor check failed.
    public static func challenge(session: MFAChallenge, provider: MFAProviderState) -> MFAChallengeStatus {
        if provider.userLocked { return .failed }
        switch session.state {
        case .satisfied: return .satisfied
        case .notSatisfied: return .required
        case .unknown: return .unknown
        }
    }

    /// First match wins.
    public static func status(
        policy: EffectiveMFAPolicy, enrollment: MFAEnrollment, challenge: MFAChallengeStatus, lookupsSucceeded: Bool
    ) -> MFASecurityStatus {
        if !lookupsSucceeded || enrollment == .unknown || challenge == .unknown { return .unavailable }
        if challenge == .failed { return .failed }
        if policy.requirement == .required && enrollment == .notEnrolled { return .required }
        if policy.requirement == .required && enrollment == .enrolled && challenge != .satisfied { return .pending }
        if enrollment == .enrolled && challenge == .satisfied { return .satisfied }
        return .optional
    }

    public static func compliant(policy: EffectiveMFAPolicy, status: MFASecurityStatus) -> Bool {
        policy.requirement == .optional || status == .satisfied
    }

    /// A new or re-enabled set awaiting acknowledgement first; then a recovery code used in this session.
    public static func reminder(
        record: MFALifecycleRecord, provider: MFAProviderState, sessionId: String?
    ) -> RecoveryCodeReminder {
        let hasRecoveryCodes = provider.enrolledFactors?.contains { $0.factor == .recoveryCode } ?? record.recoveryCodesPresent
        if hasRecoveryCodes && !record.recoveryCodesAcknowledged { return .storeNewSet }
        if provider.sessionUsedRecoveryCode == true, let sessionId, !record.reviewedSessions.contains(sessionId) {
            return .reviewAfterUse
        }
        return .none
    }

    public static func actions(
        policy: EffectiveMFAPolicy, enrollment: MFAEnrollment, reminder: RecoveryCodeReminder, setupURL: String?,
        managementURL: String?
    ) -> [AvailableAction] {
        var actions: [AvailableAction] = []
        if let setupURL, !policy.allowedFactors.isEmpty {
            actions.append(AvailableAction(action: .openMFASetup, url: setupURL))
        }
        if reminder == .storeNewSet { actions.append(AvailableAction(action: .recoveryCodesStored, url: nil)) }
        if reminder == .reviewAfterUse { actions.append(AvailableAction(action: .recoveryCodesReviewed, url: nil)) }
        if enrollment == .enrolled, let setupURL, policy.allowedFactors.contains(.recoveryCode) {
            actions.append(AvailableAction(action: .recoveryCodesRegenerated, url: setupURL))
        }
        if policy.requirement == .optional, enrollment == .enrolled, let managementURL {
            actions.append(AvailableAction(action: .openMFAManagementToDisable, url: managementURL))
        }
        actions.append(AvailableAction(action: .refresh, url: nil))
        return actions
    }

    /// The marker: a digest of the lifecycle record and the provider-reported factor set.
    public static func marker(record: MFALifecycleRecord, provider: MFAProviderState) -> String {
        let input = [
            "v1", String(record.version), String(record.recoveryCodesPresent), String(record.recoveryCodesAcknowledged),
            record.reviewedSessions.joined(separator: ","), String(record.disableLaunches), String(record.regenerations),
            provider.factorFingerprint,
        ].joined(separator: "|")
        return String(SHA256Digest.hex(input).prefix(32))
    }

    /// The whole decision for one snapshot.
    public static func decide(
        policy: EffectiveMFAPolicy, session: MFAChallenge, provider: MFAProviderState, record: MFALifecycleRecord,
        sessionId: String?, urls: TrustedURLBuilder, orgId: String?
    ) -> MFALifecycleDecision {
        let enrollment = enrollment(provider)
        let challenge = challenge(session: session, provider: provider)
        let status = status(
            policy: policy, enrollment: enrollment, challenge: challenge, lookupsSucceeded: provider.lookupsSucceeded)
        let reminder = reminder(record: record, provider: provider, sessionId: sessionId)
        let setup = urls.setupURL(loginName: provider.loginName, orgId: orgId)
        let management = urls.managementURL(loginName: provider.loginName, orgId: orgId)
        return MFALifecycleDecision(
            policy: policy, enrollment: enrollment, challenge: challenge, status: status, reminder: reminder,
            mfaCompliant: compliant(policy: policy, status: status),
            actions: actions(
                policy: policy, enrollment: enrollment, reminder: reminder, setupURL: setup, managementURL: management),
            marker: marker(record: record, provider: provider))
    }
}
