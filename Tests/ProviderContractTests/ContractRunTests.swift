import AsyncHTTPClient
import Foundation
import MockZitadel
import NIOCore
import Testing
import ZitadelClient

@testable import ProviderContract

/// `zitadel-gateway contract`'s logic against the mock on port 0: the shapes hold; a drifted mock breaks them.
@Suite struct ContractRunTests {
    func run(
        _ baseURL: String, user: String? = "300000000000001001", credential: ZitadelCredential = .pat(Catalog.pat)
    )
        async throws -> ContractReport
    {
        let appKey = try ApplicationKey.load(
            path: Catalog.root.deletingLastPathComponent().appendingPathComponent("keys/gateway-api-app-key.json").path)
        let target = ContractTarget(issuer: baseURL, credential: credential, userId: user, applicationKey: appKey, timeout: .seconds(10))
        return await ContractRunner(catalog: try Catalog.load(), target: target, http: .shared).run()
    }

    func fault(_ baseURL: String, _ spec: FaultSpec) async throws {
        let body = String(decoding: try JSONEncoder().encode(spec), as: UTF8.self)
        let (status, _) = try await MockHarness(baseURL: baseURL).send(
            "POST", "/mock/admin/faults", body: body, contentType: "application/json")
        #expect(status == 201)
    }

