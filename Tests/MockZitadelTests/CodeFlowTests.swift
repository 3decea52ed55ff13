import Foundation
import Hummingbird
import HummingbirdTesting
import JWTKit
import MockZitadel
import NIOCore
import Testing

/// The authorization-code flow with PKCE, driven over HTTP the way a browser and a client would.
@Suite("OIDC authorization code flow")
struct CodeFlowTests {
    static let redirectURI = "http://127.0.0.1:8081/mock/callback"
    static let verifier = "dBjftJeZ4CVP-mJ92K-eUhmD-gk9sbSzBPERAiZ33xYmockverifier"
    static var challenge: String { Digest.base64URL(Digest.sha256(Array(verifier.utf8))) }

    static func authorizeURI(
        scope: String = "openid profile email offline_access", prompt: String? = nil, loginHint: String? = nil,
        challenge: String? = CodeFlowTests.challenge, redirectURI: String = CodeFlowTests.redirectURI
    ) -> String {
        var parameters = [
            ("client_id", Seeded.portalClientId), ("redirect_uri", redirectURI), ("response_type", "code"), ("scope", scope),
            ("state", "state-123"), ("nonce", "nonce-456"),
        ]
        if let challenge { parameters += [("code_challenge", challenge), ("code_challenge_method", "S256")] }
        if let prompt { parameters.append(("prompt", prompt)) }
        if let loginHint { parameters.append(("login_hint", loginHint)) }
        return "/oauth/v2/authorize?" + parameters.map { "\($0)=\(formEncode($1))" }.joined(separator: "&")
    }

    /// Follows authorize to the login page and signs in; returns the redirect back to the client and the cookie.
    static func signIn(
        _ client: some TestClientProtocol, userId: String, factors: [String], recoveryCode: String? = nil,
        authorize: String = authorizeURI()
    ) async throws -> (location: String, cookie: String?, status: HTTPResponse.Status) {
        let start = try await client.execute(uri: authorize, method: .get)
        #expect(start.status == .found)
        let login = try #require(start.headers[.location])
        #expect(login.hasPrefix("/ui/v2/login/login?requestId=oidc_V2_"))
        let page = try await client.execute(uri: login, method: .get)
        #expect(page.status == .ok)
        #expect(page.text.contains(#"id="user-\#(userId)""#))
        let requestId = String(login.split(separator: "=", maxSplits: 1)[1])
        var fields = [("requestId", requestId), ("userId", userId)] + factors.map { ("factor", $0) }
        if let recoveryCode { fields.append(("recoveryCode", recoveryCode)) }
        let response = try await client.execute(uri: "/ui/v2/login/login", method: .post, headers: formHeaders, body: formBody(fields))
        let cookie = response.headers[.setCookie].map { String($0.split(separator: ";")[0]) }
        return (response.headers[.location] ?? response.text, cookie, response.status)
    }

    static func query(_ location: String) -> [String: String] {
        var result: [String: String] = [:]
        for pair in (URLComponents(string: location)?.queryItems ?? []) {
            result[pair.name] = pair.value
        }
        return result
    }

    static func exchange(_ client: some TestClientProtocol, code: String, verifier: String = verifier) async throws -> TestResponse {
        try await client.execute(
            uri: "/oauth/v2/token", method: .post, headers: formHeaders,
            body: formBody([
                ("grant_type", "authorization_code"), ("code", code), ("redirect_uri", redirectURI), ("client_id", Seeded.portalClientId),
                ("code_verifier", verifier),
            ]))
    }

