import Configuration
import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SessionValidation
import Testing

@testable import GatewayApp

@Suite struct PrincipalAndAccessHTTPTests {
    @Test func apiKeyComparisonLooksAtEveryByteAndEveryKey() {
        let digest = Array(SHA256.hash(data: Array("k".utf8)))
        var lastByte = digest
        lastByte[31] ^= 1
        var firstByte = digest
        firstByte[0] ^= 0x80
        #expect(APIKeyVerifier.constantTimeEquals(digest, digest))
        #expect(!APIKeyVerifier.constantTimeEquals(digest, lastByte))
        #expect(!APIKeyVerifier.constantTimeEquals(digest, firstByte))
        #expect(!APIKeyVerifier.constantTimeEquals(digest, Array(digest.prefix(31))))
        let keys = [
            APIKeyConfiguration(name: "near", sha256: lastByte, tenants: [], routes: []),
            APIKeyConfiguration(name: "real", sha256: digest, tenants: [], routes: []),
        ]
        #expect(APIKeyVerifier(keys: keys).match("k")?.name == "real")
        #expect(APIKeyVerifier(keys: keys).match("K") == nil)
        #expect(APIKeyVerifier(keys: keys).match(String(repeating: "k", count: 513)) == nil)
    }

    @Test func aKnownPathWithAnotherMethodIs405WithAllow() async throws {
        try await Harness.withGateway { client, _ in
            let wrong = try await client.execute(uri: "/v1/session", method: .delete)
            #expect(wrong.status == .methodNotAllowed)
            #expect(wrong.problemCode == "method_not_allowed")
            #expect(wrong.headers[.allow] == "GET")
            let trace = try await client.execute(uri: "/healthz", method: HTTPRequest.Method("TRACE")!)
            #expect(trace.status == .methodNotAllowed)
            // Unknown paths stay 404.
            #expect(try await client.execute(uri: "/v1/nothing-here", method: .delete).status == .notFound)
        }
    }

    @Test func customerTenantIsTheirOrganisationAndOthersAreNotFound() async throws {
        try await Harness.withGateway { client, admin in
            let token = try await admin.token(Seeded.aliceClientAdmin)
            let own = try await client.session(token, headers: [.tenantHeader: Seeded.acacia])
            #expect(own.status == .ok)

            let other = try await client.session(token, headers: [.tenantHeader: Seeded.banksia])
            #expect(other.status == .notFound)
            #expect(other.problemCode == "not_found")
            // Exactly what a tenant that does not exist answers.
            let missing = try await client.session(token, headers: [.tenantHeader: "399999999999999999"])
            #expect(missing.status == .notFound)
            var missingBody = missing.json
            var otherBody = other.json
            missingBody["requestId"] = nil
            otherBody["requestId"] = nil
            #expect(NSDictionary(dictionary: missingBody) == NSDictionary(dictionary: otherBody))
        }
    }

    @Test func partnerSwitchesBetweenGrantedClients() async throws {
        try await Harness.withGateway { client, admin in
            let token = try await admin.token(Seeded.priyaPartnerAdmin)
            let unscoped = try await client.session(token)
            #expect(unscoped.status == .ok)
            #expect(unscoped.json["kind"] as? String == "partner")
            let scope = try #require(unscoped.json["tenantScope"] as? [[String: Any]])
            #expect(Set(scope.compactMap { $0["orgId"] as? String }) == [Seeded.acacia, Seeded.banksia])
            #expect(unscoped.json["activeTenant"] is NSNull || unscoped.json["activeTenant"] == nil)

            for tenant in [Seeded.acacia, Seeded.banksia] {
                let response = try await client.session(token, headers: [.tenantHeader: tenant])
                #expect(response.status == .ok)
                #expect((response.json["activeTenant"] as? [String: Any])?["orgId"] as? String == tenant)
                #expect(response.json["portalRole"] as? String == "partner_admin")
            }
            #expect(try await client.session(token, headers: [.tenantHeader: Seeded.coral]).status == .notFound)

            let tom = try await admin.token(Seeded.tomPartnerUser)
            #expect(try await client.session(tom, headers: [.tenantHeader: Seeded.banksia]).status == .notFound)
            let tomDefault = try await client.session(tom)
            #expect((tomDefault.json["activeTenant"] as? [String: Any])?["orgId"] as? String == Seeded.acacia)
        }
    }

