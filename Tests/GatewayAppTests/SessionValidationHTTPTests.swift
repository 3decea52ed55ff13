import Configuration
import Crypto
import Foundation
import GatewayApp
import Hummingbird
import HummingbirdTesting
import Testing

/// Session validation end to end: the gateway's router validating tokens minted by the mock Zitadel,
/// which runs for real on a loopback port and serves discovery, JWKS and introspection.
@Suite struct SessionValidationHTTPTests {
    @Test(arguments: ["RS256", "ES256", "EdDSA"])
    func validJWTOfEachAlgorithm(alg: String) async throws {
        try await Harness.withGateway { client, admin in
            let token = try await admin.token(Seeded.aliceClientAdmin, ["alg": alg])
            let response = try await client.session(token)
            #expect(response.status == .ok)
            let body = response.json
            #expect(body["subject"] as? String == Seeded.aliceClientAdmin)
            #expect(body["kind"] as? String == "client")
            #expect(body["portalRole"] as? String == "client_admin")
            #expect(body["tokenFormat"] as? String == "jwt")
            #expect((body["activeTenant"] as? [String: Any])?["orgId"] as? String == Seeded.acacia)
        }
    }

    @Test func opaqueTokensAreIntrospected() async throws {
        try await Harness.withGateway { client, admin in
            let token = try await admin.token(Seeded.marcusClientManager, format: "opaque", ["amr": ["pwd", "otp", "mfa"]])
            let response = try await client.session(token)
            #expect(response.status == .ok)
            #expect(response.json["tokenFormat"] as? String == "opaque")
            #expect(response.json["portalRole"] as? String == "client_manager")
            let mfa = try #require(response.json["mfa"] as? [String: Any])
            #expect(mfa["state"] as? String == "satisfied")
            #expect(mfa["source"] as? String == "introspection")

            // The second call is served from the introspection cache: one introspection in the journal.
            #expect(try await client.session(token).status == .ok)
            #expect(try await admin.count(path: "/oauth/v2/introspect") == 1)
        }
    }

    @Test func inactiveOpaqueTokensAreRefused() async throws {
        try await Harness.withGateway { client, admin in
            let expired = try await admin.token(Seeded.aliceClientAdmin, format: "opaque", ["expiresIn": -10])
            let response = try await client.session(expired)
            #expect(response.status == .unauthorized)
            #expect(response.problemCode == "invalid_token")
            #expect(response.headers[.wwwAuthenticate]?.contains("error=\"invalid_token\"") == true)

            let unknown = try await client.session("n0t-a-real-token-\(UUID().uuidString)")
            #expect(unknown.status == .unauthorized)
        }
    }

    @Test func mfaStateFollowsAMR() async throws {
        try await Harness.withGateway { client, admin in
            // Zitadel JWTs carry no amr (an explicit amr would be the opt-in Actions enrichment): the gateway asks
            // introspection, which reports the session's factors (a passkey: user, mfa).
            let viaIntrospection = try await admin.token(Seeded.aliceClientAdmin, ["factors": ["passkey"]])
            let first = try #require(try await client.session(viaIntrospection).json["mfa"] as? [String: Any])
            #expect(first["state"] as? String == "satisfied")
            #expect(first["source"] as? String == "introspection")

            let inToken = try await admin.token(Seeded.aliceClientAdmin, ["extraClaims": ["amr": ["pwd"]]])
            let second = try #require(try await client.session(inToken).json["mfa"] as? [String: Any])
            #expect(second["state"] as? String == "not_satisfied")
            #expect(second["source"] as? String == "token_amr")
        }
    }

    @Test func expiryHonoursLeeway() async throws {
        try await Harness.withGateway { client, admin in
            let withinLeeway = try await admin.token(Seeded.aliceClientAdmin, ["expiresIn": -20])
            #expect(try await client.session(withinLeeway).status == .ok)

            let expired = try await admin.token(Seeded.aliceClientAdmin, ["expiresIn": -120])
            let response = try await client.session(expired)
            #expect(response.status == .unauthorized)
            #expect(response.problemCode == "token_expired")
        }
    }

