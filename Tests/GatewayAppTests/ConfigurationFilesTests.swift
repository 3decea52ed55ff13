import Configuration
import Foundation
import GatewayCore
import Testing

@testable import GatewayApp

/// Files the configuration names are read and checked at load (what `config check` runs), and the summary is
/// the reading's own key table.
@Suite struct ConfigurationFilesTests {
    static let issuer: [String: ConfigValue] = [
        "issuers.names": .list("main"), "issuers.main.url": "https://id.example.com", "issuers.main.audiences": .list("aud"),
        "issuers.main.projectId": "aud", "issuers.main.clientIds": .list("portal@main"), "store.url": "sqlite::memory:",
    ]

    /// A file with `contents` in a fresh temporary directory (removed by the caller).
    static func file(_ contents: String, name: String) throws -> (path: String, directory: URL) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("config-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let url = directory.appendingPathComponent(name)
        try Data(contents.utf8).write(to: url)
        return (url.path, directory)
    }

    /// Loads `issuer` plus `values`, expecting a load error whose message names `key`.
    static func expectRefused(_ values: [String: ConfigValue], naming key: String) async {
        let error = await #expect(throws: ConfigurationError.self, "\(key)") {
            try await GatewayConfiguration.testing(issuer.merging(values) { $1 })
        }
        #expect(error?.description.contains(key) == true, "\(error?.description ?? "no error") names \(key)")
    }

    @Test func brokenOrMissingPolicyFilesDoNotLoad() async throws {
        let yaml = try Self.file("mfa: [roles: {", name: "policy.yaml")
        defer { try? FileManager.default.removeItem(at: yaml.directory) }
        await Self.expectRefused(["mfa.policyFile": .text(yaml.path)], naming: "mfa.policyFile")
        let factor = try Self.file("mfa:\n  roles:\n    client_admin:\n      factors: [carrier_pigeon]\n", name: "factor.yaml")
        defer { try? FileManager.default.removeItem(at: factor.directory) }
        await Self.expectRefused(["mfa.policyFile": .text(factor.path)], naming: "mfa.policyFile")
        await Self.expectRefused(["mfa.policyFile": "/nonexistent/policy.yaml"], naming: "mfa.policyFile")
    }

    @Test func aPolicyFileIsReadAtLoadAndItsKeysAreSummarised() async throws {
        let policy = try Self.file(
            "mfa:\n  roles:\n    client_staff:\n      requirement: required\n      factors: [totp]\n  userPolicyMetadataKey: portal.mfa\n",
            name: "policy.yaml")
        defer { try? FileManager.default.removeItem(at: policy.directory) }
        let configuration = try await GatewayConfiguration.testing(Self.issuer.merging(["mfa.policyFile": .text(policy.path)]) { $1 })
        #expect(configuration.mfa.policyOrigin == policy.path)
        #expect(configuration.mfa.policy.roles[.clientStaff] == RoleMFAPolicy(requirement: .required, factors: [.totp]))
        #expect(configuration.mfa.policy.userPolicyMetadataKey == "portal.mfa")
        let printed = configuration.redactedSummary()
        #expect(printed.contains("mfa.policyFile = \(policy.path)"))
        #expect(printed.contains("mfa.roles.client_staff.requirement = required"))
        #expect(printed.contains("mfa.userPolicyMetadataKey = portal.mfa"))
    }

    @Test func brokenOrMissingZitadelKeyFilesDoNotLoad() async throws {
        await Self.expectRefused(["zitadel.keyFile": "/nonexistent/key.json"], naming: "zitadel.keyFile")
        let notJSON = try Self.file("not json", name: "key.json")
        defer { try? FileManager.default.removeItem(at: notJSON.directory) }
        await Self.expectRefused(["zitadel.keyFile": .text(notJSON.path)], naming: "zitadel.keyFile")
        let badKey = try Self.file(
            #"{"type":"serviceaccount","keyId":"1","key":"-----BEGIN RSA PRIVATE KEY-----\nnope\n-----END RSA PRIVATE KEY-----","userId":"42"}"#,
            name: "bad.json")
        defer { try? FileManager.default.removeItem(at: badKey.directory) }
        await Self.expectRefused(["zitadel.keyFile": .text(badKey.path)], naming: "zitadel.keyFile")
    }

    @Test func aServiceAccountKeyFileIsReadAtLoad() async throws {
        let configuration = try await GatewayConfiguration.testing(
            Self.issuer.merging(["zitadel.keyFile": "Mocks/keys/gateway-service-account-key.json"]) { $1 })
        let key = try #require(configuration.zitadel.serviceAccountKey)
        #expect(!key.keyId.isEmpty && !key.userId.isEmpty)
        guard case .jwtProfile = configuration.zitadel.credential else {
            Issue.record("the key file is the credential")
            return
        }
        #expect(!configuration.redactedSummary().joined().contains("PRIVATE KEY"))
    }

    @Test func brokenIntrospectionKeyFilesDoNotLoad() async throws {
        let key = "issuers.main.introspection.keyFile"
        await Self.expectRefused(
            ["issuers.main.introspection.clientId": "api", key: "/nonexistent/app-key.json"], naming: key)
        let badKey = try Self.file(#"{"type":"application","keyId":"1","key":"not a pem","clientId":"api"}"#, name: "app.json")
        defer { try? FileManager.default.removeItem(at: badKey.directory) }
        await Self.expectRefused(["issuers.main.introspection.clientId": "api", key: .text(badKey.path)], naming: key)
        let configuration = try await GatewayConfiguration.testing(
            Self.issuer.merging([
                "issuers.main.introspection.clientId": "api", key: "Mocks/keys/gateway-api-app-key.json",
            ]) { $1 })
        guard case .privateKeyJWT = configuration.issuers.first?.introspection else {
            Issue.record("the application key authenticates introspection")
            return
        }
    }

    /// Every key the configuration supplies is in the summary, with its value or `<redacted>`: the summary is the
    /// reading's own table, not a second list.
    @Test func theSummaryListsEverySuppliedKeyAndRedactsSecrets() async throws {
        let values: [String: ConfigValue] = Self.issuer.merging([
            "issuers.main.introspection.clientId": "api", "issuers.main.introspection.clientSecret": .secret("intro-s3cret"),
            "issuers.main.jwks.fetchTimeoutMs": 1500, "validation.introspectionTimeoutMs": 700,
            "apiKeys.names": .list("siem"), "apiKeys.siem.sha256": .secret(String(repeating: "ab", count: 32)),
            "apiKeys.siem.tenants": .list("t1"), "apiKeys.siem.routes": .list("GET /v1/audit-events"),
            "zitadel.pat": .secret("pat-s3cret"), "store.password": .secret("db-s3cret"),
            "sms.numberKey": .secret("number-s3cret"), "sms.rateLimits.global.limit": 99, "sessions.revocationCacheSeconds": 3,
            "mfa.userPolicyMetadataKey": "portal.mfa",
        ]) { $1 }
        let configuration = try await GatewayConfiguration.testing(values)
        let printed = configuration.redactedSummary()
        let printedKeys = Set(printed.compactMap { $0.components(separatedBy: " = ").first })
        for key in values.keys { #expect(printedKeys.contains(key), "\(key) is printed") }
        for line in printed { #expect(!line.contains("s3cret"), "\(line)") }
        #expect(printed.contains("issuers.main.introspection.clientSecret = <redacted>"))
        #expect(printed.contains("apiKeys.siem.sha256 = <redacted>"))
        #expect(printed.contains("validation.introspectionTimeoutMs = 700"))
        #expect(printed.contains("http.port = 8080"))
    }
}
