import Configuration
import Foundation
import GatewayApp
import MockZitadel

/// `serve --with-mock-idp`: the mock Zitadel in the gateway's process, and the gateway settings that trust it.
///
/// Keys (read here, not by the gateway): `mockIdp.enabled` (false; `--with-mock-idp`), `mockIdp.host`
/// (`127.0.0.1`), `mockIdp.port` (8081; `--mock-port`), `mockIdp.seedFile` (`Mocks/seed.json`).
struct EmbeddedMockIdp {
    var enabled: Bool
    var configuration: MockZitadelConfiguration

    init(reader: ConfigReader) {
        enabled = reader.bool(forKey: "mockIdp.enabled", default: false)
        let defaults = MockZitadelConfiguration()
        configuration = MockZitadelConfiguration(
            host: reader.string(forKey: "mockIdp.host", default: defaults.host),
            port: reader.int(forKey: "mockIdp.port", default: defaults.port), seedFile: reader.string(forKey: "mockIdp.seedFile"))
    }

    /// The gateway's reader and the mock's settings. With the mock enabled, the gateway settings that trust it sit
    /// below the flags, the environment and the file, so an operator's explicit setting wins.
    static func gatewayReader(
        configFile: String?, overrides: [AbsoluteConfigKey: ConfigValue],
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) async throws -> (ConfigReader, EmbeddedMockIdp) {
        let reader = try await GatewayConfiguration.reader(
            configFile: configFile, overrides: overrides, environment: environment)
        let mockIdp = EmbeddedMockIdp(reader: reader)
        guard mockIdp.enabled else { return (reader, mockIdp) }
        let withDefaults = try await GatewayConfiguration.reader(
            configFile: configFile, overrides: overrides, environment: environment,
            defaults: [mockIdp.gatewayDefaults(operatorSettings: reader)])
        return (withDefaults, mockIdp)
    }

    /// An issuer `mock` for the mock's portal project and applications, and the mock machine user's PAT from the
    /// seed. The PAT only when the operator names no Zitadel credential: it would otherwise win over a key file.
    func gatewayDefaults(operatorSettings reader: ConfigReader) -> InMemoryProvider {
        var values: [AbsoluteConfigKey: ConfigValue] = [
            "issuers.names": .init(.stringArray(["mock"]), isSecret: false),
            "issuers.mock.url": .init(.string(configuration.issuerURL), isSecret: false),
            "issuers.mock.audiences": .init(.stringArray([MockZitadelDefaults.projectId]), isSecret: false),
            "issuers.mock.projectId": .init(.string(MockZitadelDefaults.projectId), isSecret: false),
            "issuers.mock.clientIds": .init(.stringArray([MockZitadelDefaults.portalClientId]), isSecret: false),
            "issuers.mock.algorithms": .init(.stringArray(["RS256", "ES256", "EdDSA"]), isSecret: false),
            "issuers.mock.introspection.clientId": .init(.string(MockZitadelDefaults.introspectionClientId), isSecret: false),
            "issuers.mock.introspection.clientSecret": .init(.string(MockZitadelDefaults.introspectionSecret), isSecret: true),
        ]
        let credential = reader.string(forKey: "zitadel.pat", isSecret: true) ?? reader.string(forKey: "zitadel.keyFile")
        if credential == nil, let pat = configuration.serviceUserPAT() {
            values["zitadel.pat"] = .init(.string(pat), isSecret: true)
        }
        return InMemoryProvider(name: "mockIdp", values: values)
    }

    /// The `mockIdp.*` lines of `config check`.
    var summary: [String] {
        [
            "mockIdp.enabled = \(enabled)", "mockIdp.host = \(configuration.host)", "mockIdp.port = \(configuration.port)",
            "mockIdp.seedFile = \(configuration.seedFile ?? "(default)")",
        ]
    }
}
