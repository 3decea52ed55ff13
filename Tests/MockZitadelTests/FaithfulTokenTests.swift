import Foundation
import Hummingbird
import HummingbirdTesting
import JWTKit
import MockZitadel
import NIOCore
import Testing

/// Tokens, introspection and back-channel logout as Zitadel v4 issues them (`internal/api/oidc/token.go`,
/// `introspect.go`, `userinfo.go`; zitadel/oidc `pkg/oidc/token.go`; `internal/notification/handlers/
/// back_channel_logout*.go`), and the opt-in Actions enrichment that is never the default.
@Suite("Faithful Zitadel tokens")
struct FaithfulTokenTests {
    static let accessTokenClaims: Set<String> = ["iss", "sub", "aud", "exp", "iat", "nbf", "jti", "client_id"]
    static let rolesClaim = "urn:zitadel:iam:org:project:roles"
    static let resourceOwnerClaims: Set<String> = [
        "urn:zitadel:iam:user:resourceowner:id", "urn:zitadel:iam:user:resourceowner:name",
        "urn:zitadel:iam:user:resourceowner:primary_domain",
    ]

    static func mintResponse(_ client: some TestClientProtocol, _ body: JSONValue) async throws -> JSONValue {
        let response = try await client.execute(uri: "/mock/admin/tokens", method: .post, headers: jsonHeaders, body: try jsonBody(body))
        #expect(response.status == .ok, "\(response.text)")
        return try response.json()
    }

    static func patchPortal(_ client: some TestClientProtocol, _ body: JSONValue) async throws {
        let response = try await client.execute(
            uri: "/mock/admin/applications/\(formEncode(Seeded.portalClientId))", method: .patch, headers: jsonHeaders,
            body: try jsonBody(body))
        #expect(response.status == .ok, "\(response.text)")
    }