    @Test("authorize → login page → code → tokens: amr, sid, nonce and at_hash follow the chosen factors")
    func fullFlow() async throws {
        try await withMock { client, _ in
            let (location, cookie, status) = try await Self.signIn(client, userId: Seeded.priya, factors: ["password", "totp"])
            #expect(status == .found)
            #expect(location.hasPrefix(Self.redirectURI + "?"))
            #expect(cookie?.hasPrefix("zitadel_mock_session=") == true)
            let query = Self.query(location)
            #expect(query["state"] == "state-123")
            let code = try #require(query["code"])

            let response = try await Self.exchange(client, code: code)
            #expect(response.status == .ok, "\(response.text)")
            let tokens = try response.json()
            #expect(tokens["token_type"] == "Bearer")
            #expect(tokens["expires_in"] == 43_200)
            let accessToken = try #require(tokens["access_token"]?.stringValue)
            #expect(!accessToken.contains("."), "the portal app uses opaque (bearer) access tokens")
            #expect(tokens["refresh_token"]?.stringValue != nil)
            let idToken = try #require(tokens["id_token"]?.stringValue)
            let claims = try jwtSegment(idToken, 1)
            #expect(claims["sub"] == .string(Seeded.priya))
            #expect(claims["amr"] == ["pwd", "otp", "mfa"])
            #expect(claims["nonce"] == "nonce-456")
            #expect(claims["azp"] == .string(Seeded.portalClientId))
            #expect(claims["aud"]?.arrayValue?.contains(.string(Seeded.projectId)) == true)
            #expect(claims["at_hash"] == .string(Digest.base64URL(Array(Digest.sha256(Array(accessToken.utf8)).prefix(16)))))
            _ = try await servedKeys(client).verify(idToken, as: IDTokenClaims.self)

            let introspection = try await introspect(client, accessToken)
            #expect(introspection["active"] == true)
            #expect(introspection["amr"] == ["pwd", "otp", "mfa"])
            #expect(introspection["sid"] == nil, "Zitadel's introspection names no session; the ID token does")
            let sid = try #require(claims["sid"]?.stringValue)
            let session = try await ok(client, .connect, SessionServiceTests.get(sid))
            #expect(session["session"]?["factors"]?["totp"] != nil)
            #expect(session["session"]?["factors"]?["password"] != nil)

            // Codes are single use; a wrong verifier is refused.
            let again = try await Self.exchange(client, code: code)
            #expect(again.status == .badRequest)
            #expect(try again.json()["error"] == "invalid_grant")
            let (second, _, _) = try await Self.signIn(client, userId: Seeded.priya, factors: ["passkey"])
            let wrongVerifier = try await Self.exchange(
                client, code: try #require(Self.query(second)["code"]), verifier: String(repeating: "x", count: 43))
            #expect(try wrongVerifier.json()["error"] == "invalid_grant")
        }
    }

    @Test("refresh tokens rotate; revoking one ends the access tokens issued with it")
    func refreshTokens() async throws {
        try await withMock { client, _ in
            let (location, _, _) = try await Self.signIn(client, userId: Seeded.alice, factors: ["password"])
            let tokens = try await Self.exchange(client, code: try #require(Self.query(location)["code"])).json()
            let refresh = try #require(tokens["refresh_token"]?.stringValue)
            func refreshed(_ token: String) async throws -> TestResponse {
                try await client.execute(
                    uri: "/oauth/v2/token", method: .post, headers: formHeaders,
                    body: formBody([("grant_type", "refresh_token"), ("refresh_token", token), ("client_id", Seeded.portalClientId)]))
            }
            let next = try await refreshed(refresh)
            #expect(next.status == .ok)
            let rotated = try #require(try next.json()["refresh_token"]?.stringValue)
            #expect(rotated != refresh)
            #expect(try await refreshed(refresh).status == .badRequest)
            let access = try #require(try next.json()["access_token"]?.stringValue)
            #expect(try await introspect(client, access)["amr"] == ["pwd"])

            let revoke = try await client.execute(
                uri: "/oauth/v2/revoke", method: .post, headers: formHeaders,
                body: formBody([("token", rotated), ("client_id", Seeded.portalClientId)]))
            #expect(revoke.status == .ok)
            #expect(try await introspect(client, access) == ["active": false])
            #expect(try await refreshed(rotated).status == .badRequest)
        }
    }

    @Test("the login page refuses factors the user has not enrolled, and spends recovery codes once")
    func loginRules() async throws {
        try await withMock { client, _ in
            let (_, _, refused) = try await Self.signIn(client, userId: Seeded.sam, factors: ["password", "totp"])
            #expect(refused == .badRequest)
            let (_, _, noFirstFactor) = try await Self.signIn(client, userId: Seeded.alice, factors: ["totp"])
            #expect(noFirstFactor == .badRequest)
            let (_, _, wrongCode) = try await Self.signIn(
                client, userId: Seeded.alice, factors: ["password", "recoveryCode"], recoveryCode: "NOPE-NOPE")
            #expect(wrongCode == .badRequest)

            let (location, _, status) = try await Self.signIn(
                client, userId: Seeded.alice, factors: ["password", "recoveryCode"], recoveryCode: Seeded.aliceRecoveryCode)
            #expect(status == .found)
            let tokens = try await Self.exchange(client, code: try #require(Self.query(location)["code"])).json()
            let claims = try jwtSegment(try #require(tokens["id_token"]?.stringValue), 1)
            #expect(claims["amr"] == ["pwd", "otp", "mfa"], "a recovery code counts as otp (internal/api/oidc/amr/amr.go)")
            let session = try await ok(client, .rest, SessionServiceTests.get(try #require(claims["sid"]?.stringValue)))
            #expect(session["session"]?["factors"]?["recoveryCode"]?["verifiedAt"] != nil)
            let (_, _, reused) = try await Self.signIn(
                client, userId: Seeded.alice, factors: ["password", "recoveryCode"], recoveryCode: Seeded.aliceRecoveryCode)
            #expect(reused == .badRequest)
            let detail = try await client.execute(uri: "/mock/admin/users/\(Seeded.alice)", method: .get).json()
            #expect(detail["user"]?["mfa"]?["recoveryCodes"]?["used"] == 1)
        }
    }

    @Test("authorize validates client, redirect URI, PKCE and prompt=none")
    func authorizeValidation() async throws {
        try await withMock { client, _ in
            let unregistered = try await client.execute(uri: Self.authorizeURI(redirectURI: "https://evil.example/cb"), method: .get)
            #expect(unregistered.status == .badRequest)
            #expect(unregistered.headers[.location] == nil)
            // Loopback redirect URIs may use any port (RFC 8252).
            let otherPort = try await client.execute(
                uri: Self.authorizeURI(redirectURI: "http://127.0.0.1:9999/mock/callback"), method: .get)
            #expect(otherPort.status == .found)
            let noPKCE = try await client.execute(uri: Self.authorizeURI(challenge: nil), method: .get)
            #expect(noPKCE.status == .found)
            let noPKCELocation = try #require(noPKCE.headers[.location])
            #expect(Self.query(noPKCELocation)["error"] == "invalid_request")
            let noneWithoutSession = try await client.execute(uri: Self.authorizeURI(prompt: "none"), method: .get)
            let error = Self.query(try #require(noneWithoutSession.headers[.location]))
            #expect(error["error"] == "login_required")
            #expect(error["state"] == "state-123")

            // With the login cookie, prompt=none comes straight back with a code.
            let (_, cookie, _) = try await Self.signIn(client, userId: Seeded.beth, factors: ["password", "u2f"])
            let silent = try await client.execute(
                uri: Self.authorizeURI(prompt: "none"), method: .get, headers: [.cookie: try #require(cookie)])
            let silentLocation = try #require(silent.headers[.location])
            let code = try #require(Self.query(silentLocation)["code"])
            let tokens = try await Self.exchange(client, code: code).json()
            let silentIDToken = try #require(tokens["id_token"]?.stringValue)
            #expect(try jwtSegment(silentIDToken, 1)["amr"] == ["pwd", "user", "mfa"])
            // login_hint preselects the user.
            let hinted = try await client.execute(
                uri: Self.authorizeURI(loginHint: "tom.partner@coral-partners.aidial.example"), method: .get)
            let page = try await client.execute(uri: try #require(hinted.headers[.location]), method: .get)
            #expect(page.text.contains(#"value="\#(Seeded.tom)" checked"#))
        }
    }

    @Test("end session ends the session and redirects only to a registered post-logout URI")
    func endSession() async throws {
        try await withMock { client, _ in
            let (location, cookie, _) = try await Self.signIn(client, userId: Seeded.alice, factors: ["password"])
            let tokens = try await Self.exchange(client, code: try #require(Self.query(location)["code"])).json()
            let access = try #require(tokens["access_token"]?.stringValue)
            let idToken = try #require(tokens["id_token"]?.stringValue)
            let end = try await client.execute(
                uri: "/oidc/v1/end_session?id_token_hint=\(idToken)&post_logout_redirect_uri=\(formEncode(Self.redirectURI))&state=bye",
                method: .get)
            #expect(end.status == .found)
            #expect(end.headers[.location] == Self.redirectURI + "?state=bye")
            #expect(end.headers[.setCookie]?.contains("Max-Age=0") == true)
            #expect(try await introspect(client, access) == ["active": false])
            let console = try await client.execute(
                uri: "/ui/console/users/me?id=security", method: .get, headers: [.cookie: try #require(cookie)])
            #expect(console.status == .found)
            let unknownTarget = try await client.execute(
                uri:
                    "/oidc/v1/end_session?client_id=\(formEncode(Seeded.portalClientId))&post_logout_redirect_uri=https%3A%2F%2Fevil.example",
                method: .get)
            #expect(unknownTarget.status == .ok)
            #expect(unknownTarget.text.contains("signed out"))
        }
    }

    @Test("console and Login v2 pages need the login cookie and check the CSRF token")
    func pagesNeedSession() async throws {
        try await withMock { client, _ in
            let console = try await client.execute(
                uri: "/ui/console/users/me?id=security&login_hint=sam.staff%40acacia-freight.aidial.example&org=\(Seeded.acacia)",
                method: .get)
            #expect(console.status == .found)
            let target = try #require(console.headers[.location])
            #expect(target.hasPrefix("/ui/v2/login/login?returnTo="))
            #expect(target.contains("loginName=sam.staff%40acacia-freight.aidial.example"))
            let setUp = try await client.execute(
                uri: "/ui/v2/login/mfa/set?loginName=sam.staff%40acacia-freight.aidial.example", method: .get)
            #expect(setUp.status == .unauthorized)
            #expect(setUp.text.contains("Could not get the context of the user"))

            // Sign in without an OIDC request: back to returnTo with the cookie.
            let login = try await client.execute(
                uri: "/ui/v2/login/login", method: .post, headers: formHeaders,
                body: formBody([("userId", Seeded.sam), ("factor", "password"), ("returnTo", "/ui/v2/login/mfa/set")]))
            #expect(login.status == .seeOther)
            #expect(login.headers[.location] == "/ui/v2/login/mfa/set")
            let cookie = try #require(login.headers[.setCookie].map { String($0.split(separator: ";")[0]) })
            let choose = try await client.execute(
                uri: "/ui/v2/login/mfa/set?loginName=sam.staff%40acacia-freight.aidial.example", method: .get, headers: [.cookie: cookie])
            #expect(choose.status == .ok)
            #expect(choose.text.contains("choose-totp"))
            #expect(!choose.text.contains("choose-sms"), "no SMS without a verified phone")
            let otherUser = try await client.execute(
                uri: "/ui/v2/login/mfa/set?loginName=alice.admin%40acacia-freight.aidial.example", method: .get, headers: [.cookie: cookie])
            #expect(otherUser.status == .unauthorized)
            // An off-site returnTo is ignored.
            let offsite = try await client.execute(
                uri: "/ui/v2/login/login", method: .post, headers: formHeaders,
                body: formBody([("userId", Seeded.sam), ("factor", "password"), ("returnTo", "//evil.example/")]))
            #expect(offsite.headers[.location] == "/ui/console/users/me?id=security")

            let page = try await client.execute(uri: "/ui/console/users/me?id=security", method: .get, headers: [.cookie: cookie])
            #expect(page.status == .ok)
            #expect(page.text.contains("gateway-state"))
            #expect(page.text.contains("AUTHENTICATION_METHOD_TYPE_PASSWORD"))
            let forged = try await client.execute(
                uri: "/ui/console/users/me/security", method: .post,
                headers: [.contentType: "application/x-www-form-urlencoded", .cookie: cookie],
                body: formBody([("action", "passkey-add"), ("name", "Forged"), ("csrf", "nope")]))
            #expect(forged.status == .forbidden)
            let csrf = try #require(page.text.firstMatch(of: /name="csrf" value="([^"]+)"/)?.1)
            let added = try await client.execute(
                uri: "/ui/console/users/me/security", method: .post,
                headers: [.contentType: "application/x-www-form-urlencoded", .cookie: cookie],
                body: formBody([("action", "passkey-add"), ("name", "Work laptop"), ("csrf", String(csrf))]))
            #expect(added.status == .seeOther)
            let passkeys = try await ok(client, .connect, .user("ListPasskeys", Seeded.sam, [:], .post, "/passkeys/_search"))
            #expect(passkeys["result"]?.arrayValue?.first?["name"] == "Work laptop")
            // Console actions act as the user: AddOTPEmail fails for Sam's unverified email, with Zitadel's error.
            let email = try await client.execute(
                uri: "/ui/console/users/me/security", method: .post,
                headers: [.contentType: "application/x-www-form-urlencoded", .cookie: cookie],
                body: formBody([("action", "otp-email-add"), ("csrf", String(csrf))]))
            #expect(email.headers[.location]?.contains("COMMAND-KLJ2d") == true)
        }
    }
}

/// The ID token claims jwt-kit verifies.
struct IDTokenClaims: JWTPayload {
    var iss: IssuerClaim
    var sub: SubjectClaim
    var aud: AudienceClaim
    var exp: ExpirationClaim
    var iat: IssuedAtClaim

    func verify(using algorithm: some JWTAlgorithm) async throws {
        try exp.verifyNotExpired()
    }
}
