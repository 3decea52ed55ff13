import Foundation
import Hummingbird
import HummingbirdTesting
import JWTKit
import MockZitadel
import NIOCore
import Testing

@Suite("Admin API")
struct AdminTests {
    @Test("users are listed as [{id, loginName, orgId, roles}]")
    func users() async throws {
        try await withMock { client, _ in
            let response = try await client.execute(uri: "/mock/admin/users", method: .get)
            #expect(response.status == .ok)
            let users = try #require(try response.json().arrayValue)
            #expect(users.count == 9)
            for user in users {
                #expect(user.keys.isSuperset(of: ["id", "loginName", "orgId", "roles"]))
                #expect(user["id"]?.stringValue?.count == 18)
                #expect(user["roles"]?.arrayValue != nil)
            }
            let roles = Set(users.flatMap { $0["roles"]?.arrayValue ?? [] }.compactMap(\.stringValue))
            #expect(roles == ["client_admin", "client_manager", "client_staff", "partner_admin", "partner_user"])
            let priya = try #require(users.first { $0["id"] == .string(Seeded.priya) })
            #expect(priya["roles"] == ["partner_admin"])
            #expect(priya["orgId"] == .string(Seeded.coral))
            #expect(priya["loginName"] == "priya.partner@coral-partners.aidial.example")
            let nora = try #require(users.first { $0["id"] == .string(Seeded.nora) })
            #expect(nora["roles"] == [])
        }
    }

    @Test("minting rejects unknown users with 404 and bad bodies with 400, as problem JSON")
    func mintErrors() async throws {
        try await withMock { client, _ in
            let bodies: [(ByteBuffer, HTTPResponse.Status, String)] = [
                (try jsonBody(["userId": "999999999999999999", "format": "jwt"]), .notFound, "user_not_found"),
                (try jsonBody(["userId": .string(Seeded.alice), "format": "xml"]), .badRequest, "invalid_body"),
                (try jsonBody(["format": "jwt"]), .badRequest, "invalid_body"),
                (ByteBuffer(string: "{not json"), .badRequest, "invalid_body"),
                (ByteBuffer(), .badRequest, "invalid_body"),
                (try jsonBody(["userId": .string(Seeded.alice), "format": "jwt", "kid": "nope"]), .badRequest, "unknown_kid"),
                (try jsonBody(["userId": .string(Seeded.alice), "format": "jwt", "alg": "HS256"]), .badRequest, "invalid_body"),
                (try jsonBody(["userId": .string(Seeded.alice), "format": "jwt", "orgId": "1"]), .badRequest, "unknown_organisation"),
            ]
            for (body, status, code) in bodies {
                let response = try await client.execute(uri: "/mock/admin/tokens", method: .post, headers: jsonHeaders, body: body)
                #expect(response.status == status)
                #expect(response.headers[.contentType] == "application/problem+json")
                let problem = try response.json()
                #expect(problem["code"] == .string(code))
                #expect(problem["status"]?.intValue == Int64(status.code))
                #expect(problem.keys.isSuperset(of: ["type", "title", "status", "detail", "code"]))
            }
        }
    }

    /// A lifetime or offset that would date the token outside 1970-01-01...9999-12-31 is refused, not minted
    /// (`expiresIn` near `Int.max` trapped converting the date to a claim).
    @Test("minting refuses lifetimes that make no real date with 400")
    func mintRefusesImpossibleDates() async throws {
        try await withMock { client, _ in
            for (knob, value) in [
                ("expiresIn", Int64.max), ("expiresIn", 300_000_000_000), ("expiresIn", -2_000_000_000_000), ("expiresIn", Int64.min),
                ("notBeforeIn", Int64.max), ("issuedAtIn", Int64.min), ("issuedAtIn", 300_000_000_000),
            ] {
                let body = try jsonBody(["userId": .string(Seeded.alice), "format": "jwt", knob: .int(value)])
                let response = try await client.execute(uri: "/mock/admin/tokens", method: .post, headers: jsonHeaders, body: body)
                #expect(response.status == .badRequest, "\(knob) \(value)")
                #expect(try response.json()["code"] == "invalid_body", "\(knob) \(value)")
            }
            // A long but real lifetime is still minted (an expired one too).
            for lifetime: Int64 in [100 * 365 * 86_400, -120] {
                let body = try jsonBody(["userId": .string(Seeded.alice), "format": "jwt", "expiresIn": .int(lifetime)])
                let response = try await client.execute(uri: "/mock/admin/tokens", method: .post, headers: jsonHeaders, body: body)
                #expect(response.status == .ok, "\(lifetime)")
            }
        }
    }

