import Foundation
import Hummingbird
import HummingbirdTesting
import MockZitadel
import NIOCore
import Testing

@Suite("Session service v2 and token sessions")
struct SessionServiceTests {
    static func get(_ id: String) -> V2Call {
        .session("GetSession", ["sessionId": .string(id)], .get, "/v2/sessions/\(id)")
    }

    static func list(userId: String) -> V2Call {
        .session("ListSessions", ["queries": [["userIdQuery": ["id": .string(userId)]]]], .post, "/v2/sessions/search")
    }

    static func delete(_ id: String) -> V2Call {
        .session("DeleteSession", ["sessionId": .string(id)], .delete, "/v2/sessions/\(id)")
    }

    @Test("a minted token's session has the factors its amr implies", arguments: Wire.allCases)
    func factorsFollowAMR(wire: Wire) async throws {
        try await withMock { client, _ in
            let token = try await mint(client, ["userId": .string(Seeded.alice), "format": "opaque", "amr": ["pwd", "otp", "mfa"]])
            let sid = try await sessionId(client, of: token)
            let session = try #require(try await ok(client, wire, Self.get(sid))["session"])
            #expect(session["id"] == .string(sid))
            #expect(session["sequence"]?.stringValue.flatMap { Int64($0) } != nil)
            let factors = try #require(session["factors"])
            #expect(factors["user"]?["id"] == .string(Seeded.alice))
            #expect(factors["user"]?["loginName"] == "alice.admin@acacia-freight.aidial.example")
            #expect(factors["user"]?["organizationId"] == .string(Seeded.acacia))
            #expect(factors["password"]?["verifiedAt"]?.stringValue != nil)
            #expect(factors["totp"]?["verifiedAt"]?.stringValue != nil)
            #expect(factors["webAuthN"] == nil)
            #expect(factors["otpSms"] == nil)

            // A passkey sign-in: webAuthN with userVerified.
            let priya = try await mint(client, ["userId": .string(Seeded.priya), "format": "jwt", "amr": ["user", "mfa"]])
            let priyaSession = try await ok(client, wire, Self.get(try await sessionId(client, of: priya)))
            #expect(priyaSession["session"]?["factors"]?["webAuthN"]?["userVerified"] == true)
            #expect(priyaSession["session"]?["factors"]?["password"] == nil)

            // Factors instead of amr: amr follows (a recovery code counts as `otp`, Zitadel v4.9+).
            let recovery = try await client.execute(
                uri: "/mock/admin/tokens", method: .post, headers: jsonHeaders,
                body: try jsonBody(["userId": .string(Seeded.alice), "format": "opaque", "factors": ["password", "recoveryCode"]]))
            let recoveryToken = try #require(try recovery.json()["accessToken"]?.stringValue)
            let introspection = try await introspect(client, recoveryToken)
            #expect(introspection["amr"] == ["pwd", "otp", "mfa"])
            let recoverySession = try await ok(client, wire, Self.get(try await sessionId(client, of: recoveryToken)))
            #expect(recoverySession["session"]?["factors"]?["recoveryCode"]?["verifiedAt"] != nil)
        }
    }

    @Test("GetSession: own sessions and managers only; unknown is QUERY-SFeaa", arguments: Wire.allCases)
    func getSessionPermissions(wire: Wire) async throws {
        try await withMock { client, _ in
            let alice = try await mint(client, ["userId": .string(Seeded.alice), "format": "opaque"])
            let beth = try await mint(client, ["userId": .string(Seeded.beth), "format": "opaque"])
            let sid = try await sessionId(client, of: alice)
            #expect(try await call(client, wire, Self.get(sid), token: alice).status == .ok)
            try expectError(try await call(client, wire, Self.get(sid), token: beth), wire, status: .notFound, code: 5, id: "AUTHZ-cdgFk")
            try expectError(
                try await call(client, wire, Self.get("999999999999999999")), wire, status: .notFound, code: 5, id: "QUERY-SFeaa")
        }
    }

