import Configuration
import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing

@testable import GatewayApp

/// The access log: one `info` line per request, with what an operator needs and nothing secret.
@Suite struct AccessLogTests {
    static func lines(_ logs: LogCapture) -> [String] {
        logs.text.split(separator: "\n").map(String.init).filter { $0.hasPrefix("info request ") }
    }

    static func line(_ logs: LogCapture, requestId: String) throws -> String {
        let matching = lines(logs).filter { $0.contains("\"request_id\": \(requestId)") }
        try #require(matching.count == 1, "expected one access log line for \(requestId): \(matching)")
        return matching[0]
    }

    @Test func everyRequestIsLoggedOnceWithRouteStatusAndProblemCode() async throws {
        let logs = LogCapture()
        try await Harness.withGateway(logs: logs) { client, admin in
            let token = try await admin.token(Seeded.aliceClientAdmin, format: "jwt")
            let ok = try await client.session(token, headers: [.requestId: "access-ok"])
            #expect(ok.status == .ok)
            let refused = try await client.session("junk.junk.junk", headers: [.requestId: "access-refused"])
            #expect(refused.status == .unauthorized)
            let missing = try await client.execute(
                uri: "/v1/nothing-here/300000000000001001", method: .get, headers: [.requestId: "access-missing"])
            #expect(missing.status == .notFound)

            let success = try Self.line(logs, requestId: "access-ok")
            #expect(success.contains("\"method\": GET") && success.contains("\"route\": /v1/session"))
            #expect(success.contains("\"status\": 200") && success.contains("\"duration_ms\": "))
            #expect(success.contains("\"subject\": \(Seeded.aliceClientAdmin)") && !success.contains("\"problem\""))
            let refusal = try Self.line(logs, requestId: "access-refused")
            #expect(refusal.contains("\"status\": 401") && refusal.contains("\"problem\": invalid_token"))
            let unknown = try Self.line(logs, requestId: "access-missing")
            #expect(unknown.contains("\"status\": 404") && unknown.contains("\"problem\": not_found"))
            // The route's template, never the path: ids in paths and anything in a query stay out of the log.
            #expect(!unknown.contains("300000000000001001"))
            #expect(!logs.text.contains(token) && !logs.text.contains("junk.junk.junk"))
        }
    }

    @Test func theAccessLogCanBeTurnedOff() async throws {
        let logs = LogCapture()
        let off: (inout [String: ConfigValue], String) -> Void = { keys, _ in keys["log.accessLog"] = false }
        try await Harness.withGateway(configure: off, logs: logs) { client, admin in
            let token = try await admin.token(Seeded.aliceClientAdmin, format: "jwt")
            #expect(try await client.session(token).status == .ok)
            #expect(try await client.session(nil).status == .unauthorized)
        }
        #expect(Self.lines(logs).isEmpty)
    }
}