    @Test("mint knobs shape the header and claims")
    func mintKnobs() async throws {
        try await withMock { client, _ in
            let body: JSONValue = [
                "userId": .string(Seeded.alice), "format": "jwt", "expiresIn": 600,
                "audience": ["custom-aud"], "issuer": "https://other.example",
                "notBeforeIn": 120, "issuedAtIn": -30,
                "extraHeader": ["crit": ["exp"], "jku": "https://attacker.example/jwks"],
                "extraClaims": ["azp": "someone", "scope": "openid"],
                "omitClaims": ["client_id"],
                "roles": ["client_staff": ["1": "one.example"]],
            ]
            let response = try await client.execute(
                uri: "/mock/admin/tokens", method: .post, headers: jsonHeaders, body: try jsonBody(body))
            let minted = try response.json()
            #expect(minted["tokenType"] == "Bearer")
            #expect(minted["expiresIn"]?.intValue == 600)
            let token = try #require(minted["accessToken"]?.stringValue)
            let header = try jwtSegment(token, 0)
            #expect(header["crit"] == ["exp"])
            #expect(header["jku"] == "https://attacker.example/jwks")
            let payload = try jwtSegment(token, 1)
            #expect(payload["aud"] == ["custom-aud"])
            #expect(payload["iss"] == "https://other.example")
            #expect(payload["azp"] == "someone")
            #expect(payload["client_id"] == nil)
            #expect(payload["urn:zitadel:iam:org:project:roles"] == ["client_staff": ["1": "one.example"]])
            let iat = try #require(payload["iat"]?.intValue)
            let nbf = try #require(payload["nbf"]?.intValue)
            let exp = try #require(payload["exp"]?.intValue)
            #expect(nbf - iat == 150)
            #expect(exp - iat == 630)

            // Negative lifetimes mint already expired tokens that jwt-kit refuses.
            let expired = try await mint(client, ["userId": .string(Seeded.alice), "format": "jwt", "expiresIn": -60])
            let keys = try await servedKeys(client)
            await #expect(throws: (any Error).self) { try await keys.verify(expired, as: AccessTokenClaims.self) }
        }
    }

    @Test("rotation serves the new kid next to the old one; unpublished keys stay hidden until published; delete removes")
    func keyRotation() async throws {
        try await withMock { client, _ in
            func servedKids() async throws -> [String] {
                let jwks = try await client.execute(uri: "/oauth/v2/keys", method: .get).json()
                return (jwks["keys"]?.arrayValue ?? []).compactMap { $0["kid"]?.stringValue }
            }
            let before = try await servedKids()
            let oldToken = try await mint(client, ["userId": .string(Seeded.alice), "format": "jwt"])
            let oldKid = try #require(try jwtSegment(oldToken, 0)["kid"]?.stringValue)

            let rotated = try await client.execute(
                uri: "/mock/admin/keys/rotate",
                method: .post,
                headers: jsonHeaders,
                body: try jsonBody(["alg": "RS256"])
            ).json()
            let newKid = try #require(rotated["kid"]?.stringValue)
            #expect(rotated["alg"] == "RS256")
            #expect(try await servedKids() == before + [newKid])
            let newToken = try await mint(client, ["userId": .string(Seeded.alice), "format": "jwt"])
            #expect(try jwtSegment(newToken, 0)["kid"] == .string(newKid))
            let keys = try await servedKeys(client)
            _ = try await keys.verify(oldToken, as: AccessTokenClaims.self)
            _ = try await keys.verify(newToken, as: AccessTokenClaims.self)

            // Unpublished: signs, but is not served until published.
            let hidden = try await client.execute(
                uri: "/mock/admin/keys/rotate",
                method: .post,
                headers: jsonHeaders,
                body: try jsonBody(["alg": "ES256", "publish": false])
            ).json()
            let hiddenKid = try #require(hidden["kid"]?.stringValue)
            #expect(!(try await servedKids()).contains(hiddenKid))
            let hiddenToken = try await mint(client, ["userId": .string(Seeded.alice), "format": "jwt", "alg": "ES256"])
            #expect(try jwtSegment(hiddenToken, 0)["kid"] == .string(hiddenKid))
            let listed = try await client.execute(uri: "/mock/admin/keys", method: .get).json().arrayValue ?? []
            let hiddenInfo = try #require(listed.first { $0["kid"] == .string(hiddenKid) })
            #expect(hiddenInfo["published"] == false)
            #expect(hiddenInfo["active"] == true)
            #expect(listed.first { $0["kid"] == .string(oldKid) }?["active"] == false)
            let published = try await client.execute(uri: "/mock/admin/keys/\(hiddenKid)/publish", method: .post)
            #expect(published.status == .ok)
            #expect(try await servedKids().contains(hiddenKid))

            // Deleted: gone from the JWKS, and tokens it signed stop being ours.
            #expect(try await introspect(client, oldToken)["active"] == true)
            let deleted = try await client.execute(uri: "/mock/admin/keys/\(oldKid)", method: .delete)
            #expect(deleted.status == .noContent)
            #expect(!(try await servedKids()).contains(oldKid))
            #expect(try await introspect(client, oldToken) == ["active": false])
            let again = try await client.execute(uri: "/mock/admin/keys/\(oldKid)", method: .delete)
            #expect(again.status == .notFound)

            // A specific key can still be chosen by kid.
            let byKid = try await mint(client, ["userId": .string(Seeded.alice), "format": "jwt", "kid": .string(newKid)])
            #expect(try jwtSegment(byKid, 0)["kid"] == .string(newKid))
        }
    }

