import AsyncHTTPClient
import Configuration
import Crypto
import Foundation
import GatewayApp
import Hummingbird
import HummingbirdTesting
import Logging
import MockZitadel
import NIOCore
import Prometheus
import SessionValidation
import Testing

/// Seeded mock users (Mocks/seed.json).
enum Seeded {
    static let acacia = "300000000000000101"
    static let banksia = "300000000000000102"
    static let coral = "300000000000000201"
    static let projectId = "300000000000000001"
    static let portalClientId = "300000000000000002@aidial"
    static let aliceClientAdmin = "300000000000001001"
    static let marcusClientManager = "300000000000001002"
    static let bethBanksiaAdmin = "300000000000001004"
    static let priyaPartnerAdmin = "300000000000001005"
    static let tomPartnerUser = "300000000000001006"
    static let noraNoAccess = "300000000000001007"
}

/// Calls the mock's admin API over HTTP, as any external test tool would.
struct MockAdmin {
    let baseURL: String
    let mock: MockZitadel

    func post(_ path: String, _ body: [String: Any]) async throws -> (Int, [String: Any]) {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: body)))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        let bytes = try await response.body.collect(upTo: 1 << 20)
        let object = (try? JSONSerialization.jsonObject(with: Data(buffer: bytes))) as? [String: Any] ?? [:]
        return (Int(response.status.code), object)
    }

    func get(_ path: String) async throws -> (Int, Any?) {
        let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: baseURL + path), timeout: .seconds(10))
        let bytes = try await response.body.collect(upTo: 4 << 20)
        return (Int(response.status.code), try? JSONSerialization.jsonObject(with: Data(buffer: bytes)))
    }

    func delete(_ path: String) async throws {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = .DELETE
        _ = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
    }

    /// Mints an access token for a seeded user through `POST /mock/admin/tokens`.
    func token(_ userId: String, format: String = "jwt", _ extra: [String: Any] = [:]) async throws -> String {
        var body: [String: Any] = ["userId": userId, "format": format]
        body.merge(extra) { _, new in new }
        let (status, object) = try await post("/mock/admin/tokens", body)
        try #require(status == 200, "mint failed: \(status) \(object)")
        return try #require(object["accessToken"] as? String)
    }

    func rotate(alg: String = "RS256", publish: Bool = true) async throws -> String {
        let (status, object) = try await post("/mock/admin/keys/rotate", ["alg": alg, "publish": publish])
        try #require(status == 200)
        return try #require(object["kid"] as? String)
    }

    /// How many times the gateway fetched the JWKS.
    func jwksFetches() async throws -> Int {
        let (_, entries) = try await get("/mock/admin/journal?path=/oauth/v2/keys")
        return (entries as? [Any])?.count ?? -1
    }

    func count(path: String) async throws -> Int {
        let (_, entries) = try await get("/mock/admin/journal?path=\(path)")
        return (entries as? [Any])?.count ?? -1
    }
}

/// Starts the mock Zitadel on an ephemeral loopback port and a gateway configured to trust it.
enum Harness {
    /// The mock issuer as `keys(_:)` configures it, for tests of the validator alone (applications are built from
    /// the keys).
    static func issuer(
        _ baseURL: String, _ tweak: (inout IssuerConfiguration) -> Void = { _ in }
    ) -> IssuerConfiguration {
        var issuer = IssuerConfiguration(
            name: "mock", issuer: baseURL, audiences: [Seeded.projectId], projectId: Seeded.projectId,
            clientIds: [Seeded.portalClientId], algorithms: [.rs256, .es256, .edDSA],
            introspection: .clientSecretBasic(
                clientId: MockZitadelDefaults.introspectionClientId,
                clientSecret: MockZitadelDefaults.introspectionSecret),
            jwks: JWKSPolicy(forcedRefetchInterval: .zero, unknownKidTTL: .seconds(1), fetchTimeout: .seconds(2)))
        tweak(&issuer)
        return issuer
    }

