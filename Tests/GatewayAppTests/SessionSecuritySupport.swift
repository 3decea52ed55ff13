import AsyncHTTPClient
import Configuration
import Foundation
import GatewayCore
import GatewayStore
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import MockZitadel
import NIOCore
import Testing

@testable import GatewayApp

/// Gateways wired to the mock's Session service with the seeded PAT, sharing one store.
enum SessionSecurityHarness {
    /// A fresh SQLite file in a temporary directory (removed by the caller's `defer`).
    static func temporaryStoreURL() -> (url: String, directory: URL) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sessions-\(UUID().uuidString)")
        return ("sqlite:" + directory.appendingPathComponent("gateway.sqlite").path, directory)
    }

    static func configuration(
        mockBaseURL: String, storeURL: String, cacheSeconds: Int, timeoutMs: Int = 8000,
        extra: [String: ConfigValue] = [:]
    ) async throws -> GatewayConfiguration {
        let pat = try #require(Seeded.servicePAT, "Mocks/seed.json has no PAT for the gateway machine user")
        return try await GatewayConfiguration.testing(
            Harness.keys(mockBaseURL).merging(Harness.zitadel(mockBaseURL, pat: pat, timeoutMs: timeoutMs)) { $1 }
                .merging([
                    "mfa.userPolicyMetadataKey": "aidial.mfa.policy", "store.url": .text(storeURL),
                    "sessions.revocationCacheSeconds": .init(integerLiteral: cacheSeconds),
                    "sessions.postLogoutRedirectUri": "http://localhost:3000/",
                ]) { $1 }.merging(extra) { $1 })
    }

    /// One gateway against the mock; the store is a temporary SQLite file the body may open to read the audit trail.
    static func run(
        cacheSeconds: Int = 1, timeoutMs: Int = 8000,
        _ body: @escaping @Sendable (any TestClientProtocol, MockAdmin, _ storeURL: String) async throws -> Void
    ) async throws {
        let (storeURL, directory) = temporaryStoreURL()
        defer { try? FileManager.default.removeItem(at: directory) }
        try await MockZitadelApp.withRunningMock { baseURL, mock in
            let configuration = try await configuration(
                mockBaseURL: baseURL, storeURL: storeURL, cacheSeconds: cacheSeconds, timeoutMs: timeoutMs)
            let app = try await buildApplication(configuration: configuration, logger: quiet)
            try await app.test(.router) { client in
                try await body(client, MockAdmin(baseURL: baseURL, mock: mock), storeURL)
            }
        }
    }

    /// Two gateway instances against one mock and one store (`storeURL`: a shared SQLite file here; a PostgreSQL
    /// URL once that store exists), as behind a load balancer.
    static func runTwoInstances(
        storeURL: String, cacheSeconds: Int,
        _ body: @escaping @Sendable (any TestClientProtocol, any TestClientProtocol, MockAdmin) async throws -> Void
    ) async throws {
        try await MockZitadelApp.withRunningMock { baseURL, mock in
            // The whole suite shares one PostgreSQL server: a store call may queue for a connection well past the
            // 5 s production deadline without anything being wrong (as MultiInstanceTests allows).
            let shared: [String: ConfigValue] = storeURL.hasPrefix("postgres") ? ["store.timeoutMs": 30000, "store.poolSize": 4] : [:]
            let configuration = try await configuration(
                mockBaseURL: baseURL, storeURL: storeURL, cacheSeconds: cacheSeconds, extra: shared)
            let first = try await buildApplication(configuration: configuration, logger: quiet)
            let second = try await buildApplication(configuration: configuration, logger: quiet)
            try await first.test(.router) { one in
                try await second.test(.router) { two in
                    try await body(one, two, MockAdmin(baseURL: baseURL, mock: mock))
                }
            }
        }
    }

    static let quiet = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    /// The audit events of a tenant, read from the store file the gateway wrote.
    static func auditEvents(storeURL: String, tenant: String) async throws -> [AuditEvent] {
        let store = try await GatewayStoreFactory.open(url: storeURL)
        let page = try await store.auditEvents(tenant: tenant, after: nil, limit: 500)
        try await store.close()
        return page.events
    }
}

extension MockAdmin {
    /// Mints a token and returns it with the mock session it belongs to. `actionsEnrichedSID`: the opt-in Zitadel
    /// Actions enrichment that adds `sid` to the token and its introspection (Zitadel itself never does).
    func mint(
        _ userId: String, format: String = "jwt", actionsEnrichedSID: Bool = false, _ extra: [String: Any] = [:]
    ) async throws -> (
        token: String, sessionId: String
    ) {
        var body: [String: Any] = ["userId": userId, "format": format, "amr": ["pwd", "otp", "mfa"]]
        if actionsEnrichedSID { body["actionClaims"] = ["sid"] }
        body.merge(extra) { _, new in new }
        let (status, object) = try await post("/mock/admin/tokens", body)
        try #require(status == 200, "mint failed: \(status) \(object)")
        return (try #require(object["accessToken"] as? String), try #require(object["sessionId"] as? String))
    }

    /// Whether the mock still reports the session active (`GET /mock/admin/sessions`).
    func sessionActive(_ id: String, userId: String) async throws -> Bool? {
        let (_, list) = try await get("/mock/admin/sessions?userId=\(userId)")
        let sessions = list as? [[String: Any]] ?? []
        return sessions.first { $0["id"] as? String == id }?["active"] as? Bool
    }

    /// RFC 7662 at the mock as the gateway's API application: is the token still active there?
    func introspectionActive(_ token: String) async throws -> Bool {
        var request = HTTPClientRequestBuilder.revoke(baseURL: baseURL, token: token)
        request.url = baseURL + "/oauth/v2/introspect"
        request.method = .POST
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        let bytes = try await response.body.collect(upTo: 1 << 20)
        let object = (try? JSONSerialization.jsonObject(with: Data(buffer: bytes))) as? [String: Any] ?? [:]
        return object["active"] as? Bool ?? false
    }
}

extension TestClientProtocol {
    func call(
        _ method: HTTPRequest.Method, _ uri: String, token: String, tenant: String? = nil
    ) async throws -> TestResponse {
        var headers: HTTPFields = [.authorization: "Bearer \(token)"]
        if let tenant { headers[.init("X-AiDial-Tenant")!] = tenant }
        return try await execute(uri: uri, method: method, headers: headers)
    }
}

extension TestResponse {
    var sessionIds: [String] { (json["sessions"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String } }
}
