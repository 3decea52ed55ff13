import Configuration
import Foundation
import GatewayApp
import MockZitadel

/// `serve --with-mock-idp`: the mock Zitadel in the gateway's process, and the gateway settings that trust it.
///
/// Keys (read here, not by the gateway; `config check` lists them with the gateway's): `mockIdp.enabled` (false;
/// `--with-mock-idp`), `mockIdp.host` (`127.0.0.1`), `mockIdp.port` (8081; `--mock-port`), `mockIdp.seedFile`
/// (`Mocks/seed.json`).
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

    /// The gateway's configuration and the mock's settings, read in one reading: the `mockIdp.*` keys go into the
    /// gateway's key table, so `config check` prints them with the rest. With the mock enabled, the gateway
    /// settings that trust it are the last provider of the gateway's loading path, below the flags, the environment
    /// and the file, so an operator's explicit setting wins.
    static func load(
        configFile: String?, overrides: [AbsoluteConfigKey: ConfigValue],
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) async throws(ConfigurationError) -> (GatewayConfiguration, EmbeddedMockIdp) {
        let operatorSettings = try await GatewayConfiguration.providers(
            configFile: configFile, overrides: overrides, environment: environment)
        let keyTable = ConfigKeyTable()
        let mockIdp = EmbeddedMockIdp(reader: ConfigReader(providers: operatorSettings, accessReporter: keyTable))
        let defaults = mockIdp.enabled ? [mockIdp.gatewayDefaults(operatorSettings: ConfigReader(providers: operatorSettings))] : []
        let gateway = try await GatewayConfiguration.load(
            configFile: configFile, overrides: overrides, environment: environment, defaults: defaults, keyTable: keyTable)
        return (gateway, mockIdp)
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

}