    @Test("a status fault applies `times` times, then the real endpoint answers again")
    func statusFault() async throws {
        try await withMock { client, _ in
            let added = try await client.execute(
                uri: "/mock/admin/faults",
                method: .post,
                headers: jsonHeaders,
                body: try jsonBody(["path": "/oauth/v2/keys", "method": "GET", "status": 503, "times": 2])
            )
            #expect(added.status == .created)
            let id = try #require(try added.json()["id"]?.stringValue)
            for _ in 0..<2 {
                #expect(try await client.execute(uri: "/oauth/v2/keys", method: .get).status == .serviceUnavailable)
            }
            #expect(try await client.execute(uri: "/oauth/v2/keys", method: .get).status == .ok)
            let listed = try await client.execute(uri: "/mock/admin/faults", method: .get).json().arrayValue ?? []
            #expect(listed.first?["id"] == .string(id))
            #expect(listed.first?["hits"]?.intValue == 2)
            #expect(listed.first?["remaining"]?.intValue == 0)
            #expect(try await client.execute(uri: "/mock/admin/faults/\(id)", method: .delete).status == .noContent)
            #expect(try await client.execute(uri: "/mock/admin/faults/\(id)", method: .delete).status == .notFound)
            // Other methods are not matched.
            _ = try await client.execute(
                uri: "/mock/admin/faults",
                method: .post,
                headers: jsonHeaders,
                body: try jsonBody(["path": "/oauth/v2/keys", "method": "POST", "status": 500])
            )
            #expect(try await client.execute(uri: "/oauth/v2/keys", method: .get).status == .ok)
            #expect(try await client.execute(uri: "/mock/admin/faults", method: .delete).status == .noContent)
            #expect(try await client.execute(uri: "/mock/admin/faults", method: .get).json() == [])
        }
    }

