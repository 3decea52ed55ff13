import ArgumentParser
import AsyncHTTPClient
import Configuration
import Foundation
import GatewayApp
import Hummingbird
import Logging
import Metrics
import MockZitadel
import Prometheus
import ProviderContract
import ServiceLifecycle
import UnixSignals

@main
struct ZitadelGatewayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "zitadel-gateway",
        abstract: "The AiDial portal's trusted gateway to Zitadel: sessions, MFA lifecycle and SMS enrolment.",
        subcommands: [Serve.self, MockIdp.self, ConfigCommand.self, Contract.self],
        defaultSubcommand: Serve.self)
}

/// Options shared by the commands that read the gateway configuration. Options have no defaults so that
/// they never silently override the environment or the file.
struct ConfigOptions: ParsableArguments {
    @Option(name: .long, help: "Configuration file (YAML). Default: Config/gateway.yaml when present.")
    var config: String?

    @Option(name: .long, help: "Address to bind the gateway to (http.host).")
    var host: String?

    @Option(name: .long, help: "Port to bind the gateway to (http.port).")
    var port: Int?

    @Flag(name: .long, help: "Also run the built-in mock Zitadel in-process (mockIdp.enabled).")
    var withMockIdp = false

    @Option(name: .long, help: "Port for the in-process mock Zitadel (mockIdp.port).")
    var mockPort: Int?

    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error (log.level).")
    var logLevel: String?

    var overrides: [AbsoluteConfigKey: ConfigValue] {
        var values: [AbsoluteConfigKey: ConfigValue] = [:]
        if let host { values["http.host"] = ConfigValue(stringLiteral: host) }
        if let port { values["http.port"] = ConfigValue(integerLiteral: port) }
        if withMockIdp { values["mockIdp.enabled"] = true }
        if let mockPort { values["mockIdp.port"] = ConfigValue(integerLiteral: mockPort) }
        if let logLevel { values["log.level"] = ConfigValue(stringLiteral: logLevel) }
        return values
    }

    func load() async throws -> (gateway: GatewayConfiguration, mockIdp: EmbeddedMockIdp) {
        do {
            return try await EmbeddedMockIdp.load(configFile: config, overrides: overrides)
        } catch {
            throw ValidationError("\(error)")
        }
    }
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the gateway.")

    @OptionGroup var options: ConfigOptions

    func run() async throws {
        let (configuration, mockIdp) = try await options.load()
        Logging.bootstrap(format: configuration.logFormat, level: configuration.logLevel)
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        let logger = Logger(label: "zitadel-gateway")
        // The mock first: a service group stops its services in reverse order, so the gateway stops before it.
        var services: [any Service] = []
        if mockIdp.enabled {
            services.append(try await MockZitadelApp.build(configuration: mockIdp.configuration, logger: logger).0)
        }
        services.append(try await buildApplication(configuration: configuration, logger: logger, registry: registry))
        let group = ServiceGroup(
            configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}

struct MockIdp: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mock-idp", abstract: "Run the built-in mock Zitadel alone (default 127.0.0.1:8081).")

    @Option(name: .long, help: "Address to bind to.") var host: String?
    @Option(name: .long, help: "Port to bind to.") var port: Int?
    @Option(name: .long, help: "Seed file (default Mocks/seed.json).") var seed: String?
    @Option(name: .long, help: "Log level.") var logLevel: String?

    func run() async throws {
        Logging.bootstrap(format: .text, level: Logger.Level(rawValue: logLevel ?? "info") ?? .info)
        let logger = Logger(label: "mock-zitadel")
        var configuration = MockZitadelConfiguration(seedFile: seed)
        if let host { configuration.host = host }
        if let port { configuration.port = port }
        let (app, _) = try await MockZitadelApp.build(configuration: configuration, logger: logger)
        try await app.runService()
    }
}

struct ConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config", abstract: "Inspect the configuration.", subcommands: [Check.self])

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate the configuration and print the effective values, secrets redacted.")

        @OptionGroup var options: ConfigOptions

        func run() async throws {
            let (configuration, _) = try await options.load()
            for line in configuration.redactedSummary() { print(line) }
            print("configuration OK")
        }
    }
}

struct Contract: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check a live Zitadel's answers against the recorded fixtures' shapes (read-only calls only).",
        discussion: """
            Runs discovery, JWKS, the token exchange (service-account key), introspection (with --app-key) and the \
            v2 User and Session reads the gateway makes, and reports each call: OK, WARN (new field or enum value), \
            BREAK (missing field, type change, body the client cannot decode), FAIL (error answer) or SKIP. \
            Exits non-zero on any BREAK or FAIL. Never calls anything that changes state.
            """)

    @Option(name: .long, help: "The instance's issuer URL, e.g. https://my-instance.zitadel.cloud.") var issuer: String
    @Option(name: .long, help: "A personal access token (text file) or a service-account key JSON.") var credential: String
    @Option(name: .long, help: "The user to read (default: the service account's own user; required with a PAT).")
    var user: String?
    @Option(name: .long, help: "An API application key JSON, to check introspection (skipped without it).") var appKey: String?
    @Option(name: .long, help: "The fixtures directory (default Mocks/zitadel).") var fixtures: String?
    @Option(name: .long, help: "Seconds per call (default 10).") var timeout: Int?

    func run() async throws {
        let catalog: FixtureCatalog
        let target: ContractTarget
        do {
            let root = fixtures.map { URL(fileURLWithPath: $0) } ?? FixtureCatalog.defaultRoot()
            catalog = try FixtureCatalog(root: root)
            target = ContractTarget(
                issuer: issuer, credential: try ContractTarget.credential(path: credential), userId: user,
                applicationKey: try appKey.map(ApplicationKey.load(path:)), timeout: .seconds(timeout ?? 10))
        } catch {
            throw ValidationError("\(error)")
        }
        let report = await ContractRunner(catalog: catalog, target: target, http: .shared).run()
        for line in report.lines { print(line) }
        if !report.passed { throw ExitCode(1) }
    }
}

enum Logging {
    static func bootstrap(format: GatewayConfiguration.LogFormat, level: Logger.Level) {
        LoggingSystem.bootstrap(
            { label, provider in
                var handler = GatewayLogHandler(format: format, label: label, metadataProvider: provider)
                handler.logLevel = level
                return handler
            }, metadataProvider: RequestLogContext.metadataProvider)
    }
}