    @Test func rejectsEachInvalidClaim() async throws {
        try await Harness.withGateway { client, admin in
            let cases: [(String, [String: Any], String)] = [
                ("not yet valid", ["notBeforeIn": 600], "invalid_token"),
                ("issued in the future", ["issuedAtIn": 600, "notBeforeIn": 0], "invalid_token"),
                ("wrong issuer", ["issuer": "http://127.0.0.1:1"], "invalid_token"),
                ("wrong audience", ["audience": ["someone-else"]], "invalid_token"),
                ("no exp", ["omitClaims": ["exp"]], "invalid_token"),
                ("no sub", ["omitClaims": ["sub"]], "invalid_token"),
                ("unknown crit", ["extraHeader": ["crit": ["urn:example:unknown"], "urn:example:unknown": true]], "invalid_token"),
                ("string exp", ["extraClaims": ["exp": "tomorrow"]], "invalid_token"),
            ]
            for (name, extra, code) in cases {
                let token = try await admin.token(Seeded.aliceClientAdmin, extra)
                let response = try await client.session(token)
                #expect(response.status == .unauthorized, "\(name)")
                #expect(response.problemCode == code, "\(name)")
            }
        }
    }

    /// A genuine signature over a NumericDate that is no real date: a clean 401, on every route that renders
    /// claims. Before the date window, `exp` 1e300 verified and rendering the session answer trapped.
    @Test func rejectsSignedDatesOutsideTheWindow() async throws {
        try await LifecycleHarness.run { client, admin, _ in
            let cases: [(String, Any)] = [
                ("exp", 1e300), ("exp", -1), ("exp", 253_402_300_800), ("exp", -1e300), ("auth_time", 1e300),
                ("auth_time", -86_400), ("nbf", -1), ("iat", 253_402_300_800),
            ]
            for (claim, value) in cases {
                let token = try await admin.token(Seeded.aliceClientAdmin, ["extraClaims": [claim: value]])
                for path in ["/v1/session", "/v1/sessions", "/v1/portal-mfa-lifecycle"] {
                    var headers = HTTPFields()
                    headers[.authorization] = "Bearer \(token)"
                    let response = try await client.execute(uri: path, method: .get, headers: headers)
                    #expect(response.status == .unauthorized, "\(claim) \(value) \(path)")
                    #expect(response.headers[.contentType] == "application/problem+json", "\(claim) \(value) \(path)")
                    #expect(response.problemCode == "invalid_token", "\(claim) \(value) \(path)")
                }
            }
            // The window's last second is a date like any other.
            let last = try await admin.token(Seeded.aliceClientAdmin, ["extraClaims": ["exp": 253_402_300_799, "auth_time": 0]])
            let response = try await client.session(last)
            #expect(response.status == .ok)
            #expect(response.json["expiresAt"] as? String == "9999-12-31T23:59:59Z")
            #expect(response.json["authTime"] as? String == "1970-01-01T00:00:00Z")
        }
    }