    @Test("ListSessions by userIdQuery: a user's active sessions; humans see only their own", arguments: Wire.allCases)
    func listSessions(wire: Wire) async throws {
        try await withMock { client, _ in
            let first = try await mint(client, ["userId": .string(Seeded.alice), "format": "opaque"])
            let second = try await mint(client, ["userId": .string(Seeded.alice), "format": "jwt", "amr": ["pwd", "otp", "mfa"]])
            let beth = try await mint(client, ["userId": .string(Seeded.beth), "format": "opaque"])
            let body = try await ok(client, wire, Self.list(userId: Seeded.alice))
            let ids = Set((body["sessions"]?.arrayValue ?? []).compactMap { $0["id"]?.stringValue })
            #expect(ids == [try await sessionId(client, of: first), try await sessionId(client, of: second)])
            #expect(body["details"]?["totalResult"] == "2")
            // Beth asking for Alice's sessions sees none; asking for all sees only hers.
            let asBeth = try await ok(client, wire, Self.list(userId: Seeded.alice), token: beth)
            #expect(asBeth["sessions"] == nil)
            let all = V2Call.session("ListSessions", [:], .post, "/v2/sessions/search")
            let bethsOwn = try await ok(client, wire, all, token: beth)
            #expect(bethsOwn["sessions"]?.arrayValue?.count == 1)
            #expect(bethsOwn["sessions"]?.arrayValue?.first?["factors"]?["user"]?["id"] == .string(Seeded.beth))
            // idsQuery and paging.
            let byId = V2Call.session(
                "ListSessions", ["queries": [["idsQuery": ["ids": [.string(try await sessionId(client, of: first))]]]]], .post,
                "/v2/sessions/search")
            #expect(try await ok(client, wire, byId)["sessions"]?.arrayValue?.count == 1)
            let paged = V2Call.session(
                "ListSessions", ["queries": [["userIdQuery": ["id": .string(Seeded.alice)]]], "query": ["limit": 1]], .post,
                "/v2/sessions/search")
            let page = try await ok(client, wire, paged)
            #expect(page["sessions"]?.arrayValue?.count == 1)
            #expect(page["details"]?["totalResult"] == "2")
            let bad = V2Call.session("ListSessions", ["queries": [["nope": [:]]]], .post, "/v2/sessions/search")
            try expectError(try await call(client, wire, bad), wire, status: .badRequest, code: 3, id: nil)
        }
    }

    @Test("DeleteSession ends the session: its tokens introspect inactive and stop working on the APIs", arguments: Wire.allCases)
    func deleteSession(wire: Wire) async throws {
        try await withMock { client, _ in
            let token = try await mint(client, ["userId": .string(Seeded.alice), "format": "opaque"])
            let sid = try await sessionId(client, of: token)
            let sibling = try await mint(client, ["userId": .string(Seeded.alice), "format": "jwt", "sessionId": .string(sid)])
            #expect(try await sessionId(client, of: sibling) == sid)
            let beth = try await mint(client, ["userId": .string(Seeded.beth), "format": "opaque"])
            try expectError(
                try await call(client, wire, Self.delete(sid), token: beth), wire, status: .notFound, code: 5, id: "AUTHZ-cdgFk")

            let deleted = try await ok(client, wire, Self.delete(sid))
            #expect(deleted["details"]?["sequence"] != nil)
            #expect(deleted["details"]?["resourceOwner"] == "300000000000000000", "sessions belong to the instance")
            #expect(try await introspect(client, token) == ["active": false])
            #expect(try await introspect(client, sibling) == ["active": false])
            let userinfo = try await client.execute(uri: "/oidc/v1/userinfo", method: .get, headers: [.authorization: "Bearer \(token)"])
            #expect(userinfo.status == .unauthorized)
            let api = try await call(client, wire, .user("GetUserByID", Seeded.alice, [:], .get, ""), token: sibling)
            try expectError(api, wire, status: .unauthorized, code: 16, id: "AUTH-7fs1e")
            try expectError(try await call(client, wire, Self.get(sid)), wire, status: .notFound, code: 5, id: "QUERY-SFeaa")
            #expect(try await ok(client, wire, Self.list(userId: Seeded.alice))["sessions"] == nil)
            // Ending it again is fine; a human ending an unknown session is refused.
            #expect(try await call(client, wire, Self.delete(sid)).status == .ok)
            try expectError(
                try await call(client, wire, Self.delete("999999999999999999"), token: beth), wire, status: .notFound, code: 5,
                id: "AUTHZ-cdgFk")
        }
    }

    @Test("a user ends their own session with their token; revoking one token leaves the session's others active")
    func ownSessionAndRevocation() async throws {
        try await withMock { client, _ in
            let token = try await mint(client, ["userId": .string(Seeded.priya), "format": "opaque"])
            let sid = try await sessionId(client, of: token)
            let other = try await mint(client, ["userId": .string(Seeded.priya), "format": "opaque", "sessionId": .string(sid)])
            let revoke = try await client.execute(
                uri: "/oauth/v2/revoke", method: .post, headers: gatewayAuthorization, body: formBody([("token", token)]))
            #expect(revoke.status == .ok)
            #expect(try await introspect(client, token) == ["active": false])
            #expect(try await introspect(client, other)["active"] == true)
            _ = try await ok(client, .rest, Self.delete(sid), token: other)
            #expect(try await introspect(client, other) == ["active": false])
        }
    }
}
