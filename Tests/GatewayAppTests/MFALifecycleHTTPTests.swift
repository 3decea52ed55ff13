import Configuration
import Foundation
import GatewayCore
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

@testable import GatewayApp

/// `GET /v1/portal-mfa-lifecycle` through HTTP against the mock Zitadel: every security-status row, each role.
@Suite struct MFALifecycleSnapshotTests {
    @Test func snapshotCarriesEveryFieldAndTheMarkerAsETag() async throws {
        try await LifecycleHarness.run { client, admin, _ in
            let token = try await admin.token(Seeded.aliceClientAdmin, ["amr": ["pwd", "otp", "mfa"]])
            let response = try await client.lifecycle(token)
            #expect(response.status == .ok)
            let json = response.json
            for key in [
                "displayName", "email", "emailVerified", "portalRole", "policy", "policySource", "allowedFactors",
                "enrolledFactors", "enrollment", "challenge", "securityStatus", "recoveryCodeReminder",
                "availableActions", "marker", "refreshedAt", "mfaCompliant",
            ] {
                #expect(json.keys.contains(key), "missing \(key)")
            }
            #expect(json["displayName"] as? String == "Alice Nguyen")
            #expect(json["email"] as? String == "alice.nguyen@acacia-freight.aidial.example")
            #expect(json["emailVerified"] as? Bool == true)
            #expect(json["portalRole"] as? String == "client_admin")
            #expect(json["policy"] as? String == "optional")
            #expect(json["policySource"] as? String == "role")
            #expect(json["enrollment"] as? String == "enrolled")
            #expect(json["challenge"] as? String == "satisfied")
            #expect(response.status_ == "satisfied")
            #expect(json["mfaCompliant"] as? Bool == true)
            #expect(Set(response.enrolled).isSuperset(of: ["totp", "sms_otp", "recovery_code"]))
            #expect(json["recoveryCodeReminder"] as? String == "store_new_set")
            let marker = try #require(response.marker)
            #expect(response.headers[.eTag] == "\"\(marker)\"")
            #expect(response.headers[.cacheControl] == "no-store")
            let setup = try #require(response.url(of: "open_mfa_setup"))
            #expect(setup.hasPrefix(admin.baseURL + "/ui/console/users/me?id=security&login_hint="))
            #expect(setup.contains("&org=\(Seeded.acacia)"))
            // Nothing secret leaks: no recovery codes, no token.
            let text = String(buffer: response.body)
            #expect(!text.contains("ALIC01"))
            #expect(!text.contains(token))
        }
    }

    @Test func statusOptionalForAClientWithoutFactors() async throws {
        try await LifecycleHarness.run { client, admin, _ in
            let token = try await admin.token(Seeded.samClientStaff, ["amr": ["pwd"]])
            let response = try await client.lifecycle(token)
            #expect(response.status_ == "optional")
            #expect(response.json["enrollment"] as? String == "not_enrolled")
            #expect(response.json["mfaCompliant"] as? Bool == true)
            #expect(response.json["emailVerified"] as? Bool == false)
            #expect(response.actions == ["open_mfa_setup", "refresh"])
        }
    }

    @Test func statusRequiredForAPartnerWithoutAReadyFactor() async throws {
        try await LifecycleHarness.run { client, admin, _ in
            let token = try await admin.token(Seeded.tomPartnerUser, ["amr": ["pwd"]])
            let response = try await client.lifecycle(token)
            #expect(response.status_ == "required")
            #expect(response.json["policy"] as? String == "required")
            #expect(response.json["mfaCompliant"] as? Bool == false)
            #expect(response.json["allowedFactors"] as? [String] == ["totp", "recovery_code", "webauthn"])
            #expect(response.actions.contains("open_mfa_setup"))
            #expect(!response.actions.contains("open_mfa_management_to_disable"))
        }
    }

