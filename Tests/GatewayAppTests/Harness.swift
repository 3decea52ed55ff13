import AsyncHTTPClient
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
    typealias IssuerTweak = (inout IssuerConfiguration) -> Void

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

    static func withGateway(
        testing: TestingSetup = .router,
        issuer tweak: (inout IssuerConfiguration) -> Void = { _ in },
        apiKeys: [APIKeyConfiguration] = [],
        configure: (_ configuration: inout GatewayConfiguration, _ mockBaseURL: String) -> Void = { _, _ in },
        logs: LogCapture? = nil,
        registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry(),
        _ body: @escaping @Sendable (any TestClientProtocol, MockAdmin) async throws -> Void
    ) async throws {
        try await MockZitadelApp.withRunningMock { baseURL, mock in
            var configuration = GatewayConfiguration(
                port: 0, issuers: [issuer(baseURL, tweak)], apiKeys: apiKeys)
            configure(&configuration, baseURL)
            let logger = logs?.logger ?? Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
            let app = try await buildApplication(configuration: configuration, logger: logger, registry: registry)
            try await app.test(testing) { client in
                try await body(client, MockAdmin(baseURL: baseURL, mock: mock))
            }
        }
    }
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
