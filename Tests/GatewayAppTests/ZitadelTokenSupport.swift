import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore

@testable import MockZitadel

/// Tokens Zitadel issues besides access tokens, signed with the mock's active key: ID tokens shaped as
/// Zitadel's (zitadel/oidc `pkg/oidc/token.go` `NewIDTokenClaims`, Zitadel `internal/api/oidc/token.go`
/// `createIDToken`: `aud` the project and the client, `azp` and `client_id` the client, `sid`, `amr`,
/// `auth_time`, `at_hash`, no `jti`) and back-channel logout tokens (`NewLogoutTokenClaims`, Zitadel
/// `internal/notification/handlers/back_channel_logout.go`: `aud` the client, `sub`, `sid`, `jti`, the event).
extension MockZitadel {
    func signForTest(_ claims: [String: JSONValue], typ: String = "JWT", algorithm: SigningAlgorithm = .rs256) throws -> String {
        let key = try signingKey(kid: nil, algorithm: algorithm)
        return try CompactJWS.sign(
            header: ["alg": .string(key.algorithm.rawValue), "kid": .string(key.kid), "typ": .string(typ)], payload: claims,
            key: key)
    }
}

enum ZitadelTokens {
    static let logoutEvent = "http://schemas.openid.net/event/backchannel-logout"

    /// The ID token Zitadel issues with `accessToken` to the portal application; `change` edits its claims.
    static func idToken(
        mock: MockZitadel, issuer: String, accessToken: String, subject: String, sessionId: String,
        amr: [String] = ["pwd", "otp", "mfa"], _ change: (inout [String: JSONValue]) -> Void = { _ in }
    ) async throws -> String {
        let now = Date()
        var claims: [String: JSONValue] = [
            "iss": .string(issuer), "sub": .string(subject),
            "aud": .strings([Seeded.projectId, Seeded.portalClientId]), "exp": .epoch(now.addingTimeInterval(3600)),
            "iat": .epoch(now), "auth_time": .epoch(now.addingTimeInterval(-30)), "amr": .strings(amr),
            "azp": .string(Seeded.portalClientId), "client_id": .string(Seeded.portalClientId),
            "at_hash": .string(MockZitadel.tokenHash(accessToken)), "sid": .string(sessionId),
        ]
        change(&claims)
        return try await mock.signForTest(claims)
    }

    /// A back-channel logout token as Zitadel sends it to the portal application's registered URI.
    static func logoutToken(
        mock: MockZitadel, issuer: String, subject: String?, sessionId: String?,
        _ change: (inout [String: JSONValue]) -> Void = { _ in }
    ) async throws -> String {
        let now = Date()
        var claims: [String: JSONValue] = [
            "iss": .string(issuer), "aud": .strings([Seeded.portalClientId]), "iat": .epoch(now),
            "exp": .epoch(now.addingTimeInterval(300)), "jti": .string(UUID().uuidString),
            "events": .object([logoutEvent: .object([:])]),
        ]
        if let subject { claims["sub"] = .string(subject) }
        if let sessionId { claims["sid"] = .string(sessionId) }
        change(&claims)
        return try await mock.signForTest(claims)
    }
}

extension HTTPField.Name {
    static let aidialIDToken = Self("X-AiDial-ID-Token")!
    static let aidialTenant = Self("X-AiDial-Tenant")!
}

extension TestClientProtocol {
    /// `GET` with the bearer token and, when given, the ID-token companion and the tenant.
    func get(_ uri: String, token: String, idToken: String? = nil, tenant: String? = nil) async throws -> TestResponse {
        var headers: HTTPFields = [.authorization: "Bearer \(token)"]
        if let idToken { headers[.aidialIDToken] = idToken }
        if let tenant { headers[.aidialTenant] = tenant }
        return try await execute(uri: uri, method: .get, headers: headers)
    }

    /// `POST /v1/backchannel-logout` as Zitadel sends it: a form-encoded `logout_token`, no bearer token.
    func backChannelLogout(_ body: String, contentType: String = "application/x-www-form-urlencoded") async throws -> TestResponse {
        try await execute(
            uri: "/v1/backchannel-logout", method: .post, headers: [.contentType: contentType],
            body: ByteBuffer(string: body))
    }
}

extension MockAdmin {
    /// The ID token Zitadel issues with a minted access token (its session, `amr` with a second factor).
    func idToken(for minted: (token: String, sessionId: String), subject: String) async throws -> String {
        try await ZitadelTokens.idToken(
            mock: mock, issuer: baseURL, accessToken: minted.token, subject: subject, sessionId: minted.sessionId)
    }

    /// The logout token Zitadel sends the portal application when the session (or the user's sessions) ends.
    func logoutToken(subject: String?, sessionId: String?) async throws -> String {
        try await ZitadelTokens.logoutToken(mock: mock, issuer: baseURL, subject: subject, sessionId: sessionId)
    }
}
