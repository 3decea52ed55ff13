import Configuration
import Foundation
import GatewayApp
import MockZitadel
import Testing

@testable import zitadel_gateway

/// `serve --with-mock-idp`: the executable, not the gateway library, makes the gateway trust the in-process mock,
/// and only where the operator set nothing.
@Suite struct EmbeddedMockIdpTests {
    static let seededPAT = "mock-pat-aidial-gateway-300000000000000301"

    @Test func withTheMockAndNoIssuerTheGatewayTrustsTheMock() async throws {
        let (configuration, mockIdp) = try await Self.load(overrides: ["mockIdp.enabled": true, "mockIdp.port": 9099])
        #expect(mockIdp.enabled && mockIdp.configuration.port == 9099)
        let issuer = try #require(configuration.issuers.first)
        #expect(configuration.issuers.count == 1 && issuer.name == "mock")
        #expect(issuer.issuer == "http://127.0.0.1:9099")
        #expect(issuer.audiences == [MockZitadelDefaults.projectId] && issuer.projectId == MockZitadelDefaults.projectId)
        #expect(issuer.clientIds == [MockZitadelDefaults.portalClientId])
        #expect(issuer.algorithms == [.rs256, .es256, .edDSA])
        guard case .clientSecretBasic(let clientId, let secret) = issuer.introspection else {
            Issue.record("introspection is \(String(describing: issuer.introspection))")
            return
        }
        #expect(clientId == MockZitadelDefaults.introspectionClientId && secret == MockZitadelDefaults.introspectionSecret)
        #expect(configuration.zitadel.pat == Self.seededPAT)
    }

    /// The mock's keys from the environment, as `ZITADEL_GATEWAY_MOCK_IDP_*`: the PAT comes from the named seed.
    @Test func theMockPATIsTheDefaultWithTheMockIdpFromTheEnvironment() async throws {
        let seed = URL(fileURLWithPath: MockZitadelConfiguration.repositoryMocksDirectory).appendingPathComponent("seed.json").path
        let (configuration, mockIdp) = try await Self.load(
            environment: ["ZITADEL_GATEWAY_MOCK_IDP_ENABLED": "true", "ZITADEL_GATEWAY_MOCK_IDP_SEED_FILE": seed])
        #expect(mockIdp.enabled && mockIdp.configuration.seedFile == seed)
        #expect(configuration.zitadel.pat == Self.seededPAT)
        #expect(configuration.issuers.map(\.issuer) == ["http://127.0.0.1:8081"])
    }

    @Test func anOperatorsExplicitSettingsWin() async throws {
        // The environment names another mock URL (as scripts/smoke.sh does), the file a service-account key (read
        // at load, so it must be a real one).
        let keyFile = "Mocks/keys/gateway-service-account-key.json"
        let (configuration, _) = try await Self.load(
            file: "zitadel:\n  keyFile: \(keyFile)\n", overrides: ["mockIdp.enabled": true],
            environment: ["ZITADEL_GATEWAY_ISSUERS_MOCK_URL": "http://127.0.0.1:7777"])
        #expect(configuration.issuers.map(\.issuer) == ["http://127.0.0.1:7777"])
        #expect(configuration.issuers.first?.projectId == MockZitadelDefaults.projectId)
        // The mock's PAT would win over the key file: none is offered.
        #expect(configuration.zitadel.pat == nil && configuration.zitadel.keyFile == keyFile)

        let explicit = try await Self.load(
            overrides: ["mockIdp.enabled": true, "zitadel.pat": "operator-pat"],
            environment: [
                "ZITADEL_GATEWAY_ISSUERS_NAMES": "main", "ZITADEL_GATEWAY_ISSUERS_MAIN_URL": "https://issuer.example",
                "ZITADEL_GATEWAY_ISSUERS_MAIN_AUDIENCES": "aud", "ZITADEL_GATEWAY_ISSUERS_MAIN_PROJECT_ID": "aud",
                "ZITADEL_GATEWAY_ISSUERS_MAIN_CLIENT_IDS": "portal@main",
            ]
        ).0
        #expect(explicit.issuers.map(\.name) == ["main"])
        #expect(explicit.zitadel.pat == "operator-pat")
    }

    @Test func withoutTheMockNothingIsDefaulted() async throws {
        await #expect(throws: ConfigurationError.self) { try await Self.load(overrides: ["mockIdp.port": 9099]) }
        let (configuration, mockIdp) = try await Self.load(
            environment: [
                "ZITADEL_GATEWAY_ISSUERS_NAMES": "main", "ZITADEL_GATEWAY_ISSUERS_MAIN_URL": "https://issuer.example",
                "ZITADEL_GATEWAY_ISSUERS_MAIN_AUDIENCES": "aud", "ZITADEL_GATEWAY_ISSUERS_MAIN_PROJECT_ID": "aud",
                "ZITADEL_GATEWAY_ISSUERS_MAIN_CLIENT_IDS": "portal@main",
            ])
        #expect(!mockIdp.enabled && configuration.zitadel.pat == nil)
    }

    @Test func configCheckReportsTheMocksSettingsWithSecretsRedacted() async throws {
        // One key table: the mock's own keys and the gateway keys its defaults filled.
        let (configuration, _) = try await Self.load(
            overrides: ["mockIdp.enabled": true, "mockIdp.port": 9099, "mockIdp.seedFile": "Mocks/seed.json"])
        let lines = configuration.redactedSummary()
        for expected in [
            "mockIdp.enabled = true", "mockIdp.host = 127.0.0.1", "mockIdp.port = 9099", "mockIdp.seedFile = Mocks/seed.json",
            "issuers.mock.url = http://127.0.0.1:9099", "issuers.mock.introspection.clientSecret = <redacted>",
            "zitadel.pat = <redacted>", "issuers.names = mock",
        ] {
            #expect(lines.contains(expected), "\(expected)")
        }
        #expect(!lines.contains { $0.contains(Self.seededPAT) || $0.contains(MockZitadelDefaults.introspectionSecret) })
    }

    /// Loads through the executable's path with a configuration file of its own (not `Config/gateway.yaml`).
    static func load(
        file: String = "log:\n  level: info\n", overrides: [AbsoluteConfigKey: ConfigValue] = [:],
        environment: [String: String] = [:]
    ) async throws -> (GatewayConfiguration, EmbeddedMockIdp) {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("gateway-\(UUID().uuidString).yaml").path
        try Data(file.utf8).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        return try await EmbeddedMockIdp.load(configFile: path, overrides: overrides, environment: environment)
    }
}