    /// The keys of a gateway that trusts the mock at `baseURL` and keeps its store in memory: where every test
    /// configuration starts. `mfa.userPolicyMetadataKey` empty: the built-in policy, no policy file.
    static func keys(_ baseURL: String, issuer name: String = "mock") -> [String: ConfigValue] {
        let issuer = "issuers.\(name)."
        return [
            "http.port": 0, "store.url": "sqlite::memory:", "mfa.userPolicyMetadataKey": "",
            "issuers.names": .list(name), issuer + "url": .text(baseURL), issuer + "audiences": .list(Seeded.projectId),
            issuer + "projectId": .text(Seeded.projectId), issuer + "clientIds": .list(Seeded.portalClientId),
            issuer + "algorithms": .list("RS256", "ES256", "EdDSA"),
            issuer + "introspection.clientId": .text(MockZitadelDefaults.introspectionClientId),
            issuer + "introspection.clientSecret": .secret(MockZitadelDefaults.introspectionSecret),
            issuer + "jwks.forcedRefetchSeconds": 0, issuer + "jwks.unknownKidSeconds": 1,
            issuer + "jwks.fetchTimeoutMs": 2000,
        ]
    }

    /// The keys of a Zitadel client that calls the mock at `baseURL` with the seeded `pat`.
    static func zitadel(
        _ baseURL: String, pat: String, timeoutMs: Int = 8000, retries: Int = 0, cacheSeconds: Int = 0
    ) -> [String: ConfigValue] {
        [
            "zitadel.url": .text(baseURL), "zitadel.pat": .secret(pat), "zitadel.timeoutMs": .init(integerLiteral: timeoutMs),
            "zitadel.retries": .init(integerLiteral: retries), "zitadel.cacheSeconds": .init(integerLiteral: cacheSeconds),
        ]
    }

    /// The keys of one API key for `key`, bound to `tenants` and `routes`.
    static func apiKey(_ name: String, key: String, tenants: [String], routes: [String]) -> [String: ConfigValue] {
        let hex = SHA256.hash(data: Array(key.utf8)).map { String(format: "%02x", $0) }.joined()
        return [
            "apiKeys.names": .list(name), "apiKeys.\(name).sha256": .secret(hex),
            "apiKeys.\(name).tenants": ConfigValue(.stringArray(tenants), isSecret: false),
            "apiKeys.\(name).routes": ConfigValue(.stringArray(routes), isSecret: false),
        ]
    }

    /// Runs `body` against a gateway built from `keys(mockBaseURL)` as `configure` changes them.
    static func withGateway(
        testing: TestingSetup = .router,
        configure: (_ keys: inout [String: ConfigValue], _ mockBaseURL: String) -> Void = { _, _ in },
        logs: LogCapture? = nil,
        registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry(),
        _ body: @escaping @Sendable (any TestClientProtocol, MockAdmin) async throws -> Void
    ) async throws {
        try await MockZitadelApp.withRunningMock { baseURL, mock in
            var keys = keys(baseURL)
            configure(&keys, baseURL)
            let configuration = try await GatewayConfiguration.testing(keys)
            let logger = logs?.logger ?? Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
            let app = try await buildApplication(configuration: configuration, logger: logger, registry: registry)
            try await app.test(testing) { client in
                try await body(client, MockAdmin(baseURL: baseURL, mock: mock))
            }
        }
    }
}

extension ConfigValue {
    /// A list, as the YAML file's `[a, b]`.
    static func list(_ values: String...) -> ConfigValue { ConfigValue(.stringArray(values), isSecret: false) }
    static func text(_ value: String) -> ConfigValue { ConfigValue(.string(value), isSecret: false) }
    static func secret(_ value: String) -> ConfigValue { ConfigValue(.string(value), isSecret: true) }
}

extension TestClientProtocol {
    func session(_ token: String?, headers extra: HTTPFields = [:]) async throws -> TestResponse {
        var headers = extra
        if let token { headers[.authorization] = "Bearer \(token)" }
        return try await execute(uri: "/v1/session", method: .get, headers: headers)
    }
}

extension TestResponse {
    var json: [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(buffer: body))) as? [String: Any] ?? [:]
    }

    var problemCode: String? { json["code"] as? String }
}

/// Collects every log line (message and metadata) in memory, for leak scans; never bootstraps logging.
final class LogCapture: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []

    var logger: Logger {
        var logger = Logger(
            label: "capture",
            factory: { _ in Handler(capture: self, metadataProvider: RequestLogContext.metadataProvider) })
        logger.logLevel = .trace
        return logger
    }

    var text: String { lock.withLock { lines.joined(separator: "\n") } }

    func append(_ line: String) { lock.withLock { lines.append(line) } }

    struct Handler: LogHandler {
        let capture: LogCapture
        var metadataProvider: Logger.MetadataProvider?
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let provided = metadataProvider?.get() ?? [:]
            let merged = provided.merging(metadata) { _, new in new }.merging(event.metadata ?? [:]) { _, new in new }
            capture.append("\(event.level) \(event.message) \(merged)")
        }
    }
}
