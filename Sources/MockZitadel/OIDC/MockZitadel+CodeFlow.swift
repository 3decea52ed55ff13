import Crypto
import Foundation

/// The OIDC authorization-code flow with PKCE: authorization requests, the login step, code exchange,
/// refresh tokens and end session.
extension MockZitadel {
    /// How long an authorization code can be exchanged.
    static let authCodeLifetime: TimeInterval = 600
    /// Zitadel's default refresh-token lifetime (30 days idle).
    static let refreshTokenLifetime: TimeInterval = 30 * 24 * 3600

    /// Where `/oauth/v2/authorize` sends the browser.
    enum AuthorizeOutcome: Sendable {
        /// Show the login page for this request (`V2_…`).
        case login(requestId: String)
        /// Back to the client (a code or an OAuth error).
        case redirect(String)
        /// Nothing to redirect to (unknown client or redirect URI): an error page.
        case errorPage(String)
    }

    /// Validates an authorization request the way Zitadel does and stores it for the login step.
    func startAuthorization(_ parameters: [String: String], browserSessionId: String?, issuer: String) -> AuthorizeOutcome {
        guard let clientId = parameters["client_id"], let app = state.applications.first(where: { $0.clientId == clientId }),
            app.type == "oidc"
        else { return .errorPage("The client_id is missing or unknown.") }
        guard let redirectURI = parameters["redirect_uri"], Self.redirectURI(redirectURI, isRegisteredIn: app.redirectUris ?? [])
        else { return .errorPage("The redirect_uri is missing or not registered for this client.") }
        let state = parameters["state"]
        let responseMode = parameters["response_mode"]
        func error(_ code: String, _ description: String) -> AuthorizeOutcome {
            .redirect(
                Self.redirect(
                    redirectURI, mode: responseMode, ["error": code, "error_description": description, "state": state]))
        }
        guard parameters["response_type"] == "code" else {
            return error("unsupported_response_type", "The mock supports the authorization code flow (response_type=code).")
        }
        let scope = (parameters["scope"] ?? "").split(separator: " ").map(String.init)
        guard scope.contains("openid") else { return error("invalid_scope", "The scope must contain openid.") }
        let challenge = parameters["code_challenge"]
        let method = parameters["code_challenge_method"] ?? (challenge == nil ? nil : "plain")
        if app.authMethod == "none", challenge == nil {
            return error("invalid_request", "The client has no secret: code_challenge is required (PKCE).")
        }
        if let method, method != "S256", method != "plain" {
            return error("invalid_request", "code_challenge_method must be S256.")
        }
        let prompt = Set((parameters["prompt"] ?? "").split(separator: " ").map(String.init))
        let record = AuthRequestRecord(
            id: "V2_" + RandomID.zitadelID(),
            clientId: clientId,
            redirectURI: redirectURI,
            state: state,
            nonce: parameters["nonce"],
            scope: scope,
            codeChallenge: challenge,
            codeChallengeMethod: method,
            loginHint: parameters["login_hint"],
            responseMode: responseMode,
            createdAt: Date()
        )
        authRequests[record.id] = record
        if prompt.contains("none") {
            guard let session = activeSession(browserSessionId) else {
                authRequests[record.id] = nil
                return error("login_required", "No active session; prompt=none cannot show the login page.")
            }
            return completeAuthorization(requestId: record.id, sessionId: session.id).map { .redirect($0) }
                ?? .errorPage("The authorization request expired.")
        }
        return .login(requestId: record.id)
    }

    /// A pending authorization request (for the login page).
    func authRequest(_ id: String) -> AuthRequestRecord? {
        guard let record = authRequests[id], record.createdAt.addingTimeInterval(3600) > Date() else { return nil }
        return record
    }

    /// Finishes an authorization request with a signed-in session: a code back to the client.
    func completeAuthorization(requestId: String, sessionId: String) -> String? {
        guard let request = authRequest(requestId), let session = activeSession(sessionId) else { return nil }
        authRequests[requestId] = nil
        let code = RandomID.token()
        authCodes[code] = AuthCodeRecord(
            code: code, request: request, sessionId: session.id, expiresAt: Date().addingTimeInterval(Self.authCodeLifetime))
        return Self.redirect(request.redirectURI, mode: request.responseMode, ["code": code, "state": request.state])
    }

