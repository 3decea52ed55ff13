import AsyncHTTPClient
import Foundation
import MockZitadel
import NIOCore
import NIOHTTP1
import Testing

/// Two `zitadel-gateway serve` processes on one PostgreSQL database and one mock Zitadel, as an operator runs
/// them behind a load balancer: the SMS ledger, rate limits and lifecycle records are shared.
///
/// Runs when `ZITADEL_GATEWAY_TEST_POSTGRES_URL` names a server (`scripts/with-postgres.sh` provides one); under
/// `CI` a missing server fails instead of skipping.
@Suite(.serialized) struct MultiInstanceTests {
    static let urlVariable = "ZITADEL_GATEWAY_TEST_POSTGRES_URL"
    static var serverURL: String? {
        ProcessInfo.processInfo.environment[urlVariable].flatMap { $0.isEmpty ? nil : $0 }
    }
    static var runningUnderCI: Bool {
        let value = ProcessInfo.processInfo.environment["CI"] ?? ""
        return !value.isEmpty && value != "0" && value.lowercased() != "false"
    }
    /// The test server's URL with a schema of its own (created by the first gateway to start).
    static func freshSchemaURL() throws -> String {
        let base = try #require(serverURL, "\(urlVariable) is not set (run through scripts/with-postgres.sh)")
        let schema = "gw_multi_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(12)
        return base + (base.contains("?") ? "&" : "?") + "schema=\(schema)"
    }

    /// The per-user SMS limit both instances enforce together.
    static let userLimit = 3

    @Test(.enabled(if: serverURL != nil || runningUnderCI))
    func twoGatewaysShareLedgerRateLimitsAndMarkers() async throws {
        let storeURL = try Self.freshSchemaURL()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("multi-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let pat = try #require(Seeded.servicePAT)
        try await MockZitadelApp.withRunningMock { mockURL, mock in
            let admin = MockAdmin(baseURL: mockURL, mock: mock)
            let yaml = GatewayHTTP.yaml(
                mockURL: mockURL, pat: pat, storeURL: storeURL,
                extra: """
                    sms:
                      rateLimits:
                        user:
                          limit: \(Self.userLimit)
                    """
            ).replacingOccurrences(of: "  url: \"\(storeURL)\"", with: "  url: \"\(storeURL)\"\n  poolSize: 4\n  timeoutMs: 30000")
            async let startedA = GatewayProcess.start(yaml: yaml, directory: directory, name: "a")
            async let startedB = GatewayProcess.start(yaml: yaml, directory: directory, name: "b")
            let (a, b) = try await (startedA, startedB)
            let gateways = [a, b]

            // 1. Concurrent duplicate enrolments of one number, four keys, spread over both instances.
            let sam = try await admin.token(Seeded.samClientStaff, ["amr": ["pwd"]])
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for index in 0..<24 {
                    let gateway = gateways[index % 2]
                    group.addTask {
                        try await Self.enrol(gateway, token: sam, key: "dup-\(index % 4)", phone: "0491 570 031").status
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(statuses.allSatisfy { [200, 201, 409].contains($0) }, "statuses: \(statuses)")
            #expect(try await admin.calls("SetPhone") == 1)
            // Once the storm is over, every key answers with the one enrolment, from either instance.
            var ids: Set<String> = []
            for index in 0..<4 {
                for gateway in gateways {
                    let answer = try await Self.settled(gateway, token: sam, key: "dup-\(index)", phone: "0491 570 031")
                    #expect([200, 201].contains(answer.status))
                    if let id = answer.json["id"] as? String { ids.insert(id) }
                }
            }
            #expect(ids.count == 1)
            #expect(try await admin.calls("SetPhone") == 1)

            // 2. A per-user limit of N holds across both instances: N of 4N distinct requests get through.
            let marcus = try await admin.token(Seeded.marcusClientManager, ["amr": ["pwd"]])
            let limited = try await withThrowingTaskGroup(of: Int.self) { group in
                for index in 0..<(4 * Self.userLimit) {
                    let gateway = gateways[index % 2]
                    group.addTask {
                        try await Self.enrol(gateway, token: marcus, key: "rl-\(index)", phone: "0491 570 \(100 + index)").status
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(limited.filter { $0 == 201 }.count == Self.userLimit, "statuses: \(limited)")
            #expect(limited.filter { $0 == 429 }.count == 3 * Self.userLimit)
            #expect(try await admin.calls("SetPhone") == 1 + Self.userLimit)

            // 3. A lifecycle marker changed through one instance is stale on the other.
            let alice = try await admin.token(Seeded.aliceClientAdmin, ["amr": ["pwd", "otp", "mfa"]])
            let auth = ["Authorization": "Bearer \(alice)"]
            let before = try await GatewayHTTP.send(.GET, a.baseURL + "/v1/portal-mfa-lifecycle", headers: auth)
            let marker = try #require(before.json["marker"] as? String)
            let stored = try await GatewayHTTP.send(
                .POST, b.baseURL + "/v1/portal-mfa-lifecycle/actions", headers: auth,
                json: ["action": "recovery_codes_stored", "marker": marker])
            #expect(stored.status == 200)
            let stale = try await GatewayHTTP.send(
                .POST, a.baseURL + "/v1/portal-mfa-lifecycle/actions", headers: auth,
                json: ["action": "open_mfa_setup", "marker": marker])
            #expect(stale.status == 409)
            #expect(stale.json["code"] as? String == "stale_marker")
            let after = try await GatewayHTTP.send(.GET, a.baseURL + "/v1/portal-mfa-lifecycle", headers: auth)
            #expect(after.json["marker"] as? String != marker)
            #expect(after.json["recoveryCodeReminder"] as? String == "none")

            for gateway in gateways { #expect(await gateway.stop() == 0) }
            // Neither process logged the store's URL details beyond what config check prints, nor a number.
            for gateway in gateways { #expect(!gateway.output.contains("570 031") && !gateway.output.contains("570031")) }
        }
    }

    static func enrol(
        _ gateway: GatewayProcess, token: String, key: String, phone: String
    ) async throws
        -> (status: Int, json: [String: Any], headers: HTTPHeaders)
    {
        try await GatewayHTTP.send(
            .POST, gateway.baseURL + "/v1/portal-mfa-lifecycle/sms-enrolments",
            headers: ["Authorization": "Bearer \(token)", "Idempotency-Key": key], json: ["phone": phone])
    }

    /// The answer once the key's first request has finished (409 while it is in flight), within ten seconds.
    static func settled(
        _ gateway: GatewayProcess, token: String, key: String, phone: String
    ) async throws
        -> (status: Int, json: [String: Any], headers: HTTPHeaders)
    {
        var answer = try await enrol(gateway, token: token, key: key, phone: phone)
        let deadline = ContinuousClock.now + .seconds(10)
        while answer.status == 409, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(100))
            answer = try await enrol(gateway, token: token, key: key, phone: phone)
        }
        return answer
    }
}
