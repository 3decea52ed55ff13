import AsyncHTTPClient
import Foundation
import Logging
import MockZitadel
import NIOCore
import NIOFoundationCompat
import Testing

@testable import ZitadelClient

/// The client against the mock Zitadel on port 0; provider answers shaped through the mock's fault API.
@Suite struct ZitadelClientLiveTests {
    static let getUser = "/zitadel.user.v2.UserService/GetUserByID"

    func client(_ baseURL: String, timeoutMs: Int = 500, retries: Int = 1) throws -> ZitadelClient {
        try ZitadelClient(
            configuration: ZitadelClientConfiguration(
                baseURL: baseURL + "/", credential: .pat("test-pat"), timeout: .milliseconds(timeoutMs), retries: retries),
            httpClient: .shared, logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
    }

    /// Installs a fault through the admin API (`POST /mock/admin/faults`).
    func fault(_ baseURL: String, _ spec: FaultSpec) async throws {
        var request = HTTPClientRequest(url: baseURL + "/mock/admin/faults")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(data: try JSONEncoder().encode(spec)))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(5))
        #expect(response.status.code == 201)
    }

    /// Calls the mock received on a path (`GET /mock/admin/journal?path=`).
    func journalCount(_ baseURL: String, path: String) async throws -> Int {
        let response = try await HTTPClient.shared.execute(
            HTTPClientRequest(url: baseURL + "/mock/admin/journal?path=" + path), timeout: .seconds(5))
        let body = try await response.body.collect(upTo: 1 << 20)
        return ((try JSONSerialization.jsonObject(with: Data(buffer: body))) as? [Any])?.count ?? -1
    }

    @Test func decodesAnAnswerAndSendsConnectHeaders() async throws {
        try await MockZitadelApp.withRunningMock { baseURL, _ in
            let body = String(decoding: try Fixtures.data("UserService/GetUserByID/human.json"), as: UTF8.self)
            try await fault(baseURL, FaultSpec(path: Self.getUser, status: 200, body: body))
            let user = try await client(baseURL).getUserByID("300000000000001001")
            #expect(user.user?.human?.profile?.displayName == "Alice Nguyen")
        }
    }

    @Test func retriesReadsOnceOnUnavailable() async throws {
        try await MockZitadelApp.withRunningMock { baseURL, _ in
            let body = String(decoding: try Fixtures.data("UserService/GetUserByID/human.json"), as: UTF8.self)
            try await fault(
                baseURL, FaultSpec(path: Self.getUser, status: 503, body: "{\"code\":\"unavailable\",\"message\":\"busy\"}", times: 1))
            try await fault(baseURL, FaultSpec(path: Self.getUser, status: 200, body: body))
            let user = try await client(baseURL, timeoutMs: 2000).getUserByID("300000000000001001")
            #expect(user.user?.userId == "300000000000001001")
            #expect(try await journalCount(baseURL, path: Self.getUser) == 2)
        }
    }

    @Test func neverRetriesWritesOrNonRetryableErrors() async throws {
        try await MockZitadelApp.withRunningMock { baseURL, _ in
            let path = "/zitadel.user.v2.UserService/AddOTPSMS"
            try await fault(baseURL, FaultSpec(path: path, status: 503, body: "{\"code\":\"unavailable\",\"message\":\"busy\"}"))
            let client = try client(baseURL, timeoutMs: 2000, retries: 3)
            await #expect(throws: ZitadelClientError.self) {
                let _: ListPasskeysResponse = try await client.call(
                    ZitadelClient.userService, "AddOTPSMS", ["userId": "1"], read: false)
            }
            #expect(try await journalCount(baseURL, path: path) == 1)
            let notFound = try String(decoding: Fixtures.data("UserService/GetUserByID/not-found.connect.json"), as: UTF8.self)
            try await fault(baseURL, FaultSpec(path: Self.getUser, status: 404, body: notFound))
            do {
                _ = try await client.getUserByID("nobody")
                Issue.record("expected an error")
            } catch {
                #expect((error as? ZitadelClientError)?.errorId == ZitadelErrorId.userNotFound)
            }
            #expect(try await journalCount(baseURL, path: Self.getUser) == 1)
        }
    }

    @Test func timesOutWithinTheDeadlineIncludingRetries() async throws {
        try await MockZitadelApp.withRunningMock { baseURL, _ in
            try await fault(baseURL, FaultSpec(path: Self.getUser, latencyMs: 3000))
            let started = ContinuousClock.now
            await #expect(throws: ZitadelClientError.timeout) {
                _ = try await client(baseURL, timeoutMs: 300, retries: 2).getUserByID("300000000000001001")
            }
            #expect(ContinuousClock.now - started < .milliseconds(1500))
        }
    }

    @Test func malformedBodiesAreTypedNotRetried() async throws {
        try await MockZitadelApp.withRunningMock { baseURL, _ in
            try await fault(baseURL, FaultSpec(path: Self.getUser, status: 200, body: "{\"user\": {\"userId\": 12"))
            await #expect(throws: ZitadelClientError.malformedResponse("GetUserByID response does not decode")) {
                _ = try await client(baseURL, retries: 3).getUserByID("300000000000001001")
            }
            #expect(try await journalCount(baseURL, path: Self.getUser) == 1)
        }
    }

    @Test func phoneEnrolmentCallsDriveTheMocksUserService() async throws {
        try await MockZitadelApp.withRunningMock { baseURL, mock in
            let seed = try JSONSerialization.jsonObject(with: Fixtures.data("../seed.json")) as? [String: Any]
            let machines = seed?["machineUsers"] as? [[String: Any]] ?? []
            let pats = machines.first?["personalAccessTokens"] as? [[String: Any]] ?? []
            let pat = try #require(pats.first?["token"] as? String)
            let client = try ZitadelClient(
                configuration: ZitadelClientConfiguration(baseURL: baseURL, credential: .pat(pat), timeout: .seconds(3)),
                httpClient: .shared, logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
            let user = "300000000000001003"
            let set = try await client.setPhone(user, phone: "+61491570159")
            #expect(set.verificationCode == nil)
            #expect(set.details?.sequence != nil)
            let code = try #require(await mock.sentMessages(userId: user).last?.code)
            await #expect(throws: ZitadelClientError.self) { _ = try await client.verifyPhone(user, code: "WRONG1") }
            _ = try await client.resendPhoneCode(user)
            let resent = try #require(await mock.sentMessages(userId: user).last?.code)
            #expect(try await client.getUserByID(user).user?.human?.phone?.phone == "+61491570159")
            _ = try await client.verifyPhone(user, code: resent == code ? code : resent)
            #expect(try await client.getUserByID(user).user?.human?.phone?.isVerified == true)
            _ = try await client.addOTPSMS(user)
            do {
                _ = try await client.addOTPSMS(user)
                Issue.record("a second AddOTPSMS must fail")
            } catch {
                let typed = error as? ZitadelClientError
                #expect(typed?.errorId == ZitadelErrorId.otpSMSAlreadyAdded)
                if case .api(let api) = typed { #expect(api.code == .alreadyExists) }
            }
            _ = try await client.removePhone(user)
            #expect(try await client.getUserByID(user).user?.human?.phone?.phone == nil)
        }
    }

    @Test func keyFilesAreChecked() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("key-\(UUID().uuidString).json").path
        try Data(#"{"type":"serviceaccount","keyId":"1","key":"not a pem","userId":"2"}"#.utf8).write(to: URL(fileURLWithPath: path))
        let key = try ServiceAccountKey.load(path: path)
        #expect(key.userId == "2")
        #expect(throws: ZitadelClientError.self) {
            _ = try ZitadelClient(
                configuration: ZitadelClientConfiguration(baseURL: "http://127.0.0.1:1", credential: .jwtProfile(key)),
                httpClient: .shared, logger: Logger(label: "t"))
        }
        #expect(throws: ZitadelClientError.self) { _ = try ServiceAccountKey.load(path: path + ".missing") }
    }
}

