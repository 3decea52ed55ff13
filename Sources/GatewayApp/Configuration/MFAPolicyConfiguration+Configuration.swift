import Configuration
import GatewayCore
import SessionValidation

extension MFAPolicyConfiguration {
    /// Reads a policy from `reader` scoped to `mfa` (of the gateway configuration or of a policy file); nil when
    /// none of its keys is present. `origin` prefixes error messages.
    ///
    /// Keys: `roles.<role>.requirement` (`required` or `optional`) and `.factors`, over the built-in role
    /// defaults; `tenants.names` and per name `tenants.<orgId>.required` (false) and `.deniedFactors`;
    /// `userPolicyMetadataKey` (Zitadel user metadata key whose value `required` raises the policy).
    init?(reader: ConfigReader, origin: String) throws(ConfigurationError) {
        var roles = MFAPolicyConfiguration.defaultRoles
        var found = false
        for role in PortalRole.allCases {
            let scoped = reader.scoped(to: ConfigKey(["roles", role.rawValue]))
            let requirementValue = scoped.string(forKey: "requirement")
            let factorsValue = scoped.stringArray(forKey: "factors")
            guard requirementValue != nil || factorsValue != nil else { continue }
            found = true
            var policy = roles[role] ?? RoleMFAPolicy(requirement: .required, factors: [])
            if let requirementValue {
                guard let requirement = MFARequirement(rawValue: requirementValue), requirement != .unknown else {
                    throw ConfigurationError("\(origin).roles.\(role.rawValue).requirement must be required or optional")
                }
                policy.requirement = requirement
            }
            if let factorsValue {
                policy.factors = try Self.factors(factorsValue, key: "\(origin).roles.\(role.rawValue).factors")
            }
            roles[role] = policy
        }
        var tenants: [String: TenantMFAPolicy] = [:]
        for orgId in reader.stringArray(forKey: "tenants.names", default: []) {
            found = true
            let scoped = reader.scoped(to: ConfigKey(["tenants", orgId]))
            tenants[orgId] = TenantMFAPolicy(
                required: scoped.bool(forKey: "required", default: false),
                deniedFactors: Set(
                    try Self.factors(
                        scoped.stringArray(forKey: "deniedFactors", default: []), key: "\(origin).tenants.\(orgId).deniedFactors")
                ))
        }
        let metadataKey = reader.string(forKey: "userPolicyMetadataKey")
        guard found || metadataKey != nil else { return nil }
        self.init(roles: roles, tenants: tenants, userPolicyMetadataKey: metadataKey)
    }

    private static func factors(_ values: [String], key: String) throws(ConfigurationError) -> [MFAFactor] {
        var result: [MFAFactor] = []
        for value in values {
            guard let factor = MFAFactor(rawValue: value) else {
                throw ConfigurationError(
                    "\(key): \(value) is not a factor (allowed: \(MFAFactor.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            result.append(factor)
        }
        return result
    }
}
