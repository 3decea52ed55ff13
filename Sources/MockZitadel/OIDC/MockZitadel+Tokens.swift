import Foundation

/// Access tokens: minting, introspection, userinfo, revocation and the client-credentials grant.
extension MockZitadel {
    /// Mints what Zitadel issues to the portal application for a seeded user (or machine user) and the given
    /// scopes, with test knobs.
    ///
    /// A human user's token always belongs to a session: the one named by `sessionId`, or a new one whose
    /// factors follow `factors`, else `amr` (so the Session service reports what the token claims). An explicit
    /// `amr` (or `actionClaims`) is an opt-in Actions enrichment of a JWT access token; Zitadel itself puts no
    /// `amr`, `auth_time` or `sid` there (`internal/api/oidc/token.go` createJWT).
    public func mintToken(_ request: TokenMintRequest, issuer: String? = nil) throws(AdminProblem) -> MintedToken {
        let now = Date()
        let issuer = request.issuer ?? issuer ?? defaultIssuer
        guard let subject = subject(id: request.userId) else {
            throw AdminProblem(
                status: 404, code: "user_not_found", title: "User not found", detail: "No seeded user has id \(request.userId).")
        }
        if let orgId = request.orgId, state.organisation(orgId) == nil {
            throw AdminProblem(
                status: 400,
                code: "unknown_organisation",
                title: "Unknown organisation",
                detail: "No seeded organisation has id \(orgId)."
            )
        }
        let requestedActions = Set(request.actionClaims ?? [])
        guard requestedActions.isSubset(of: Seed.actionClaimNames) else {
            throw AdminProblem(
                status: 400, code: "invalid_body", title: "Invalid body", detail: "actionClaims may name amr, auth_time and sid.")
        }
        let portal = state.portalApplication
        var sessionId: String?
        var amr = request.amr ?? ["pwd"]
        var authTime = now.addingTimeInterval(TimeInterval(request.issuedAtIn ?? 0))
        if case .human(let user) = subject {
            if let existing = request.sessionId {
                guard let session = sessions[existing], session.userId == user.id, !session.terminated else {
                    throw AdminProblem(
                        status: 404,
                        code: "session_not_found",
                        title: "Session not found",
                        detail: "No active session \(existing) of user \(user.id)."
                    )
                }
                sessionId = existing
                amr = request.amr ?? session.amr
                authTime = session.authTime
            } else {
                let factors = request.factors ?? SessionFactor.fromAMR(amr, user: user)
                if request.amr == nil, request.factors != nil { amr = SessionFactor.amr(for: Set(factors)) }
                let session = createSession(userId: user.id, factors: factors, userAgent: "minted by /mock/admin/tokens", at: now)
                sessionId = session.id
            }
        } else {
            amr = []
        }
        var actionClaims = requestedActions.union(portal?.accessTokenActionClaims ?? [])
        if request.amr != nil { actionClaims.insert("amr") }
        let lifetime = request.expiresIn ?? Self.defaultTokenLifetime
        let issuedAt = now.addingTimeInterval(TimeInterval(request.issuedAtIn ?? 0))
        let record = TokenRecord(
            jti: RandomID.zitadelID(),
            format: request.format,
            userId: request.userId,
            clientId: portal?.clientId ?? "",
            audience: request.audience ?? state.projectAudience,
            issuer: issuer,
            scope: request.scopes ?? request.scope ?? Self.defaultScopes,
            issuedAt: issuedAt,
            notBefore: request.notBeforeIn.map { now.addingTimeInterval(TimeInterval($0)) } ?? issuedAt,
            expiresAt: now.addingTimeInterval(TimeInterval(lifetime)),
            authTime: authTime,
            amr: amr,
            sessionId: sessionId,
            roles: request.roles ?? subject.human.flatMap { rolesClaim(for: $0, orgFilter: request.orgId) },
            refreshToken: nil,
            actionClaims: actionClaims,
            revoked: false
        )
        let customisation = JWTCustomisation(
            algorithm: request.alg ?? .rs256, kid: request.kid, extraHeader: request.extraHeader ?? [:],
            extraClaims: request.extraClaims ?? [:], omitClaims: request.omitClaims ?? [])
        let accessToken = try store(record, subject: subject, customisation: customisation)
        var idToken: String?
        if request.idToken == true {
            guard case .human(let user) = subject, let sessionId, let session = sessions[sessionId] else {
                throw AdminProblem(
                    status: 400, code: "no_id_token", title: "No ID token",
                    detail: "Machine users' tokens come without an ID token, as from Zitadel's token endpoint.")
            }
            do {
                idToken = try signIDToken(for: record, accessToken: accessToken, user: user, session: session, nonce: request.nonce)
            } catch {
                throw AdminProblem(
                    status: 500, code: "signing_failed", title: "Signing failed", detail: "The mock could not sign the ID token.")
            }
        }
        return MintedToken(
            accessToken: accessToken, tokenType: "Bearer", expiresIn: lifetime, tokenId: record.jti, sessionId: sessionId,
            idToken: idToken)
    }

