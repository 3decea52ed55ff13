import Configuration
import Foundation
import GatewayCore
import Testing

@testable import GatewayApp

/// `zitadel.*`, `mfa.*` and `store.url` as read through the configuration chain.
@Suite struct MFAConfigurationTests {
    static let issuer = [
        "ZITADEL_GATEWAY_ISSUERS_NAMES": "main", "ZITADEL_GATEWAY_ISSUERS_MAIN_URL": "https://id.example.com",
        "ZITADEL_GATEWAY_ISSUERS_MAIN_AUDIENCES": "aud1", "ZITADEL_GATEWAY_ISSUERS_MAIN_PROJECT_ID": "aud1",
        "ZITADEL_GATEWAY_ISSUERS_MAIN_CLIENT_IDS": "portal@main",
    ]

    static func configuration(_ environment: [String: String]) async throws -> GatewayConfiguration {
        try await GatewayConfiguration.load(configFile: nil, environment: issuer.merging(environment) { _, new in new })
    }

    @Test func defaultsAndThePolicyFile() async throws {
        let configuration = try await Self.configuration([:])
        #expect(configuration.zitadel.url == nil)
        #expect(configuration.zitadel.pat == nil)
        #expect(configuration.zitadel.timeout == .milliseconds(2000))
        #expect(configuration.zitadel.retries == 1)
        #expect(configuration.zitadel.cacheTTL == .seconds(10))
        #expect(configuration.store.url == "sqlite:.data/gateway.sqlite")
        #expect(configuration.mfa.setupURLStyle == .console)
        #expect(configuration.mfa.policyOrigin == "Config/mfa-policy.yaml")
        #expect(configuration.mfa.policy.roles == MFAPolicyConfiguration.defaultRoles)
        #expect(configuration.mfa.policy.userPolicyMetadataKey == "aidial.mfa.policy")
        #expect(configuration.mfa.policy.tenants.isEmpty)
    }

    @Test func inlineKeysAndSecretsAreRedacted() async throws {
        let configuration = try await Self.configuration([
            "ZITADEL_GATEWAY_ZITADEL_URL": "https://api.example.com", "ZITADEL_GATEWAY_ZITADEL_PAT": "pat-s3cr3t",
            "ZITADEL_GATEWAY_ZITADEL_TIMEOUT_MS": "750", "ZITADEL_GATEWAY_ZITADEL_RETRIES": "2",
            "ZITADEL_GATEWAY_MFA_SETUP_URL_STYLE": "loginV2",
            "ZITADEL_GATEWAY_MFA_ROLES_CLIENT_STAFF_REQUIREMENT": "required",
            "ZITADEL_GATEWAY_MFA_TENANTS_NAMES": "300000000000000102",
            "ZITADEL_GATEWAY_MFA_TENANTS_300000000000000102_DENIED_FACTORS": "sms_otp,email_otp",
            "ZITADEL_GATEWAY_MFA_USER_POLICY_METADATA_KEY": "portal.mfa",
            "ZITADEL_GATEWAY_STORE_URL": "sqlite::memory:",
        ])
        #expect(configuration.zitadel.url == "https://api.example.com")
        #expect(configuration.zitadel.timeout == .milliseconds(750))
        #expect(configuration.zitadel.retries == 2)
        #expect(configuration.mfa.setupURLStyle == .loginV2)
        #expect(configuration.mfa.policyOrigin == "inline")
        #expect(configuration.mfa.policy.roles[.clientStaff]?.requirement == .required)
        #expect(configuration.mfa.policy.roles[.partnerUser]?.requirement == .required)
        #expect(configuration.mfa.policy.tenants["300000000000000102"]?.deniedFactors == [.smsOTP, .emailOTP])
        #expect(configuration.mfa.policy.userPolicyMetadataKey == "portal.mfa")
        #expect(configuration.store.url == "sqlite::memory:")
        let printed = configuration.redactedSummary().joined(separator: "\n")
        #expect(!printed.contains("pat-s3cr3t"))
        #expect(printed.contains("zitadel.pat = <redacted>"))
        #expect(printed.contains("zitadel.timeoutMs = 750"))
    }

    @Test(arguments: [
        ["ZITADEL_GATEWAY_MFA_SETUP_URL_STYLE": "portal"],
        ["ZITADEL_GATEWAY_MFA_ROLES_CLIENT_ADMIN_FACTORS": "totp,carrier_pigeon"],
        ["ZITADEL_GATEWAY_MFA_ROLES_CLIENT_ADMIN_REQUIREMENT": "sometimes"],
        ["ZITADEL_GATEWAY_ZITADEL_TIMEOUT_MS": "0"],
    ])
    func invalidSettingsDoNotStart(_ environment: [String: String]) async throws {
        await #expect(throws: ConfigurationError.self) { _ = try await Self.configuration(environment) }
    }

    @Test func aMissingPolicyFileDoesNotLoad() async throws {
        let error = await #expect(throws: ConfigurationError.self) {
            try await Self.configuration(["ZITADEL_GATEWAY_MFA_POLICY_FILE": "/nonexistent/policy.yaml"])
        }
        #expect(error?.description.contains("mfa.policyFile") == true)
    }

    @Test func smsKeysFromTheEnvironmentAndTheExampleFile() async throws {
        let configuration = try await Self.configuration([
            "ZITADEL_GATEWAY_SMS_RATE_LIMITS_USER_LIMIT": "7", "ZITADEL_GATEWAY_SMS_RATE_LIMITS_USER_PERIOD_SECONDS": "60",
            "ZITADEL_GATEWAY_SMS_NUMBER_KEY": "number-s3cr3t", "ZITADEL_GATEWAY_SMS_MAX_RESENDS": "1",
            "ZITADEL_GATEWAY_SMS_CALLER_ADDRESS_HEADER": "X-Forwarded-For",
        ])
        #expect(configuration.sms.user == RateLimitRule(name: "user", limit: 7, periodSeconds: 60))
        #expect(configuration.sms.number.limit == 3)
        #expect(configuration.sms.limits.maxResends == 1)
        #expect(configuration.sms.callerAddressHeader == "X-Forwarded-For")
        #expect(configuration.sms.numberKey == "number-s3cr3t")
        #expect(configuration.smsForwardLeaseSeconds == 6)
        let printed = configuration.redactedSummary().joined(separator: "\n")
        #expect(!printed.contains("number-s3cr3t"))
        #expect(printed.contains("sms.rateLimits.user.limit = 7") && printed.contains("sms.rateLimits.user.periodSeconds = 60"))
        #expect(printed.contains("sms.numberKey = <redacted>"))
        await #expect(throws: ConfigurationError.self) {
            _ = try await Self.configuration(["ZITADEL_GATEWAY_SMS_RATE_LIMITS_GLOBAL_LIMIT": "0"])
        }
        let example = try await GatewayConfiguration.load(
            configFile: "Config/gateway.example.yaml",
            environment: [
                "ZITADEL_GATEWAY_ISSUERS_ZITADEL_INTROSPECTION_CLIENT_SECRET": "from-the-environment",
                "ZITADEL_GATEWAY_API_KEYS_REPORTING_SHA256": String(repeating: "ab", count: 32),
                // The example names the production key file's path; the mock's key stands in for it.
                "ZITADEL_GATEWAY_ZITADEL_KEY_FILE": "Mocks/keys/gateway-service-account-key.json",
            ])
        #expect(example.sms.global == RateLimitRule(name: "global", limit: 5000, periodSeconds: 86_400))
        #expect(example.store.url.hasPrefix("sqlite:"))
    }
}
