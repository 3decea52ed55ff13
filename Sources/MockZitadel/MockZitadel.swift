import Crypto
import Foundation
import _CryptoExtras

/// The mock Zitadel's state: seed, signing keys, issued tokens, call journal and injected faults.
///
/// HTTP handlers and tests talk to it; everything mutable lives here so concurrent requests stay consistent.
public actor MockZitadel {
    /// Zitadel's default access-token lifetime (12 h).
    public static let defaultTokenLifetime = 43_200
    /// Scopes a minted token carries unless the request names others.
    static let defaultScopes = [
        "openid", "profile", "email", "urn:zitadel:iam:org:projects:roles", "urn:zitadel:iam:user:resourceowner",
    ]
    static let rolesClaim = "urn:zitadel:iam:org:project:roles"
    static let resourceOwnerIDClaim = "urn:zitadel:iam:user:resourceowner:id"
    static let resourceOwnerNameClaim = "urn:zitadel:iam:user:resourceowner:name"
    static let resourceOwnerDomainClaim = "urn:zitadel:iam:user:resourceowner:primary_domain"

    public let configuration: MockZitadelConfiguration
    /// The seed as loaded; reset returns to it.
    public let seed: Seed
    /// The current directory state (the seed, until later services change it).
    public private(set) var state: Seed
    private var keys: [SigningKey] = []
    private var activeKids: [SigningAlgorithm: String] = [:]
    private var tokens: [String: TokenRecord] = [:]
    private var opaqueTokens: [String: String] = [:]
    private var journal: [JournalEntry] = []
    private var journalSequence = 0
    private var faults: [Fault] = []
    private var faultSequence = 0
    /// The port the HTTP server bound, once it runs.
    public private(set) var boundPort: Int?

    /// Creates the mock from a seed and generates one signing key per algorithm (RS256 is the default signer).
    public init(configuration: MockZitadelConfiguration = .init(), seed: Seed) throws {
        self.configuration = configuration
        self.seed = seed
        self.state = seed
        let generated = try SigningAlgorithm.allCases.map { try SigningKey.generate($0) }
        self.keys = generated
        self.activeKids = Dictionary(uniqueKeysWithValues: generated.map { ($0.algorithm, $0.kid) })
    }

    /// Loads the seed the configuration points at and creates the mock.
    public init(configuration: MockZitadelConfiguration) throws {
        try self.init(configuration: configuration, seed: Seed.load(from: configuration.resolvedSeedPath()))
    }

    func setBoundPort(_ port: Int) {
        boundPort = port
    }

    /// The issuer used when no request is at hand: the override, else `http://host:port` of the running server.
    public var defaultIssuer: String {
        if let issuerOverride = configuration.issuerOverride { return issuerOverride }
        let host = configuration.host == "0.0.0.0" ? "127.0.0.1" : configuration.host
        return "http://\(host):\(boundPort ?? configuration.port)"
    }

    // MARK: Users

    /// Seeded human users with their role names, for `GET /mock/admin/users`.
    public func adminUsers() -> [AdminUser] {
        state.users.map { user in
            var roles: [String] = []
            for grant in user.grants where !roles.contains(grant.role) {
                roles.append(grant.role)
            }
            return AdminUser(
                id: user.id,
                loginName: user.loginName,
                orgId: user.orgId,
                roles: roles,
                displayName: user.displayName,
                orgName: state.organisation(user.orgId)?.name,
                grants: user.grants
            )
        }
    }

    /// A seeded human user by id.
    public func user(id: String) -> Seed.User? {
        state.users.first { $0.id == id }
    }

    /// Restores the seed: users, tokens, faults and journal; keys only when asked, so running gateways stay valid.
    public func reset(keys resetKeys: Bool = false) throws {
        state = seed
        tokens = [:]
        opaqueTokens = [:]
        faults = []
        journal = []
        if resetKeys {
            let generated = try SigningAlgorithm.allCases.map { try SigningKey.generate($0) }
            keys = generated
            activeKids = Dictionary(uniqueKeysWithValues: generated.map { ($0.algorithm, $0.kid) })
        }
    }

    // MARK: Keys

    /// The published keys as a JWKS document.
    func jwks() throws -> JSONValue {
        .object(["keys": .array(try keys.filter(\.published).map { .object(try $0.jwk()) })])
    }

    /// Every key with its publication and activation state.
    public func keyInfos() -> [KeyInfo] {
        keys.map { KeyInfo(kid: $0.kid, alg: $0.algorithm, published: $0.published, active: activeKids[$0.algorithm] == $0.kid) }
    }

    /// Creates a key for `algorithm` and makes it that algorithm's signer; older keys stay in the JWKS.
    public func rotateKey(algorithm: SigningAlgorithm = .rs256, publish: Bool = true) throws -> KeyInfo {
        let key = try SigningKey.generate(algorithm, published: publish)
        keys.append(key)
        activeKids[algorithm] = key.kid
        return KeyInfo(kid: key.kid, alg: algorithm, published: publish, active: true)
    }

    /// Adds an unpublished key to the JWKS; `nil` for an unknown kid.
    public func publishKey(kid: String) -> KeyInfo? {
        guard let index = keys.firstIndex(where: { $0.kid == kid }) else { return nil }
        keys[index].published = true
        let key = keys[index]
        return KeyInfo(kid: kid, alg: key.algorithm, published: true, active: activeKids[key.algorithm] == kid)
    }

    /// Deletes a key: it leaves the JWKS and tokens it signed stop verifying. The newest remaining key of its
    /// algorithm becomes active if it was. Returns whether the key existed.
    public func deleteKey(kid: String) -> Bool {
        guard let index = keys.firstIndex(where: { $0.kid == kid }) else { return false }
        let removed = keys.remove(at: index)
        if activeKids[removed.algorithm] == kid {
            activeKids[removed.algorithm] = keys.last { $0.algorithm == removed.algorithm }?.kid
        }
        return true
    }

    // MARK: Tokens

    /// Mints an access token for a seeded user (or machine user) with the requested knobs.
    public func mintToken(_ request: TokenMintRequest, issuer: String? = nil) throws(AdminProblem) -> MintedToken {
        let now = Date()
        let issuer = request.issuer ?? issuer ?? defaultIssuer
        let subject: Subject
        if let user = user(id: request.userId) {
            subject = .human(user)
        } else if let machine = state.machineUsers.first(where: { $0.id == request.userId }) {
            subject = .machine(machine)
        } else {
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
        let lifetime = request.expiresIn ?? Self.defaultTokenLifetime
        let issuedAt = now.addingTimeInterval(TimeInterval(request.issuedAtIn ?? 0))
        let notBefore = request.notBeforeIn.map { now.addingTimeInterval(TimeInterval($0)) } ?? issuedAt
        let expiresAt = now.addingTimeInterval(TimeInterval(lifetime))
        let roles: JSONValue? = request.roles ?? subject.human.flatMap { rolesClaim(for: $0, orgFilter: request.orgId) }
        let record = TokenRecord(
            jti: RandomID.zitadelID(),
            format: request.format,
            userId: request.userId,
            clientId: seed.portalApplication?.clientId ?? "",
            audience: request.audience ?? state.projectAudience,
            issuer: issuer,
            scope: request.scope ?? Self.defaultScopes,
            issuedAt: issuedAt,
            notBefore: notBefore,
            expiresAt: expiresAt,
            authTime: issuedAt,
            amr: request.amr ?? ["pwd"],
            sessionId: RandomID.zitadelID(),
            roles: roles,
            revoked: false
        )
        let accessToken: String
        switch request.format {
        case .opaque:
            accessToken = RandomID.token()
            opaqueTokens[accessToken] = record.jti
        case .jwt:
            let key = try signingKey(kid: request.kid, algorithm: request.alg ?? .rs256)
            var header: [String: JSONValue] = ["alg": .string(key.algorithm.rawValue), "kid": .string(key.kid), "typ": "JWT"]
            header.merge(request.extraHeader ?? [:]) { _, new in new }
            var payload = jwtClaims(for: record, subject: subject)
            payload.merge(request.extraClaims ?? [:]) { _, new in new }
            for name in request.omitClaims ?? [] {
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
        return MintedToken(
            accessToken: accessToken, tokenType: "Bearer", expiresIn: lifetime, tokenId: record.jti, sessionId: record.sessionId)
    }

    private func signingKey(kid: String?, algorithm: SigningAlgorithm) throws(AdminProblem) -> SigningKey {
        if let kid {
            guard let key = keys.first(where: { $0.kid == kid }) else {
                throw AdminProblem(status: 400, code: "unknown_kid", title: "Unknown key", detail: "No signing key has kid \(kid).")
            }
            return key
        }
        guard let kid = activeKids[algorithm], let key = keys.first(where: { $0.kid == kid }) else {
            throw AdminProblem(
                status: 409,
                code: "no_signing_key",
                title: "No signing key",
                detail: "No active \(algorithm.rawValue) key; rotate one in with POST /mock/admin/keys/rotate."
            )
        }
        return key
    }

    /// Claims of a Zitadel v4 JWT access token: no `amr`, `sid`, `auth_time`, `azp` or `scope`.
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
        claims.merge(zitadelClaims(roles: record.roles, orgId: subject.orgId)) { _, new in new }
        return claims
    }

    /// The roles and resource-owner claims shared by JWTs, introspection and userinfo.
    private func zitadelClaims(roles: JSONValue?, orgId: String) -> [String: JSONValue] {
        var claims: [String: JSONValue] = [:]
        if let roles {
            claims[Self.rolesClaim] = roles
            claims["urn:zitadel:iam:org:project:\(state.project.id):roles"] = roles
        }
        if let org = state.organisation(orgId) {
            claims[Self.resourceOwnerIDClaim] = .string(org.id)
            claims[Self.resourceOwnerNameClaim] = .string(org.name)
            claims[Self.resourceOwnerDomainClaim] = .string(org.primaryDomain)
        }
        return claims
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
    private func record(for token: String) -> TokenRecord? {
        if let jti = opaqueTokens[token] { return tokens[jti] }
        guard let jws = CompactJWS(token),
            let kid = jws.header["kid"]?.stringValue,
            let key = keys.first(where: { $0.kid == kid }),
            jws.header["alg"]?.stringValue == key.algorithm.rawValue,
            key.isValidSignature(jws.signature, for: jws.signingInput),
            let jti = jws.payload["jti"]?.stringValue
        else { return nil }
        return tokens[jti]
    }

    /// The record if the token is ours and currently valid (not revoked, not expired, not before `nbf`).
    private func activeRecord(for token: String, now: Date = Date()) -> TokenRecord? {
        guard let record = record(for: token), !record.revoked, record.expiresAt > now, record.notBefore <= now else {
            return nil
        }
        return record
    }

    /// RFC 7662 introspection as Zitadel answers it; inactive also when the caller is not in the token's audience.
    func introspect(token: String, caller: AuthenticatedClient) -> [String: JSONValue] {
        guard let record = activeRecord(for: token),
            record.audience.contains(caller.clientId) || caller.projectId.map(record.audience.contains) == true
        else { return ["active": false] }
        let subject = self.subject(id: record.userId)
        var response: [String: JSONValue] = [
            "active": true,
            "scope": .string(record.scope.joined(separator: " ")),
            "client_id": .string(record.clientId),
            "token_type": "Bearer",
            "exp": .epoch(record.expiresAt),
            "iat": .epoch(record.issuedAt),
            "nbf": .epoch(record.notBefore),
            "auth_time": .epoch(record.authTime),
            "amr": .strings(record.amr),
            "aud": .strings(record.audience),
            "iss": .string(record.issuer),
            "jti": .string(record.jti),
            "sub": .string(record.userId),
            "sid": .string(record.sessionId),
        ]
        if let subject {
            response["username"] = .string(subject.preferredUsername)
            response.merge(userClaims(subject: subject, scope: record.scope)) { _, new in new }
            response.merge(zitadelClaims(roles: record.roles, orgId: subject.orgId)) { _, new in new }
        }
        return response
    }

    /// OIDC userinfo for an active token; `nil` when the token is not active.
    func userinfo(token: String) -> (claims: [String: JSONValue], userId: String)? {
        guard let record = activeRecord(for: token), let subject = subject(id: record.userId) else { return nil }
        var claims: [String: JSONValue] = ["sub": .string(subject.id)]
        claims.merge(userClaims(subject: subject, scope: record.scope)) { _, new in new }
        claims.merge(zitadelClaims(roles: record.roles, orgId: subject.orgId)) { _, new in new }
        return (claims, subject.id)
    }

    /// The user a token was issued to, for the journal; `nil` when the token is not ours.
    func userId(forToken token: String) -> String? {
        record(for: token)?.userId
    }

    /// Standard claims by scope; false booleans are omitted, as Zitadel does.
    private func userClaims(subject: Subject, scope: [String]) -> [String: JSONValue] {
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

    /// Revokes a token if the caller is in its audience (Zitadel's check); unknown tokens are ignored.
    func revoke(token: String, caller: AuthenticatedClient) throws(OAuthFailure) {
        guard let record = record(for: token) else { return }
        guard record.audience.contains(caller.clientId) else {
            throw OAuthFailure(status: 401, error: "invalid_client", description: "token was not issued for this client")
        }
        tokens[record.jti]?.revoked = true
    }

    /// Issues an opaque token for the client-credentials grant.
    func clientCredentialsToken(for client: AuthenticatedClient, scope: [String], issuer: String) -> (token: String, expiresIn: Int) {
        let now = Date()
        var audience = [client.clientId]
        for item in scope where item.hasPrefix("urn:zitadel:iam:org:project:id:") && item.hasSuffix(":aud") {
            let id = item.dropFirst("urn:zitadel:iam:org:project:id:".count).dropLast(":aud".count)
            audience.append(id == "zitadel" ? state.instance.id : String(id))
        }
        let record = TokenRecord(
            jti: RandomID.zitadelID(),
            format: .opaque,
            userId: client.machineUserId ?? client.clientId,
            clientId: client.clientId,
            audience: audience,
            issuer: issuer,
            scope: scope,
            issuedAt: now,
            notBefore: now,
            expiresAt: now.addingTimeInterval(TimeInterval(Self.defaultTokenLifetime)),
            authTime: now,
            amr: [],
            sessionId: RandomID.zitadelID(),
            roles: nil,
            revoked: false
        )
        let token = RandomID.token()
        tokens[record.jti] = record
        opaqueTokens[token] = record.jti
        return (token, Self.defaultTokenLifetime)
    }

    private func subject(id: String) -> Subject? {
        if let user = user(id: id) { return .human(user) }
        if let machine = state.machineUsers.first(where: { $0.id == id }) { return .machine(machine) }
        return nil
    }

    // MARK: Client authentication

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
        throw OAuthFailure(status: 401, error: "invalid_client", description: "client authentication failed")
    }

    /// Authenticates an application by `private_key_jwt`: RS256, `iss` = `sub` = client id, `aud` has the issuer,
    /// signed by a key registered on the application.
    func authenticate(assertion: String, issuer: String, now: Date = Date()) throws(OAuthFailure) -> AuthenticatedClient {
        let failure = OAuthFailure(status: 401, error: "invalid_client", description: "client assertion invalid")
        guard let jws = CompactJWS(assertion), jws.header["alg"]?.stringValue == "RS256",
            let clientId = jws.payload["iss"]?.stringValue, jws.payload["sub"]?.stringValue == clientId,
            let app = state.applications.first(where: { $0.clientId == clientId })
        else { throw failure }
        let registered = app.keys ?? []
        let kid = jws.header["kid"]?.stringValue
        let candidates = registered.filter { kid == nil || $0.keyId == kid }
        let verified = candidates.contains { entry in
            guard let key = try? _RSA.Signing.PublicKey(pemRepresentation: entry.publicKey) else { return false }
            return key.isValidSignature(
                _RSA.Signing.RSASignature(rawRepresentation: jws.signature),
                for: SHA256.hash(data: jws.signingInput),
                padding: .insecurePKCS1v1_5
            )
        }
        guard verified else { throw failure }
        let audience: [String] =
            jws.payload["aud"].map { $0.stringValue.map { [$0] } ?? ($0.arrayValue ?? []).compactMap(\.stringValue) } ?? []
        let trimmed = issuer.hasSuffix("/") ? String(issuer.dropLast()) : issuer
        guard audience.contains(where: { $0 == trimmed || $0 == trimmed + "/" }) else { throw failure }
        guard let exp = jws.payload["exp"]?.numberValue, exp > now.timeIntervalSince1970 else { throw failure }
        if let iat = jws.payload["iat"]?.numberValue, iat < now.timeIntervalSince1970 - 3600 { throw failure }
        return AuthenticatedClient(clientId: app.clientId, projectId: state.project.id, machineUserId: nil)
    }

    // MARK: Journal

    /// Appends a journal entry and returns its sequence number.
    func record(method: String, path: String, rpc: String?, at: Date = Date()) -> Int {
        journalSequence += 1
        journal.append(JournalEntry(sequence: journalSequence, method: method, path: path, rpc: rpc, userId: nil, at: at))
        return journalSequence
    }

    /// Completes a journal entry once the response is known.
    func complete(sequence: Int, status: Int?, userId: String?, faultId: String?) {
        guard let index = journal.lastIndex(where: { $0.sequence == sequence }) else { return }
        journal[index].status = status
        if let userId { journal[index].userId = userId }
        if let faultId { journal[index].faultId = faultId }
    }

    /// Journal entries, optionally filtered by path, method (case-insensitive) and time.
    public func journalEntries(path: String? = nil, method: String? = nil, since: Date? = nil) -> [JournalEntry] {
        journal.filter { entry in
            (path == nil || entry.path == path)
                && (method.map { entry.method.caseInsensitiveCompare($0) == .orderedSame } ?? true)
                && (since.map { entry.at >= $0 } ?? true)
        }
    }

    /// Empties the journal.
    public func clearJournal() {
        journal = []
    }

    // MARK: Faults

    /// Installs a fault and returns it with its id.
    public func addFault(_ spec: FaultSpec) -> Fault {
        faultSequence += 1
        let fault = Fault(id: "fault-\(faultSequence)", spec: spec, remaining: spec.times, hits: 0)
        faults.append(fault)
        return fault
    }

    /// Installed faults, including exhausted ones.
    public func listFaults() -> [Fault] {
        faults
    }

    /// Removes one fault; returns whether it existed.
    public func removeFault(id: String) -> Bool {
        guard let index = faults.firstIndex(where: { $0.id == id }) else { return false }
        faults.remove(at: index)
        return true
    }

    /// Removes every fault.
    public func removeAllFaults() {
        faults = []
    }

    /// Claims the first fault matching a request, counting the hit.
    func takeFault(method: String, path: String) -> Fault? {
        guard let index = faults.firstIndex(where: { $0.matches(method: method, path: path) }) else { return nil }
        faults[index].hits += 1
        if let remaining = faults[index].remaining { faults[index].remaining = remaining - 1 }
        return faults[index]
    }
}

/// Who an access token was issued to.
enum Subject {
    case human(Seed.User)
    case machine(Seed.MachineUser)

    var id: String {
        switch self {
        case .human(let user): user.id
        case .machine(let machine): machine.id
        }
    }

    var orgId: String {
        switch self {
        case .human(let user): user.orgId
        case .machine(let machine): machine.orgId
        }
    }

    var preferredUsername: String {
        switch self {
        case .human(let user): user.loginName
        case .machine(let machine): machine.userName
        }
    }

    var human: Seed.User? {
        if case .human(let user) = self { return user }
        return nil
    }
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
    let sessionId: String
    let roles: JSONValue?
    var revoked: Bool
}

/// A client that proved its identity at an OAuth endpoint.
struct AuthenticatedClient: Sendable {
    let clientId: String
    /// The project of an application client; machine users have none.
    let projectId: String?
    let machineUserId: String?
}

/// An error the admin API reports as `application/problem+json`.
public struct AdminProblem: Error, Sendable {
    public let status: Int
    public let code: String
    public let title: String
    public let detail: String
}

/// An OAuth error response (`{"error","error_description"}`).
struct OAuthFailure: Error, Sendable {
    let status: Int
    let error: String
    let description: String
}

/// Compares secrets without an early exit on the first differing byte.
func constantTimeEquals(_ lhs: String, _ rhs: String) -> Bool {
    let left = Array(lhs.utf8)
    let right = Array(rhs.utf8)
    var difference = UInt8(left.count == right.count ? 0 : 1)
    for index in 0..<max(left.count, right.count) {
        let a = index < left.count ? left[index] : 0
        let b = index < right.count ? right[index] : 0
        difference |= a ^ b
    }
    return difference == 0
}