    @Test("a JWT access token carries iss sub aud exp iat nbf jti client_id, and only scoped Zitadel claims")
    func jwtAccessTokenClaims() async throws {
        try await withMock { client, _ in
            let bare = try await mint(client, ["userId": .string(Seeded.alice), "format": "jwt", "scopes": ["openid"]])
            #expect(try jwtSegment(bare, 1).keys == Self.accessTokenClaims)

            // The portal's documented scopes: role claims (the app asserts roles) and resource-owner claims.
            let portal = try jwtSegment(try await mint(client, ["userId": .string(Seeded.alice), "format": "jwt"]), 1)
            #expect(
                portal.keys
                    == Self.accessTokenClaims.union(Self.resourceOwnerClaims).union([
                        Self.rolesClaim, "urn:zitadel:iam:org:project:\(Seeded.projectId):roles",
                    ]))

            // Without the application's access-token role assertion, no roles in the JWT; introspection keeps them.
            try await Self.patchPortal(client, ["accessTokenRoleAssertion": false])
            let unasserted = try await mint(client, ["userId": .string(Seeded.alice), "format": "jwt"])
            #expect(try jwtSegment(unasserted, 1)[Self.rolesClaim] == nil)
            #expect(try await introspect(client, unasserted)[Self.rolesClaim] != nil)
        }
    }

    @Test("an explicit amr is the opt-in Actions enrichment; actionClaims adds sid and auth_time")
    func actionsEnrichedAMR() async throws {
        try await withMock { client, _ in
            let enriched = try await Self.mintResponse(
                client,
                ["userId": .string(Seeded.alice), "format": "jwt", "amr": ["pwd", "otp", "mfa"], "actionClaims": ["sid", "auth_time"]])
            let claims = try jwtSegment(try #require(enriched["accessToken"]?.stringValue), 1)
            #expect(claims["amr"] == ["pwd", "otp", "mfa"])
            #expect(claims["sid"] == enriched["sessionId"])
            #expect(claims["auth_time"]?.intValue != nil)
            let invalid = try await client.execute(
                uri: "/mock/admin/tokens", method: .post, headers: jsonHeaders,
                body: try jsonBody(["userId": .string(Seeded.alice), "format": "jwt", "actionClaims": ["email"]]))
            #expect(invalid.status == .badRequest)
        }
    }

    @Test("idToken:true returns the matching ID token: at_hash, sid, amr, auth_time, azp; no profile without assertion")
    func mintedIDToken() async throws {
        try await withMock { client, _ in
            let minted = try await Self.mintResponse(
                client,
                [
                    "userId": .string(Seeded.priya), "format": "jwt", "idToken": true, "nonce": "n-1",
                    "factors": ["password", "recoveryCode"],
                ])
            let accessToken = try #require(minted["accessToken"]?.stringValue)
            let idToken = try #require(minted["idToken"]?.stringValue)
            _ = try await servedKeys(client).verify(idToken, as: IDTokenClaims.self)
            let claims = try jwtSegment(idToken, 1)
            #expect(claims["at_hash"] == .string(Digest.base64URL(Array(Digest.sha256(Array(accessToken.utf8)).prefix(16)))))
            #expect(claims["sid"] == minted["sessionId"])
            #expect(claims["amr"] == ["pwd", "otp", "mfa"], "a recovery code counts as otp")
            #expect(claims["azp"] == .string(Seeded.portalClientId))
            #expect(claims["nonce"] == "n-1")
            #expect(claims["auth_time"]?.intValue != nil)
            #expect(claims["jti"] == nil)
            #expect(claims["nbf"] == nil)
            #expect(claims["email"] == nil)
            #expect(claims["name"] == nil)
            #expect(claims[Self.rolesClaim] != nil, "the seeded portal app asserts roles in ID tokens")
            // The access token itself carries none of the session facts.
            let access = try jwtSegment(accessToken, 1)
            for claim in ["amr", "sid", "auth_time", "azp", "nonce", "at_hash"] {
                #expect(access[claim] == nil, "\(claim) in the access token")
            }

            try await Self.patchPortal(client, ["idTokenRoleAssertion": false, "idTokenUserinfoAssertion": true])
            let second = try await Self.mintResponse(client, ["userId": .string(Seeded.priya), "format": "opaque", "idToken": true])
            let secondClaims = try jwtSegment(try #require(second["idToken"]?.stringValue), 1)
            #expect(secondClaims[Self.rolesClaim] == nil)
            #expect(secondClaims["email"]?.stringValue?.isEmpty == false)
        }
    }

    @Test("introspection has no sid; username, profile, roles and resource owner follow the scopes")
    func introspectionFields() async throws {
        try await withMock { client, _ in
            let portal = try await introspect(client, try await mint(client, ["userId": .string(Seeded.alice), "format": "opaque"]))
            #expect(portal["sid"] == nil)
            #expect(portal["amr"] == ["pwd"])
            #expect(portal["auth_time"]?.intValue != nil)
            #expect(portal["username"] != nil)

            let bare = try await introspect(
                client, try await mint(client, ["userId": .string(Seeded.alice), "format": "opaque", "scopes": ["openid"]]))
            #expect(bare["active"] == true)
            #expect(bare["username"] == nil)
            #expect(bare["name"] == nil)
            #expect(bare[Self.rolesClaim] == nil)
            #expect(bare.keys.isDisjoint(with: Self.resourceOwnerClaims))
            #expect(
                bare.keys == [
                    "active", "scope", "client_id", "token_type", "exp", "iat", "nbf", "aud", "iss", "jti", "sub", "auth_time", "amr",
                ])
        }
    }

    @Test("a machine user's token introspects without amr or auth_time")
    func machineIntrospection() async throws {
        try await withMock { client, _ in
            let response = try await client.execute(
                uri: "/oauth/v2/token", method: .post, headers: basicAuthorization(Seeded.machineUserName, Seeded.machineSecret),
                body: formBody([
                    ("grant_type", "client_credentials"), ("scope", "openid urn:zitadel:iam:org:project:id:\(Seeded.projectId):aud"),
                ]))
            let token = try #require(try response.json()["access_token"]?.stringValue)
            let result = try await introspect(client, token)
            #expect(result["active"] == true)
            #expect(result["amr"] == nil)
            #expect(result["auth_time"] == nil)
        }
    }

    @Test("the code flow honours the application's settings: JWT access tokens, and Actions claims only when opted in")
    func codeFlowHonoursApplicationSettings() async throws {
        try await withMock { client, _ in
            try await Self.patchPortal(client, ["accessTokenType": "jwt"])
            func accessTokenClaims() async throws -> JSONValue {
                let (location, _, _) = try await CodeFlowTests.signIn(client, userId: Seeded.priya, factors: ["password", "totp"])
                let tokens = try await CodeFlowTests.exchange(client, code: try #require(CodeFlowTests.query(location)["code"])).json()
                return try jwtSegment(try #require(tokens["access_token"]?.stringValue), 1)
            }
            let faithful = try await accessTokenClaims()
            #expect(faithful["amr"] == nil)
            #expect(faithful["sid"] == nil)
            #expect(faithful["auth_time"] == nil)
            try await Self.patchPortal(client, ["accessTokenActionClaims": ["amr", "sid"]])
            let enriched = try await accessTokenClaims()
            #expect(enriched["amr"] == ["pwd", "otp", "mfa"])
            #expect(enriched["sid"]?.stringValue != nil)
            #expect(enriched["auth_time"] == nil)
        }
    }

    @Test("discovery advertises back-channel logout with sid, and implicit among the grant types, as v4 does")
    func discovery() async throws {
        try await withMock { client, _ in
            let document = try await client.execute(uri: "/.well-known/openid-configuration", method: .get).json()
            #expect(document["backchannel_logout_supported"] == true)
            #expect(document["backchannel_logout_session_supported"] == true)
            #expect(document["grant_types_supported"]?.arrayValue?.contains("implicit") == true)
        }
    }

    @Test("a client sending scope=openid+profile gets the login page: + is a space in query strings")
    func plusInQuery() async throws {
        try await withMock { client, _ in
            let uri =
                "/oauth/v2/authorize?client_id=\(formEncode(Seeded.portalClientId))&redirect_uri=\(formEncode(CodeFlowTests.redirectURI))"
                + "&response_type=code&scope=openid+profile&code_challenge=\(CodeFlowTests.challenge)&code_challenge_method=S256"
            let response = try await client.execute(uri: uri, method: .get)
            #expect(response.status == .found)
            #expect(response.headers[.location]?.hasPrefix("/ui/v2/login/login?requestId=") == true)
        }
    }

    @Test("ending a session POSTs a form-encoded logout_token to the application's back-channel URI")
    func backChannelLogout() async throws {
        let receiver = LogoutReceiver()
        let router = Router()
        router.post("/backchannel-logout") { request, _ -> HTTPResponse.Status in
            let body = try await request.body.collect(upTo: 65_536)
            await receiver.record(contentType: request.headers[.contentType], body: String(buffer: body))
            return .ok
        }
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await app.test(.live) { receiverClient in
            let port = try #require(receiverClient.port)
            try await withMock { client, _ in
                try await Self.patchPortal(client, ["backChannelLogoutUri": .string("http://127.0.0.1:\(port)/backchannel-logout")])
                let minted = try await Self.mintResponse(client, ["userId": .string(Seeded.alice), "format": "jwt", "idToken": true])
                let sid = try #require(minted["sessionId"]?.stringValue)
                let ended = try await client.execute(uri: "/mock/admin/sessions/\(sid)", method: .delete)
                #expect(ended.status == .noContent)

                var deliveries: [JSONValue] = []
                // Bounded by the delivery's own 5 s deadline plus scheduling: the outcome is recorded either way.
                for _ in 0..<300 {
                    deliveries =
                        try await client.execute(uri: "/mock/admin/backchannel-logouts?sessionId=\(sid)", method: .get).json()
                        .arrayValue ?? []
                    if deliveries.first?["status"]?.intValue != nil || deliveries.first?["error"]?.stringValue != nil { break }
                    try await Task.sleep(for: .milliseconds(50))
                }
                #expect(deliveries.count == 1)
                #expect(deliveries.first?["status"] == 200)
                let received = await receiver.received
                let (contentType, body) = try #require(received.first)
                #expect(contentType == "application/x-www-form-urlencoded")
                let form = CodeFlowTests.query("?" + body)
                let token = try #require(form["logout_token"])
                _ = try await servedKeys(client).verify(token, as: IDTokenClaims.self)
                let claims = try jwtSegment(token, 1)
                #expect(claims.keys == ["iss", "sub", "aud", "iat", "exp", "jti", "events", "sid"])
                #expect(claims["sid"] == .string(sid))
                #expect(claims["sub"] == .string(Seeded.alice))
                #expect(claims["aud"] == [.string(Seeded.portalClientId)])
                #expect(claims["events"] == ["http://schemas.openid.net/event/backchannel-logout": [:]])
            }
        }
    }
}

/// Records the back-channel logout requests a test receiver got.
actor LogoutReceiver {
    private(set) var received: [(String?, String)] = []

    func record(contentType: String?, body: String) {
        received.append((contentType, body))
    }
}
