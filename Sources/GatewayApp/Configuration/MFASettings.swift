import Configuration
import Foundation
import GatewayCore
import SessionValidation
import SystemPackage

/// MFA policy and lifecycle settings (`mfa.*`).
public struct MFASettings: Sendable {
    /// The policy: inline `mfa.roles.*`/`mfa.tenants.*` keys, else the policy file's, else the built-in one.
    public var policy: MFAPolicyConfiguration
    /// Where the policy came from (`inline`, `default` or the file path).
    public var policyOrigin: String
    public var setupURLStyle: MFASetupURLStyle

    public static let defaultPolicyFile = "Config/mfa-policy.yaml"

    public init(
        policy: MFAPolicyConfiguration = MFAPolicyConfiguration(), policyOrigin: String = "default",
        setupURLStyle: MFASetupURLStyle = .console
    ) {
        self.policy = policy
        self.policyOrigin = policyOrigin
        self.setupURLStyle = setupURLStyle
    }

    /// Reads the settings from `reader` scoped to `mfa`, and the policy file when the policy is not inline.
    ///
    /// Keys:
    /// - `setupUrlStyle` (`console` or `loginV2`)
    /// - the policy inline (`MFAPolicyConfiguration(reader:origin:)`: `roles.*`, `tenants.*`,
    ///   `userPolicyMetadataKey`), or `policyFile` (`Config/mfa-policy.yaml`, optional when not named): YAML with
    ///   the same keys under `mfa:`, read and checked here, so a missing or broken file stops the load
    /// - `userPolicyMetadataKey` alone keeps the built-in role policy and sets the metadata key (empty: none)
    ///
    /// `policyFileReporter` sees the policy file's keys, as the configuration's reporter sees the others.
    public init(reader: ConfigReader, policyFileReporter: (any AccessReporter)? = nil) async throws(ConfigurationError) {
        guard let style = MFASetupURLStyle(rawValue: reader.string(forKey: "setupUrlStyle", default: "console")) else {
            throw ConfigurationError("mfa.setupUrlStyle must be console or loginV2")
        }
        self.init(setupURLStyle: style)
        if var inline = try MFAPolicyConfiguration(reader: reader, origin: "mfa") {
            if inline.userPolicyMetadataKey?.isEmpty == true { inline.userPolicyMetadataKey = nil }
            policy = inline
            policyOrigin = "inline"
            return
        }
        let named = reader.string(forKey: "policyFile")
        let file = named ?? Self.defaultPolicyFile
        guard named != nil || FileManager.default.fileExists(atPath: file) else { return }
        // Read again with the file as default, so that the key table shows which file was used.
        _ = reader.string(forKey: "policyFile", default: file)
        policy = try await Self.readPolicyFile(file, reporter: policyFileReporter)
        policyOrigin = file
    }

    private static func readPolicyFile(
        _ path: String, reporter: (any AccessReporter)?
    ) async throws(ConfigurationError) -> MFAPolicyConfiguration {
        guard FileManager.default.fileExists(atPath: path) else {
            throw ConfigurationError("mfa.policyFile \(path) does not exist")
        }
        let provider: FileProvider<YAMLSnapshot>
        do { provider = try await FileProvider<YAMLSnapshot>(filePath: FilePath(path)) } catch {
            throw ConfigurationError("mfa.policyFile \(path) is not valid YAML")
        }
        let reader = ConfigReader(provider: provider, accessReporter: reporter).scoped(to: "mfa")
        return try MFAPolicyConfiguration(reader: reader, origin: "mfa.policyFile \(path): mfa") ?? MFAPolicyConfiguration()
    }
}
