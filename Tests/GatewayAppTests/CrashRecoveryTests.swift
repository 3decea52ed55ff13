import AsyncHTTPClient
import Foundation
import MockZitadel
import NIOCore
import NIOHTTP1
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The gateway process killed (SIGKILL) after Zitadel applied SetPhone but before the ledger recorded it; a new
/// process on the same SQLite file reconciles by reading the user instead of forwarding again.
@Suite(.serialized) struct CrashRecoveryTests {
    @Test func aKilledForwardIsReconciledAfterRestartWithExactlyOneSetPhone() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("crash-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let pat = try #require(Seeded.servicePAT)
        try await MockZitadelApp.withRunningMock { mockURL, mock in
            let admin = MockAdmin(baseURL: mockURL, mock: mock)
            let yaml = GatewayHTTP.yaml(
                mockURL: mockURL, pat: pat, storeURL: "sqlite:\(directory.path)/gateway.sqlite",
                extra: "sms:\n  forwardLeaseSeconds: 3\n")
            let user = Seeded.samClientStaff
            let token = try await admin.token(user, ["amr": ["pwd"]])
            let headers = ["Authorization": "Bearer \(token)", "Idempotency-Key": "crash-key-1"]
            // Zitadel applies SetPhone, then never answers: the gateway is still waiting when it is killed.
            try await admin.fault(rpc: "SetPhone", ["timeout": true, "afterHandler": true, "latencyMs": 30_000, "times": 1])

            let first = try await GatewayProcess.start(yaml: yaml, directory: directory, name: "first")
            let url = first.baseURL + "/v1/portal-mfa-lifecycle/sms-enrolments"
            let inFlight = Task {
                try? await GatewayHTTP.send(.POST, url, headers: headers, json: ["phone": "0491 570 020"], timeout: .seconds(20)).status
            }
            let deadline = ContinuousClock.now + .seconds(15)
            while await mock.sentMessages(userId: user).isEmpty, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(10))
            }
            #expect(await mock.sentMessages(userId: user).count == 1, "Zitadel applied the change")
            #expect(await first.stop(signal: SIGKILL) == SIGKILL)
            // Its answer never came: the process died between Zitadel's commit and the ledger's record.
            #expect(await inFlight.value == nil)

            let second = try await GatewayProcess.start(yaml: yaml, directory: directory, name: "second")
            let retryURL = second.baseURL + "/v1/portal-mfa-lifecycle/sms-enrolments"
            // The client retries with the same key; until the dead forward's lease ends it is told to wait.
            var answer = try await GatewayHTTP.send(.POST, retryURL, headers: headers, json: ["phone": "0491 570 020"])
            let retryDeadline = ContinuousClock.now + .seconds(20)
            while answer.status == 409 || answer.status == 503, ContinuousClock.now < retryDeadline {
                try await Task.sleep(for: .milliseconds(250))
                answer = try await GatewayHTTP.send(.POST, retryURL, headers: headers, json: ["phone": "0491 570 020"])
            }
            #expect(answer.status == 201)
            #expect(answer.json["status"] as? String == "code_sent")
            let id = try #require(answer.json["id"] as? String)
            #expect(try await admin.calls("SetPhone") == 1)
            // The reconciled enrolment verifies with the code Zitadel sent before the crash.
            let code = try #require(await mock.sentMessages(userId: user).last?.code)
            let verified = try await GatewayHTTP.send(
                .POST, retryURL + "/\(id)/verification", headers: ["Authorization": "Bearer \(token)"], json: ["code": code])
            #expect(verified.status == 200)
            #expect(verified.json["status"] as? String == "verified")
            #expect(try await admin.calls("SetPhone") == 1)
            #expect(try await admin.calls("AddOTPSMS") == 1)
            await second.stop()
            // Neither process logged the number or the code.
            for log in [first.output, second.output] {
                #expect(!log.contains("570020") && !log.contains("570 020") && !log.contains(code) && !log.contains(token))
            }
        }
    }
}
