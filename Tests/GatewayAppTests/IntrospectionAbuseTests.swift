import Configuration
import Foundation
import GatewayApp
import HTTPTypes
import HummingbirdTesting
import Logging
import Testing

@testable import SessionValidation

/// A fresh string shaped like a Zitadel opaque token (64 hex digits are canonical base64url) that no issuer knows.
func junkOpaqueToken() -> String {
    (UUID().uuidString + UUID().uuidString).replacingOccurrences(of: "-", with: "").lowercased()
}

/// A validator of the mock's issuers, as the gateway builds it, with no logging.
func mockValidator(_ issuers: [IssuerConfiguration], settings: ValidationSettings = ValidationSettings()) throws -> SessionValidator {
    try SessionValidator(
        issuers: issuers, settings: settings, httpClient: .shared, logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
    )
}

extension SessionValidator {
    /// Why `token` is refused; nil when it validates.
    func refusal(_ token: String) async -> ValidationFailure? {
        do throws(ValidationFailure) {
            _ = try await validate(token)
            return nil
        } catch {
            return error
        }
    }
}

/// Every read of the introspection cache applies its own caller's bound (issue 16, item 3).
@Suite struct IntrospectionBoundTests {
    /// The MFA lookup accepts answers up to `introspectionCacheSeconds` old and stores what it fetches; the
    /// revocation check that reads that entry afterwards must still refuse a revoked token within its own bound.
    @Test func theRevocationBoundHoldsAfterTheMFALookupRefilledTheCache() async throws {
        try await MockZitadelAppRunner.run { baseURL, admin in
            let bound = Duration.milliseconds(600)
            let issuer = Harness.issuer(baseURL) {
                $0.revocationCheck = true
                $0.revocationCacheTTL = bound
            }
            let validator = try mockValidator([issuer], settings: ValidationSettings(introspectionCacheTTL: .seconds(60)))
            // A JWT without amr (as Zitadel issues them): the MFA challenge comes from introspection.
            let token = try await admin.token(Seeded.aliceClientAdmin, ["omitClaims": ["amr"]])
            let verified = try await validator.validate(token)
            // Past the revocation bound, the MFA lookup reads (or, before this fix, refetched and stored for a minute).
            try await Task.sleep(for: bound + .milliseconds(100))
            #expect(await validator.mfaChallenge(for: verified, rawToken: token).state != .unknown)
            var revocation = HTTPClientRequestBuilder.revoke(baseURL: baseURL, token: token)
            revocation.method = .POST
            try #require(try await HTTPClientRequestBuilder.send(revocation) == 200)
            // Once the bound has passed since the revocation, no answer fetched before it may be used.
            try await Task.sleep(for: bound + .milliseconds(100))
            await #expect(throws: ValidationFailure.revoked) { try await validator.validate(token) }
        }
    }
}

/// Unknown opaque strings cannot make the gateway overspend its introspection calls (issue 16, item 6).
@Suite struct OpaqueTokenAbuseTests {
    /// 10,000 distinct junk tokens, half of a shape no issuer issues and half Zitadel-shaped, sent 50 at a time:
    /// the former cost no call, the latter at most the global burst plus the rate over the run.
    @Test func tenThousandJunkTokensMakeABoundedNumberOfProviderCalls() async throws {
        try await MockZitadelAppRunner.run { baseURL, admin in
            let budget = OpaqueAdmissionSettings(maxConcurrent: 8, globalRate: 1, globalBurst: 20)
            let validator = try mockValidator([Harness.issuer(baseURL)], settings: ValidationSettings(opaqueTokens: budget))
            let started = ContinuousClock.now
            var refusals: [ValidationFailure: Int] = [:]
            for batch in 0..<200 {
                await withTaskGroup(of: ValidationFailure?.self) { group in
                    for index in 0..<50 {
                        let token = index.isMultiple(of: 2) ? junkOpaqueToken() : "junk \(batch)-\(index) \(UUID().uuidString)"
                        group.addTask { await validator.refusal(token) }
                    }
                    for await refusal in group { refusals[refusal ?? .missing, default: 0] += 1 }
                }
            }
            let elapsed = ContinuousClock.now - started
            let calls = try await admin.count(path: "/oauth/v2/introspect")
            let allowed = Int(budget.globalBurst) + Int((elapsed.inSeconds * budget.globalRate).rounded(.up))
            print("10,000 junk tokens in \(elapsed): \(calls) introspection calls (allowed \(allowed)); refusals \(refusals)")
            #expect(calls >= 1)
            #expect(calls <= allowed)
            #expect(refusals[.malformed] == 5000)
            #expect(refusals[.inactive] == calls)
            #expect(refusals[.introspectionOverloaded, default: 0] == 5000 - calls)
            #expect(refusals[.missing] == nil)
        }
    }