/// JWT-profile credentials: the token is fetched from the token endpoint once, then reused.
@Suite struct ServiceTokenLiveTests {
    /// `expires_in` is the provider's figure: none (not even `Int.min`) overflows the reuse arithmetic, and the
    /// token is reused for at least 30 s whatever it says.
    @Test(arguments: [3600, Int.min, Int.max, -1, 0])
    func jwtProfileTokenIsFetchedOnceAndUsed(expiresIn: Int) async throws {
        try await MockZitadelApp.withRunningMock { baseURL, _ in
            let live = ZitadelClientLiveTests()
            // The mock has no JWT-bearer grant: its token endpoint is shaped to answer with the service PAT,
            // which its v2 services then accept as the bearer.
            let seed = try JSONSerialization.jsonObject(with: Fixtures.data("../seed.json")) as? [String: Any]
            let machines = seed?["machineUsers"] as? [[String: Any]] ?? []
            let pats = machines.first?["personalAccessTokens"] as? [[String: Any]] ?? []
            let pat = try #require(pats.first?["token"] as? String)
            try await live.fault(
                baseURL,
                FaultSpec(
                    path: "/oauth/v2/token", status: 200,
                    body: #"{"access_token":"\#(pat)","token_type":"Bearer","expires_in":\#(expiresIn)}"#))
            let appKey = try JSONSerialization.jsonObject(with: Fixtures.data("../keys/gateway-api-app-key.json")) as? [String: Any]
            let key = ServiceAccountKey(
                keyId: try #require(appKey?["keyId"] as? String), key: try #require(appKey?["key"] as? String),
                userId: "300000000000000301")
            let client = try ZitadelClient(
                configuration: ZitadelClientConfiguration(baseURL: baseURL, credential: .jwtProfile(key), timeout: .seconds(3)),
                httpClient: .shared, logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
            let user = try await client.getUserByID("300000000000001001")
            #expect(user.user?.userId == "300000000000001001")
            _ = try await client.listPasskeys("300000000000001002")
            #expect(try await live.journalCount(baseURL, path: "/oauth/v2/token") == 1)
        }
    }

    @Test func aRefusedTokenEndpointIsACredentialError() async throws {
        try await MockZitadelApp.withRunningMock { baseURL, _ in
            let live = ZitadelClientLiveTests()
            try await live.fault(baseURL, FaultSpec(path: "/oauth/v2/token", status: 401, body: #"{"error":"invalid_grant"}"#))
            let appKey = try JSONSerialization.jsonObject(with: Fixtures.data("../keys/gateway-api-app-key.json")) as? [String: Any]
            let key = ServiceAccountKey(
                keyId: try #require(appKey?["keyId"] as? String), key: try #require(appKey?["key"] as? String), userId: "1")
            let client = try ZitadelClient(
                configuration: ZitadelClientConfiguration(baseURL: baseURL, credential: .jwtProfile(key), retries: 2),
                httpClient: .shared, logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
            await #expect(throws: ZitadelClientError.credentialUnavailable("token endpoint answered 401")) {
                _ = try await client.getUserByID("300000000000001001")
            }
            // Without a token no API call is made.
            #expect(try await live.journalCount(baseURL, path: "/zitadel.user.v2.UserService/GetUserByID") == 0)
        }
    }
}