    /// Signs a user in with the factors chosen on the login page; every factor must be enrolled, a recovery code
    /// must be a valid unused one (it is spent).
    func signIn(userId: String, factors: [SessionFactor], recoveryCode: String?, userAgent: String?) throws(LoginFailure) -> SessionRecord {
        guard let user = user(id: userId) else { throw LoginFailure("Choose one of the seeded users.") }
        let chosen = Set(factors)
        guard !chosen.isDisjoint(with: [.password, .passkey, .intent]) else {
            throw LoginFailure("Choose a first factor: password or passkey.")
        }
        let mfa = user.mfa
        let enrolled: [SessionFactor: Bool] = [
            .password: true,
            .intent: true,
            .passkey: mfa.passkeys.contains { $0.state == "READY" },
            .u2f: mfa.u2f.contains { $0.state == "READY" },
            .totp: mfa.totp?.state == "READY",
            .otpSms: mfa.otpSms,
            .otpEmail: mfa.otpEmail,
            .recoveryCode: !(mfa.recoveryCodes?.remaining.isEmpty ?? true),
        ]
        for factor in SessionFactor.allCases where chosen.contains(factor) && enrolled[factor] != true {
            throw LoginFailure("\(user.displayName) has no \(factor.label) enrolled.")
        }
        if chosen.contains(.recoveryCode) {
            guard let recoveryCode, consumeRecoveryCode(userId: userId, code: recoveryCode) else {
                throw LoginFailure("That recovery code is not valid or was already used.")
            }
        }
        return createSession(userId: userId, factors: SessionFactor.allCases.filter(chosen.contains), userAgent: userAgent)
    }

    // MARK: Token endpoint

    /// `grant_type=authorization_code`: checks the client, redirect URI and PKCE verifier, then issues tokens.
    func exchangeCode(_ form: [String: String], client: AuthenticatedClient, issuer: String) throws(OAuthFailure) -> JSONValue {
        let invalidGrant = { (description: String) in OAuthFailure(status: 400, error: "invalid_grant", description: description) }
        guard let code = form["code"], let record = authCodes[code] else { throw invalidGrant("code is invalid or expired") }
        authCodes[code] = nil
        guard record.expiresAt > Date() else { throw invalidGrant("code is invalid or expired") }
        guard record.request.clientId == client.clientId else { throw invalidGrant("code was issued to another client") }
        guard form["redirect_uri"] == record.request.redirectURI else { throw invalidGrant("redirect_uri does not match") }
        if let challenge = record.request.codeChallenge {
            guard let verifier = form["code_verifier"], (43...128).contains(verifier.count) else {
                throw invalidGrant("code_verifier is missing or malformed")
            }
            let computed =
                record.request.codeChallengeMethod == "S256" ? Base64URL.encode(Array(SHA256.hash(data: Data(verifier.utf8)))) : verifier
            guard constantTimeEquals(computed, challenge) else { throw invalidGrant("invalid code challenge") }
        }
        guard let session = activeSession(record.sessionId) else { throw invalidGrant("the session has ended") }
        return try issueTokens(
            session: session, clientId: client.clientId, scope: record.request.scope, nonce: record.request.nonce, issuer: issuer)
    }

    /// `grant_type=refresh_token`: rotates the refresh token while its session is active.
    func refresh(_ form: [String: String], client: AuthenticatedClient, issuer: String) throws(OAuthFailure) -> JSONValue {
        let invalidGrant = OAuthFailure(status: 400, error: "invalid_grant", description: "refresh token is invalid or expired")
        guard let token = form["refresh_token"], let record = refreshTokens[token], !record.revoked, record.expiresAt > Date(),
            record.clientId == client.clientId, let session = activeSession(record.sessionId)
        else { throw invalidGrant }
        refreshTokens[token]?.revoked = true
        var scope = record.scope
        if let requested = form["scope"]?.split(separator: " ").map(String.init), !requested.isEmpty {
            scope = requested.filter(record.scope.contains)
        }
        return try issueTokens(session: session, clientId: client.clientId, scope: scope, nonce: nil, issuer: issuer)
    }

