import Configuration
import GatewayCore
import HTTPTypes
import SessionValidation

/// SMS one-time-code enrolment settings (`sms.*`).
public struct SMSSettings: Sendable {
    public var limits: SMSEnrolmentLimits
    /// Per user, per number, per tenant, per caller address, and the global daily budget.
    public var user: RateLimitRule
    public var number: RateLimitRule
    public var tenant: RateLimitRule
    public var address: RateLimitRule
    public var global: RateLimitRule
    /// The request header a trusted proxy sets to the end user's address (its last entry is used). When set, a
    /// request without it (or without an IP address there) is refused; without it the per-address limit does
    /// not apply.
    public var callerAddressHeader: String?
    /// The key for number hashes (secret); nil: a random key generated once and kept in the store, shared by
    /// every instance.
    public var numberKey: String?
    /// How long a forwarding request owns its SetPhone call before another request may reconcile it; nil:
    /// twice the Zitadel call deadline plus two seconds.
    public var forwardLeaseSeconds: Double?

    public init(
        limits: SMSEnrolmentLimits = SMSEnrolmentLimits(),
        user: RateLimitRule = RateLimitRule(name: "user", limit: 5, periodSeconds: 3600),
        number: RateLimitRule = RateLimitRule(name: "number", limit: 3, periodSeconds: 3600),
        tenant: RateLimitRule = RateLimitRule(name: "tenant", limit: 200, periodSeconds: 3600),
        address: RateLimitRule = RateLimitRule(name: "address", limit: 20, periodSeconds: 3600),
        global: RateLimitRule = RateLimitRule(name: "global", limit: 5000, periodSeconds: 86_400),
        callerAddressHeader: String? = nil, numberKey: String? = nil, forwardLeaseSeconds: Double? = nil
    ) {
        self.forwardLeaseSeconds = forwardLeaseSeconds
        self.limits = limits
        self.user = user
        self.number = number
        self.tenant = tenant
        self.address = address
        self.global = global
        self.callerAddressHeader = callerAddressHeader
        self.numberKey = numberKey
    }
}

extension GatewayConfiguration {
    /// Keys: `sms.codeLifetimeSeconds` (600), `sms.maxVerificationAttempts` (5), `sms.maxResends` (3),
    /// `sms.resendIntervalSeconds` (30), `sms.callerAddressHeader`, `sms.numberKey` (secret),
    /// `sms.forwardLeaseSeconds` (2 × zitadel.timeoutMs + 2 s), and
    /// `sms.rateLimits.<user|number|tenant|address|global>.limit|periodSeconds`.
    static func readSMS(reader: ConfigReader) throws(ConfigurationError) -> SMSSettings {
        let defaults = SMSSettings()
        let limits = SMSEnrolmentLimits(
            codeLifetimeSeconds: Double(reader.int(forKey: "sms.codeLifetimeSeconds", default: 600)),
            maxVerificationAttempts: reader.int(forKey: "sms.maxVerificationAttempts", default: 5),
            maxResends: reader.int(forKey: "sms.maxResends", default: 3),
            resendIntervalSeconds: Double(reader.int(forKey: "sms.resendIntervalSeconds", default: 30)))
        guard limits.codeLifetimeSeconds > 0, limits.maxVerificationAttempts > 0, limits.maxResends >= 0,
            limits.resendIntervalSeconds >= 0
        else {
            throw ConfigurationError(
                "sms.codeLifetimeSeconds and sms.maxVerificationAttempts must be > 0, sms.maxResends and sms.resendIntervalSeconds >= 0")
        }
        func rule(_ base: RateLimitRule) throws(ConfigurationError) -> RateLimitRule {
            let scoped = reader.scoped(to: ConfigKey(["sms", "rateLimits", base.name]))
            let limit = scoped.int(forKey: "limit", default: base.limit)
            let period = scoped.int(forKey: "periodSeconds", default: Int(base.periodSeconds))
            guard limit > 0, period > 0 else {
                throw ConfigurationError("sms.rateLimits.\(base.name).limit and .periodSeconds must be > 0")
            }
            return RateLimitRule(name: base.name, limit: limit, periodSeconds: Double(period))
        }
        let header = reader.string(forKey: "sms.callerAddressHeader")
        if let header, !header.isEmpty, HTTPField.Name(header) == nil {
            throw ConfigurationError("sms.callerAddressHeader must be an HTTP header name")
        }
        return SMSSettings(
            limits: limits, user: try rule(defaults.user), number: try rule(defaults.number),
            tenant: try rule(defaults.tenant), address: try rule(defaults.address), global: try rule(defaults.global),
            callerAddressHeader: header?.isEmpty == true ? nil : header,
            numberKey: reader.string(forKey: "sms.numberKey", isSecret: true),
            forwardLeaseSeconds: reader.int(forKey: "sms.forwardLeaseSeconds").map(Double.init))
    }

    /// `config check` lines; the number key redacted.
    func smsSummary() -> [String] {
        [
            "sms.codeLifetimeSeconds = \(Int(sms.limits.codeLifetimeSeconds))",
            "sms.maxVerificationAttempts = \(sms.limits.maxVerificationAttempts)",
            "sms.maxResends = \(sms.limits.maxResends)",
            "sms.resendIntervalSeconds = \(Int(sms.limits.resendIntervalSeconds))",
            "sms.callerAddressHeader = \(sms.callerAddressHeader ?? "(none: no per-address limit)")",
            "sms.numberKey = \(sms.numberKey == nil ? "(generated, kept in the store)" : "<redacted>")",
            "sms.forwardLeaseSeconds = \(Int(smsForwardLeaseSeconds))",
        ]
            + [sms.user, sms.number, sms.tenant, sms.address, sms.global].map {
                "sms.rateLimits.\($0.name) = \($0.limit) per \(Int($0.periodSeconds))s"
            }
    }
}

extension GatewayConfiguration {
    /// The forward lease in effect: configured, or derived from the Zitadel call deadline.
    var smsForwardLeaseSeconds: Double {
        let deadline = Double(zitadel.timeout.components.seconds) + Double(zitadel.timeout.components.attoseconds) / 1e18
        return max(sms.forwardLeaseSeconds ?? (2 * deadline + 2), deadline + 1)
    }
}
