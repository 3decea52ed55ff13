import Configuration
import Foundation
import Testing

@testable import GatewayApp

/// `store.*` as read through the configuration chain, and how `config check` prints it.
@Suite struct StoreConfigurationTests {
    @Test func postgresKeysFromTheEnvironmentWithSecretsRedacted() async throws {
        let configuration = try await MFAConfigurationTests.configuration([
            "ZITADEL_GATEWAY_STORE_URL": "postgres://gateway:url-s3cret@db.internal:6432/gateway?sslmode=require",
            "ZITADEL_GATEWAY_STORE_POOL_SIZE": "7", "ZITADEL_GATEWAY_STORE_TIMEOUT_MS": "1500",
            "ZITADEL_GATEWAY_STORE_PASSWORD": "key-s3cret",
        ])
        #expect(configuration.store.poolSize == 7)
        #expect(configuration.store.timeout == .milliseconds(1500))
        #expect(configuration.store.password == "key-s3cret")
        let printed = configuration.redactedSummary().joined(separator: "\n")
        #expect(!printed.contains("url-s3cret") && !printed.contains("key-s3cret"))
        #expect(printed.contains("store.url = postgres://gateway:<redacted>@db.internal:6432/gateway?sslmode=require"))
        #expect(printed.contains("store.poolSize = 7"))
        #expect(printed.contains("store.password = <redacted>"))
    }

    @Test(arguments: [
        ["ZITADEL_GATEWAY_STORE_URL": "postgres://db.internal/gateway"],
        ["ZITADEL_GATEWAY_STORE_URL": "postgres://gateway@db.internal/gateway?sslmode=sometimes"],
        ["ZITADEL_GATEWAY_STORE_POOL_SIZE": "0"],
    ])
    func invalidStoreSettingsDoNotStart(_ environment: [String: String]) async throws {
        await #expect(throws: ConfigurationError.self) { _ = try await MFAConfigurationTests.configuration(environment) }
    }
}
