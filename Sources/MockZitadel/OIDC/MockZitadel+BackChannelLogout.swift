import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// OIDC Back-Channel Logout 1.0 as Zitadel sends it with the feature on: when a session ends (end session,
/// `DeleteSession`, the console, the admin API), every application that holds tokens of that session and has a
/// back-channel logout URI receives one form-encoded `logout_token`.
///
/// Zitadel: `internal/notification/handlers/back_channel_logout.go` (reduces `session.terminated` and
/// `user.human.signed.out`; one request per OIDC session registered with a `BackChannelLogoutURI`) and
/// `back_channel_logout_worker.go` (`oidc.NewLogoutTokenClaims(origin, userID, Audience{clientID}, exp, tokenID,
/// sessionID, time.Second)` signed with the active web key, sent as `LogoutTokenMessage{logout_token}`).
extension MockZitadel {
    /// How long a logout token is valid (Zitadel's `BackChannelLogout.TokenLifetime` is short; the mock uses 15 min).
    static let logoutTokenLifetime: TimeInterval = 900
    static let backChannelLogoutEvent = "http://schemas.openid.net/event/backchannel-logout"

    /// Builds, records and sends the logout tokens for a session that is ending (call before its tokens are revoked).
    func sendBackChannelLogouts(forSession sessionId: String) {
        guard let session = sessions[sessionId] else { return }
        var issuers: [String: String] = [:]
        for record in tokens.values where record.sessionId == sessionId && issuers[record.clientId] == nil {
            issuers[record.clientId] = record.issuer
        }
        for refresh in refreshTokens.values where refresh.sessionId == sessionId && issuers[refresh.clientId] == nil {
            issuers[refresh.clientId] = refresh.issuer
        }
        for (clientId, issuer) in issuers.sorted(by: { $0.key < $1.key }) {
            guard let uri = state.application(clientId: clientId)?.backChannelLogoutUri, !uri.isEmpty,
                let token = try? logoutToken(issuer: issuer, userId: session.userId, clientId: clientId, sessionId: sessionId)
            else { continue }
            backChannelSequence += 1
            let delivery = BackChannelLogoutDelivery(
                id: backChannelSequence, clientId: clientId, uri: uri, sessionId: sessionId, userId: session.userId,
                jti: token.jti, logoutToken: token.jwt, at: Date(), status: nil, error: nil)
            backChannelDeliveries.append(delivery)
            Task { [self] in
                let outcome = await Self.post(logoutToken: token.jwt, to: uri)
                self.recordBackChannelOutcome(id: delivery.id, status: outcome.status, error: outcome.error)
            }
        }
    }

    /// The logout token's claims (OIDC Back-Channel Logout 1.0 §2.4): `iss sub aud iat exp jti events sid`, no `nonce`.
    private func logoutToken(
        issuer: String, userId: String, clientId: String, sessionId: String
    ) throws -> (jwt: String, jti: String) {
        let now = Date()
        let jti = RandomID.zitadelID()
        let claims: [String: JSONValue] = [
            "iss": .string(issuer), "sub": .string(userId), "aud": .strings([clientId]),
            "iat": .epoch(now.addingTimeInterval(-1)), "exp": .epoch(now.addingTimeInterval(Self.logoutTokenLifetime)),
            "jti": .string(jti), "events": .object([Self.backChannelLogoutEvent: .object([:])]), "sid": .string(sessionId),
        ]
        let key = try signingKey(kid: nil, algorithm: .rs256)
        let jwt = try CompactJWS.sign(
            header: ["alg": .string(key.algorithm.rawValue), "kid": .string(key.kid), "typ": "JWT"], payload: claims, key: key)
        return (jwt, jti)
    }

    private func recordBackChannelOutcome(id: Int, status: Int?, error: String?) {
        guard let index = backChannelDeliveries.firstIndex(where: { $0.id == id }) else { return }
        backChannelDeliveries[index].status = status
        backChannelDeliveries[index].error = error
    }

    /// The logout tokens sent so far, oldest first, optionally for one session.
    public func backChannelLogouts(sessionId: String? = nil) -> [BackChannelLogoutDelivery] {
        backChannelDeliveries.filter { sessionId == nil || $0.sessionId == sessionId }
    }

    /// One POST, form-encoded, bounded by a 5 s deadline; the outcome is recorded, never retried.
    private static func post(logoutToken: String, to uri: String) async -> (status: Int?, error: String?) {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        let body = "logout_token=" + (logoutToken.addingPercentEncoding(withAllowedCharacters: allowed) ?? logoutToken)
        var request = HTTPClientRequest(url: uri)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        request.body = .bytes(ByteBuffer(string: body))
        do {
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(5))
            _ = try? await response.body.collect(upTo: 64 * 1024)
            return (Int(response.status.code), nil)
        } catch {
            return (nil, String(describing: type(of: error)))
        }
    }
}

/// A logout token the mock sent, as `GET /mock/admin/backchannel-logouts` lists it.
public struct BackChannelLogoutDelivery: Codable, Sendable {
    public var id: Int
    public var clientId: String
    public var uri: String
    public var sessionId: String
    public var userId: String
    public var jti: String
    public var logoutToken: String
    public var at: Date
    /// The receiver's HTTP status; `nil` while in flight or when the POST failed.
    public var status: Int?
    public var error: String?
}
