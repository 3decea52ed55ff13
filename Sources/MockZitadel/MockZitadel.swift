import Foundation

/// The mock Zitadel's state: seed, signing keys, tokens, sessions, call journal, injected faults and SMS outbox.
///
/// HTTP handlers and tests talk to it; everything mutable lives here so concurrent requests stay consistent.
/// The behaviour lives in folders by surface: `OIDC/` (tokens, the code flow, keys, client authentication,
/// back-channel logout), `UserService/` and `SessionService/` (one file per group of RPCs, each handler named as
/// its RPC), `V2API/` (both wire forms and the dispatch), `Pages/`, `Admin/` (the admin API, journal, faults, SMS
/// outbox), `Seed/`.
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
}