    /// Stores a token record and returns the token string: random for opaque tokens, a signed JWT otherwise.
    func store(_ record: TokenRecord, subject: Subject, customisation: JWTCustomisation = .init()) throws(AdminProblem) -> String {
        let accessToken: String
        switch record.format {
        case .opaque:
            accessToken = RandomID.token()
            opaqueTokens[accessToken] = record.jti
        case .jwt:
            let key = try signingKey(kid: customisation.kid, algorithm: customisation.algorithm)
            var header: [String: JSONValue] = ["alg": .string(key.algorithm.rawValue), "kid": .string(key.kid), "typ": "JWT"]
            header.merge(customisation.extraHeader) { _, new in new }
            var payload = jwtClaims(for: record, subject: subject)
            payload.merge(customisation.extraClaims) { _, new in new }
            for name in customisation.omitClaims {
                payload[name] = nil
            }
            do {
                accessToken = try CompactJWS.sign(header: header, payload: payload, key: key)
            } catch {
                throw AdminProblem(
                    status: 500, code: "signing_failed", title: "Signing failed", detail: "The mock could not sign the token.")
            }
        }
        tokens[record.jti] = record
        return accessToken
    }

    /// Claims of a Zitadel v4 JWT access token (`internal/api/oidc/token.go` createJWT, zitadel/oidc
    /// `NewAccessTokenClaims`): `iss sub aud exp iat nbf jti client_id`, role claims only with the application's
    /// access-token role assertion, resource-owner claims only with their scope. No `amr`, `sid`, `auth_time`,
    /// `azp` or `scope`, unless the deployment opted into an Actions enrichment (`actionClaims`).
    private func jwtClaims(for record: TokenRecord, subject: Subject) -> [String: JSONValue] {
        var claims: [String: JSONValue] = [
            "iss": .string(record.issuer),
            "sub": .string(subject.id),
            "aud": .strings(record.audience),
            "exp": .epoch(record.expiresAt),
            "iat": .epoch(record.issuedAt),
            "nbf": .epoch(record.notBefore),
            "client_id": .string(record.clientId),
            "jti": .string(record.jti),
        ]
        let app = state.application(clientId: record.clientId)
        let roleAssertion = app?.accessTokenRoleAssertion == true
        claims.merge(zitadelClaims(roles: record.roles, orgId: subject.orgId, scope: record.scope, assertRoles: roleAssertion)) { _, new in
            new
        }
        if record.actionClaims.contains("amr"), !record.amr.isEmpty { claims["amr"] = .strings(record.amr) }
        if let sessionId = record.sessionId {
            if record.actionClaims.contains("auth_time") { claims["auth_time"] = .epoch(record.authTime) }
            if record.actionClaims.contains("sid") { claims["sid"] = .string(sessionId) }
        }
        return claims
    }

