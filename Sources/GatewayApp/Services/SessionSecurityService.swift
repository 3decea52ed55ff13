import Foundation
import GatewayCore
import GatewayStore
import Logging
import SessionValidation
import ZitadelClient

/// A Zitadel session as the portal lists it.
struct SessionView: Sendable, Encodable {
    var id: String
    var createdAt: Timestamp?
    var lastChangedAt: Timestamp?
    var expiresAt: Timestamp?
    var userAgent: String?
    var factors: [String]
    var current: Bool

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(createdAt, forKey: .createdAt)
        try container.encode(lastChangedAt, forKey: .lastChangedAt)
        try container.encode(expiresAt, forKey: .expiresAt)
        try container.encode(userAgent, forKey: .userAgent)
        try container.encode(factors, forKey: .factors)
        try container.encode(current, forKey: .current)
    }

    enum CodingKeys: String, CodingKey { case id, createdAt, lastChangedAt, expiresAt, userAgent, factors, current }

    init(_ session: ZitadelSession, currentId: String?) {
        id = session.id ?? ""
        // Zitadel's times (protojson, up to nanoseconds) in the API's one format.
        createdAt = session.creationDate.flatMap(Timestamp.init(rfc3339:))
        lastChangedAt = session.changeDate.flatMap(Timestamp.init(rfc3339:))
        expiresAt = session.expirationDate.flatMap(Timestamp.init(rfc3339:))
        userAgent = session.userAgent?.description.flatMap { $0.isEmpty ? nil : $0 }
        let factors = session.factors
        var names: [String] = []
        if factors?.password?.verifiedAt != nil { names.append("password") }
        if let webAuthN = factors?.webAuthN, webAuthN.verifiedAt != nil {
            names.append(webAuthN.userVerified == true ? "passkey" : "security_key")
        }
        if factors?.totp?.verifiedAt != nil { names.append("totp") }
        if factors?.otpSms?.verifiedAt != nil { names.append("sms_otp") }
        if factors?.otpEmail?.verifiedAt != nil { names.append("email_otp") }
        if factors?.recoveryCode?.verifiedAt != nil { names.append("recovery_code") }
        if factors?.intent?.verifiedAt != nil { names.append("idp") }
        self.factors = names
        current = currentId != nil && session.id == currentId
    }
}

/// The outcome of revoking a user's sessions.
struct RevocationResult: Sendable, Encodable {
    var userId: String
    /// Tokens issued before this time (the store's clock) are refused.
    var notBefore: Timestamp
    var sessionsEnded: Int
}

/// The outcome of a sign-out.
struct SignOutResult: Sendable, Encodable {
    /// `revoked`, `unsupported` (the issuer offers no revocation endpoint or credentials) or `failed`.
    var issuerRevocation: String
    var endSessionUrl: String?
    /// `none`: the session was not known, so only this token (not its session) is revoked at the gateway.
    var sessionBinding: String

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(issuerRevocation, forKey: .issuerRevocation)
        try container.encode(endSessionUrl, forKey: .endSessionUrl)
        try container.encode(sessionBinding, forKey: .sessionBinding)
    }

    enum CodingKeys: String, CodingKey { case issuerRevocation, endSessionUrl, sessionBinding }
}

/// Sign-out, session management and administrator revocation (docs/SESSIONS.md, "Session security"): Zitadel's Session
/// service ends sessions, the store keeps the gateway's own revocations, every step is audited.
struct SessionSecurityService: Sendable {
    let directory: (any ZitadelUserDirectory)?
    let store: any GatewayStore
    let revocations: StoreRevocationList
    let validator: SessionValidator
    let settings: SessionSettings
    let logger: Logger

    /// Sessions listed (and ended by revoke-all) per call.
    static let sessionLimit = 100
    /// Pages of sessions revoke-all ends at most.
    static let maxRounds = 10
    /// The refusal for integrations: they have no sessions to manage.
    static let sessionsOnly = "Session management is available to portal sessions only."

    // MARK: The user's own sessions

    func listSessions(_ caller: Caller) async throws -> [SessionView] {
        let (token, _) = try caller.requireSession(Self.sessionsOnly)
        let directory = try requireDirectory()
        let current = validator.sessionId(for: token, companion: caller.companion)
        let response: ListSessionsResponse
        do {
            response = try await directory.listSessions(userId: caller.userId, limit: Self.sessionLimit)
        } catch {
            throw Self.problem(error)
        }
        return (response.sessions ?? []).filter { $0.id != nil && Self.owner(of: $0) ?? caller.userId == caller.userId }
            .map { SessionView($0, currentId: current) }
    }

