import AsyncHTTPClient
import Configuration
import Foundation
import GatewayCore
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import MockZitadel
import NIOCore
import Prometheus
import Testing

@testable import GatewayApp

extension Seeded {
    static let samClientStaff = "300000000000001003"
    static let seedFile = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Mocks/seed.json").path
    /// The mock gateway machine user's PAT, as `--with-mock-idp` reads it.
    static var servicePAT: String? { MockZitadelConfiguration(seedFile: seedFile).serviceUserPAT() }
}

/// A gateway wired to the mock's v2 services with the seeded PAT and no lookup cache. The default deadline is
/// generous (the whole suite runs in parallel on two cores); fault tests set short ones explicitly.
enum LifecycleHarness {
    /// `policy`, `apiKeys` and `sms` are configuration keys (`mfa.*`, `apiKeys.*`, `sms.*`) over the harness's.
    static func run(
        timeoutMs: Int = 8000, retries: Int = 0, cacheSeconds: Int = 0,
        policy: [String: ConfigValue] = ["mfa.userPolicyMetadataKey": "aidial.mfa.policy"],
        style: MFASetupURLStyle = .console, apiKeys: [String: ConfigValue] = [:], testing: TestingSetup = .router,
        sms: [String: ConfigValue] = [:], smsLeaseSeconds: Int? = nil, logs: LogCapture? = nil,
        registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry(),
        _ body: @escaping @Sendable (any TestClientProtocol, MockAdmin, MockRPC) async throws -> Void
    ) async throws {
        let pat = try #require(Seeded.servicePAT, "Mocks/seed.json has no PAT for the gateway machine user")
        let configure = { (keys: inout [String: ConfigValue], baseURL: String) in
            keys.merge(
                Harness.zitadel(baseURL, pat: pat, timeoutMs: timeoutMs, retries: retries, cacheSeconds: cacheSeconds)
            ) { $1 }
            keys["mfa.setupUrlStyle"] = .text(style.rawValue)
            keys.merge(policy) { $1 }
            keys.merge(apiKeys) { $1 }
            keys.merge(sms) { $1 }
            if let smsLeaseSeconds { keys["sms.forwardLeaseSeconds"] = .init(integerLiteral: smsLeaseSeconds) }
        }
        try await Harness.withGateway(testing: testing, configure: configure, logs: logs, registry: registry) { client, admin in
            try await body(client, admin, MockRPC(baseURL: admin.baseURL, pat: pat))
        }
    }
}

/// Changes provider state the way an administrator would: the mock's v2 API with the service PAT.
struct MockRPC {
    let baseURL: String
    let pat: String

    @discardableResult
    func user(_ method: String, _ body: [String: Any]) async throws -> (Int, [String: Any]) {
        var request = HTTPClientRequest(url: "\(baseURL)/zitadel.user.v2.UserService/\(method)")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "Authorization", value: "Bearer \(pat)")
        request.body = .bytes(ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: body)))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        let bytes = try await response.body.collect(upTo: 1 << 20)
        let object = (try? JSONSerialization.jsonObject(with: Data(buffer: bytes))) as? [String: Any] ?? [:]
        return (Int(response.status.code), object)
    }
}

extension MockAdmin {
    /// Installs a fault on a v2 RPC path through `POST /mock/admin/faults`.
    func fault(rpc: String, _ spec: [String: Any]) async throws {
        var body = spec
        body["path"] = "/zitadel.user.v2.UserService/\(rpc)"
        let (status, object) = try await post("/mock/admin/faults", body)
        try #require(status == 201, "fault not installed: \(status) \(object)")
    }
}

extension TestClientProtocol {
    func lifecycle(_ token: String, tenant: String? = nil, idToken: String? = nil) async throws -> TestResponse {
        var headers: HTTPFields = [.authorization: "Bearer \(token)"]
        if let tenant { headers[.init("X-AiDial-Tenant")!] = tenant }
        if let idToken { headers[.init("X-AiDial-ID-Token")!] = idToken }
        return try await execute(uri: "/v1/portal-mfa-lifecycle", method: .get, headers: headers)
    }

    func act(
        _ token: String, _ action: String, marker: String?, tenant: String? = nil, idToken: String? = nil
    ) async throws -> TestResponse {
        var headers: HTTPFields = [.authorization: "Bearer \(token)", .contentType: "application/json"]
        if let tenant { headers[.init("X-AiDial-Tenant")!] = tenant }
        if let idToken { headers[.init("X-AiDial-ID-Token")!] = idToken }
        var body: [String: Any] = ["action": action]
        if let marker { body["marker"] = marker }
        return try await execute(
            uri: "/v1/portal-mfa-lifecycle/actions", method: .post, headers: headers,
            body: ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: body)))
    }
}

extension TestResponse {
    var actions: [String] { (json["availableActions"] as? [[String: Any]] ?? []).compactMap { $0["action"] as? String } }
    var marker: String? { json["marker"] as? String }
    var status_: String? { json["securityStatus"] as? String }
    var enrolled: [String] { (json["enrolledFactors"] as? [[String: Any]] ?? []).compactMap { $0["factor"] as? String } }

    func url(of action: String) -> String? {
        (json["availableActions"] as? [[String: Any]] ?? []).first { $0["action"] as? String == action }?["url"] as? String
    }

    /// The snapshot inside an action result or a stale-marker problem.
    var snapshot: [String: Any] { json["snapshot"] as? [String: Any] ?? [:] }
}