    /// The unscoped body is rendered once per token and shared: a tenant choice in between is answered on its
    /// own, and two users' tokens in alternation each get their own body.
    @Test func sharedSessionBodyNeverCrossesTenantsOrUsers() async throws {
        try await Harness.withGateway { client, admin in
            let priya = try await admin.token(Seeded.priyaPartnerAdmin)
            let alice = try await admin.token(Seeded.aliceClientAdmin)
            let first = try await client.session(priya)
            for tenant in [Seeded.acacia, Seeded.banksia] {
                let scoped = try await client.session(priya, headers: [.tenantHeader: tenant])
                #expect((scoped.json["activeTenant"] as? [String: Any])?["orgId"] as? String == tenant)
                let unscoped = try await client.session(priya)
                #expect(unscoped.body == first.body)
                #expect(unscoped.json["activeTenant"] == nil)
                let other = try await client.session(alice)
                #expect(other.json["subject"] as? String != first.json["subject"] as? String)
                #expect((other.json["activeTenant"] as? [String: Any])?["orgId"] as? String == Seeded.acacia)
            }
            #expect(first.json["kind"] as? String == "partner")
        }
    }

    @Test func userWithoutPortalRoleHasNoTenantInScope() async throws {
        try await Harness.withGateway { client, admin in
            let token = try await admin.token(Seeded.noraNoAccess)
            let response = try await client.session(token)
            #expect(response.status == .ok)
            #expect(response.json["portalRole"] == nil)
            #expect((response.json["tenantScope"] as? [Any])?.isEmpty == true)
            let scoped = try await client.session(token, headers: [.tenantHeader: Seeded.acacia])
            #expect(scoped.status == .notFound)
        }
    }

    static let integrationKey = "zgw_test_integration_key_0123456789"

    @Test func apiKeysAreForServersOnly() async throws {
        let reporting = Harness.apiKey("reporting", key: Self.integrationKey, tenants: [Seeded.acacia], routes: ["GET /v1/session"])
        let configure = { (keys: inout [String: ConfigValue], _: String) in keys.merge(reporting) { $1 } }
        try await Harness.withGateway(configure: configure) { client, _ in
            let ok = try await client.execute(uri: "/v1/session", method: .get, headers: [.apiKeyHeader: Self.integrationKey])
            #expect(ok.status == .ok)
            #expect(ok.json["kind"] as? String == "integration")

            for marker: HTTPField in [
                HTTPField(name: .origin, value: "https://portal.example"), HTTPField(name: .cookie, value: "a=b"),
                HTTPField(name: HTTPField.Name("Sec-Fetch-Mode")!, value: "cors"),
            ] {
                var headers: HTTPFields = [.apiKeyHeader: Self.integrationKey]
                headers.append(marker)
                let refused = try await client.execute(uri: "/v1/session", method: .get, headers: headers)
                #expect(refused.status == .badRequest)
                #expect(refused.problemCode == "api_key_from_browser")
            }

            let wrong = try await client.execute(uri: "/v1/session", method: .get, headers: [.apiKeyHeader: "nope"])
            #expect(wrong.status == .unauthorized)
            #expect(wrong.problemCode == "invalid_api_key")

            let otherTenant = try await client.execute(
                uri: "/v1/session", method: .get, headers: [.apiKeyHeader: Self.integrationKey, .tenantHeader: Seeded.banksia])
            #expect(otherTenant.status == .notFound)
        }
    }

    @Test func apiKeyLimitedToItsRoutes() async throws {
        let audit = Harness.apiKey("audit", key: Self.integrationKey, tenants: [Seeded.acacia], routes: ["GET /v1/audit-events"])
        let configure = { (keys: inout [String: ConfigValue], _: String) in keys.merge(audit) { $1 } }
        try await Harness.withGateway(configure: configure) { client, _ in
            let response = try await client.execute(uri: "/v1/session", method: .get, headers: [.apiKeyHeader: Self.integrationKey])
            #expect(response.status == .forbidden)
            #expect(response.problemCode == "forbidden")
        }
    }