    /// Whether Zitadel asserts project roles for these scopes: `urn:zitadel:iam:org:projects:roles`, a
    /// `urn:zitadel:iam:org:project:role:{key}` scope, or the project's role assertion (`internal/api/oidc/userinfo.go`).
    func rolesRequested(_ scope: [String]) -> Bool {
        state.project.projectRoleAssertion == true || scope.contains(Self.rolesScope)
            || scope.contains { $0.hasPrefix(Self.roleKeyScopePrefix) }
    }

    /// Resource-owner claims come with `urn:zitadel:iam:user:resourceowner` or `urn:zitadel:iam:org:id:{id}`
    /// (`internal/api/oidc/userinfo.go`).
    static func resourceOwnerRequested(_ scope: [String]) -> Bool {
        scope.contains(resourceOwnerScope) || scope.contains { $0.hasPrefix("urn:zitadel:iam:org:id:") }
    }

    /// The roles and resource-owner claims shared by JWTs, ID tokens, introspection and userinfo, gated by scope
    /// (and, for tokens, by the application's role assertion: `assertRoles`).
    func zitadelClaims(roles: JSONValue?, orgId: String, scope: [String], assertRoles: Bool = true) -> [String: JSONValue] {
        var claims: [String: JSONValue] = [:]
        if assertRoles, rolesRequested(scope), let roles = Self.restrict(roles, toKeysIn: scope) {
            claims[Self.rolesClaim] = roles
            claims["urn:zitadel:iam:org:project:\(state.project.id):roles"] = roles
        }
        if Self.resourceOwnerRequested(scope), let org = state.organisation(orgId) {
            claims[Self.resourceOwnerIDClaim] = .string(org.id)
            claims[Self.resourceOwnerNameClaim] = .string(org.name)
            claims[Self.resourceOwnerDomainClaim] = .string(org.primaryDomain)
        }
        return claims
    }

    /// With `urn:zitadel:iam:org:project:role:{key}` scopes (and not the all-roles scope), only those roles.
    private static func restrict(_ roles: JSONValue?, toKeysIn scope: [String]) -> JSONValue? {
        guard let roles, case .object(let byRole) = roles else { return roles }
        let keys = scope.filter { $0.hasPrefix(roleKeyScopePrefix) }.map { String($0.dropFirst(roleKeyScopePrefix.count)) }
        guard !keys.isEmpty, !scope.contains(rolesScope) else { return roles }
        let kept = byRole.filter { keys.contains($0.key) }
        return kept.isEmpty ? nil : .object(kept)
    }

    /// `{"role":{"orgId":"orgPrimaryDomain"}}` from the user's grants, optionally restricted to one organisation.
    func rolesClaim(for user: Seed.User, orgFilter: String?) -> JSONValue? {
        var roles: [String: [String: JSONValue]] = [:]
        for grant in user.grants where orgFilter == nil || grant.orgId == orgFilter {
            guard let org = state.organisation(grant.orgId) else { continue }
            roles[grant.role, default: [:]][org.id] = .string(org.primaryDomain)
        }
        return roles.isEmpty ? nil : .object(roles.mapValues { .object($0) })
    }

    /// Finds the record behind a presented token: opaque by lookup, JWT by verifying it is ours and reading `jti`.
    func record(for token: String) -> TokenRecord? {
        if let jti = opaqueTokens[token] { return tokens[jti] }
        guard let payload = verifiedPayload(token), let jti = payload["jti"]?.stringValue else { return nil }
        return tokens[jti]
    }

    /// The record if the token is ours and currently valid: not revoked, within its lifetime, and its session
    /// (if any) still active.
    func activeRecord(for token: String, now: Date = Date()) -> TokenRecord? {
        guard let record = record(for: token), !record.revoked, record.expiresAt > now, record.notBefore <= now else {
            return nil
        }
        if let sessionId = record.sessionId, sessions[sessionId]?.isActive(at: now) != true { return nil }
        return record
    }