    /// Access token (opaque or JWT per the app), ID token, and a refresh token with `offline_access`.
    private func issueTokens(
        session: SessionRecord, clientId: String, scope: [String], nonce: String?, issuer: String
    ) throws(OAuthFailure) -> JSONValue {
        guard let user = user(id: session.userId), let app = state.applications.first(where: { $0.clientId == clientId }) else {
            throw OAuthFailure(status: 400, error: "invalid_grant", description: "the user or client no longer exists")
        }
        let now = Date()
        let lifetime = Self.defaultTokenLifetime
        let audience = state.projectAudience + audience(fromScope: scope).filter { !state.projectAudience.contains($0) }
        let orgFilter = scope.first { $0.hasPrefix("urn:zitadel:iam:org:id:") }.map {
            String($0.dropFirst("urn:zitadel:iam:org:id:".count))
        }
        var refreshToken: String?
        if scope.contains("offline_access") {
            let token = RandomID.token()
            refreshTokens[token] = RefreshTokenRecord(
                token: token, sessionId: session.id, userId: user.id, clientId: clientId, audience: audience, scope: scope,
                issuer: issuer, expiresAt: now.addingTimeInterval(Self.refreshTokenLifetime), revoked: false)
            refreshToken = token
        }
        let record = TokenRecord(
            jti: RandomID.zitadelID(),
            format: app.accessTokenType == "jwt" ? .jwt : .opaque,
            userId: user.id,
            clientId: clientId,
            audience: audience,
            issuer: issuer,
            scope: scope,
            issuedAt: now,
            notBefore: now,
            expiresAt: now.addingTimeInterval(TimeInterval(lifetime)),
            authTime: session.authTime,
            amr: session.amr,
            sessionId: session.id,
            roles: rolesClaim(for: user, orgFilter: orgFilter),
            refreshToken: refreshToken,
            actionClaims: Set(app.accessTokenActionClaims ?? []),
            revoked: false
        )
        let accessToken: String
        let idToken: String
        do {
            accessToken = try store(record, subject: .human(user))
            idToken = try signIDToken(for: record, accessToken: accessToken, user: user, session: session, nonce: nonce)
        } catch {
            throw OAuthFailure(status: 500, error: "server_error", description: "the mock could not sign the tokens")
        }
        var body: [String: JSONValue] = [
            "access_token": .string(accessToken), "token_type": "Bearer", "expires_in": .int(Int64(lifetime)),
            "id_token": .string(idToken), "scope": .string(scope.joined(separator: " ")),
        ]
        if let refreshToken { body["refresh_token"] = .string(refreshToken) }
        return .object(body)
    }

    /// The ID token Zitadel issues with an access token (`internal/api/oidc/token.go` createIDToken, zitadel/oidc
    /// `NewIDTokenClaims`): `iss sub aud exp iat auth_time amr azp client_id at_hash sid`, `nonce` when the request
    /// had one; no `jti` or `nbf`. Profile, email and phone only with the application's ID-token userinfo
    /// assertion, role claims only with its ID-token role assertion, resource-owner claims by scope.
    func signIDToken(
        for record: TokenRecord, accessToken: String, user: Seed.User, session: SessionRecord, nonce: String?
    ) throws -> String {
        let app = state.application(clientId: record.clientId)
        var audience = record.audience
        if !audience.contains(record.clientId) { audience.append(record.clientId) }
        var claims: [String: JSONValue] = [
            "iss": .string(record.issuer), "sub": .string(user.id), "aud": .strings(audience),
            "exp": .epoch(record.expiresAt), "iat": .epoch(Date()), "auth_time": .epoch(record.authTime),
            "azp": .string(record.clientId), "client_id": .string(record.clientId),
            "at_hash": .string(Self.tokenHash(accessToken)), "sid": .string(session.id),
        ]
        if !record.amr.isEmpty { claims["amr"] = .strings(record.amr) }
        if let nonce { claims["nonce"] = .string(nonce) }
        if app?.idTokenUserinfoAssertion == true {
            claims.merge(userClaims(subject: .human(user), scope: record.scope)) { _, new in new }
        }
        let assertRoles = app?.idTokenRoleAssertion == true
        claims.merge(zitadelClaims(roles: record.roles, orgId: user.orgId, scope: record.scope, assertRoles: assertRoles)) { _, new in
            new
        }
        let key = try signingKey(kid: nil, algorithm: .rs256)
        return try CompactJWS.sign(
            header: ["alg": .string(key.algorithm.rawValue), "kid": .string(key.kid), "typ": "JWT"], payload: claims, key: key)
    }