    @Test("latency delays, malformed truncates the real JSON, body replaces it")
    func latencyMalformedAndBody() async throws {
        try await withMock { client, _ in
            _ = try await client.execute(
                uri: "/mock/admin/faults",
                method: .post,
                headers: jsonHeaders,
                body: try jsonBody(["path": "/oauth/v2/keys", "latencyMs": 300, "times": 1])
            )
            let clock = ContinuousClock()
            let start = clock.now
            let slow = try await client.execute(uri: "/oauth/v2/keys", method: .get)
            #expect(clock.now - start >= .milliseconds(300))
            #expect(slow.status == .ok)
            #expect(try slow.json()["keys"] != nil)

            _ = try await client.execute(
                uri: "/mock/admin/faults",
                method: .post,
                headers: jsonHeaders,
                body: try jsonBody(["path": "/.well-known/*", "malformed": true, "times": 1])
            )
            let malformed = try await client.execute(uri: "/.well-known/openid-configuration", method: .get)
            #expect(malformed.status == .ok)
            #expect(malformed.text.hasPrefix("{"))
            #expect(throws: (any Error).self) { try malformed.json() }

            _ = try await client.execute(
                uri: "/mock/admin/faults",
                method: .post,
                headers: jsonHeaders,
                body: try jsonBody(["path": "/oauth/v2/introspect", "status": 200, "body": #"{"active":"yes"}"#, "times": 1])
            )
            let replaced = try await client.execute(
                uri: "/oauth/v2/introspect",
                method: .post,
                headers: gatewayAuthorization,
                body: formBody([("token", "x")])
            )
            #expect(replaced.text == #"{"active":"yes"}"#)

            let rejected = try await client.execute(
                uri: "/mock/admin/faults",
                method: .post,
                headers: jsonHeaders,
                body: try jsonBody(["path": "/mock/admin/users", "status": 500])
            )
            #expect(rejected.status == .badRequest)
            #expect(try await client.execute(uri: "/mock/admin/users", method: .get).status == .ok)
        }
    }

    @Test("a reset fault closes the connection without a response, and is journaled")
    func resetFault() async throws {
        try await MockZitadelApp.withRunningMock(logger: testLogger) { baseURL, mock in
            let port = try #require(Int(baseURL.split(separator: ":").last ?? ""))
            #expect(baseURL == "http://127.0.0.1:\(port)")
            _ = await mock.addFault(FaultSpec(path: "/oauth/v2/keys", reset: true, times: 1))
            _ = try await TestClient.withClient(host: "127.0.0.1", port: port) { client in
                await #expect(throws: (any Error).self) {
                    _ = try await client.execute(.init("/oauth/v2/keys", method: .get, authority: "127.0.0.1:\(port)"))
                }
            }
            let response = try await TestClient.withClient(host: "127.0.0.1", port: port) { client in
                try await client.execute(.init("/oauth/v2/keys", method: .get, authority: "127.0.0.1:\(port)"))
            }
            #expect(response.status == .ok)
            let entries = await mock.journalEntries(path: "/oauth/v2/keys")
            #expect(entries.count == 2)
            #expect(entries.first?.status == nil)
            #expect(entries.first?.faultId != nil)
            #expect(entries.last?.status == 200)
        }
    }

    @Test("the journal records non-admin calls with user ids and filters by path, method and since")
    func journal() async throws {
        try await withMock { client, _ in
            let token = try await mint(client, ["userId": .string(Seeded.alice), "format": "opaque"])
            _ = try await client.execute(uri: "/.well-known/openid-configuration", method: .get)
            let midpoint = Date()
            try await Task.sleep(for: .milliseconds(20))
            _ = try await client.execute(uri: "/oidc/v1/userinfo", method: .get, headers: [.authorization: "Bearer \(token)"])
            _ = try await introspect(client, token)
            _ = try await client.execute(uri: "/no/such/route", method: .get)

            let all = try await client.execute(uri: "/mock/admin/journal", method: .get).json().arrayValue ?? []
            #expect(
                all.map { $0["path"]?.stringValue ?? "" } == [
                    "/.well-known/openid-configuration", "/oidc/v1/userinfo", "/oauth/v2/introspect", "/no/such/route",
                ]
            )
            for entry in all {
                #expect(entry.keys.isSuperset(of: ["method", "path", "rpc", "userId", "at"]))
                #expect(entry["rpc"] == .null)
                let at = try #require(entry["at"]?.stringValue)
                #expect(at.contains(".") && at.hasSuffix("Z"), "not RFC 3339 with fractional seconds: \(at)")
            }
            #expect(all[0]["userId"] == .null)
            #expect(all[1]["userId"] == .string(Seeded.alice))
            #expect(all[2]["userId"] == .string(Seeded.alice))
            #expect(all[3]["status"]?.intValue == 404)

            let byPath = try await client.execute(uri: "/mock/admin/journal?path=/oidc/v1/userinfo", method: .get).json().arrayValue ?? []
            #expect(byPath.count == 1)
            let byMethod = try await client.execute(uri: "/mock/admin/journal?method=post", method: .get).json().arrayValue ?? []
            #expect(byMethod.map { $0["path"] } == ["/oauth/v2/introspect"])
            let since = formEncode(midpoint.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true)))
            let recent = try await client.execute(uri: "/mock/admin/journal?since=\(since)", method: .get).json().arrayValue ?? []
            #expect(recent.count == 3)
            let badSince = try await client.execute(uri: "/mock/admin/journal?since=yesterday", method: .get)
            #expect(badSince.status == .badRequest)

