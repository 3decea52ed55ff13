import Foundation
import Hummingbird
import HummingbirdTesting
import JWTKit
import MockZitadel
import NIOCore
import Testing

/// The claims of a mock (Zitadel v4) JWT access token, for jwt-kit verification.
struct AccessTokenClaims: JWTPayload {
    var iss: IssuerClaim
    var sub: SubjectClaim
    var aud: AudienceClaim
    var exp: ExpirationClaim
    var iat: IssuedAtClaim
    var nbf: NotBeforeClaim
    var jti: IDClaim
    var clientId: String
    var roles: [String: [String: String]]?

    enum CodingKeys: String, CodingKey {
        case iss, sub, aud, exp, iat, nbf, jti
        case clientId = "client_id"
        case roles = "urn:zitadel:iam:org:project:roles"
    }

    func verify(using algorithm: some JWTAlgorithm) async throws {
        try exp.verifyNotExpired()
        try nbf.verifyNotBefore()
    }
}

/// The assertion a client signs for `private_key_jwt`.
struct ClientAssertion: JWTPayload {
    var iss: IssuerClaim
    var sub: SubjectClaim
    var aud: AudienceClaim
    var iat: IssuedAtClaim
    var exp: ExpirationClaim

    func verify(using algorithm: some JWTAlgorithm) async throws {}
}

/// Loads the served JWKS into a jwt-kit key collection.
func servedKeys(_ client: some TestClientProtocol) async throws -> JWTKeyCollection {
    let response = try await client.execute(uri: "/oauth/v2/keys", method: .get)
    return try await JWTKeyCollection().add(jwksJSON: response.text)
}

