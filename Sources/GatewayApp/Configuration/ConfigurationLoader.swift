import Configuration
import Foundation
import SessionValidation
import SystemPackage

extension GatewayConfiguration {
    /// The configuration file read when none is named: the repository's embedded defaults.
    public static let defaultConfigFile = "Config/gateway.yaml"

    /// Builds the reader chain: `overrides` (command-line flags) win, then `ZITADEL_GATEWAY_*` environment
    /// variables (`issuers.main.url` is `ZITADEL_GATEWAY_ISSUERS_MAIN_URL`), then the YAML file, then `defaults`
    /// (values a composing executable supplies, which any explicit setting overrides).
    ///
    /// A named file must exist; the default file is optional.
    public static func reader(
        configFile: String?, overrides: [AbsoluteConfigKey: ConfigValue] = [:],
        environment: [String: String] = ProcessInfo.processInfo.environment, defaults: [any ConfigProvider] = []
    ) async throws -> ConfigReader {
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
        return ConfigReader(providers: providers + defaults)
    }
}