    /// RFC 7662 introspection as Zitadel answers it (`internal/api/oidc/introspect.go`, zitadel/oidc
    /// `IntrospectionResponse`): no `sid` (the type has no such field); `amr` and `auth_time` for users' tokens only;
    /// `username` and profile claims with the `profile` scope, resource-owner and role claims by scope
    /// (`internal/api/oidc/userinfo.go`). Inactive also when the caller is not in the token's audience.
    func introspect(token: String, caller: AuthenticatedClient) -> [String: JSONValue] {
        guard let record = activeRecord(for: token),
            record.audience.contains(caller.clientId) || caller.projectId.map(record.audience.contains) == true
        else { return ["active": false] }
        var response: [String: JSONValue] = [
            "active": true,
            "scope": .string(record.scope.joined(separator: " ")),
            "client_id": .string(record.clientId),
            "token_type": "Bearer",
            "exp": .epoch(record.expiresAt),
            "iat": .epoch(record.issuedAt),
            "nbf": .epoch(record.notBefore),
            "aud": .strings(record.audience),
            "iss": .string(record.issuer),
            "jti": .string(record.jti),
            "sub": .string(record.userId),
        ]
        if let subject = subject(id: record.userId) {
            if case .human = subject {
                response["auth_time"] = .epoch(record.authTime)
                if !record.amr.isEmpty { response["amr"] = .strings(record.amr) }
            }
            if record.scope.contains("profile") { response["username"] = .string(subject.preferredUsername) }
            // Opt-in only: an Action of the complement-token flow (pre userinfo creation) copying the session id.
            if record.actionClaims.contains("sid"), let sessionId = record.sessionId { response["sid"] = .string(sessionId) }
            response.merge(userClaims(subject: subject, scope: record.scope)) { _, new in new }
            response.merge(zitadelClaims(roles: record.roles, orgId: subject.orgId, scope: record.scope)) { _, new in new }
        }
        return response
    }

    /// OIDC userinfo for an active token; `nil` when the token is not active.
    func userinfo(token: String) -> (claims: [String: JSONValue], userId: String)? {
        guard let record = activeRecord(for: token), let subject = subject(id: record.userId) else { return nil }
        var claims: [String: JSONValue] = ["sub": .string(subject.id)]
        claims.merge(userClaims(subject: subject, scope: record.scope)) { _, new in new }
        claims.merge(zitadelClaims(roles: record.roles, orgId: subject.orgId, scope: record.scope)) { _, new in new }
        return (claims, subject.id)
    }

    /// The user a token was issued to, for the journal; `nil` when the token is not ours.
    func userId(forToken token: String) -> String? {
        record(for: token)?.userId ?? refreshTokens[token]?.userId
    }

    /// Standard claims by scope; false booleans are omitted, as Zitadel does.
    func userClaims(subject: Subject, scope: [String]) -> [String: JSONValue] {
        var claims: [String: JSONValue] = [:]
        switch subject {
        case .human(let user):
            if scope.contains("profile") {
                claims["name"] = .string(user.displayName)
                claims["given_name"] = .string(user.givenName)
                claims["family_name"] = .string(user.familyName)
                claims["preferred_username"] = .string(user.loginName)
                claims["locale"] = .string(user.preferredLanguage)
            }
            if scope.contains("email") {
                claims["email"] = .string(user.email.address)
                if user.email.verified { claims["email_verified"] = true }
            }
            if scope.contains("phone"), let phone = user.phone {
                claims["phone_number"] = .string(phone.number)
                if phone.verified { claims["phone_number_verified"] = true }
            }
        case .machine(let machine):
            if scope.contains("profile") {
                claims["name"] = .string(machine.name)
                claims["preferred_username"] = .string(machine.userName)
            }
        }
        return claims
    }