@Suite("OIDC endpoints")
struct OIDCTests {
    @Test("discovery lists Zitadel's fields with the issuer taken from Host")
    func discovery() async throws {
        try await withMock { client, _ in
            let response = try await client.execute(uri: "/.well-known/openid-configuration", method: .get)
            #expect(response.status == .ok)
            #expect(response.headers[.contentType] == "application/json")
            let document = try response.json()
            let issuer = Seeded.liveIssuer
            #expect(document["issuer"] == .string(issuer))
            #expect(document["authorization_endpoint"] == .string(issuer + "/oauth/v2/authorize"))
            #expect(document["token_endpoint"] == .string(issuer + "/oauth/v2/token"))
            #expect(document["introspection_endpoint"] == .string(issuer + "/oauth/v2/introspect"))
            #expect(document["userinfo_endpoint"] == .string(issuer + "/oidc/v1/userinfo"))
            #expect(document["revocation_endpoint"] == .string(issuer + "/oauth/v2/revoke"))
            #expect(document["end_session_endpoint"] == .string(issuer + "/oidc/v1/end_session"))
            #expect(document["jwks_uri"] == .string(issuer + "/oauth/v2/keys"))
            #expect(document["introspection_endpoint_auth_methods_supported"] == ["client_secret_basic", "private_key_jwt"])
            #expect(document["code_challenge_methods_supported"] == ["S256"])
            #expect(document["subject_types_supported"] == ["public"])
            #expect(document["id_token_signing_alg_values_supported"] == ["EdDSA", "RS256", "RS384", "RS512", "ES256", "ES384", "ES512"])
            #expect(
                document["token_endpoint_auth_methods_supported"] == [
                    "none", "client_secret_basic", "client_secret_post", "private_key_jwt",
                ])
            #expect(document["revocation_endpoint_auth_methods_supported"] == document["token_endpoint_auth_methods_supported"])
            #expect(document["scopes_supported"]?.arrayValue?.contains("openid") == true)
            #expect(document["response_types_supported"]?.arrayValue?.contains("code") == true)
            #expect(document["grant_types_supported"]?.arrayValue?.contains("client_credentials") == true)
            #expect(document["claims_supported"]?.arrayValue?.contains("sub") == true)
        }
    }

    @Test("an issuer override replaces the Host-derived issuer everywhere")
    func issuerOverride() async throws {
        let configuration = MockZitadelConfiguration(port: 0, issuerOverride: "https://id.aidial.example")
        try await withMock(configuration: configuration) { client, _ in
            let document = try await client.execute(uri: "/.well-known/openid-configuration", method: .get).json()
            #expect(document["issuer"] == "https://id.aidial.example")
            #expect(document["jwks_uri"] == "https://id.aidial.example/oauth/v2/keys")
            let token = try await mint(client, ["userId": .string(Seeded.alice), "format": "jwt"])
            #expect(try jwtSegment(token, 1)["iss"] == "https://id.aidial.example")
        }
    }

    @Test("JWKS serves RSA, EC and OKP keys with Zitadel's Cache-Control")
    func jwksShape() async throws {
        try await withMock { client, _ in
            let response = try await client.execute(uri: "/oauth/v2/keys", method: .get)
            #expect(response.status == .ok)
            #expect(response.headers[.cacheControl] == "max-age=300, must-revalidate")
            #expect(response.headers[.contentType] == "application/json")
            let keys = try #require(try response.json()["keys"]?.arrayValue)
            #expect(keys.count == 3)
            for key in keys {
                #expect(key["use"] == "sig")
                #expect(key["kid"]?.stringValue?.isEmpty == false)
            }
            let rsa = try #require(keys.first { $0["kty"] == "RSA" })
            #expect(rsa["alg"] == "RS256")
            #expect(rsa.keys == ["use", "kty", "kid", "alg", "n", "e"])
            #expect(rsa["e"] == "AQAB")
            #expect((rsa["n"]?.stringValue?.count ?? 0) >= 342)  // 256 bytes in base64url
            let ec = try #require(keys.first { $0["kty"] == "EC" })
            #expect(ec["alg"] == "ES256")
            #expect(ec["crv"] == "P-256")
            #expect(ec.keys == ["use", "kty", "kid", "alg", "crv", "x", "y"])
            #expect(ec["x"]?.stringValue?.count == 43)
            let okp = try #require(keys.first { $0["kty"] == "OKP" })
            #expect(okp["alg"] == "EdDSA")
            #expect(okp["crv"] == "Ed25519")
            #expect(okp.keys == ["use", "kty", "kid", "alg", "crv", "x"])
            for value in [rsa["n"], rsa["e"], ec["x"], ec["y"], okp["x"]] {
                let string = try #require(value?.stringValue)
                #expect(!string.contains("=") && !string.contains("+") && !string.contains("/"))
            }
        }
    }

    @Test("minted JWTs verify against the served JWKS and carry Zitadel's claims", arguments: ["RS256", "ES256", "EdDSA"])
    func mintedJWT(alg: String) async throws {
        try await withMock { client, _ in
            let token = try await mint(client, ["userId": .string(Seeded.alice), "format": "jwt", "alg": .string(alg)])
            let keys = try await servedKeys(client)
            let claims = try await keys.verify(token, as: AccessTokenClaims.self)
            #expect(claims.iss.value == Seeded.liveIssuer)
            #expect(claims.sub.value == Seeded.alice)
            #expect(claims.aud.value == [Seeded.portalClientId, Seeded.apiClientId, Seeded.projectId])
            #expect(claims.clientId == Seeded.portalClientId)
            #expect(claims.nbf.value == claims.iat.value)
            #expect(claims.roles == ["client_admin": [Seeded.acacia: "acacia-freight.aidial.example"]])

            let header = try jwtSegment(token, 0)
            #expect(header["alg"] == .string(alg))
            #expect(header["typ"] == "JWT")
            #expect(header.keys == ["alg", "kid", "typ"])
            let payload = try jwtSegment(token, 1)
            #expect(payload["amr"] == nil)
            #expect(payload["sid"] == nil)
            #expect(payload["auth_time"] == nil)
            #expect(payload["urn:zitadel:iam:org:project:\(Seeded.projectId):roles"] == payload["urn:zitadel:iam:org:project:roles"])
            #expect(payload["urn:zitadel:iam:user:resourceowner:id"] == .string(Seeded.acacia))
            #expect(payload["urn:zitadel:iam:user:resourceowner:name"] == "Acacia Freight")
            #expect(payload["urn:zitadel:iam:user:resourceowner:primary_domain"] == "acacia-freight.aidial.example")
            let lifetime = (payload["exp"]?.intValue ?? 0) - (payload["iat"]?.intValue ?? 0)
            #expect(lifetime == 43_200)
        }
    }

    @Test("roles cover every grant, and orgId restricts them to one organisation")
    func partnerRoles() async throws {
        try await withMock { client, _ in
            let all = try await mint(client, ["userId": .string(Seeded.priya), "format": "jwt"])
            #expect(
                try jwtSegment(all, 1)["urn:zitadel:iam:org:project:roles"]
                    == ["partner_admin": [Seeded.acacia: "acacia-freight.aidial.example", Seeded.banksia: "banksia-health.aidial.example"]]
            )
            let scoped = try await mint(client, ["userId": .string(Seeded.priya), "format": "jwt", "orgId": .string(Seeded.banksia)])
            #expect(
                try jwtSegment(scoped, 1)["urn:zitadel:iam:org:project:roles"] == [
                    "partner_admin": [Seeded.banksia: "banksia-health.aidial.example"]
                ]
            )
            let none = try await mint(client, ["userId": .string(Seeded.nora), "format": "jwt"])
            #expect(try jwtSegment(none, 1)["urn:zitadel:iam:org:project:roles"] == nil)
        }
    }

    @Test("opaque tokens introspect as active with session facts, expired and unknown ones as inactive")
    func opaqueIntrospection() async throws {
        try await withMock { client, _ in
            let token = try await mint(client, ["userId": .string(Seeded.alice), "format": "opaque", "amr": ["pwd", "otp", "mfa"]])
            #expect(!token.contains("."))
            #expect(token.count >= 43)
            let result = try await introspect(client, token)
            #expect(result["active"] == true)
            #expect(result["sub"] == .string(Seeded.alice))
            #expect(result["username"] == "alice.admin@acacia-freight.aidial.example")
            #expect(result["amr"] == ["pwd", "otp", "mfa"])
            #expect(result["token_type"] == "Bearer")
            #expect(result["client_id"] == .string(Seeded.portalClientId))
            #expect(result["iss"] == .string(Seeded.liveIssuer))
            #expect(result["aud"]?.arrayValue?.contains(.string(Seeded.projectId)) == true)
            #expect(result["sid"] == nil)
            #expect(result["jti"]?.stringValue?.isEmpty == false)
            for claim in ["exp", "iat", "nbf", "auth_time"] {
                #expect(result[claim]?.intValue != nil, "missing \(claim)")
            }
            #expect(result["scope"]?.stringValue?.contains("openid") == true)
            #expect(result["urn:zitadel:iam:org:project:roles"] == ["client_admin": [Seeded.acacia: "acacia-freight.aidial.example"]])
            #expect(result["urn:zitadel:iam:org:project:\(Seeded.projectId):roles"] == result["urn:zitadel:iam:org:project:roles"])
            #expect(result["urn:zitadel:iam:user:resourceowner:primary_domain"] == "acacia-freight.aidial.example")

            let expired = try await mint(client, ["userId": .string(Seeded.alice), "format": "opaque", "expiresIn": -10])
            #expect(try await introspect(client, expired) == ["active": false])
            #expect(try await introspect(client, "not-a-token") == ["active": false])
        }
    }

    @Test("JWT access tokens introspect by jti; a forged signature is inactive")
    func jwtIntrospection() async throws {
        try await withMock { client, _ in
            let token = try await mint(client, ["userId": .string(Seeded.alice), "format": "jwt", "amr": ["user", "mfa"]])
            let result = try await introspect(client, token)
            #expect(result["active"] == true)
            #expect(result["jti"] == (try jwtSegment(token, 1))["jti"])
            #expect(result["amr"] == ["user", "mfa"])
            // Flip a character inside the signature (the last one may only carry padding bits).
            var characters = Array(token)
            let index = characters.count - 10
            characters[index] = characters[index] == "A" ? "B" : "A"
            let forged = String(characters)
            #expect(try await introspect(client, forged) == ["active": false])
        }
    }

    @Test("introspection client-authentication failures are 400, as zitadel/oidc and Zitadel answer them")
    func introspectionClientAuthentication() async throws {
        try await withMock { client, _ in
            let token = try await mint(client, ["userId": .string(Seeded.alice), "format": "opaque"])
            let cases: [(HTTPFields, String)] = [
                (basicAuthorization(Seeded.apiClientId, "wrong-secret"), "unauthorized_client"),
                (basicAuthorization("unknown@aidial", Seeded.apiClientSecret), "unauthorized_client"),
                (basicAuthorization(Seeded.portalClientId, ""), "invalid_client"),
                (formHeaders, "invalid_request"),
                ([.authorization: "Basic !!!not-base64", .contentType: "application/x-www-form-urlencoded"], "invalid_request"),
            ]
            for (headers, error) in cases {
                let response = try await client.execute(
                    uri: "/oauth/v2/introspect",
                    method: .post,
                    headers: headers,
                    body: formBody([("token", token)])
                )
                #expect(response.status == .badRequest)
                #expect(try response.json()["error"] == .string(error))
            }
        }
    }

    @Test("private_key_jwt with the seeded app key authenticates; a wrong audience does not")
    func privateKeyJWT() async throws {
        let keyFile = MockZitadelConfiguration.repositoryMocksDirectory + "/keys/gateway-api-app-key.json"
        let file = try JSONDecoder().decode(JSONValue.self, from: Data(contentsOf: URL(fileURLWithPath: keyFile)))
        #expect(file["type"] == "application")
        #expect(file["clientId"] == .string(Seeded.apiClientId))
        let pem = try #require(file["key"]?.stringValue)
        let signer = try await JWTKeyCollection()
            .add(rsa: Insecure.RSA.PrivateKey(pem: pem), digestAlgorithm: .sha256, kid: JWKIdentifier(string: Seeded.apiKeyId))

        try await withMock { client, _ in
            let token = try await mint(client, ["userId": .string(Seeded.alice), "format": "opaque"])
            func assertion(audience: String) async throws -> String {
                let now = Date()
                let claims = ClientAssertion(
                    iss: .init(value: Seeded.apiClientId),
                    sub: .init(value: Seeded.apiClientId),
                    aud: .init(value: [audience]),
                    iat: .init(value: now),
                    exp: .init(value: now.addingTimeInterval(300))
                )
                return try await signer.sign(claims, kid: JWKIdentifier(string: Seeded.apiKeyId))
            }
            for (audience, expected) in [(Seeded.liveIssuer, HTTPResponse.Status.ok), ("https://elsewhere.example", .badRequest)] {
                let body = formBody([
                    ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
                    ("client_assertion", try await assertion(audience: audience)),
                    ("token", token),
                ])
                let response = try await client.execute(uri: "/oauth/v2/introspect", method: .post, headers: formHeaders, body: body)
                #expect(response.status == expected)
                if expected == .ok {
                    #expect(try response.json()["active"] == true)
                }
            }
        }
    }

    @Test("revocation makes a token inactive; unknown tokens answer 200; client auth is required")
    func revocation() async throws {
        try await withMock { client, _ in
            let token = try await mint(client, ["userId": .string(Seeded.alice), "format": "opaque"])
            let unauthenticated = try await client.execute(
                uri: "/oauth/v2/revoke",
                method: .post,
                headers: formHeaders,
                body: formBody([("token", token)])
            )
            #expect(unauthenticated.status == .badRequest)
            #expect(try await introspect(client, token)["active"] == true)

            let revoked = try await client.execute(
                uri: "/oauth/v2/revoke",
                method: .post,
                headers: gatewayAuthorization,
                body: formBody([("token", token)])
            )
            #expect(revoked.status == .ok)
            #expect(try await introspect(client, token) == ["active": false])
            let userinfo = try await client.execute(uri: "/oidc/v1/userinfo", method: .get, headers: [.authorization: "Bearer \(token)"])
            #expect(userinfo.status == .unauthorized)

            let jwt = try await mint(client, ["userId": .string(Seeded.alice), "format": "jwt"])
            _ = try await client.execute(
                uri: "/oauth/v2/revoke", method: .post, headers: gatewayAuthorization, body: formBody([("token", jwt)]))
            #expect(try await introspect(client, jwt) == ["active": false])

            let unknown = try await client.execute(
                uri: "/oauth/v2/revoke",
                method: .post,
                headers: gatewayAuthorization,
                body: formBody([("token", "unknown")])
            )
            #expect(unknown.status == .ok)
        }
    }

    @Test("a client outside the token's audience can neither introspect nor revoke it")
    func audienceChecks() async throws {
        try await withMock { client, _ in
            let token = try await mint(client, ["userId": .string(Seeded.alice), "format": "opaque", "audience": ["some-other-project"]])
            #expect(try await introspect(client, token) == ["active": false])
            let revoke = try await client.execute(
                uri: "/oauth/v2/revoke",
                method: .post,
                headers: gatewayAuthorization,
                body: formBody([("token", token)])
            )
            #expect(revoke.status == .badRequest)
            #expect(try revoke.json()["error"] == "invalid_client")
        }
    }

    @Test("userinfo returns profile, email and roles for an active token")
    func userinfo() async throws {
        try await withMock { client, _ in
            let token = try await mint(client, ["userId": .string(Seeded.alice), "format": "jwt"])
            let response = try await client.execute(uri: "/oidc/v1/userinfo", method: .get, headers: [.authorization: "Bearer \(token)"])
            #expect(response.status == .ok)
            let claims = try response.json()
            #expect(claims["sub"] == .string(Seeded.alice))
            #expect(claims["name"] == "Alice Nguyen")
            #expect(claims["given_name"] == "Alice")
            #expect(claims["family_name"] == "Nguyen")
            #expect(claims["preferred_username"] == "alice.admin@acacia-freight.aidial.example")
            #expect(claims["email"] == "alice.nguyen@acacia-freight.aidial.example")
            #expect(claims["email_verified"] == true)
            #expect(claims["locale"] == "en")
            #expect(claims["urn:zitadel:iam:org:project:roles"]?["client_admin"] != nil)

            let missing = try await client.execute(uri: "/oidc/v1/userinfo", method: .get)
            #expect(missing.status == .unauthorized)
            #expect(missing.headers[.wwwAuthenticate]?.hasPrefix("Bearer") == true)
            let garbage = try await client.execute(uri: "/oidc/v1/userinfo", method: .get, headers: [.authorization: "Bearer a.b.c"])
            #expect(garbage.status == .unauthorized)
        }
    }

    @Test("client credentials issue an opaque token to a machine user")
    func clientCredentials() async throws {
        try await withMock { client, _ in
            let response = try await client.execute(
                uri: "/oauth/v2/token",
                method: .post,
                headers: basicAuthorization(Seeded.machineUserName, Seeded.machineSecret),
                body: formBody([
                    ("grant_type", "client_credentials"), ("scope", "openid profile urn:zitadel:iam:org:project:id:zitadel:aud"),
                ])
            )
            #expect(response.status == .ok)
            let body = try response.json()
            #expect(body["token_type"] == "Bearer")
            #expect(body["expires_in"]?.intValue == 43_200)
            let token = try #require(body["access_token"]?.stringValue)
            let userinfo = try await client.execute(uri: "/oidc/v1/userinfo", method: .get, headers: [.authorization: "Bearer \(token)"])
            #expect(try userinfo.json()["sub"] == .string(Seeded.machineUserId))
            #expect(try userinfo.json()["preferred_username"] == .string(Seeded.machineUserName))

            let wrongSecret = try await client.execute(
                uri: "/oauth/v2/token",
                method: .post,
                headers: basicAuthorization(Seeded.machineUserName, "nope"),
                body: formBody([("grant_type", "client_credentials")])
            )
            #expect(wrongSecret.status == .badRequest)
            let unsupported = try await client.execute(
                uri: "/oauth/v2/token",
                method: .post,
                headers: gatewayAuthorization,
                body: formBody([("grant_type", "password")])
            )
            #expect(unsupported.status == .badRequest)
            #expect(try unsupported.json()["error"] == "unsupported_grant_type")
        }
    }
}
