import Configuration
import Foundation
import HTTPTypes
import HummingbirdTesting
import Metrics
import Prometheus
import Testing

@testable import GatewayApp

/// swift-metrics is bootstrapped once per process: every test that reads `/metrics` shares this registry.
/// Counters carry the issuer's name, so each test names its issuer uniquely and counts exactly; label-free
/// counters are compared before and after, since other suites run alongside.
enum TestMetrics {
    static let registry: PrometheusCollectorRegistry = {
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        return registry
    }()

    /// The sum of every sample of `name` whose labels include `labels` (Prometheus text format).
    static func value(_ name: String, _ labels: [String: String] = [:], in text: String) -> Double {
        var total = 0.0
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
            let series = line[..<space]
            let metric: Substring
            var found: [String: String] = [:]
            if let brace = series.firstIndex(of: "{") {
                metric = series[..<brace]
                for pair in series[series.index(after: brace)..<series.index(before: series.endIndex)].split(separator: ",") {
                    let parts = pair.split(separator: "=", maxSplits: 1)
                    guard parts.count == 2 else { continue }
                    found[String(parts[0])] = String(parts[1].dropFirst().dropLast())
                }
            } else {
                metric = series
            }
            guard metric == name, labels.allSatisfy({ found[$0.key] == $0.value }) else { continue }
            total += value
        }
        return total
    }
}

extension TestClientProtocol {
    func metricsText() async throws -> String {
        let response = try await execute(uri: "/metrics", method: .get)
        #expect(response.status == .ok)
        return String(buffer: response.body)
    }
}

@Suite struct ObservabilityTests {
    @Test func validationOutcomesProviderCallsAndCacheRatiosAreCountedPerIssuer() async throws {
        let registry = TestMetrics.registry
        let name = "obs-\(UUID().uuidString.prefix(8).lowercased())"
        let named = { (keys: inout [String: ConfigValue], baseURL: String) in keys = Harness.keys(baseURL, issuer: name) }
        try await Harness.withGateway(configure: named, registry: registry) { client, admin in
            let before = try await client.metricsText()
            let jwt = try await admin.token(Seeded.aliceClientAdmin, format: "jwt", ["amr": ["pwd", "otp"]])
            #expect(try await client.session(jwt).status == .ok)
            #expect(try await client.session(jwt).status == .ok)
            // No amr in the token: the MFA state comes from introspection, cached after the first call.
            let noAMR = try await admin.token(Seeded.aliceClientAdmin, format: "jwt", ["omitClaims": ["amr"]])
            #expect(try await client.session(noAMR).status == .ok)
            #expect(try await client.session(noAMR).status == .ok)
            let opaque = try await admin.token(Seeded.aliceClientAdmin, format: "opaque")
            #expect(try await client.session(opaque).status == .ok)
            let expired = try await admin.token(Seeded.aliceClientAdmin, format: "jwt", ["expiresIn": -3600])
            #expect(try await client.session(expired).problemCode == "token_expired")
            // An opaque token the issuer does not know: asked once, then refused from the negative cache.
            #expect(try await client.session("not-a-token-the-issuer-knows").status == .unauthorized)
            #expect(try await client.session("not-a-token-the-issuer-knows").status == .unauthorized)
            let foreign = try await admin.token(Seeded.aliceClientAdmin, format: "jwt", ["issuer": "https://elsewhere.example"])
            #expect(try await client.session(foreign).status == .unauthorized)

            let text = try await client.metricsText()
            let validations = { (outcome: String) in
                TestMetrics.value("gateway_token_validations_total", ["issuer": name, "outcome": outcome], in: text)
            }
            #expect(validations("valid") == 5)
            #expect(validations("expired") == 1)
            #expect(validations("inactive") == 2)
            let unknown = { (text: String) in
                TestMetrics.value(
                    "gateway_token_validations_total", ["issuer": "unknown", "outcome": "unknown_issuer"], in: text)
            }
            #expect(unknown(text) >= unknown(before) + 1)

            let calls = { (call: String, outcome: String) in
                TestMetrics.value("gateway_provider_calls_total", ["issuer": name, "call": call, "outcome": outcome], in: text)
            }
            #expect(calls("discovery", "ok") == 1)
            #expect(calls("jwks", "ok") >= 1)
            // At least the no-amr JWT, the opaque token and the unknown token; every call is timed, and only cache
            // misses call.
            let introspections = calls("introspect", "ok")
            #expect(introspections >= 3)
            #expect(
                TestMetrics.value("gateway_provider_call_duration_seconds_count", ["issuer": name, "call": "introspect"], in: text)
                    == introspections)

            let introspectionCache = { (result: String) in
                TestMetrics.value("gateway_introspection_cache_total", ["issuer": name, "result": result], in: text)
            }
            #expect(introspectionCache("miss") == introspections)
            #expect(introspectionCache("hit") >= 1)
            let tokenCache = { (result: String, text: String) in
                TestMetrics.value("gateway_token_cache_total", ["result": result], in: text)
            }
            #expect(tokenCache("hit", text) >= tokenCache("hit", before) + 2)
            #expect(tokenCache("inactive_hit", text) >= tokenCache("inactive_hit", before) + 1)

            let routes = { (status: String, text: String) in
                TestMetrics.value(
                    "hb_requests", ["http_route": "/v1/session", "http_response_status_code": status], in: text)
            }
            #expect(routes("200", text) >= routes("200", before) + 5)
            #expect(routes("401", text) >= routes("401", before) + 4)
        }
    }

    @Test func providerStateLookupsCountCacheHits() async throws {
        let registry = TestMetrics.registry
        try await LifecycleHarness.run(cacheSeconds: 30, registry: registry) { client, admin, _ in
            let before = try await client.metricsText()
            let token = try await admin.token(Seeded.aliceClientAdmin)
            let headers: HTTPFields = [.authorization: "Bearer \(token)"]
            for _ in 0..<2 {
                #expect(try await client.execute(uri: "/v1/portal-mfa-lifecycle", method: .get, headers: headers).status == .ok)
            }
            let text = try await client.metricsText()
            let cache = { (result: String, text: String) in
                TestMetrics.value("gateway_provider_state_cache_total", ["result": result], in: text)
            }
            #expect(cache("miss", text) >= cache("miss", before) + 1)
            #expect(cache("hit", text) >= cache("hit", before) + 1)
            let lookups = TestMetrics.value("gateway_zitadel_calls_total", ["outcome": "ok"], in: text)
            #expect(lookups > 0)
        }
    }

    @Test func concurrentSnapshotsShareOneProviderLookup() async throws {
        try await LifecycleHarness.run(cacheSeconds: 30) { client, admin, _ in
            let token = try await admin.token(Seeded.aliceClientAdmin)
            let headers: HTTPFields = [.authorization: "Bearer \(token)"]
            try await admin.delete("/mock/admin/journal")
            try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                for _ in 0..<20 {
                    group.addTask { try await client.execute(uri: "/v1/portal-mfa-lifecycle", method: .get, headers: headers).status }
                }
                for try await status in group { #expect(status == .ok) }
            }
            let (_, entries) = try await admin.get("/mock/admin/journal?rpc=UserService/GetUserByID")
            #expect((entries as? [Any])?.count == 1)
        }
    }
}
