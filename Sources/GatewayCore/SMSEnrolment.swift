/// Where an SMS one-time-code enrolment is.
public enum SMSEnrolmentState: String, Sendable, Codable, CaseIterable {
    /// SetPhone is being forwarded (or its outcome is unknown until reconciled).
    case forwarding
    /// Zitadel sent the code; waiting for the user to enter it.
    case codeSent = "code_sent"
    /// The number is verified and SMS one-time codes are enabled at Zitadel.
    case verified
    /// Zitadel refused the number, or the forward was confirmed not to have happened.
    case failed
}

/// One enrolment, as stored: never the number itself, only its keyed hash and a masked tail.
public struct SMSEnrolment: Sendable, Equatable, Codable {
    public var id: String
    public var tenant: String
    public var userId: String
    /// HMAC-SHA256 of the E.164 number under the gateway's number key (hex).
    public var numberKey: String
    public var maskedPhone: String
    public var state: SMSEnrolmentState
    /// Seconds since 1970, store clock.
    public var createdAt: Double
    public var updatedAt: Double
    /// When the code stops being accepted (from the last send).
    public var expiresAt: Double
    public var lastSentAt: Double?
    /// While `forwarding`: until when the forwarding request owns the call; after it, the outcome is unknown.
    public var leaseUntil: Double?
    public var verificationAttempts: Int
    public var resends: Int
    /// Why it failed (a problem code), when it did.
    public var failure: String?
    /// Compare-and-set revision, maintained by the store.
    public var revision: Int

    public init(
        id: String, tenant: String, userId: String, numberKey: String, maskedPhone: String,
        state: SMSEnrolmentState, createdAt: Double, updatedAt: Double, expiresAt: Double, lastSentAt: Double? = nil,
        leaseUntil: Double? = nil, verificationAttempts: Int = 0, resends: Int = 0, failure: String? = nil,
        revision: Int = 1
    ) {
        self.id = id
        self.tenant = tenant
        self.userId = userId
        self.numberKey = numberKey
        self.maskedPhone = maskedPhone
        self.state = state
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.expiresAt = expiresAt
        self.lastSentAt = lastSentAt
        self.leaseUntil = leaseUntil
        self.verificationAttempts = verificationAttempts
        self.resends = resends
        self.failure = failure
        self.revision = revision
    }

    /// Still blocks a second enrolment of the same number: a forward in flight, or a code not yet expired.
    public func isOpen(at now: Double) -> Bool {
        switch state {
        case .forwarding: true
        case .codeSent: now < expiresAt
        case .verified, .failed: false
        }
    }

    /// A forward whose owner is gone (crash, timeout) must be reconciled by reading the provider.
    public func forwardIsOrphaned(at now: Double) -> Bool {
        state == .forwarding && (leaseUntil ?? 0) <= now
    }
}

/// Per-enrolment limits and lifetimes.
public struct SMSEnrolmentLimits: Sendable, Equatable {
    /// How long a sent code is accepted.
    public var codeLifetimeSeconds: Double
    public var maxVerificationAttempts: Int
    public var maxResends: Int
    /// Minimum time between two sends of the same enrolment.
    public var resendIntervalSeconds: Double

    public init(
        codeLifetimeSeconds: Double = 600, maxVerificationAttempts: Int = 5, maxResends: Int = 3,
        resendIntervalSeconds: Double = 30
    ) {
        self.codeLifetimeSeconds = codeLifetimeSeconds
        self.maxVerificationAttempts = maxVerificationAttempts
        self.maxResends = maxResends
        self.resendIntervalSeconds = resendIntervalSeconds
    }
}