    @Test func theMockKeepsTheContract() async throws {
        try await MockZitadelApp.withRunningMock { baseURL, _ in
            try await MockHarness(baseURL: baseURL).post(
                "/mock/admin/sessions", body: #"{"userId":"300000000000001001","factors":["password","totp"]}"#)
            let report = try await run(baseURL)
            #expect(report.passed, "\(report.lines.joined(separator: "\n"))")
            #expect(report.count(.ok) >= 10, "\(report.lines.joined(separator: "\n"))")
            #expect(report.calls.map(\.call).contains("SessionService/GetSession"))
            #expect(report.calls.first { $0.call == "SessionService/GetSession" }?.outcome == .ok)
            #expect(report.calls.first { $0.call == "OIDC/Token" }?.outcome == .skipped)
            #expect(report.summary.hasSuffix("shapes hold"))
        }
    }

    /// The service-account key file: the JWT-profile grant's answer is checked too, and the user read is its own.
    @Test func aServiceAccountKeyExchangesAndReadsItself() async throws {
        try await MockZitadelApp.withRunningMock { baseURL, _ in
            let keyFile = Catalog.root.deletingLastPathComponent().appendingPathComponent("keys/gateway-service-account-key.json")
            let credential = try ContractTarget.credential(path: keyFile.path)
            let report = try await run(baseURL, user: nil, credential: credential)
            #expect(report.calls.first { $0.call == "OIDC/Token" }?.outcome == .ok, "\(report.lines.joined(separator: "\n"))")
            #expect(report.calls.first { $0.call == "OIDC/Introspect" }?.outcome == .ok)
            #expect(report.calls.first { $0.call == "UserService/GetUserByID" }?.outcome == .ok)
            // The service account is a machine user: the human-only reads are skipped, not failed.
            #expect(report.calls.first { $0.call == "UserService/ListPasskeys" }?.outcome == .skipped)
            #expect(report.passed, "\(report.lines.joined(separator: "\n"))")
        }
    }

    @Test func aPATNeedsAUser() async throws {
        try await MockZitadelApp.withRunningMock { baseURL, _ in
            let report = try await run(baseURL, user: nil)
            #expect(!report.passed)
            #expect(report.calls.last?.notes.first?.contains("--user") == true)
        }
    }

    @Test func aTruncatedBodyIsABreak() async throws {
        try await MockZitadelApp.withRunningMock { baseURL, _ in
            try await fault(baseURL, FaultSpec(path: "/zitadel.user.v2.UserService/GetUserByID", malformed: true))
            let report = try await run(baseURL)
            #expect(!report.passed)
            let call = try #require(report.calls.first { $0.call == "UserService/GetUserByID" })
            #expect(call.outcome == .breaks)
            #expect(call.notes == ["the body is not JSON"])
        }
    }

    @Test func driftedShapesAreReportedByKind() async throws {
        try await MockZitadelApp.withRunningMock { baseURL, _ in
            // userId gone (break), sequence as a number (break), a new field and a new enum value (warnings).
            let drifted = #"""
                {"details":{"sequence":42},"user":{"state":"USER_STATE_SUSPENDED","username":"alice.admin","loginNames":[],
                "preferredLoginName":"a","newThing":true,"human":{"profile":{"givenName":"A","familyName":"N","nickName":"",
                "displayName":"A N","preferredLanguage":"en","gender":"GENDER_UNSPECIFIED"},"email":{"email":"a@b"},"phone":{}}}}
                """#
            try await fault(baseURL, FaultSpec(path: "/zitadel.user.v2.UserService/GetUserByID", status: 200, body: drifted))
            try await fault(
                baseURL,
                FaultSpec(
                    path: "/zitadel.user.v2.UserService/ListPasskeys", status: 200,
                    body: #"{"details":{"timestamp":"2025-08-20T09:15:02Z"},"total":"0"}"#))
            let report = try await run(baseURL)
            #expect(!report.passed)
            let user = try #require(report.calls.first { $0.call == "UserService/GetUserByID" })
            #expect(user.outcome == .breaks)
            #expect(user.notes.contains("missing field user.userId"))
            #expect(user.notes.contains { $0.hasPrefix("type change details.sequence") })
            #expect(user.notes.contains("new field user.newThing (bool)"))
            #expect(user.notes.contains("new enum value user.state (USER_STATE_SUSPENDED)"))
            let passkeys = try #require(report.calls.first { $0.call == "UserService/ListPasskeys" })
            #expect(passkeys.outcome == .warn)
            #expect(passkeys.notes == ["new field total (string)"])
            #expect(report.lines.contains("BREAK UserService/GetUserByID"))
        }
    }

    /// A published key the validator refuses (RSA under 2048 bits) is reported even though the shape holds.
    @Test func unusableSigningKeysAreReported() async throws {
        try await MockZitadelApp.withRunningMock { baseURL, _ in
            let weak = #"{"keys":[{"use":"sig","kty":"RSA","kid":"weak","alg":"RS256","n":"AQAB","e":"AQAB"}]}"#
            try await fault(baseURL, FaultSpec(path: "/oauth/v2/keys", status: 200, body: weak))
            let report = try await run(baseURL)
            let keys = try #require(report.calls.first { $0.call == "OIDC/Keys" })
            #expect(keys.outcome == .warn)
            #expect(keys.notes.contains { $0.hasPrefix("key the gateway cannot use: kid=weak") }, "\(keys.notes)")
        }
    }

    @Test func credentialFilesAreReadAsPATOrKey() throws {
        let directory = FileManager.default.temporaryDirectory
        let patFile = directory.appendingPathComponent("pat-\(UUID().uuidString)")
        try Data("  mock-pat-x \n".utf8).write(to: patFile)
        guard case .pat(let pat) = try ContractTarget.credential(path: patFile.path) else {
            Issue.record("not read as a PAT")
            return
        }
        #expect(pat == "mock-pat-x")
        let keyFile = directory.appendingPathComponent("key-\(UUID().uuidString).json")
        try Data(#"{"type":"serviceaccount","keyId":"1","key":"pem","userId":"42"}"#.utf8).write(to: keyFile)
        guard case .jwtProfile(let key) = try ContractTarget.credential(path: keyFile.path) else {
            Issue.record("not read as a key")
            return
        }
        #expect(key.userId == "42")
        try Data("two words".utf8).write(to: patFile)
        #expect(throws: ContractSetupError.self) { try ContractTarget.credential(path: patFile.path) }
    }
}