            #expect(try await client.execute(uri: "/mock/admin/journal", method: .delete).status == .noContent)
            #expect(try await client.execute(uri: "/mock/admin/journal", method: .get).json() == [])
        }
    }

    @Test("reset restores the seed: tokens, faults and journal go, keys stay unless asked")
    func reset() async throws {
        try await withMock { client, _ in
            let token = try await mint(client, ["userId": .string(Seeded.alice), "format": "opaque"])
            _ = try await client.execute(
                uri: "/mock/admin/faults",
                method: .post,
                headers: jsonHeaders,
                body: try jsonBody(["path": "/nowhere", "status": 500])
            )
            _ = try await client.execute(uri: "/.well-known/openid-configuration", method: .get)
            let kidsBefore = try await client.execute(uri: "/mock/admin/keys", method: .get).json()

            #expect(try await client.execute(uri: "/mock/admin/reset", method: .post).status == .ok)
            #expect(try await client.execute(uri: "/mock/admin/faults", method: .get).json() == [])
            #expect(try await client.execute(uri: "/mock/admin/journal", method: .get).json() == [])
            #expect(try await introspect(client, token) == ["active": false])
            #expect(try await client.execute(uri: "/mock/admin/keys", method: .get).json() == kidsBefore)

            let withKeys = try await client.execute(
                uri: "/mock/admin/reset", method: .post, headers: jsonHeaders, body: try jsonBody(["keys": true]))
            #expect(withKeys.status == .ok)
            let kidsAfter = try await client.execute(uri: "/mock/admin/keys", method: .get).json()
            #expect(kidsAfter.arrayValue?.count == 3)
            #expect(kidsAfter != kidsBefore)
        }
    }

    @Test("unknown admin routes answer 404 problem JSON")
    func unknownAdminRoute() async throws {
        try await withMock { client, _ in
            let response = try await client.execute(uri: "/mock/admin/nope/deeper", method: .get)
            #expect(response.status == .notFound)
            #expect(response.headers[.contentType] == "application/problem+json")
            #expect(try response.json()["code"] == "not_found")
        }
    }

    @Test("a missing seed file is a clear start-up error")
    func missingSeed() async throws {
        await #expect(throws: MockZitadelError.self) {
            _ = try await MockZitadelApp.build(configuration: .init(port: 0, seedFile: "/nonexistent/seed.json"), logger: testLogger)
        }
    }

    @Test("the issuer follows the Host header; a hostile Host falls back to the bound address")
    func issuerFallback() async throws {
        try await MockZitadelApp.withRunningMock(logger: testLogger) { baseURL, _ in
            let port = try #require(Int(baseURL.split(separator: ":").last ?? ""))
            let response = try await TestClient.withClient(host: "127.0.0.1", port: port) { client in
                try await client.execute(.init("/.well-known/openid-configuration", method: .get, authority: "mock.aidial.example:8081"))
            }
            let body = try #require(response.body)
            let document = try JSONDecoder().decode(JSONValue.self, from: Data(body.readableBytesView))
            #expect(document["issuer"] == "http://mock.aidial.example:8081")
            let hostile = try await TestClient.withClient(host: "127.0.0.1", port: port) { client in
                try await client.execute(.init("/.well-known/openid-configuration", method: .get, authority: "evil.example/\"path"))
            }
            let hostileBody = try #require(hostile.body)
            let hostileDocument = try JSONDecoder().decode(JSONValue.self, from: Data(hostileBody.readableBytesView))
            #expect(hostileDocument["issuer"] == .string(baseURL))
        }
    }
}

/// A request body the journal cannot collect (over its 1 MiB limit) is answered 413 and journalled; before,
/// the handler read the spent stream a second time and the whole process trapped.
@Suite struct OversizedBodyTests {
    @Test func anOversizedRPCBodyIsRefusedNotATrap() async throws {
        try await withMock { client, mock in
            let response = try await client.execute(
                uri: "/zitadel.user.v2.UserService/GetUserByID", method: .post,
                headers: [.contentType: "application/json", .authorization: "Bearer \(Seeded.servicePAT)"],
                body: ByteBuffer(repeating: UInt8(ascii: " "), count: (1 << 20) + 1024))
            #expect(response.status == .contentTooLarge)
            let journal = try await client.execute(uri: "/mock/admin/journal?rpc=UserService/GetUserByID", method: .get)
            #expect(try journal.json().arrayValue?.count == 1)
        }
    }
}
