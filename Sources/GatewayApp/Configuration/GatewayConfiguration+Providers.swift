import Configuration
import Foundation
import SessionValidation
import SystemPackage

extension GatewayConfiguration {
    /// The configuration file read when none is named: the repository's embedded defaults.
    public static let defaultConfigFile = "Config/gateway.yaml"

    /// Loads the configuration from the production chain (`providers(configFile:overrides:environment:)`), then
    /// `defaults`: values a composing executable supplies (the embedded mock's issuer and PAT), which any explicit
    /// setting overrides. Keys the caller read itself go in `keyTable`, so `config check` shows them too.
    public static func load(
        configFile: String?, overrides: [AbsoluteConfigKey: ConfigValue] = [:],
        environment: [String: String] = ProcessInfo.processInfo.environment, defaults: [any ConfigProvider] = [],
        keyTable: ConfigKeyTable = ConfigKeyTable()
    ) async throws(ConfigurationError) -> GatewayConfiguration {
        try await GatewayConfiguration(
            providers: providers(configFile: configFile, overrides: overrides, environment: environment) + defaults,
            keyTable: keyTable)
    }

    /// Loads a configuration from `values` alone (keys as in the YAML file, `issuers.main.url`), through the
    /// same reading as production: how tests build applications.
    public static func testing(_ values: [String: ConfigValue]) async throws(ConfigurationError) -> GatewayConfiguration {
        var keyed: [AbsoluteConfigKey: ConfigValue] = [:]
        for (key, value) in values { keyed[AbsoluteConfigKey(ConfigKey(key))] = value }
        return try await GatewayConfiguration(providers: [InMemoryProvider(name: "testing", values: keyed)])
    }

    /// The provider chain: `overrides` (command-line flags) win, then `ZITADEL_GATEWAY_*` environment variables
    /// (`issuers.main.url` is `ZITADEL_GATEWAY_ISSUERS_MAIN_URL`), then the YAML file.
    ///
    /// A named file must exist; the default file is optional.
    public static func providers(
        configFile: String?, overrides: [AbsoluteConfigKey: ConfigValue] = [:],
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) async throws(ConfigurationError) -> [any ConfigProvider] {
        var providers: [any ConfigProvider] = []
        if !overrides.isEmpty { providers.append(InMemoryProvider(name: "flags", values: overrides)) }
        let environmentProvider = EnvironmentVariablesProvider(
            environmentVariables: environment,
            secretsSpecifier: .dynamic { key, _ in
                let upper = key.uppercased()
                return upper.contains("SECRET") || upper.contains("SHA256") || upper.contains("PASSWORD")
                    || upper.hasSuffix("_PAT") || upper.contains("NUMBER_KEY")
            })
        providers.append(
            KeyMappingProvider(upstream: environmentProvider) { key in key.prepending(["zitadelGateway"]) })
        let path = configFile ?? defaultConfigFile
        if configFile != nil || FileManager.default.fileExists(atPath: path) {
            guard FileManager.default.fileExists(atPath: path) else {
                throw ConfigurationError("configuration file \(path) does not exist")
            }
            do {
                providers.append(try await FileProvider<YAMLSnapshot>(filePath: FilePath(path)))
            } catch {
                throw ConfigurationError("configuration file \(path) is not valid YAML: \(error)")
            }
        }
        return providers
    }
}
