import Foundation
import Hummingbird
import HummingbirdTesting
import MockZitadel
import NIOCore
import Testing

@Suite("Admin API: outbox, journal, faults, seed, sessions, users")
struct AdminExtensionTests {
    @Test("the journal names the RPC in both wire forms, the user it was about, the caller and a body digest")
    func journalForRPCs() async throws {
        try await withMock { client, _ in
            let connectBody: JSONValue = ["userId": .string(Seeded.sam), "phone": "+61491570006", "returnCode": [:]]
            _ = try await ok(
                client, .connect, .user("SetPhone", Seeded.sam, ["phone": "+61491570006", "returnCode": [:]], .post, "/phone"))
            _ = try await ok(client, .rest, .user("GetUserByID", Seeded.alice, [:], .get, ""))
            let entries = try await client.execute(uri: "/mock/admin/journal", method: .get).json().arrayValue ?? []
            #expect(entries.count == 2)
            let setPhone = entries[0]
            #expect(setPhone["rpc"] == "UserService/SetPhone")
            #expect(setPhone["path"] == "/zitadel.user.v2.UserService/SetPhone")
            #expect(setPhone["userId"] == .string(Seeded.sam))
            #expect(setPhone["callerId"] == .string(Seeded.machineUserId))
            #expect(setPhone["status"] == 200)
            let sentBytes = Array(try jsonBody(connectBody).readableBytesView)
            #expect(setPhone["bodyDigest"] == .string(Digest.hex(Digest.sha256(sentBytes))))
            let get = entries[1]
            #expect(get["rpc"] == "UserService/GetUserByID")
            #expect(get["path"] == .string("/v2/users/\(Seeded.alice)"))
            #expect(get["bodyDigest"] == .null)
            #expect(get.keys.isSuperset(of: ["method", "path", "rpc", "userId", "at"]))

            let byRPC = try await client.execute(uri: "/mock/admin/journal?rpc=UserService/SetPhone", method: .get).json()
            #expect(byRPC.arrayValue?.count == 1)
            let byUser = try await client.execute(uri: "/mock/admin/journal?userId=\(Seeded.alice)", method: .get).json()
            #expect(byUser.arrayValue?.count == 1)
        }
    }

    @Test("the SMS outbox lists codes by user, number and kind with masked numbers only")
    func smsOutbox() async throws {
        try await withMock { client, _ in
            _ = try await ok(client, .connect, .user("SetPhone", Seeded.sam, ["phone": "+61491570006"], .post, "/phone"))
            _ = try await ok(client, .rest, .user("SetPhone", Seeded.nora, ["phone": "+61 491 570 737", "sendCode": [:]], .post, "/phone"))
            let all = try await outbox(client)
            #expect(all.count == 2)
            for message in all {
                #expect(message.keys == ["userId", "maskedPhone", "code", "at", "kind"])
                #expect(message["maskedPhone"]?.stringValue?.contains("491") == false)
            }
            #expect(try await outbox(client, query: "?userId=\(Seeded.nora)").first?["maskedPhone"] == "+61 4•• ••• 737")
            #expect(try await outbox(client, query: "?phone=0061491570006").first?["userId"] == .string(Seeded.sam))
            #expect(try await outbox(client, query: "?kind=phone_verification").count == 2)
            #expect(try await outbox(client, query: "?kind=otp_sms").isEmpty)
            #expect(try await client.execute(uri: "/mock/admin/sms-outbox", method: .delete).status == .noContent)
            #expect(try await outbox(client).isEmpty)
        }
    }

    @Test("faults match an RPC in either wire form and answer in that form's error shape")
    func rpcFaults() async throws {
        try await withMock { client, _ in
            let added = try await client.execute(
                uri: "/mock/admin/faults", method: .post, headers: jsonHeaders,
                body: try jsonBody(["path": "*", "rpc": "UserService/AddOTPSMS", "status": 503, "times": 2]))
            #expect(added.status == .created)
            let add = V2Call.user("AddOTPSMS", Seeded.tom, [:], .post, "/otp_sms")
            let connect = try await call(client, .connect, add)
            #expect(connect.status == .serviceUnavailable)
            #expect(try connect.json()["code"] == "unavailable")
            let rest = try await call(client, .rest, add)
            #expect(rest.status == .serviceUnavailable)
            #expect(try rest.json()["code"] == 14)
            // Other RPCs are untouched; after `times` the real handler answers.
            #expect(try await call(client, .connect, .user("GetUserByID", Seeded.tom, [:], .get, "")).status == .ok)
            #expect(try await call(client, .connect, add).status == .ok)
            let journal = try await client.execute(uri: "/mock/admin/journal?rpc=UserService/AddOTPSMS", method: .get).json()
            #expect(journal.arrayValue?.compactMap { $0["faultId"]?.stringValue }.count == 2)
        }
    }

