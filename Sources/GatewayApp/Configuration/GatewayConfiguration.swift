import Configuration
import Foundation
import GatewayCore
import Logging
import SessionValidation

/// Configuration that cannot be started with (re-exported for the command line).
public typealias ConfigurationError = SessionValidation.ConfigurationError

/// The gateway's effective configuration, read in one phase: every key, and every file a key names, is read
/// and checked by `init(providers:)`; nothing reads configuration later at start-up.
///
/// Each part reads its own keys from a reader scoped to its prefix, and documents them at its initialiser:
/// `IssuerConfiguration(name:reader:)` (`issuers.<name>.*`), `ValidationSettings(reader:)` (`validation.*`),
/// `APIKeyConfiguration(name:reader:)` (`apiKeys.<name>.*`), `ZitadelSettings(reader:)` (`zitadel.*`),
/// `MFASettings(reader:)` (`mfa.*`), `StoreSettings(reader:)` (`store.*`), `SMSSettings(reader:)` (`sms.*`),
/// `SessionSettings(reader:)` (`sessions.*`); this type reads `http.*`, `log.*`, `issuers.names` and `apiKeys.names`
/// (see `init(providers:keyTable:)`).
public struct GatewayConfiguration: Sendable {
    public var host: String
    public var port: Int
    public var logLevel: Logger.Level
    public var logFormat: LogFormat
    /// One `info` line per request (method, route template, status, duration, request id, problem code).
    public var accessLog: Bool
    public var issuers: [IssuerConfiguration]
    public var validation: ValidationSettings
    public var apiKeys: [APIKeyConfiguration]
    public var zitadel: ZitadelSettings
    public var mfa: MFASettings
    public var store: StoreSettings
    public var sms: SMSSettings
    public var sessions: SessionSettings
    /// Every key read, with its effective value and secrets redacted: `config check` prints it.
    public let keyTable: ConfigKeyTable

    public enum LogFormat: String, Sendable { case text, json }

    /// Reads and checks the configuration from `providers` (first wins); any missing or invalid setting, or a
    /// missing or broken file that a setting names, is a load error naming the key.
    ///
    /// Keys read here: `http.host` (`127.0.0.1`), `http.port` (8080, 0-65535), `log.level` (`info`), `log.format`
    /// (`text` or `json`), `log.accessLog` (true: one `info` line per request), `issuers.names` (list; at least
    /// one issuer) and `apiKeys.names` (list).
    ///
    /// `keyTable` records every key read; a caller that reads keys of its own from the same providers (the
    /// executable's `mockIdp.*`) passes the table it reported those to, so `config check` prints one table.
    public init(providers: [any ConfigProvider], keyTable: ConfigKeyTable = ConfigKeyTable()) async throws(ConfigurationError) {
        self.keyTable = keyTable
        let reader = ConfigReader(providers: providers, accessReporter: keyTable)
        host = reader.string(forKey: "http.host", default: "127.0.0.1")
        port = reader.int(forKey: "http.port", default: 8080)
        guard (0...65535).contains(port) else { throw ConfigurationError("http.port must be 0-65535") }
        let level = reader.string(forKey: "log.level", default: "info")
        guard let parsedLevel = Logger.Level(rawValue: level) else {
            throw ConfigurationError("log.level must be one of trace, debug, info, notice, warning, error, critical")
        }
        logLevel = parsedLevel
        guard let format = LogFormat(rawValue: reader.string(forKey: "log.format", default: "text")) else {
            throw ConfigurationError("log.format must be text or json")
        }
        logFormat = format
        accessLog = reader.bool(forKey: "log.accessLog", default: true)

        var issuers: [IssuerConfiguration] = []
        for name in reader.stringArray(forKey: "issuers.names", default: []) {
            issuers.append(try IssuerConfiguration(name: name, reader: reader.scoped(to: ConfigKey(["issuers", name]))))
        }
        guard !issuers.isEmpty else {
            throw ConfigurationError("no issuer configured: set issuers.names and issuers.<name>.url (or run with --with-mock-idp)")
        }
        self.issuers = issuers
        validation = try ValidationSettings(reader: reader.scoped(to: "validation"))
        apiKeys = try reader.stringArray(forKey: "apiKeys.names", default: []).map { (name) throws(ConfigurationError) in
            try APIKeyConfiguration(name: name, reader: reader.scoped(to: ConfigKey(["apiKeys", name])))
        }
        zitadel = try ZitadelSettings(reader: reader.scoped(to: "zitadel"))
        mfa = try await MFASettings(reader: reader.scoped(to: "mfa"), policyFileReporter: keyTable)
        store = try StoreSettings(reader: reader.scoped(to: "store"))
        keyTable.present("store.url", as: store.redactedURL)
        sms = try SMSSettings(reader: reader.scoped(to: "sms"))
        sessions = try SessionSettings(reader: reader.scoped(to: "sessions"))
    }

    /// The effective configuration as `key = value` lines, secrets redacted, for `config check`: the key table
    /// of the reading itself, so it cannot drift from the keys read.
    public func redactedSummary() -> [String] { keyTable.lines }

    /// The forward lease in effect: configured, or derived from the Zitadel call deadline.
    var smsForwardLeaseSeconds: Double {
        let deadline = Double(zitadel.timeout.components.seconds) + Double(zitadel.timeout.components.attoseconds) / 1e18
        return max(sms.forwardLeaseSeconds ?? (2 * deadline + 2), deadline + 1)
    }
}
