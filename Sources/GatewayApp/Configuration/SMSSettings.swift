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

    /// Reads the enrolment settings from `reader` scoped to `sms`, and checks them.
    ///
    /// Keys:
    /// - `codeLifetimeSeconds` (600), `maxVerificationAttempts` (5): both > 0; `maxResends` (3),
    ///   `resendIntervalSeconds` (30): both >= 0
    /// - `callerAddressHeader` (none: no per-address limit; an HTTP header name)
    /// - `numberKey` (secret; none: generated once and kept in the store)
    /// - `forwardLeaseSeconds` (none: 2 × `zitadel.timeoutMs` + 2 s; never under the deadline + 1 s)
    /// - `rateLimits.<user|number|tenant|address|global>.limit|periodSeconds` (5, 3, 200, 20 per 3600 s; 5000
    ///   per 86400 s; all > 0)
    public init(reader: ConfigReader) throws(ConfigurationError) {
        let defaults = SMSSettings()
        let limits = SMSEnrolmentLimits(
            codeLifetimeSeconds: Double(reader.int(forKey: "codeLifetimeSeconds", default: 600)),
            maxVerificationAttempts: reader.int(forKey: "maxVerificationAttempts", default: 5),
            maxResends: reader.int(forKey: "maxResends", default: 3),
            resendIntervalSeconds: Double(reader.int(forKey: "resendIntervalSeconds", default: 30)))
        guard limits.codeLifetimeSeconds > 0, limits.maxVerificationAttempts > 0, limits.maxResends >= 0,
            limits.resendIntervalSeconds >= 0
        else {
            throw ConfigurationError(
                "sms.codeLifetimeSeconds and sms.maxVerificationAttempts must be > 0, sms.maxResends and sms.resendIntervalSeconds >= 0")
        }
        func rule(_ base: RateLimitRule) throws(ConfigurationError) -> RateLimitRule {
            let scoped = reader.scoped(to: ConfigKey(["rateLimits", base.name]))
            let limit = scoped.int(forKey: "limit", default: base.limit)
            let period = scoped.int(forKey: "periodSeconds", default: Int(base.periodSeconds))
            guard limit > 0, period > 0 else {
                throw ConfigurationError("sms.rateLimits.\(base.name).limit and .periodSeconds must be > 0")
            }
            return RateLimitRule(name: base.name, limit: limit, periodSeconds: Double(period))
        }
        let header = reader.string(forKey: "callerAddressHeader")
        if let header, !header.isEmpty, HTTPField.Name(header) == nil {
            throw ConfigurationError("sms.callerAddressHeader must be an HTTP header name")
        }
        self.init(
            limits: limits, user: try rule(defaults.user), number: try rule(defaults.number),
            tenant: try rule(defaults.tenant), address: try rule(defaults.address), global: try rule(defaults.global),
            callerAddressHeader: header?.isEmpty == true ? nil : header,
            numberKey: reader.string(forKey: "numberKey", isSecret: true),
            forwardLeaseSeconds: reader.int(forKey: "forwardLeaseSeconds").map(Double.init))
    }
}
