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

    /// Rounds of concurrent enrolments (with duplicates) for several users, each round ended by SIGKILL at a
    /// random moment; then a last process answers every request ever sent. Acknowledged answers are still
    /// there, and no number ever received a second text message.
    @Test func repeatedKillsDuringEnrolmentTrafficLoseNothingAndNeverResend() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kills-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let pat = try #require(Seeded.servicePAT)
        // CRASH_TEST_SEED repeats a printed run.
        let seed = ProcessInfo.processInfo.environment["CRASH_TEST_SEED"].flatMap { UInt64($0) } ?? UInt64.random(in: 0..<1_000_000)
        var random = SplitMix(seed: seed)
        let users = ["300000000000001001", "300000000000001002", "300000000000001003", "300000000000001004", "300000000000001008"]
        try await MockZitadelApp.withRunningMock { mockURL, mock in
            let admin = MockAdmin(baseURL: mockURL, mock: mock)
            let limits = ["user", "number", "tenant", "global"].map { "    \($0): {limit: 1000, periodSeconds: 3600}" }
            let yaml = GatewayHTTP.yaml(
                mockURL: mockURL, pat: pat, storeURL: "sqlite:\(directory.path)/gateway.sqlite",
                extra: "sms:\n  forwardLeaseSeconds: 2\n  rateLimits:\n" + limits.joined(separator: "\n") + "\n")
            var tokens: [String: String] = [:]
            for user in users { tokens[user] = try await admin.token(user, ["amr": ["pwd"], "expiresIn": 600]) }
            // Provider latency widens the window in which a kill lands mid-forward.
            try await admin.fault(rpc: "SetPhone", ["latencyMs": 300])
            var sent: [(key: String, user: String, phone: String)] = []
            var acknowledged: [String: String] = [:]
            var outputs: [String] = []
            var interrupted = 0
            for round in 0..<4 {
                let gateway = try await GatewayProcess.start(yaml: yaml, directory: directory, name: "round\(round)")
                let url = gateway.baseURL + "/v1/portal-mfa-lifecycle/sms-enrolments"
                let requests = users.enumerated().map { index, user in
                    (key: "kill-\(seed)-\(round)-\(index)", user: user, phone: "04915 7\(round)\(index) 00")
                }
                sent += requests
                // The first two rounds die while forwards are in flight (the provider takes 300 ms); the others
                // anywhere from the first request to after the last answer.
                let killAfter = round < 2 ? Int(random.next() % 250) + 30 : Int(random.next() % 950) + 50
                let answers = await withTaskGroup(of: (String, Int, String?)?.self) { group in
                    for request in requests + requests {
                        let token = tokens[request.user] ?? ""
                        group.addTask {
                            guard
                                let answer = try? await GatewayHTTP.send(
                                    .POST, url, headers: ["Authorization": "Bearer \(token)", "Idempotency-Key": request.key],
                                    json: ["phone": request.phone], timeout: .seconds(10))
                            else { return nil }
                            return (request.key, answer.status, answer.json["id"] as? String)
                        }
                    }
                    group.addTask {
                        try? await Task.sleep(for: .milliseconds(killAfter))
                        await gateway.stop(signal: SIGKILL)
                        return nil
                    }
                    return await group.reduce(into: []) { $0.append($1) }
                }
                for case let (key, status, id?) in answers.compactMap({ $0 }) where status == 200 || status == 201 {
                    if let earlier = acknowledged[key] { #expect(earlier == id, "one key, one enrolment") }
                    acknowledged[key] = id
                }
                // Requests the kill left without an answer (the task for the kill itself answers nil too).
                interrupted += answers.filter { $0 == nil }.count - 1
                outputs.append(gateway.output)
            }
            #expect(interrupted > 0, "seed \(seed): no kill landed while a request was in flight")
            try await admin.delete("/mock/admin/faults")
            let last = try await GatewayProcess.start(yaml: yaml, directory: directory, name: "last")
            let url = last.baseURL + "/v1/portal-mfa-lifecycle/sms-enrolments"
            var settled = 0
            for request in sent {
                let headers = ["Authorization": "Bearer \(tokens[request.user] ?? "")", "Idempotency-Key": request.key]
                var answer = try await GatewayHTTP.send(.POST, url, headers: headers, json: ["phone": request.phone])
                let deadline = ContinuousClock.now + .seconds(15)
                while [409, 503].contains(answer.status)
                    && !["enrolment_closed", "enrolment_superseded"].contains(answer.json["code"] as? String),
                    ContinuousClock.now < deadline
                {
                    try await Task.sleep(for: .milliseconds(200))
                    answer = try await GatewayHTTP.send(.POST, url, headers: headers, json: ["phone": request.phone])
                }
                if let id = acknowledged[request.key] {
                    #expect(answer.json["id"] as? String == id, "seed \(seed): an acknowledged enrolment was lost")
                }
                #expect(answer.status < 500 || answer.status == 502, "seed \(seed): \(answer.status) \(answer.json)")
                if answer.status == 200 || answer.status == 201 { settled += 1 }
            }
            await last.stop()
            outputs.append(last.output)
            #expect(settled > 0)
            let setPhones = try await admin.calls("SetPhone")
            print(
                "kill test seed \(seed): \(sent.count) requests, \(interrupted) cut off by a kill, \(acknowledged.count) acknowledged before a kill, \(settled) settled, \(setPhones) SetPhone calls"
            )
            // Every applied SetPhone texts a code, so at most one message per number means no provider change was
            // made twice.
            var codes: [String] = []
            for request in sent {
                let messages = await mock.sentMessages(phone: request.phone)
                #expect(messages.count <= 1, "seed \(seed): \(request.phone) received \(messages.count) messages")
                // Codes that mix letters and digits cannot be mistaken for a timestamp or an id in a log line.
                codes += messages.map(\.code).filter { $0.contains(where: \.isLetter) && $0.contains(where: \.isNumber) }
            }
            // No process wrote a number (in any spelling), a code, a token or the service credential.
            for output in outputs {
                for request in sent {
                    let digits = request.phone.filter(\.isNumber)
                    #expect(!output.contains(request.phone) && !output.contains(digits) && !output.contains(String(digits.dropFirst())))
                }
                for secret in codes + Array(tokens.values) + [pat] { #expect(!output.contains(secret), "seed \(seed)") }
            }
        }
    }
}

/// A small seeded generator, so that a failing run can be repeated from its printed seed.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
