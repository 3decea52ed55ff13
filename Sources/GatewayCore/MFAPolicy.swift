/// A second factor the portal recognises; Zitadel's method types map onto these.
public enum MFAFactor: String, Sendable, Codable, CaseIterable, Comparable, Hashable {
    case totp
    case recoveryCode = "recovery_code"
    case emailOTP = "email_otp"
    case smsOTP = "sms_otp"
    case webauthn

    /// Maps a Zitadel `AUTHENTICATION_METHOD_TYPE_*` name (prefix optional); password and IdP are no second factor.
    public init?(zitadelMethodType name: String) {
        let short = name.hasPrefix("AUTHENTICATION_METHOD_TYPE_") ? String(name.dropFirst(27)) : name
        switch short {
        case "TOTP": self = .totp
        case "RECOVERY_CODE": self = .recoveryCode
        case "OTP_EMAIL": self = .emailOTP
        case "OTP_SMS": self = .smsOTP
        case "PASSKEY", "U2F": self = .webauthn
        default: return nil
        }
    }

    /// Factors that prove possession on their own; a recovery-code set alone is a fallback, not an enrolment.
    public var isPrimarySecondFactor: Bool { self != .recoveryCode }

    private var order: Int { Self.allCases.firstIndex(of: self) ?? 0 }
    public static func < (lhs: MFAFactor, rhs: MFAFactor) -> Bool { lhs.order < rhs.order }
}

/// Whether a second factor is mandatory.
public enum MFARequirement: String, Sendable, Codable {
    case required
    case optional
    /// Resolved only, never configured: the user policy could not be read and nothing else requires MFA. Not
    /// compliance: the remediation gate holds until the policy is known (or MFA is satisfied).
    case unknown
}

/// Which rule decided the effective requirement.
public enum MFAPolicySource: String, Sendable, Codable {
    case role
    case tenant
    case user
}

/// A role's default: its requirement and the factors it may use.
public struct RoleMFAPolicy: Sendable, Equatable {
    public var requirement: MFARequirement
    public var factors: [MFAFactor]

    public init(requirement: MFARequirement, factors: [MFAFactor]) {
        self.requirement = requirement
        self.factors = factors
    }
}

/// A tenant's explicit policy: it can only raise the requirement and deny factors.
public struct TenantMFAPolicy: Sendable, Equatable {
    public var required: Bool
    public var deniedFactors: Set<MFAFactor>

    public init(required: Bool = false, deniedFactors: Set<MFAFactor> = []) {
        self.required = required
        self.deniedFactors = deniedFactors
    }
}

/// The effective policy for one principal in one tenant.
public struct EffectiveMFAPolicy: Sendable, Equatable {
    public var requirement: MFARequirement
    public var source: MFAPolicySource
    public var allowedFactors: [MFAFactor]

    public init(requirement: MFARequirement, source: MFAPolicySource, allowedFactors: [MFAFactor]) {
        self.requirement = requirement
        self.source = source
        self.allowedFactors = allowedFactors
    }

    public var isMandatory: Bool { requirement == .required }
}

/// MFA policy from configuration: per role defaults, per tenant overrides, and the user metadata key.
public struct MFAPolicyConfiguration: Sendable, Equatable {
    public var roles: [PortalRole: RoleMFAPolicy]
    public var tenants: [String: TenantMFAPolicy]
    /// The Zitadel user metadata key whose value `required` raises a user's policy; nil disables user policy.
    public var userPolicyMetadataKey: String?

    public init(
        roles: [PortalRole: RoleMFAPolicy] = MFAPolicyConfiguration.defaultRoles,
        tenants: [String: TenantMFAPolicy] = [:], userPolicyMetadataKey: String? = nil
    ) {
        self.roles = roles
        self.tenants = tenants
        self.userPolicyMetadataKey = userPolicyMetadataKey
    }

    /// Partners (cross-tenant access) must use MFA with phishing-resistant or offline factors; customers may.
    public static let defaultRoles: [PortalRole: RoleMFAPolicy] = {
        let client = RoleMFAPolicy(requirement: .optional, factors: [.totp, .webauthn, .recoveryCode, .emailOTP, .smsOTP])
        let partner = RoleMFAPolicy(requirement: .required, factors: [.totp, .webauthn, .recoveryCode])
        return [
            .clientAdmin: client, .clientManager: client, .clientStaff: client, .partnerAdmin: partner,
            .partnerUser: partner,
        ]
    }()

    /// Role default, raised by the tenant then the user policy; allowed factors are the role's minus tenant denials.
    /// `userRequiresMFA` nil (the user policy lookup failed) leaves an otherwise optional requirement `unknown`.
    public func resolve(role: PortalRole, tenantId: String?, userRequiresMFA: Bool?) -> EffectiveMFAPolicy {
        let rolePolicy = roles[role] ?? Self.defaultRoles[role] ?? RoleMFAPolicy(requirement: .required, factors: [])
        let tenant = tenantId.flatMap { tenants[$0] } ?? TenantMFAPolicy()
        var requirement = rolePolicy.requirement
        var source = MFAPolicySource.role
        if requirement == .optional && tenant.required {
            requirement = .required
            source = .tenant
        }
        if requirement == .optional && userRequiresMFA != false {
            requirement = userRequiresMFA == nil ? .unknown : .required
            source = .user
        }
        let allowed = rolePolicy.factors.filter { !tenant.deniedFactors.contains($0) }.sorted()
        return EffectiveMFAPolicy(requirement: requirement, source: source, allowedFactors: allowed)
    }

    /// Interprets the user policy metadata value (already base64-decoded): `required` (case-insensitive) raises.
    public static func userRequiresMFA(metadataValue: String?) -> Bool {
        guard let value = metadataValue else { return false }
        return value.filter { !$0.isWhitespace }.lowercased() == "required"
    }
}