    /// Revokes an access or refresh token if the caller is in its audience (Zitadel's check); unknown tokens are
    /// ignored. Revoking a refresh token also ends the access tokens issued with it.
    func revoke(token: String, caller: AuthenticatedClient) throws(OAuthFailure) {
        let failure = OAuthFailure(status: 400, error: "invalid_client", description: "token was not issued for this client")
        if let refresh = refreshTokens[token] {
            guard refresh.clientId == caller.clientId || refresh.audience.contains(caller.clientId) else { throw failure }
            refreshTokens[token]?.revoked = true
            for (jti, record) in tokens where record.refreshToken == token {
                tokens[jti]?.revoked = true
            }
            return
        }
        guard let record = record(for: token) else { return }
        guard record.audience.contains(caller.clientId) else { throw failure }
        tokens[record.jti]?.revoked = true
    }

    /// Issues an opaque token for the client-credentials grant: a machine user's token has no session.
    func clientCredentialsToken(for client: AuthenticatedClient, scope: [String], issuer: String) -> (token: String, expiresIn: Int) {
        let now = Date()
        let record = TokenRecord(
            jti: RandomID.zitadelID(),
            format: .opaque,
            userId: client.machineUserId ?? client.clientId,
            clientId: client.clientId,
            audience: [client.clientId] + audience(fromScope: scope),
            issuer: issuer,
            scope: scope,
            issuedAt: now,
            notBefore: now,
            expiresAt: now.addingTimeInterval(TimeInterval(Self.defaultTokenLifetime)),
            authTime: now,
            amr: [],
            sessionId: nil,
            roles: nil,
            refreshToken: nil,
            actionClaims: [],
            revoked: false
        )
        let token = RandomID.token()
        tokens[record.jti] = record
        opaqueTokens[token] = record.jti
        return (token, Self.defaultTokenLifetime)
    }

    /// Projects requested with `urn:zitadel:iam:org:project:id:{id}:aud`; `zitadel` is the instance's API project.
    func audience(fromScope scope: [String]) -> [String] {
        scope.compactMap { item -> String? in
            guard item.hasPrefix("urn:zitadel:iam:org:project:id:"), item.hasSuffix(":aud") else { return nil }
            let id = item.dropFirst("urn:zitadel:iam:org:project:id:".count).dropLast(":aud".count)
            return id == "zitadel" ? state.instance.id : String(id)
        }
    }

    /// Tokens of a session end with it.
    func revokeTokens(ofSession sessionId: String) {
        for (jti, record) in tokens where record.sessionId == sessionId {
            tokens[jti]?.revoked = true
        }
        for (token, refresh) in refreshTokens where refresh.sessionId == sessionId {
            refreshTokens[token]?.revoked = true
        }
    }
}

/// How a minted JWT departs from the defaults (test knobs of `POST /mock/admin/tokens`).
struct JWTCustomisation: Sendable {
    var algorithm: SigningAlgorithm = .rs256
    var kid: String?
    var extraHeader: [String: JSONValue] = [:]
    var extraClaims: [String: JSONValue] = [:]
    var omitClaims: [String] = []
}

/// What the mock remembers about an access token it issued.
struct TokenRecord: Sendable {
    let jti: String
    let format: TokenFormat
    let userId: String
    let clientId: String
    let audience: [String]
    let issuer: String
    let scope: [String]
    let issuedAt: Date
    let notBefore: Date
    let expiresAt: Date
    let authTime: Date
    let amr: [String]
    /// The session the token belongs to; machine users' tokens have none.
    let sessionId: String?
    let roles: JSONValue?
    /// The refresh token it was issued with, if any.
    let refreshToken: String?
    /// Opt-in Actions enrichment of the JWT (`amr`, `auth_time`, `sid`); empty as in Zitadel.
    let actionClaims: Set<String>
    var revoked: Bool
}

/// A refresh token of the authorization-code flow (rotated on every use, as Zitadel does).
struct RefreshTokenRecord: Sendable {
    let token: String
    let sessionId: String
    let userId: String
    let clientId: String
    let audience: [String]
    let scope: [String]
    let issuer: String
    let expiresAt: Date
    var revoked: Bool
}