    /// A token is sent only to the issuers whose configured shape it has, in order, stopping at the first that
    /// knows it: one issuer's tokens are not disclosed to another that comes later.
    @Test func aTokenGoesOnlyToTheIssuersItCanBelongTo() async throws {
        try await MockZitadelAppRunner.run { firstURL, first in
            try await MockZitadelAppRunner.run { secondURL, second in
                let prefixed = Harness.issuer(secondURL) {
                    $0.name = "second"
                    $0.opaqueTokens = OpaqueTokenPolicy(prefix: "b~")
                }
                let routed = try mockValidator([Harness.issuer(firstURL), prefixed])
                let ours = try await first.token(Seeded.aliceClientAdmin, format: "opaque")
                #expect(try await routed.validate(ours).claims.subject == Seeded.aliceClientAdmin)
                await #expect(throws: ValidationFailure.inactive) { try await routed.validate(junkOpaqueToken()) }
                await #expect(throws: ValidationFailure.inactive) { try await routed.validate("b~" + junkOpaqueToken()) }
                await #expect(throws: ValidationFailure.malformed) { try await routed.validate("b~not base64url") }
                #expect(try await first.count(path: "/oauth/v2/introspect") == 2)
                #expect(try await second.count(path: "/oauth/v2/introspect") == 1)

                let both = try mockValidator([Harness.issuer(firstURL), Harness.issuer(secondURL) { $0.name = "second" }])
                let fresh = try await first.token(Seeded.aliceClientAdmin, format: "opaque")
                _ = try await both.validate(fresh)
                #expect(try await first.count(path: "/oauth/v2/introspect") == 3)
                #expect(try await second.count(path: "/oauth/v2/introspect") == 1)
                let theirs = try await second.token(Seeded.aliceClientAdmin, format: "opaque")
                #expect(try await both.validate(theirs).issuer.name == "second")
                #expect(try await first.count(path: "/oauth/v2/introspect") == 4)
                #expect(try await second.count(path: "/oauth/v2/introspect") == 2)
            }
        }
    }

    @Test func introspectionsInFlightAreCapped() async throws {
        try await MockZitadelAppRunner.run { baseURL, admin in
            let (status, _) = try await admin.post("/mock/admin/faults", ["path": "/oauth/v2/introspect", "latencyMs": 1500])
            try #require(status == 201)
            let validator = try mockValidator(
                [Harness.issuer(baseURL)], settings: ValidationSettings(opaqueTokens: OpaqueAdmissionSettings(maxConcurrent: 2)))
            let refusals = await withTaskGroup(of: ValidationFailure?.self) { group in
                for _ in 0..<10 {
                    group.addTask { await validator.refusal(junkOpaqueToken()) }
                }
                return await group.reduce(into: [ValidationFailure?]()) { $0.append($1) }
            }
            let overloaded = refusals.filter { $0 == .introspectionOverloaded }.count
            let calls = try await admin.count(path: "/oauth/v2/introspect")
            #expect(overloaded >= 1)
            #expect(calls >= 2)
            #expect(calls + overloaded == 10)
        }
    }