    @Test("a timeout after the change applies the change, then never answers")
    func timeoutAfterApplying() async throws {
        try await MockZitadelApp.withRunningMock(logger: testLogger) { baseURL, mock in
            _ = await mock.addFault(
                FaultSpec(path: "/zitadel.user.v2.UserService/SetPhone", latencyMs: 1500, times: 1, afterHandler: true, timeout: true))
            let body = Data(#"{"userId":"\#(Seeded.sam)","phone":"+61491570006"}"#.utf8)
            let clock = ContinuousClock()
            let started = clock.now
            // No response ever comes: the connection is held for latencyMs, then dropped.
            await #expect(throws: (any Error).self) {
                _ = try await HTTP.request(
                    .post, port: try HTTP.port(of: baseURL), "/zitadel.user.v2.UserService/SetPhone",
                    headers: [.contentType: "application/json", .authorization: "Bearer \(Seeded.servicePAT)"], body: body,
                    timeout: .seconds(10))
            }
            let held = clock.now - started
            #expect(held >= .milliseconds(1400) && held < .seconds(9), "held for \(held)")
            // The change was committed before the connection went silent.
            #expect(await mock.user(id: Seeded.sam)?.phone?.number == "+61491570006")
            #expect(await mock.sentMessages(userId: Seeded.sam).count == 1)
        }
    }

    @Test("admin sessions: create, mint into, list and end")
    func sessions() async throws {
        try await withMock { client, _ in
            let created = try await client.execute(
                uri: "/mock/admin/sessions", method: .post, headers: jsonHeaders,
                body: try jsonBody(["userId": .string(Seeded.beth), "factors": ["password", "u2f"]]))
            #expect(created.status == .created)
            let session = try created.json()
            let sid = try #require(session["id"]?.stringValue)
            #expect(session["amr"] == ["pwd", "user", "mfa"])
            let token = try await mint(client, ["userId": .string(Seeded.beth), "format": "opaque", "sessionId": .string(sid)])
            let introspection = try await introspect(client, token)
            #expect(try await sessionId(client, of: token) == sid)
            #expect(introspection["amr"] == ["pwd", "user", "mfa"])
            let listed = try await client.execute(uri: "/mock/admin/sessions?userId=\(Seeded.beth)", method: .get).json()
            #expect(listed.arrayValue?.map { $0["id"] } == [.string(sid)])
            #expect(try await client.execute(uri: "/mock/admin/sessions/\(sid)", method: .delete).status == .noContent)
            #expect(try await introspect(client, token) == ["active": false])
            #expect(try await client.execute(uri: "/mock/admin/sessions/\(sid)x", method: .delete).status == .notFound)
            let wrongUser = try await client.execute(
                uri: "/mock/admin/tokens", method: .post, headers: jsonHeaders,
                body: try jsonBody(["userId": .string(Seeded.alice), "format": "opaque", "sessionId": .string(sid)]))
            #expect(wrongUser.status == .notFound)
        }
    }