    @Test func statusPendingThenSatisfiedForAnEnrolledPartner() async throws {
        try await LifecycleHarness.run { client, admin, _ in
            let password = try await admin.token(Seeded.priyaPartnerAdmin, ["amr": ["pwd"]])
            let pending = try await client.lifecycle(password, tenant: Seeded.acacia)
            #expect(pending.status_ == "pending")
            #expect(pending.json["challenge"] as? String == "required")
            #expect(pending.json["mfaCompliant"] as? Bool == false)
            let mfa = try await admin.token(Seeded.priyaPartnerAdmin, ["amr": ["pwd", "otp", "mfa"]])
            let satisfied = try await client.lifecycle(mfa, tenant: Seeded.acacia)
            #expect(satisfied.status_ == "satisfied")
            #expect(satisfied.json["mfaCompliant"] as? Bool == true)
            let passkeys = (satisfied.json["enrolledFactors"] as? [[String: Any]] ?? []).filter { $0["kind"] as? String == "passkey" }
            #expect(passkeys.compactMap { $0["deviceLabel"] as? String }.sorted() == ["Windows Hello (Surface Laptop)", "iPhone 15 Pro"])
            #expect(passkeys.allSatisfy { $0["lastUsedAt"] is NSNull })
        }
    }

    @Test func statusFailedWhenTheProviderReportsALockedUser() async throws {
        try await LifecycleHarness.run { client, admin, _ in
            // The mock has no LockUser: the provider's answer is shaped through its fault API instead.
            let locked = URL(fileURLWithPath: Seeded.seedFile).deletingLastPathComponent()
                .appendingPathComponent("zitadel/UserService/GetUserByID/locked-unknown-enum-extra-fields.json")
            // Fixtures are envelopes (Mocks/zitadel/README.md): the provider's body is `response.body`.
            let envelope = try JSONSerialization.jsonObject(with: Data(contentsOf: locked)) as? [String: Any]
            let recorded = try #require(envelope?["response"] as? [String: Any])
            let body = String(decoding: try JSONSerialization.data(withJSONObject: try #require(recorded["body"])), as: UTF8.self)
            try await admin.fault(rpc: "GetUserByID", ["status": 200, "body": body])
            let token = try await admin.token(Seeded.tomPartnerUser, ["amr": ["pwd", "otp", "mfa"]])
            let response = try await client.lifecycle(token)
            #expect(response.status_ == "failed")
            #expect(response.json["challenge"] as? String == "failed")
            #expect(response.json["mfaCompliant"] as? Bool == false)
        }
    }

    @Test func securityKeysCarryTheirLabel() async throws {
        try await LifecycleHarness.run { client, admin, _ in
            let token = try await admin.token(Seeded.bethBanksiaAdmin, ["amr": ["pwd", "otp", "mfa"]])
            let response = try await client.lifecycle(token)
            let keys = (response.json["enrolledFactors"] as? [[String: Any]] ?? []).filter { $0["kind"] as? String == "security_key" }
            #expect(keys.first?["deviceLabel"] as? String == "YubiKey 5C NFC")
            #expect(Set(response.enrolled).isSuperset(of: ["totp", "email_otp", "webauthn"]))
        }
    }

    @Test func eachPortalRole() async throws {
        try await LifecycleHarness.run { client, admin, _ in
            let cases: [(String, String, String, String?)] = [
                (Seeded.aliceClientAdmin, "client_admin", "optional", nil),
                // Marcus's seeded user metadata `aidial.mfa.policy: required` raises his optional role.
                (Seeded.marcusClientManager, "client_manager", "required", nil),
                (Seeded.samClientStaff, "client_staff", "optional", nil),
                (Seeded.priyaPartnerAdmin, "partner_admin", "required", Seeded.acacia),
                (Seeded.tomPartnerUser, "partner_user", "required", nil),
            ]
            for (user, role, policy, tenant) in cases {
                let token = try await admin.token(user, ["amr": ["pwd"]])
                let response = try await client.lifecycle(token, tenant: tenant)
                #expect(response.status == .ok, "\(role)")
                #expect(response.json["portalRole"] as? String == role)
                #expect(response.json["policy"] as? String == policy, "\(role)")
                let allowed = response.json["allowedFactors"] as? [String] ?? []
                #expect(allowed.contains("sms_otp") == !role.hasPrefix("partner"), "\(role)")
            }
        }
    }

    @Test func sessionsWithoutARoleAndIntegrationsAreRefused() async throws {
        try await LifecycleHarness.run { client, admin, _ in
            let token = try await admin.token(Seeded.noraNoAccess)
            let response = try await client.lifecycle(token)
            #expect(response.status == .forbidden)
            #expect(response.problemCode == "no_portal_role")
            let anonymous = try await client.execute(uri: "/v1/portal-mfa-lifecycle", method: .get)
            #expect(anonymous.status == .unauthorized)
        }
    }

    @Test func userMetadataRaisesThePolicy() async throws {
        try await LifecycleHarness.run { client, admin, rpc in
            let value = Data("required".utf8).base64EncodedString()
            let (status, _) = try await rpc.user(
                "SetUserMetadata",
                ["userId": Seeded.samClientStaff, "metadata": [["key": "aidial.mfa.policy", "value": value]]])
            try #require(status == 200)
            let token = try await admin.token(Seeded.samClientStaff, ["amr": ["pwd"]])
            let response = try await client.lifecycle(token)
            #expect(response.json["policy"] as? String == "required")
            #expect(response.json["policySource"] as? String == "user")
            #expect(response.status_ == "required")
        }
    }

    @Test func tenantPolicyRaisesAndDeniesAndAPartnerSwitchesClients() async throws {
        let policy: [String: ConfigValue] = [
            "mfa.tenants.names": .list(Seeded.banksia), "mfa.tenants.\(Seeded.banksia).required": true,
            "mfa.tenants.\(Seeded.banksia).deniedFactors": .list("sms_otp", "webauthn"),
        ]
        try await LifecycleHarness.run(policy: policy) { client, admin, _ in
            let beth = try await admin.token(Seeded.bethBanksiaAdmin, ["amr": ["pwd"]])
            let clientSnapshot = try await client.lifecycle(beth)
            #expect(clientSnapshot.json["policy"] as? String == "required")
            #expect(clientSnapshot.json["policySource"] as? String == "tenant")
            #expect(clientSnapshot.json["allowedFactors"] as? [String] == ["totp", "recovery_code", "email_otp"])
            #expect(clientSnapshot.status_ == "pending")

            let priya = try await admin.token(Seeded.priyaPartnerAdmin, ["amr": ["pwd", "otp", "mfa"]])
            let acacia = try await client.lifecycle(priya, tenant: Seeded.acacia)
            let banksia = try await client.lifecycle(priya, tenant: Seeded.banksia)
            #expect(acacia.json["tenant"] as? String == Seeded.acacia)
            #expect(banksia.json["tenant"] as? String == Seeded.banksia)
            #expect(acacia.json["allowedFactors"] as? [String] == ["totp", "recovery_code", "webauthn"])
            #expect(banksia.json["allowedFactors"] as? [String] == ["totp", "recovery_code"])
            #expect(acacia.status_ == "satisfied")
            #expect(banksia.status_ == "satisfied")
            // A client outside the partner's scope is not found, exactly like one that does not exist.
            let coral = try await client.lifecycle(priya, tenant: Seeded.coral)
            #expect(coral.status == .notFound)
        }
    }

    @Test func loginV2SetupURLs() async throws {
        try await LifecycleHarness.run(style: .loginV2) { client, admin, _ in
            let token = try await admin.token(Seeded.aliceClientAdmin, ["amr": ["pwd", "otp", "mfa"]])
            let response = try await client.lifecycle(token)
            let setup = try #require(response.url(of: "open_mfa_setup"))
            #expect(setup.hasPrefix(admin.baseURL + "/ui/v2/login/mfa/set?loginName="))
            #expect(setup.hasSuffix("&organization=\(Seeded.acacia)"))
            #expect(response.url(of: "open_mfa_management_to_disable")?.hasPrefix(admin.baseURL + "/ui/console/users/me") == true)
        }
    }
}

/// Provider faults injected through the mock degrade the snapshot to `unavailable` within the deadline.
@Suite struct MFALifecycleFaultTests {
    /// Each case: the faulted RPC and the fault (JSON for `POST /mock/admin/faults`, path added).
    @Test(arguments: [
        ("ListAuthenticationMethodTypes", #"{"status": 503, "body": "{\"code\":\"unavailable\",\"message\":\"down\"}"}"#),
        ("ListPasskeys", #"{"status": 500, "body": "{\"code\":\"internal\",\"message\":\"boom\"}"}"#),
        ("ListAuthenticationFactors", #"{"malformed": true}"#),
        ("GetUserByID", #"{"latencyMs": 5000}"#),
        ("ListUserMetadata", #"{"status": 200, "body": "not json"}"#),
    ])
    func faultMakesTheSnapshotUnavailable(_ rpc: String, _ faultJSON: String) async throws {
        // The user policy is looked up only in its own row: elsewhere a metadata lookup slowed past the short
        // deadline by a loaded machine would make the policy unknown, which is not what the row tests.
        // An empty key: no user policy.
        let policy: [String: ConfigValue] = ["mfa.userPolicyMetadataKey": .text(rpc == "ListUserMetadata" ? "aidial.mfa.policy" : "")]
        try await LifecycleHarness.run(timeoutMs: 600, retries: 1, policy: policy) { client, admin, _ in
            let token = try await admin.token(Seeded.aliceClientAdmin, ["amr": ["pwd", "otp", "mfa"]])
            let fault = try #require(try JSONSerialization.jsonObject(with: Data(faultJSON.utf8)) as? [String: Any])
            try await admin.fault(rpc: rpc, fault)
            let started = ContinuousClock.now
            let response = try await client.lifecycle(token)
            let elapsed = ContinuousClock.now - started
            #expect(response.status == .ok)
            #expect(response.status_ == "unavailable", "\(rpc)")
            // Two 600 ms tries, never the fault's 5 s (the bound leaves room for a loaded machine).
            #expect(elapsed < .milliseconds(4500), "\(rpc) took \(elapsed)")
            #expect(response.actions.contains("refresh"))
            if rpc == "GetUserByID" {
                #expect(response.json["displayName"] is NSNull)
                #expect(response.json["email"] is NSNull)
            } else if rpc != "ListUserMetadata" {
                #expect(response.json["enrolledFactors"] is NSNull)
                #expect(response.json["enrollment"] as? String == "unknown")
            }
            if rpc == "ListUserMetadata" {
                // The user policy is unknown, not optional: the gate holds (fail closed).
                #expect(response.json["policy"] as? String == "unknown")
                #expect(response.json["policySource"] as? String == "user")
                #expect(response.json["mfaCompliant"] as? Bool == false)
                #expect(!response.actions.contains("open_mfa_management_to_disable"))
            } else {
                // An optional-policy client whose policy is known stays compliant while other lookups fail.
                #expect(response.json["policy"] as? String == "optional")
                #expect(response.json["mfaCompliant"] as? Bool == true)
            }
        }
    }

    @Test func aRetryableReadRecovers() async throws {
        // The harness's generous deadline: this is about the retry, and the suite shares two busy cores.
        try await LifecycleHarness.run(retries: 1) { client, admin, _ in
            let token = try await admin.token(Seeded.aliceClientAdmin, ["amr": ["pwd", "otp", "mfa"]])
            try await admin.fault(
                rpc: "ListPasskeys", ["status": 503, "body": "{\"code\":\"unavailable\",\"message\":\"down\"}", "times": 1])
            let response = try await client.lifecycle(token)
            #expect(response.status_ == "satisfied")
        }
    }

    @Test func aMandatoryPartnerIsBlockedWhileTheProviderIsDown() async throws {
        try await LifecycleHarness.run(timeoutMs: 600) { client, admin, _ in
            let token = try await admin.token(Seeded.priyaPartnerAdmin, ["amr": ["pwd", "otp", "mfa"]])
            try await admin.fault(rpc: "GetUserByID", ["status": 503, "body": "{}"])
            let response = try await client.lifecycle(token, tenant: Seeded.acacia)
            #expect(response.status_ == "unavailable")
            #expect(response.json["mfaCompliant"] as? Bool == false)
        }
    }
}

/// The session's MFA state cannot be verified: no `amr` in the JWT, no introspection, no session id.
@Suite struct MFALifecycleUnverifiableSessionTests {
    @Test func statusUnavailableWhenTheChallengeIsUnknown() async throws {
        let pat = try #require(Seeded.servicePAT)
        let configure = { (keys: inout [String: ConfigValue], baseURL: String) in
            keys["issuers.mock.introspection.clientId"] = nil
            keys["issuers.mock.introspection.clientSecret"] = nil
            keys.merge(Harness.zitadel(baseURL, pat: pat, timeoutMs: 2000, retries: 1)) { $1 }
        }
        try await Harness.withGateway(configure: configure) { client, admin in
            // A faithful Zitadel JWT (no Actions enrichment): the session's factors are not in the token.
            let token = try await admin.token(Seeded.aliceClientAdmin, ["factors": ["password", "totp"]])
            let response = try await client.lifecycle(token)
            #expect(response.status_ == "unavailable")
            #expect(response.json["challenge"] as? String == "unknown")
            #expect(response.json["enrollment"] as? String == "enrolled")
            #expect(response.json["displayName"] as? String == "Alice Nguyen")
        }
    }
}