    /// With a trusted caller-address header, each address (IPv6 by /64) has its own budget of unknown tokens;
    /// requests without the header share one.
    @Test func thePerAddressBudgetAnswers429() async throws {
        let registry = TestMetrics.registry
        let header = HTTPField.Name("X-Real-IP")!
        let configure = { (keys: inout [String: ConfigValue], _: String) in
            keys["validation.opaqueTokens.callerAddressHeader"] = "X-Real-IP"
            keys["validation.opaqueTokens.perAddressRate"] = 0.001
            keys["validation.opaqueTokens.perAddressBurst"] = 3.0
        }
        try await Harness.withGateway(configure: configure, registry: registry) { client, admin in
            let before = try await client.metricsText()
            func ask(_ address: String?) async throws -> TestResponse {
                var headers: HTTPFields = [:]
                if let address { headers[header] = address }
                return try await client.session(junkOpaqueToken(), headers: headers)
            }
            for _ in 0..<3 { #expect(try await ask("2001:db8:7:7::1").problemCode == "invalid_token") }
            let limited = try await ask("2001:db8:7:7::beef")
            #expect(limited.status == .tooManyRequests)
            #expect(limited.problemCode == "introspection_rate_limited")
            #expect(limited.headers[.retryAfter] == "1")
            #expect(try await ask("192.0.2.10").problemCode == "invalid_token")
            for _ in 0..<3 { #expect(try await ask(nil).problemCode == "invalid_token") }
            #expect(try await ask(nil).problemCode == "introspection_rate_limited")
            #expect(try await admin.count(path: "/oauth/v2/introspect") == 7)
            let after = try await client.metricsText()
            let refused = { (text: String) in
                TestMetrics.value("gateway_opaque_token_admissions_total", ["result": "rate_limited_address"], in: text)
            }
            #expect(refused(after) >= refused(before) + 2)
        }
    }
}

/// `issuers.<name>.opaqueTokens.*` and `validation.opaqueTokens.*` as read through the configuration chain.
@Suite struct OpaqueTokenConfigurationTests {
    @Test func keysAreReadCheckedAndPrinted() async throws {
        let defaults = try await MFAConfigurationTests.configuration([:])
        #expect(defaults.issuers[0].opaqueTokens == OpaqueTokenPolicy())
        #expect(defaults.validation.opaqueTokens == OpaqueAdmissionSettings())
        let configuration = try await MFAConfigurationTests.configuration([
            "ZITADEL_GATEWAY_ISSUERS_MAIN_OPAQUE_TOKENS_FORMAT": "printable",
            "ZITADEL_GATEWAY_ISSUERS_MAIN_OPAQUE_TOKENS_PREFIX": "zg_",
            "ZITADEL_GATEWAY_ISSUERS_MAIN_OPAQUE_TOKENS_MIN_LENGTH": "40",
            "ZITADEL_GATEWAY_ISSUERS_MAIN_OPAQUE_TOKENS_MAX_LENGTH": "400",
            "ZITADEL_GATEWAY_VALIDATION_OPAQUE_TOKENS_MAX_CONCURRENT": "4",
            "ZITADEL_GATEWAY_VALIDATION_OPAQUE_TOKENS_GLOBAL_RATE": "2.5",
            "ZITADEL_GATEWAY_VALIDATION_OPAQUE_TOKENS_CALLER_ADDRESS_HEADER": "X-Real-IP",
            "ZITADEL_GATEWAY_VALIDATION_OPAQUE_TOKENS_PER_ADDRESS_BURST": "7",
        ])
        #expect(
            configuration.issuers[0].opaqueTokens
                == OpaqueTokenPolicy(format: .printable, prefix: "zg_", minLength: 40, maxLength: 400))
        #expect(
            configuration.validation.opaqueTokens
                == OpaqueAdmissionSettings(
                    maxConcurrent: 4, globalRate: 2.5, callerAddressHeader: "X-Real-IP", perAddressBurst: 7))
        let printed = configuration.redactedSummary().joined(separator: "\n")
        #expect(printed.contains("issuers.main.opaqueTokens.prefix = zg_"))
        #expect(printed.contains("validation.opaqueTokens.callerAddressHeader = X-Real-IP"))
        for (key, value) in [
            ("ZITADEL_GATEWAY_ISSUERS_MAIN_OPAQUE_TOKENS_FORMAT", "jwe"),
            ("ZITADEL_GATEWAY_ISSUERS_MAIN_OPAQUE_TOKENS_MAX_LENGTH", "10"),
            ("ZITADEL_GATEWAY_VALIDATION_OPAQUE_TOKENS_MAX_CONCURRENT", "0"),
            ("ZITADEL_GATEWAY_VALIDATION_OPAQUE_TOKENS_GLOBAL_RATE", "0"),
            ("ZITADEL_GATEWAY_MFA_ROLES_CLIENT_STAFF_REQUIREMENT", "unknown"),
        ] {
            await #expect(throws: ConfigurationError.self, "\(key)") {
                try await MFAConfigurationTests.configuration([key: value])
            }
        }
    }
}
