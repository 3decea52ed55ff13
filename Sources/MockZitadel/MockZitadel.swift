import Crypto
import Foundation
import _CryptoExtras

/// The mock Zitadel's state: seed, signing keys, tokens, sessions, call journal, injected faults and SMS outbox.
///
/// HTTP handlers and tests talk to it; everything mutable lives here so concurrent requests stay consistent.
/// The behaviour is split by concern: `+Tokens` (OIDC tokens and the code flow), `+Sessions` (the Session
/// service), `+UserService` (the User service), `+Observability` (journal, faults, SMS outbox).
public actor MockZitadel {
    /// Zitadel's default access-token lifetime (12 h).
    public static let defaultTokenLifetime = 43_200
    static let rolesScope = "urn:zitadel:iam:org:projects:roles"
    static let roleKeyScopePrefix = "urn:zitadel:iam:org:project:role:"
    static let resourceOwnerScope = "urn:zitadel:iam:user:resourceowner"
    /// The portal's documented scope list: what a minted token was requested with unless the request names others.
    static let defaultScopes = ["openid", "profile", "email", rolesScope, resourceOwnerScope]
    static let rolesClaim = "urn:zitadel:iam:org:project:roles"
    static let resourceOwnerIDClaim = "urn:zitadel:iam:user:resourceowner:id"
    static let resourceOwnerNameClaim = "urn:zitadel:iam:user:resourceowner:name"
    static let resourceOwnerDomainClaim = "urn:zitadel:iam:user:resourceowner:primary_domain"
    /// When seeded objects were "created": fixed so responses are stable across runs.
    static let seedDate = Date(timeIntervalSince1970: 1_736_931_600)  // 2025-01-15T09:00:00Z

    public let configuration: MockZitadelConfiguration
    /// The seed as loaded (or replaced through the admin API); reset returns to it.
    public private(set) var seed: Seed
    /// The current directory state: the seed plus every change made through the APIs and pages.
    public internal(set) var state: Seed
    var keys: [SigningKey] = []
    var activeKids: [SigningAlgorithm: String] = [:]
    var tokens: [String: TokenRecord] = [:]
    var opaqueTokens: [String: String] = [:]
    var refreshTokens: [String: RefreshTokenRecord] = [:]
    var sessions: [String: SessionRecord] = [:]
    var authRequests: [String: AuthRequestRecord] = [:]
    var authCodes: [String: AuthCodeRecord] = [:]
    /// Pending phone verification codes by user id.
    var phoneCodes: [String: PendingCode] = [:]
    /// The instance's generator for phone verification codes (Zitadel's `SecretGeneratorTypeVerifyPhoneCode`).
    public private(set) var phoneCodeGenerator = SecretGeneratorConfig()
    /// Users whose phone was verified at some point and not removed since (the OTP SMS write model's view).
    var phoneVerifiedOnce: Set<String> = []
    /// Creation, change date and sequence of each user, for `details` objects.
    var objectMeta: [String: ObjectMeta] = [:]
    /// The instance-wide event sequence; every write bumps it.
    var eventSequence: Int64 = 0
    var smsOutbox: [SMSMessage] = []
    var journal: [JournalEntry] = []
    var journalSequence = 0
    var faults: [Fault] = []
    var faultSequence = 0
    var backChannelDeliveries: [BackChannelLogoutDelivery] = []
    var backChannelSequence = 0
    /// The port the HTTP server bound, once it runs.
    public private(set) var boundPort: Int?

    /// Creates the mock from a seed and generates one signing key per algorithm (RS256 is the default signer).
    public init(configuration: MockZitadelConfiguration = .init(), seed: Seed) throws {
        try seed.validate()
        self.configuration = configuration
        self.seed = seed
        self.state = seed
        let generated = try SigningAlgorithm.allCases.map { try SigningKey.generate($0) }
        self.keys = generated
        self.activeKids = Dictionary(uniqueKeysWithValues: generated.map { ($0.algorithm, $0.kid) })
        self.objectMeta = Self.initialMeta(for: seed)
        self.eventSequence = Int64(objectMeta.count * 10)
        self.phoneVerifiedOnce = Self.verifiedPhones(in: seed)
    }

    private static func verifiedPhones(in seed: Seed) -> Set<String> {
        Set(seed.users.filter { $0.phone?.verified == true }.map(\.id))
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

    /// Seeded objects get stable creation dates and sequences.
    private static func initialMeta(for seed: Seed) -> [String: ObjectMeta] {
        var meta: [String: ObjectMeta] = [:]
        let ids = seed.users.map(\.id) + seed.machineUsers.map(\.id)
        for (index, id) in ids.enumerated() {
            let sequence = Int64(index * 10 + 5)
            meta[id] = ObjectMeta(creationDate: seedDate, changeDate: seedDate, sequence: sequence)
        }
        return meta
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

    /// A human user by id, in its current state.
    public func user(id: String) -> Seed.User? {
        state.users.first { $0.id == id }
    }

    /// A human user by login name (case-insensitive, as Zitadel matches login names).
    func user(loginName: String) -> Seed.User? {
        state.users.first { $0.loginName.caseInsensitiveCompare(loginName) == .orderedSame }
    }

    func machineUser(id: String) -> Seed.MachineUser? {
        state.machineUsers.first { $0.id == id }
    }

    func subject(id: String) -> Subject? {
        if let user = user(id: id) { return .human(user) }
        if let machine = machineUser(id: id) { return .machine(machine) }
        return nil
    }

    /// Applies a change to a human user and records it as a new event; returns the new `details`.
    @discardableResult
    func modifyUser<E: Error>(_ id: String, _ change: (inout Seed.User) throws(E) -> Void) throws(E) -> JSONValue {
        guard let index = state.users.firstIndex(where: { $0.id == id }) else { return [:] }
        try change(&state.users[index])
        return touch(id)
    }

    /// Bumps the instance sequence for an object and returns its `details`.
    @discardableResult
    func touch(_ id: String, at date: Date = Date()) -> JSONValue {
        eventSequence += 1
        var meta = objectMeta[id] ?? ObjectMeta(creationDate: date, changeDate: date, sequence: 0)
        meta.changeDate = date
        meta.sequence = eventSequence
        objectMeta[id] = meta
        return details(for: id)
    }

    /// Zitadel's `Details`: `{sequence, changeDate, resourceOwner}` (creation date only where Zitadel sets it).
    func details(for id: String, includeCreation: Bool = false) -> JSONValue {
        let meta = objectMeta[id] ?? ObjectMeta(creationDate: Self.seedDate, changeDate: Self.seedDate, sequence: 0)
        var details: [String: JSONValue] = ["changeDate": .timestamp(meta.changeDate)]
        if meta.sequence != 0 { details["sequence"] = .int64String(meta.sequence) }
        if let orgId = subject(id: id)?.orgId { details["resourceOwner"] = .string(orgId) }
        if includeCreation { details["creationDate"] = .timestamp(meta.creationDate) }
        return .object(details)
    }

    /// Changes a user through the admin API; `false` for an unknown id.
    public func adminUpdateUser(_ id: String, _ change: @Sendable (inout Seed.User) -> Void) -> Bool {
        guard user(id: id) != nil else { return false }
        modifyUser(id, change)
        if let phone = user(id: id)?.phone {
            if phone.verified { phoneVerifiedOnce.insert(id) }
        } else {
            phoneVerifiedOnce.remove(id)
        }
        return true
    }

    // MARK: Seed and reset

    /// Restores the seed: users, tokens, sessions, faults, journal and outbox; keys only when asked,
    /// so that running gateways stay valid.
    public func reset(keys resetKeys: Bool = false) throws {
        state = seed
        tokens = [:]
        opaqueTokens = [:]
        refreshTokens = [:]
        sessions = [:]
        authRequests = [:]
        authCodes = [:]
        phoneCodes = [:]
        phoneCodeGenerator = SecretGeneratorConfig()
        phoneVerifiedOnce = Self.verifiedPhones(in: seed)
        smsOutbox = []
        faults = []
        journal = []
        backChannelDeliveries = []
        objectMeta = Self.initialMeta(for: seed)
        eventSequence = Int64(objectMeta.count * 10)
        if resetKeys {
            let generated = try SigningAlgorithm.allCases.map { try SigningKey.generate($0) }
            keys = generated
            activeKids = Dictionary(uniqueKeysWithValues: generated.map { ($0.algorithm, $0.kid) })
        }
    }

    /// Changes how phone verification codes are generated, as an instance administrator can in Zitadel.
    public func setPhoneCodeGenerator(_ generator: SecretGeneratorConfig) {
        phoneCodeGenerator = generator
    }

    /// Replaces the seed (checked first) and resets to it.
    public func replaceSeed(_ newSeed: Seed) throws {
        try newSeed.validate()
        seed = newSeed
        try reset()
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

    func signingKey(kid: String?, algorithm: SigningAlgorithm) throws(AdminProblem) -> SigningKey {
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

    /// Verifies a JWS signed by one of the mock's keys (published or not) and returns its payload.
    func verifiedPayload(_ token: String) -> [String: JSONValue]? {
        guard let jws = CompactJWS(token),
            let kid = jws.header["kid"]?.stringValue,
            let key = keys.first(where: { $0.kid == kid }),
            jws.header["alg"]?.stringValue == key.algorithm.rawValue,
            key.isValidSignature(jws.signature, for: jws.signingInput)
        else { return nil }
        return jws.payload
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

/// Creation and change of a directory object, for Zitadel's `details`.
struct ObjectMeta: Sendable {
    var creationDate: Date
    var changeDate: Date
    var sequence: Int64
}

/// A phone verification code waiting to be entered.
struct PendingCode: Sendable {
    let code: String
    let createdAt: Date
    let expiresAt: Date
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