    /// Ends one of the caller's own sessions; another user's (or an unknown) session is 404.
    func endSession(_ id: String, caller: Caller, requestId: String?) async throws {
        try caller.requireSession(Self.sessionsOnly)
        let directory = try requireDirectory()
        guard Self.isZitadelID(id) else { throw GatewayProblem.notFound() }
        let session: ZitadelSession?
        do {
            session = try await directory.getSession(id).session
        } catch .api(let error) where Self.isNotVisible(error) {
            session = nil
        } catch {
            throw Self.problem(error)
        }
        guard let session, Self.owner(of: session) == caller.userId else {
            await audit(caller, "session.end", "not_found", tenant: caller.auditTenant, requestId: requestId)
            throw GatewayProblem.notFound()
        }
        do {
            _ = try await directory.deleteSession(id)
        } catch {
            await audit(caller, "session.end", "provider_failed", tenant: caller.auditTenant, requestId: requestId, ["session_id": id])
            throw Self.problem(error)
        }
        try await record(
            SessionRevocation(userId: caller.userId, scope: .session, target: id, expiresAt: retentionEnd()))
        await audit(caller, "session.end", "ok", tenant: caller.auditTenant, requestId: requestId, ["session_id": id])
    }

    /// "Sign out everywhere": a not-before time for the caller, then every Zitadel session ended.
    func revokeAll(_ caller: Caller, requestId: String?) async throws -> RevocationResult {
        try caller.requireSession(Self.sessionsOnly)
        return try await revokeEverything(
            of: caller.userId, by: caller, tenant: caller.auditTenant, action: "sessions.revoke_all", requestId: requestId)
    }

    // MARK: Administrators

    /// `client_admin` in their tenant, `partner_admin` in a client they hold: out of scope is 404, in scope
    /// without the role 403, a user outside the tenant 404.
    func adminRevoke(orgId: String, userId: String, caller: Caller, requestId: String?) async throws -> RevocationResult {
        try caller.requireSession(Self.sessionsOnly)
        guard let principal = caller.principal, principal.hasInScope(orgId) else { throw GatewayProblem.notFound() }
        let roles = principal.rolesByTenant[orgId] ?? []
        guard roles.contains(.clientAdmin) || roles.contains(.partnerAdmin) else {
            await audit(caller, "sessions.admin_revoke", "forbidden", tenant: orgId, requestId: requestId, ["target_user": userId])
            throw GatewayProblem(.forbidden, "Revoking another user's sessions needs the client_admin or partner_admin role.")
        }
        let directory = try requireDirectory()
        guard Self.isZitadelID(userId) else { throw GatewayProblem.notFound() }
        let owner: String?
        do {
            let response = try await directory.getUserByID(userId)
            owner = response.details?.resourceOwner ?? response.user?.details?.resourceOwner
        } catch .api(let error) where Self.isNotVisible(error) {
            owner = nil
        } catch {
            throw Self.problem(error)
        }
        guard owner == orgId else {
            await audit(caller, "sessions.admin_revoke", "not_found", tenant: orgId, requestId: requestId, ["target_user": userId])
            throw GatewayProblem.notFound()
        }
        return try await revokeEverything(
            of: userId, by: caller, tenant: orgId, action: "sessions.admin_revoke", requestId: requestId)
    }

    /// Records the not-before first (so tokens are refused even if Zitadel fails), then ends the sessions.
    private func revokeEverything(
        of userId: String, by caller: Caller, tenant: String, action: String, requestId: String?
    ) async throws -> RevocationResult {
        let directory = try requireDirectory()
        let stored = try await record(SessionRevocation(userId: userId, scope: .allSessions, target: nil, expiresAt: nil))
        var metadata = ["target_user": userId]
        var ended = 0
        do {
            // Ended sessions leave the list: read again until a short page, within a bound.
            for _ in 0..<Self.maxRounds {
                let sessions = try await directory.listSessions(userId: userId, limit: Self.sessionLimit).sessions ?? []
                for session in sessions {
                    guard let id = session.id, Self.owner(of: session) ?? userId == userId else { continue }
                    _ = try await directory.deleteSession(id)
                    ended += 1
                }
                if sessions.count < Self.sessionLimit { break }
            }
        } catch {
            metadata["sessions_ended"] = String(ended)
            await audit(caller, action, "partial", tenant: tenant, requestId: requestId, metadata)
            let problem = Self.problem(error)
            throw GatewayProblem(
                problem.code,
                "Tokens issued until now are refused, but ending the sessions at the identity provider failed; retry.",
                retryAfter: problem.retryAfter)
        }
        metadata["sessions_ended"] = String(ended)
        await audit(caller, action, "ok", tenant: tenant, requestId: requestId, metadata)
        return RevocationResult(
            userId: userId, notBefore: Timestamp(stored.revokedAt), sessionsEnded: ended)
    }

