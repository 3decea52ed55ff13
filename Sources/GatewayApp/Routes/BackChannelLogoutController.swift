import Foundation
import GatewayCore
import GatewayStore
import HTTPTypes
import Hummingbird
import Logging
import SessionValidation

/// `POST /v1/backchannel-logout`: OIDC Back-Channel Logout 1.0. Zitadel posts a form-encoded `logout_token`
/// when a session ends (`internal/notification/handlers/back_channel_logout.go`: `sub`, `sid`, `aud` the
/// client, five minutes' lifetime). A valid token revokes that session (or, with `sub` alone, every session of
/// the user) in the store, which every instance reads within the revocation bound. No bearer token, no MFA gate:
/// the logout token is the credential.
struct BackChannelLogoutController {
    let validator: SessionValidator
    let store: any GatewayStore
    let revocations: StoreRevocationList
    let settings: SessionSettings
    let logger: Logger

    static let path = "/v1/backchannel-logout"

    func addRoutes(to router: Router<GatewayRequestContext>) {
        router.post(RouterPath(Self.path), use: logout)
    }

    @Sendable func logout(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let contentType = request.headers[.contentType]?.split(separator: ";").first?.trimmingCharacters(in: .whitespaces)
        guard contentType?.lowercased() == "application/x-www-form-urlencoded" else {
            return try Self.error(.badRequest, "invalid_request", "Send the logout_token as application/x-www-form-urlencoded.")
        }
        let body = try await request.body.collect(upTo: context.maxUploadSize)
        let form = FormBody(String(buffer: body))
        guard let values = form.values["logout_token"], values.count == 1, let logoutToken = values.first else {
            return try Self.error(.badRequest, "invalid_request", "Send exactly one logout_token.")
        }
        let token: LogoutToken
        do {
            token = try await validator.verifyLogoutToken(logoutToken)
        } catch {
            logger.info("Logout token refused", metadata: ["reason": "\(error.rawValue)"])
            if error == .keysUnavailable {
                return try Self.error(.serviceUnavailable, "temporarily_unavailable", "The issuer's signing keys are unavailable.")
            }
            return try Self.error(.badRequest, "invalid_request", "The logout token is not valid: \(error.explanation).")
        }
        let retention = Date().timeIntervalSince1970 + Double(settings.revocationRetention.components.seconds)
        let revocation: SessionRevocation
        if let sessionId = token.sessionId {
            revocation = SessionRevocation(
                userId: token.subject ?? StoreRevocationList.anyUser, scope: .session, target: sessionId, expiresAt: retention)
        } else {
            revocation = SessionRevocation(
                userId: token.subject ?? StoreRevocationList.anyUser, scope: .allSessions, target: nil, expiresAt: nil)
        }
        let stored: SessionRevocation?
        do {
            stored = try await store.recordBackChannelLogout(
                tokenId: token.tokenId, issuer: token.issuerName, expiresAt: token.expiresAt, revocation: revocation)
        } catch {
            logger.error("Back-channel logout could not be recorded", metadata: ["error_type": "\(type(of: error))"])
            return try Self.error(.serviceUnavailable, "temporarily_unavailable", "The logout could not be recorded; retry.")
        }
        guard let stored else {
            logger.info("Logout token refused", metadata: ["reason": "\(ValidationFailure.replayed.rawValue)"])
            return try Self.error(
                .badRequest, "invalid_request", "The logout token is not valid: \(ValidationFailure.replayed.explanation).")
        }
        revocations.note(stored)
        var metadata = ["issuer": token.issuerName, "scope": stored.scope.rawValue]
        if let sessionId = token.sessionId { metadata["session_id"] = sessionId }
        do {
            try await store.appendAuditEvent(
                AuditEvent(
                    tenant: "-", actor: token.subject ?? "-", session: token.sessionId, action: "session.backchannel_logout",
                    outcome: "ok", metadata: metadata, requestId: context.requestId))
        } catch {
            logger.error("Audit write failed", metadata: ["action": "session.backchannel_logout"])
        }
        return Response(status: .ok, headers: [.cacheControl: "no-store"])
    }

    /// OIDC Back-Channel Logout 1.0 2.8: an OAuth-style JSON error (RFC 6749 5.2), never cached.
    struct OAuthErrorDTO: Encodable {
        var error: String
        var errorDescription: String

        enum CodingKeys: String, CodingKey {
            case error
            case errorDescription = "error_description"
        }
    }

    static func error(_ status: HTTPResponse.Status, _ code: String, _ description: String) throws -> Response {
        try APIResponseEncoder.response(OAuthErrorDTO(error: code, errorDescription: description), status: status)
    }
}

/// An `application/x-www-form-urlencoded` body: `+` is a space, percent escapes decoded, repeated names kept.
struct FormBody {
    var values: [String: [String]] = [:]

    init(_ body: String) {
        for pair in body.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = Self.decode(parts[0]) else { continue }
            let value = parts.count > 1 ? Self.decode(parts[1]) : ""
            values[name, default: []].append(value ?? "")
        }
    }

    static func decode(_ part: Substring) -> String? {
        part.replacingOccurrences(of: "+", with: " ").removingPercentEncoding
    }
}