    /// `at_hash`: base64url of the left half of SHA-256 of the access token.
    static func tokenHash(_ token: String) -> String {
        Base64URL.encode(Array(SHA256.hash(data: Data(token.utf8))).prefix(16))
    }

    // MARK: End session

    /// Ends the session named by the ID token hint (or the browser's), and says where to send the browser:
    /// the registered `post_logout_redirect_uri` (with `state`) when the client is known, else nowhere.
    func endSession(_ parameters: [String: String], browserSessionId: String?) -> String? {
        let hint = parameters["id_token_hint"].flatMap(verifiedPayload)
        if let sid = hint?["sid"]?.stringValue ?? browserSessionId {
            terminateSession(sid)
        }
        let clientId = parameters["client_id"] ?? hint?["azp"]?.stringValue
        guard let clientId, let app = state.applications.first(where: { $0.clientId == clientId }),
            let target = parameters["post_logout_redirect_uri"],
            Self.redirectURI(target, isRegisteredIn: app.postLogoutRedirectUris ?? [])
        else { return nil }
        return Self.redirect(target, mode: nil, ["state": parameters["state"]])
    }

    // MARK: Helpers

    /// Exact match, except that loopback redirect URIs may use any port (RFC 8252 §7.3).
    static func redirectURI(_ uri: String, isRegisteredIn registered: [String]) -> Bool {
        if registered.contains(uri) { return true }
        guard let wanted = URLComponents(string: uri), let host = wanted.host, ["127.0.0.1", "localhost", "[::1]", "::1"].contains(host)
        else { return false }
        return registered.contains { candidate in
            guard let registered = URLComponents(string: candidate) else { return false }
            return registered.scheme == wanted.scheme && registered.host == host && registered.path == wanted.path
                && registered.query == wanted.query
        }
    }

    /// `uri` with parameters added to its query (or fragment, for `response_mode=fragment`).
    static func redirect(_ uri: String, mode: String?, _ parameters: KeyValuePairs<String, String?>) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        let encoded = parameters.compactMap { key, value in
            value.map { "\(key)=\($0.addingPercentEncoding(withAllowedCharacters: allowed) ?? $0)" }
        }.joined(separator: "&")
        guard !encoded.isEmpty else { return uri }
        if mode == "fragment" { return uri + "#" + encoded }
        return uri + (uri.contains("?") ? "&" : "?") + encoded
    }
}

/// An authorization request waiting for the login step.
struct AuthRequestRecord: Sendable {
    let id: String
    let clientId: String
    let redirectURI: String
    let state: String?
    let nonce: String?
    let scope: [String]
    let codeChallenge: String?
    let codeChallengeMethod: String?
    let loginHint: String?
    let responseMode: String?
    let createdAt: Date
}

/// An authorization code: single use, short-lived, bound to its request and session.
struct AuthCodeRecord: Sendable {
    let code: String
    let request: AuthRequestRecord
    let sessionId: String
    let expiresAt: Date
}

/// Why the login page refused a sign-in, shown to the developer.
struct LoginFailure: Error, Sendable {
    let message: String

    init(_ message: String) {
        self.message = message
    }
}

extension SessionFactor {
    /// How the pages name a factor.
    var label: String {
        switch self {
        case .password: "password"
        case .passkey: "passkey"
        case .u2f: "security key (U2F)"
        case .totp: "authenticator app (TOTP)"
        case .otpSms: "SMS one-time code"
        case .otpEmail: "email one-time code"
        case .recoveryCode: "recovery code"
        case .intent: "external identity provider"
        }
    }
}