    @Test func rejectsForgedSignaturesAndAlgorithmConfusion() async throws {
        try await Harness.withGateway { client, admin in
            let alice = try await admin.token(Seeded.aliceClientAdmin)
            let nora = try await admin.token(Seeded.noraNoAccess)
            let a = alice.split(separator: ".").map(String.init)
            let n = nora.split(separator: ".").map(String.init)

            // A payload from one token under another's signature.
            let spliced = [a[0], n[1], a[2]].joined(separator: ".")
            #expect(try await client.session(spliced).problemCode == "invalid_token")

            // `none`, with and without a signature segment.
            let noneHeader = b64(#"{"alg":"none","typ":"JWT"}"#)
            #expect(try await client.session("\(noneHeader).\(a[1]).").status == .unauthorized)
            #expect(try await client.session("\(noneHeader).\(a[1]).AAAA").status == .unauthorized)

            // HMAC keyed with the issuer's public key material (the classic confusion attack).
            let (_, jwks) = try await admin.get("/oauth/v2/keys")
            let keys = try #require((jwks as? [String: Any])?["keys"] as? [[String: Any]])
            let rsa = try #require(keys.first { $0["kty"] as? String == "RSA" })
            let kid = try #require(rsa["kid"] as? String)
            let header = b64(#"{"alg":"HS256","typ":"JWT","kid":"\#(kid)"}"#)
            let secret = SymmetricKey(data: Array((rsa["n"] as? String ?? "").utf8))
            let mac = HMAC<SHA256>.authenticationCode(for: Array("\(header).\(a[1])".utf8), using: secret)
            let forged = "\(header).\(a[1]).\(b64(Array(mac)))"
            let response = try await client.session(forged)
            #expect(response.status == .unauthorized)
            #expect(response.problemCode == "invalid_token")
        }
    }

    @Test func rejectsMalformedAndOversizeTokens() async throws {
        try await Harness.withGateway { client, _ in
            for token in ["abc.def.ghi", "a.b.c.d", "%%%.%%%.%%%", b64("{}") + "." + b64("{}") + ".AAAA"] {
                let response = try await client.session(token)
                #expect(response.status == .unauthorized, "\(token)")
                #expect(response.problemCode == "invalid_token")
            }
            let oversize = String(repeating: "a", count: 17 * 1024)
            #expect(try await client.session(oversize).problemCode == "invalid_token")

            let missing = try await client.session(nil)
            #expect(missing.status == .unauthorized)
            #expect(missing.problemCode == "missing_token")
            #expect(missing.headers[.wwwAuthenticate]?.hasPrefix("Bearer") == true)

            let basic = try await client.execute(uri: "/v1/session", method: .get, headers: [.authorization: "Basic YTpi"])
            #expect(basic.status == .unauthorized)
            #expect(basic.headers[.contentType] == "application/problem+json")
        }
    }

    @Test func unknownKidBeforeAndAfterRotation() async throws {
        try await Harness.withGateway { client, admin in
            #expect(try await client.session(try await admin.token(Seeded.aliceClientAdmin)).status == .ok)

            // A key that signs but is not yet published: refused after one refetch.
            let hidden = try await admin.rotate(publish: false)
            let early = try await admin.token(Seeded.aliceClientAdmin, ["kid": hidden])
            let refused = try await client.session(early)
            #expect(refused.status == .unauthorized)
            #expect(refused.problemCode == "invalid_token")

            // Published: accepted once the short unknown-kid memory (1 s in tests) has passed.
            let (status, _) = try await admin.post("/mock/admin/keys/\(hidden)/publish", [:])
            #expect(status == 200)
            try await Task.sleep(for: .milliseconds(1100))
            #expect(try await client.session(early).status == .ok)

            // A normal rotation: the new kid is fetched on first sight.
            let rotated = try await admin.rotate(alg: "ES256")
            let fresh = try await admin.token(Seeded.aliceClientAdmin, ["alg": "ES256"])
            #expect(fresh.contains(".") && !rotated.isEmpty)
            #expect(try await client.session(fresh).status == .ok)
        }
    }

    @Test func unknownKidRefetchIsRateLimited() async throws {
        let throttled = { (keys: inout [String: ConfigValue], _: String) in keys["issuers.mock.jwks.forcedRefetchSeconds"] = 60 }
        try await Harness.withGateway(configure: throttled) { client, admin in
            #expect(try await client.session(try await admin.token(Seeded.aliceClientAdmin)).status == .ok)
            let before = try await admin.jwksFetches()
            for _ in 0..<5 {
                let bogus = try await admin.token(Seeded.aliceClientAdmin, ["extraHeader": ["kid": UUID().uuidString]])
                #expect(try await client.session(bogus).status == .unauthorized)
            }
            // The first unknown kid may force one refetch; the rest are throttled.
            #expect(try await admin.jwksFetches() - before <= 1)
        }
    }

    @Test func oneJWKSFetchForManyConcurrentRequestsWithNewKid() async throws {
        try await Harness.withGateway { client, admin in
            #expect(try await client.session(try await admin.token(Seeded.aliceClientAdmin)).status == .ok)
            _ = try await admin.rotate()
            var tokens: [String] = []
            for _ in 0..<50 { tokens.append(try await admin.token(Seeded.aliceClientAdmin)) }
            try await admin.delete("/mock/admin/journal")
            let statuses = try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                for index in 0..<1000 {
                    let token = tokens[index % tokens.count]
                    group.addTask { try await client.session(token).status }
                }
                return try await group.reduce(into: [HTTPResponse.Status]()) { $0.append($1) }
            }
            #expect(statuses.allSatisfy { $0 == .ok })
            #expect(try await admin.jwksFetches() == 1)
        }
    }

    @Test func staleKeysAreServedWhileJWKSIsDown() async throws {
        try await Harness.withGateway { client, admin in
            #expect(try await client.session(try await admin.token(Seeded.aliceClientAdmin)).status == .ok)
            let (status, _) = try await admin.post("/mock/admin/faults", ["path": "/oauth/v2/keys", "status": 503])
            #expect((200..<300).contains(status))

            // A token for an unknown kid forces a refetch that fails: the last good set stays in use.
            let hidden = try await admin.rotate(publish: false)
            #expect(try await client.session(try await admin.token(Seeded.aliceClientAdmin, ["kid": hidden])).status == .unauthorized)
            // Tokens under keys from the last good set still validate (the hidden key now signs RS256: use ES256).
            #expect(try await client.session(try await admin.token(Seeded.bethBanksiaAdmin, ["alg": "ES256"])).status == .ok)

            let ready = try await client.execute(uri: "/readyz", method: .get)
            #expect(ready.status == .ok)
            let issuers = try #require(ready.json["issuers"] as? [[String: Any]])
            #expect(issuers.first?["keysStale"] as? Bool == true)
        }
    }

    @Test func keysBeyondMaxStalenessAreNotUsed() async throws {
        let shortStaleness = { (keys: inout [String: ConfigValue], _: String) in keys["issuers.mock.jwks.maxStalenessSeconds"] = 1 }
        try await Harness.withGateway(configure: shortStaleness) { client, admin in
            #expect(try await client.session(try await admin.token(Seeded.aliceClientAdmin)).status == .ok)
            _ = try await admin.post("/mock/admin/faults", ["path": "/oauth/v2/keys", "status": 500])
            try await Task.sleep(for: .milliseconds(1200))
            let response = try await client.session(try await admin.token(Seeded.bethBanksiaAdmin))
            #expect(response.status == .serviceUnavailable)
            #expect(response.problemCode == "issuer_unavailable")
            #expect(response.headers[.retryAfter] != nil)
            #expect(try await client.execute(uri: "/readyz", method: .get).status == .serviceUnavailable)
        }
    }

    @Test func revocationCheckRefusesRevokedTokens() async throws {
        let revocationCheck = { (keys: inout [String: ConfigValue], _: String) in
            keys["issuers.mock.revocationCheck.enabled"] = true
            keys["issuers.mock.revocationCheck.cacheSeconds"] = 1
        }
        try await Harness.withGateway(configure: revocationCheck) { client, admin in
            let token = try await admin.token(Seeded.aliceClientAdmin)
            #expect(try await client.session(token).status == .ok)
            var request = HTTPClientRequestBuilder.revoke(baseURL: admin.baseURL, token: token)
            request.method = .POST
            let response = try await HTTPClientRequestBuilder.send(request)
            #expect(response == 200)
            try await Task.sleep(for: .milliseconds(1100))
            let refused = try await client.session(token)
            #expect(refused.status == .unauthorized)
            #expect(refused.problemCode == "revoked_token")
        }
    }

    private func b64(_ text: String) -> String { b64(Array(text.utf8)) }

    private func b64(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }
}

/// The whole server on a real socket, with its background services: keys load before any request.
@Suite struct LiveServerTests {
    @Test func keysLoadInTheBackgroundAndSessionsValidateOverASocket() async throws {
        try await Harness.withGateway(testing: .live) { client, admin in
            var ready = false
            for _ in 0..<50 where !ready {
                ready = try await client.execute(uri: "/readyz", method: .get).status == .ok
                if !ready { try await Task.sleep(for: .milliseconds(100)) }
            }
            #expect(ready)
            let fetchesBeforeRequests = try await admin.jwksFetches()
            #expect(fetchesBeforeRequests >= 1)
            let response = try await client.session(try await admin.token(Seeded.bethBanksiaAdmin, ["alg": "EdDSA"]))
            #expect(response.status == .ok)
            #expect(response.json["portalRole"] as? String == "client_admin")
            #expect(try await admin.jwksFetches() == fetchesBeforeRequests)
        }
    }
}