    @Test("admin user state: detail, metadata, factors and phone")
    func userState() async throws {
        try await withMock { client, _ in
            let detail = try await client.execute(uri: "/mock/admin/users/\(Seeded.marcus)", method: .get).json()
            #expect(detail["user"]?["metadata"]?["aidial.mfa.policy"] == "required")
            #expect(try await client.execute(uri: "/mock/admin/users/1", method: .get).status == .notFound)

            let put = try await client.execute(
                uri: "/mock/admin/users/\(Seeded.sam)/metadata/aidial.mfa.policy", method: .put, headers: jsonHeaders,
                body: try jsonBody(["value": "required"]))
            #expect(put.status == .ok)
            let list = V2Call.user("ListUserMetadata", Seeded.sam, [:], .post, "/metadata/search")
            #expect(try await ok(client, .connect, list)["metadata"]?.arrayValue?.count == 1)
            #expect(
                try await client.execute(uri: "/mock/admin/users/\(Seeded.sam)/metadata/aidial.mfa.policy", method: .delete).status
                    == .noContent)
            #expect(try await ok(client, .connect, list)["metadata"] == nil)

            let mfa: JSONValue = [
                "otpSms": false, "otpEmail": true, "passkeys": [["id": "1", "name": "Pixel 9", "state": "READY"]], "u2f": [],
            ]
            let replaced = try await client.execute(
                uri: "/mock/admin/users/\(Seeded.sam)/mfa", method: .put, headers: jsonHeaders, body: try jsonBody(mfa))
            #expect(replaced.status == .ok)
            let types = try await ok(
                client, .rest, .user("ListAuthenticationMethodTypes", Seeded.sam, [:], .get, "/authentication_methods"))
            #expect(
                types["authMethodTypes"] == [
                    "AUTHENTICATION_METHOD_TYPE_PASSKEY", "AUTHENTICATION_METHOD_TYPE_OTP_EMAIL", "AUTHENTICATION_METHOD_TYPE_PASSWORD",
                ])
            let phone = try await client.execute(
                uri: "/mock/admin/users/\(Seeded.sam)/phone", method: .put, headers: jsonHeaders,
                body: try jsonBody(["number": "0491 570 006", "verified": true]))
            #expect(try phone.json()["number"] == "+41491570006")
            let invalid = try await client.execute(
                uri: "/mock/admin/users/\(Seeded.sam)/phone", method: .put, headers: jsonHeaders,
                body: try jsonBody(["number": "none", "verified": true]))
            #expect(invalid.status == .badRequest)
            #expect(try await client.execute(uri: "/mock/admin/users/\(Seeded.sam)/phone", method: .delete).status == .noContent)
        }
    }

    @Test("seed: load another file from Mocks/ or a document; reset returns to it")
    func seedLoading() async throws {
        try await withMock { client, mock in
            _ = try await ok(client, .connect, .user("AddOTPEmail", Seeded.alice, [:], .post, "/otp_email"))
            let reload = try await client.execute(
                uri: "/mock/admin/seed", method: .post, headers: jsonHeaders, body: try jsonBody(["file": "seed.json"]))
            #expect(reload.status == .ok)
            #expect(await mock.user(id: Seeded.alice)?.mfa.otpEmail == false)
            for name in ["../Package.swift", "/etc/passwd.json", "missing.json"] {
                let refused = try await client.execute(
                    uri: "/mock/admin/seed", method: .post, headers: jsonHeaders, body: try jsonBody(["file": .string(name)]))
                #expect(refused.status == .badRequest, "\(name)")
            }
            var seed = await mock.seed
            seed.users = Array(seed.users.prefix(2))
            let document = try await client.execute(
                uri: "/mock/admin/seed", method: .post, headers: jsonHeaders, body: ByteBuffer(bytes: try JSONEncoder().encode(seed)))
            #expect(document.status == .ok)
            #expect(try await client.execute(uri: "/mock/admin/users", method: .get).json().arrayValue?.count == 2)
            #expect(try await client.execute(uri: "/mock/admin/reset", method: .post).status == .ok)
            #expect(try await client.execute(uri: "/mock/admin/users", method: .get).json().arrayValue?.count == 2)
            var broken = seed
            broken.users[0].orgId = "nowhere"
            let invalid = try await client.execute(
                uri: "/mock/admin/seed", method: .post, headers: jsonHeaders, body: ByteBuffer(bytes: try JSONEncoder().encode(broken)))
            #expect(invalid.status == .badRequest)
        }
    }

    @Test("reset also restores users and empties sessions and the outbox")
    func resetState() async throws {
        try await withMock { client, mock in
            _ = try await ok(client, .connect, .user("SetPhone", Seeded.sam, ["phone": "+61491570006"], .post, "/phone"))
            let token = try await mint(client, ["userId": .string(Seeded.alice), "format": "opaque"])
            #expect(try await client.execute(uri: "/mock/admin/reset", method: .post).status == .ok)
            #expect(await mock.user(id: Seeded.sam)?.phone == nil)
            #expect(try await outbox(client).isEmpty)
            #expect(try await client.execute(uri: "/mock/admin/sessions", method: .get).json() == [])
            #expect(try await introspect(client, token) == ["active": false])
        }
    }
}