    @Test func opsRoutesAndProblemShape() async throws {
        try await Harness.withGateway { client, admin in
            let health = try await client.execute(uri: "/healthz", method: .get)
            #expect(health.status == .ok)

            // No refresh loop runs under the router test: keys load on first use.
            #expect(try await client.execute(uri: "/readyz", method: .get).status == .serviceUnavailable)
            let session = try await client.session(try await admin.token(Seeded.aliceClientAdmin))
            #expect(session.status == .ok)
            let ready = try await client.execute(uri: "/readyz", method: .get)
            #expect(ready.status == .ok)
            // One response path: the hand-written session body and the encoded ones carry the same headers.
            for response in [session, ready] {
                #expect(response.headers[.contentType] == "application/json")
                #expect(response.headers[.cacheControl] == "no-store")
            }

            let spec = try await client.execute(uri: "/openapi.yaml", method: .get)
            #expect(spec.status == .ok)
            #expect(String(buffer: spec.body).contains("/v1/session"))

            let unknown = try await client.execute(uri: "/v1/nothing-here", method: .get, headers: [.xRequestId: "trace-123"])
            #expect(unknown.status == .notFound || unknown.status == .unauthorized)
            #expect(unknown.headers[.contentType] == "application/problem+json")
            #expect(unknown.headers[.xRequestId] == "trace-123")
            for key in ["type", "title", "status", "detail", "code"] { #expect(unknown.json[key] != nil, "\(key)") }
            #expect(unknown.json["requestId"] as? String == "trace-123")
            // The one encoder: the problem type's URL is written as it is, slashes unescaped.
            #expect(String(buffer: unknown.body).contains("\"https://aidial.example/problems/"))

            let generated = try await client.execute(uri: "/healthz", method: .get)
            #expect((generated.headers[.xRequestId] ?? "").count >= 16)
        }
    }

    @Test func configurationWithoutIssuerOrAudienceDoesNotStart() async throws {
        await #expect(throws: ConfigurationError.self) {
            try await GatewayConfiguration.testing(["issuers.names": .list("main"), "issuers.main.url": "https://issuer.example"])
        }
        await #expect(throws: ConfigurationError.self) {
            try await GatewayConfiguration.testing(["issuers.names": .list("main"), "issuers.main.audiences": .list("aud")])
        }
        await #expect(throws: ConfigurationError.self) { try await GatewayConfiguration.testing([:]) }

        let portal: [String: ConfigValue] = [
            "issuers.names": .list("main"), "issuers.main.url": "https://issuer.example", "issuers.main.audiences": .list("aud"),
            "issuers.main.projectId": "aud", "issuers.main.clientIds": .list("portal@main"),
        ]
        await #expect(throws: ConfigurationError.self) {
            try await GatewayConfiguration.testing(portal.merging(["issuers.main.algorithms": .list("HS256")]) { $1 })
        }

        // Portal roles and companions need the portal project and its clients: no silent default.
        for missing in ["issuers.main.projectId", "issuers.main.clientIds"] {
            await #expect(throws: ConfigurationError.self, "\(missing)") {
                try await GatewayConfiguration.testing(portal.filter { $0.key != missing })
            }
        }
        let complete = try await GatewayConfiguration.testing(portal)
        #expect(complete.issuers.first?.projectId == "aud")
        #expect(complete.issuers.first?.clientIds == ["portal@main"])
    }

    /// `Config/gateway.yaml` names the mock seed's portal project and application (`serve --with-mock-idp`'s own
    /// defaults are checked in ZitadelGatewayTests).
    @Test func embeddedDefaultsNameTheSeededPortalProjectAndClient() async throws {
        let file = try await GatewayConfiguration.load(configFile: "Config/gateway.yaml", environment: [:])
        #expect(file.issuers.first?.projectId == Seeded.projectId)
        #expect(file.issuers.first?.clientIds == [Seeded.portalClientId])
    }

    @Test func effectiveConfigurationRedactsSecrets() async throws {
        let configuration = try await GatewayConfiguration.load(
            configFile: nil, overrides: [:],
            environment: [
                "ZITADEL_GATEWAY_ISSUERS_NAMES": "main",
                "ZITADEL_GATEWAY_ISSUERS_MAIN_URL": "https://issuer.example",
                "ZITADEL_GATEWAY_ISSUERS_MAIN_AUDIENCES": "aud1,aud2",
                "ZITADEL_GATEWAY_ISSUERS_MAIN_PROJECT_ID": "aud1",
                "ZITADEL_GATEWAY_ISSUERS_MAIN_CLIENT_IDS": "portal@main",
                "ZITADEL_GATEWAY_ISSUERS_MAIN_INTROSPECTION_CLIENT_ID": "api-app",
                "ZITADEL_GATEWAY_ISSUERS_MAIN_INTROSPECTION_CLIENT_SECRET": "s3cr3t-value",
                "ZITADEL_GATEWAY_HTTP_PORT": "9099",
            ])
        #expect(configuration.port == 9099)
        #expect(configuration.issuers.first?.audiences == ["aud1", "aud2"])
        let printed = configuration.redactedSummary().joined(separator: "\n")
        #expect(!printed.contains("s3cr3t-value"))
        #expect(printed.contains("introspection.clientSecret = <redacted>"))
    }
}

extension HTTPField.Name {
    static let tenantHeader = Self("X-AiDial-Tenant")!
    static let apiKeyHeader = Self("X-API-Key")!
    static let xRequestId = Self("X-Request-Id")!
}
