import Foundation
import GatewayStore
import Testing

/// A store implementation the contract runs against.
struct StoreBackend: Sendable, CustomTestStringConvertible {
    var name: String
    var open: @Sendable () async throws -> any GatewayStore

    var testDescription: String { name }
}

/// Every backend of the shared store contract: SQLite always; PostgreSQL when `ZITADEL_GATEWAY_TEST_POSTGRES_URL`
/// names a server (`scripts/with-postgres.sh` starts one; under `CI` a missing server fails
/// `PostgresServerTests.aServerIsConfiguredUnderCI`). Each PostgreSQL test gets a schema of its own.
enum StoreBackends {
    static var all: [StoreBackend] {
        var backends = [
            StoreBackend(name: "sqlite-memory") { try await GatewayStoreFactory.open(url: "sqlite::memory:") },
            StoreBackend(name: "sqlite-file") {
                let path = FileManager.default.temporaryDirectory.appendingPathComponent("ledger-\(UUID().uuidString).sqlite").path
                return try await GatewayStoreFactory.open(url: "sqlite:\(path)")
            },
        ]
        if PostgresTestServer.url != nil {
            backends.append(
                StoreBackend(name: "postgres") {
                    try await GatewayStoreFactory.open(
                        url: PostgresTestServer.freshSchemaURL(), operationTimeout: PostgresTestServer.operationTimeout)
                })
        }
        return backends
    }
}

/// The PostgreSQL server the tests use, from the environment.
enum PostgresTestServer {
    static let variable = "ZITADEL_GATEWAY_TEST_POSTGRES_URL"
    /// Generous: the tests check decisions, not latency, and the whole suite shares two cores.
    static let operationTimeout: Duration = .seconds(30)

    static var url: String? {
        guard let value = ProcessInfo.processInfo.environment[variable], !value.isEmpty else { return nil }
        return value
    }

    static var runningUnderCI: Bool {
        ["CI", "ZITADEL_GATEWAY_TEST_REQUIRE_SERVICES"].contains { name in
            let value = ProcessInfo.processInfo.environment[name] ?? ""
            return !value.isEmpty && value != "0" && value.lowercased() != "false"
        }
    }

    /// The server's URL with a new, unused schema: a test's tables start empty.
    static func freshSchemaURL() -> String {
        let base = url ?? ""
        let schema = "gw_test_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(16)
        return base + (base.contains("?") ? "&" : "?") + "schema=\(schema)"
    }
}
