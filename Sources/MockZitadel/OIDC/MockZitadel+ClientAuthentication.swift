import Crypto
import Foundation
import _CryptoExtras

/// Client authentication at the OAuth endpoints: client secret, `private_key_jwt`, public clients and the JWT-profile grant.
extension MockZitadel {
    /// Authenticates a client by secret: an application's client id or a machine user's user name.
    func authenticate(clientId: String, secret: String) throws(OAuthFailure) -> AuthenticatedClient {
        if let app = state.applications.first(where: { $0.clientId == clientId }),
            let expected = app.clientSecret, constantTimeEquals(expected, secret)
        {
            return AuthenticatedClient(clientId: app.clientId, projectId: state.project.id, machineUserId: nil)
        }
        if let machine = state.machineUsers.first(where: { $0.userName == clientId }),
            let expected = machine.clientSecret, constantTimeEquals(expected, secret)
        {
            return AuthenticatedClient(clientId: machine.userName, projectId: nil, machineUserId: machine.id)
        }
        throw OAuthFailure(status: 400, error: "invalid_client", description: "client authentication failed")
    }

    /// Authenticates a public client (`authMethod: none`) by its client id alone, as PKCE clients do.
    func authenticatePublicClient(clientId: String) throws(OAuthFailure) -> AuthenticatedClient {
        guard let app = state.applications.first(where: { $0.clientId == clientId }), app.authMethod == "none" else {
            throw OAuthFailure(status: 400, error: "invalid_client", description: "client authentication failed")
        }
        return AuthenticatedClient(clientId: app.clientId, projectId: state.project.id, machineUserId: nil)
    }

    /// Authenticates an application by `private_key_jwt`: RS256, `iss` = `sub` = client id, `aud` has the issuer,
    /// signed by a key registered on the application.
    func authenticate(assertion: String, issuer: String, now: Date = Date()) throws(OAuthFailure) -> AuthenticatedClient {
        let failure = OAuthFailure(status: 400, error: "invalid_client", description: "client assertion invalid")
        guard let (clientId, jws) = Self.assertionSubject(assertion),
            let app = state.applications.first(where: { $0.clientId == clientId }),
            Self.verify(jws, keys: app.keys ?? [], issuer: issuer, now: now)
        else { throw failure }
        return AuthenticatedClient(clientId: app.clientId, projectId: state.project.id, machineUserId: nil)
    }

    /// The JWT-profile grant (RFC 7523): a machine user's assertion, `iss` = `sub` = user id, signed with one of its
    /// keys; Zitadel answers `invalid_grant` otherwise.
    func authenticateJWTProfile(assertion: String, issuer: String, now: Date = Date()) throws(OAuthFailure) -> AuthenticatedClient {
        let failure = OAuthFailure(status: 400, error: "invalid_grant", description: "assertion invalid")
        guard let (userId, jws) = Self.assertionSubject(assertion),
            let machine = state.machineUsers.first(where: { $0.id == userId }),
            Self.verify(jws, keys: machine.keys ?? [], issuer: issuer, now: now)
        else { throw failure }
        return AuthenticatedClient(clientId: machine.userName, projectId: nil, machineUserId: machine.id)
    }

    /// An RS256 assertion's subject, when `iss` and `sub` agree.
    private static func assertionSubject(_ assertion: String) -> (String, CompactJWS)? {
        guard let jws = CompactJWS(assertion), jws.header["alg"]?.stringValue == "RS256",
            let subject = jws.payload["iss"]?.stringValue, jws.payload["sub"]?.stringValue == subject
        else { return nil }
        return (subject, jws)
    }

    /// Signature by a registered key (by `kid` when given), `aud` naming the issuer, not expired, `iat` within 1 h.
    private static func verify(_ jws: CompactJWS, keys: [Seed.ApplicationKey], issuer: String, now: Date) -> Bool {
        let kid = jws.header["kid"]?.stringValue
        let verified = keys.filter { kid == nil || $0.keyId == kid }.contains { entry in
            guard let key = try? _RSA.Signing.PublicKey(pemRepresentation: entry.publicKey) else { return false }
            return key.isValidSignature(
                _RSA.Signing.RSASignature(rawRepresentation: jws.signature),
                for: SHA256.hash(data: jws.signingInput),
                padding: .insecurePKCS1v1_5
            )
        }
        guard verified else { return false }
        let audience: [String] =
            jws.payload["aud"].map { $0.stringValue.map { [$0] } ?? ($0.arrayValue ?? []).compactMap(\.stringValue) } ?? []
        let trimmed = issuer.hasSuffix("/") ? String(issuer.dropLast()) : issuer
        guard audience.contains(where: { $0 == trimmed || $0 == trimmed + "/" }) else { return false }
        guard let exp = jws.payload["exp"]?.numberValue, exp > now.timeIntervalSince1970 else { return false }
        if let iat = jws.payload["iat"]?.numberValue, iat < now.timeIntervalSince1970 - 3600 { return false }
        return true
    }
}

/// A client that proved its identity at an OAuth endpoint.
struct AuthenticatedClient: Sendable {
    let clientId: String
    /// The project of an application client; machine users have none.
    let projectId: String?
    let machineUserId: String?
}

/// An OAuth error response (`{"error","error_description"}`).
struct OAuthFailure: Error, Sendable {
    let status: Int
    let error: String
    let description: String
}