    // MARK: Sign-out

    /// Revokes the presented token at the issuer (RFC 7009) and in the gateway's own list (its session when
    /// known, and the token itself when it names no session), then returns the trusted end-session URL.
    func signOut(_ caller: Caller, requestId: String?) async throws -> SignOutResult {
        let (token, rawToken) = try caller.requireSession(Self.sessionsOnly)
        let sessionId = validator.sessionId(for: token, companion: caller.companion)
        let outcome = await validator.revokeAtIssuer(token, rawToken: rawToken)
        let tokenExpiry = token.expiresAt + Double(token.issuer.leeway.components.seconds)
        if let sessionId {
            try await record(
                SessionRevocation(userId: caller.userId, scope: .session, target: sessionId, expiresAt: retentionEnd()))
        }
        if sessionId == nil, let jti = token.claims.tokenId {
            try await record(SessionRevocation(userId: caller.userId, scope: .token, target: jti, expiresAt: tokenExpiry))
        }
        let discovered = await validator.endpoints(issuer: token.issuer.issuer)?.endSessionURL
        let url = TrustedURLBuilder(issuer: token.issuer.issuer, style: .console).endSessionURL(
            discovered: discovered, clientId: token.claims.clientId, postLogoutRedirectURI: settings.postLogoutRedirectURI)
        var metadata = ["issuer_revocation": outcome.rawValue, "token_format": token.format.rawValue]
        if let sessionId { metadata["session_id"] = sessionId }
        await audit(caller, "session.sign_out", "ok", tenant: caller.auditTenant, requestId: requestId, metadata)
        return SignOutResult(
            issuerRevocation: outcome.rawValue, endSessionUrl: url, sessionBinding: caller.sessionBinding.rawValue)
    }

    // MARK: Support

    @discardableResult
    private func record(_ revocation: SessionRevocation) async throws -> SessionRevocation {
        let stored: SessionRevocation
        do {
            stored = try await store.recordRevocation(revocation)
        } catch {
            logger.error("Revocation write failed", metadata: ["error_type": "\(type(of: error))"])
            throw GatewayProblem(.storeUnavailable, "The revocation could not be recorded; retry.", retryAfter: 5)
        }
        revocations.note(stored)
        return stored
    }

    private func retentionEnd() -> Double {
        Date().timeIntervalSince1970 + Double(settings.revocationRetention.components.seconds)
    }

    private func requireDirectory() throws -> any ZitadelUserDirectory {
        guard let directory else {
            throw GatewayProblem(.providerUnavailable, "The identity provider is not configured for session management.")
        }
        return directory
    }

    /// The session's user, from its user factor.
    static func owner(of session: ZitadelSession) -> String? { session.factors?.user?.id }

    /// Zitadel ids are digits; anything else cannot exist and is answered 404 unsent.
    static func isZitadelID(_ value: String) -> Bool {
        !value.isEmpty && value.utf8.count <= 64 && value.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 }
    }

    /// Not found, or not visible to the gateway's service account (permission denied): both are 404 to the
    /// caller, so the answer never tells a user or session that exists from one that does not.
    static func isNotVisible(_ error: ZitadelAPIError) -> Bool {
        error.code == .notFound || error.code == .permissionDenied
    }

    /// Provider faults: no answer is 503 `provider_unavailable`, a refusal 502 `provider_rejected`.
    static func problem(_ error: ZitadelClientError) -> GatewayProblem {
        switch error {
        case .timeout, .transport, .credentialUnavailable:
            return GatewayProblem(.providerUnavailable, "The identity provider did not answer; retry.", retryAfter: 5)
        case .api(let api) where api.code == .unavailable || api.code == .deadlineExceeded || api.httpStatus >= 500:
            return GatewayProblem(.providerUnavailable, "The identity provider is unavailable; retry.", retryAfter: 5)
        case .api, .malformedResponse:
            return GatewayProblem(.providerRejected, "The identity provider refused the request.")
        }
    }

    /// Audit writes never fail the action they describe; a failure is logged.
    func audit(
        _ caller: Caller, _ action: String, _ outcome: String, tenant: String, requestId: String?,
        _ metadata: [String: String] = [:]
    ) async {
        var metadata = metadata
        if let role = caller.role { metadata["role"] = role.rawValue }
        do {
            try await store.appendAuditEvent(
                AuditEvent(
                    tenant: tenant, actor: caller.userId, session: caller.sessionId,
                    action: action, outcome: outcome, metadata: metadata, requestId: requestId))
        } catch {
            logger.error("Audit write failed", metadata: ["action": "\(action)"])
        }
    }
}
