import Foundation

/// The mock's initial state, decoded from `Mocks/seed.json`; `POST /mock/admin/reset` returns to it.
public struct Seed: Codable, Sendable {
    public var instance: Instance
    public var organisations: [Organisation]
    public var project: Project
    public var applications: [Application]
    public var machineUsers: [MachineUser]
    public var users: [User]

    /// The Zitadel instance the mock pretends to be.
    public struct Instance: Codable, Sendable {
        public var id: String
        public var name: String
        public var defaultLanguage: String
    }

    /// An organisation; `kind` is informational (`owner`, `client`, `partner`).
    public struct Organisation: Codable, Sendable {
        public var id: String
        public var name: String
        public var primaryDomain: String
        public var kind: String?
    }

    /// The portal's Zitadel project and its role keys.
    public struct Project: Codable, Sendable {
        public var id: String
        public var name: String
        public var orgId: String
        public var roles: [Role]
        /// Zitadel's project setting "assert roles on authentication": role claims in userinfo and introspection
        /// even when the client did not request `urn:zitadel:iam:org:projects:roles` (default off).
        public var projectRoleAssertion: Bool?

        public struct Role: Codable, Sendable {
            public var key: String
            public var displayName: String
        }
    }

    /// An OIDC or API application in the project.
    public struct Application: Codable, Sendable {
        public var appId: String
        public var clientId: String
        public var name: String
        /// `oidc` or `api`.
        public var type: String
        /// `none`, `client_secret_basic` or `private_key_jwt`.
        public var authMethod: String
        public var clientSecret: String?
        /// Zitadel's OIDC app `accessTokenType`: `bearer` (opaque, Zitadel's default) or `jwt`.
        public var accessTokenType: String?
        public var redirectUris: [String]?
        public var postLogoutRedirectUris: [String]?
        /// Public keys registered for `private_key_jwt`.
        public var keys: [ApplicationKey]?
        /// Zitadel's `accessTokenRoleAssertion`: role claims in JWT access tokens (default off, as in Zitadel).
        public var accessTokenRoleAssertion: Bool?
        /// Zitadel's `idTokenRoleAssertion`: role claims in ID tokens (default off).
        public var idTokenRoleAssertion: Bool?
        /// Zitadel's `idTokenUserinfoAssertion`: profile, email and phone claims in ID tokens (default off).
        public var idTokenUserinfoAssertion: Bool?
        /// Zitadel's `backChannelLogoutUri`: where the mock POSTs a `logout_token` when a session this application
        /// holds tokens of ends (OIDC Back-Channel Logout 1.0).
        public var backChannelLogoutUri: String?
        /// Opt-in, not Zitadel's behaviour: claims a deployment's Zitadel Action copies into JWT access tokens
        /// (`amr`, `auth_time`, `sid`). Zitadel itself never puts them there.
        public var accessTokenActionClaims: [String]?
    }

    /// A public key registered on an application (Zitadel "app key").
    public struct ApplicationKey: Codable, Sendable {
        public var keyId: String
        /// PEM, SubjectPublicKeyInfo.
        public var publicKey: String
        /// Where the matching Zitadel key file lives, relative to the repository root.
        public var keyFile: String?
    }

    /// A machine (service) user; it authenticates with `userName` and `clientSecret` at the token endpoint, or
    /// with one of its personal access tokens as a bearer token on the v2 APIs.
    public struct MachineUser: Codable, Sendable {
        public var id: String
        public var userName: String
        public var orgId: String
        public var name: String
        public var clientSecret: String?
        /// Zitadel manager roles: `IAM_OWNER`/`IAM_USER_MANAGER` manage every organisation's users,
        /// `ORG_OWNER`/`ORG_USER_MANAGER` their own organisation's; none means the user may act on itself only.
        public var managerRoles: [String]?
        public var personalAccessTokens: [PersonalAccessToken]?
        /// Public keys of the machine user's key files, for the JWT-profile grant.
        public var keys: [ApplicationKey]?
    }

    /// A personal access token of a machine user (development values only).
    public struct PersonalAccessToken: Codable, Sendable {
        public var id: String
        public var token: String
        /// RFC 3339; none means it does not expire.
        public var expirationDate: String?
    }

    /// A human user with portal role grants and MFA factor states.
    public struct User: Codable, Sendable {
        public var id: String
        public var userName: String
        public var loginName: String
        public var orgId: String
        public var givenName: String
        public var familyName: String
        public var displayName: String
        public var email: Email
        public var phone: Phone?
        public var preferredLanguage: String
        public var grants: [Grant]
        public var mfa: MFA
        /// `USER_STATE_ACTIVE` when absent.
        public var state: String?
        /// User metadata as plain text (the APIs serve it base64-encoded), e.g. the portal's MFA policy key.
        public var metadata: [String: String]?
        /// Whether the user has a password (default true); passwordless users list no `PASSWORD` method.
        public var passwordSet: Bool?

        public struct Email: Codable, Sendable {
            public var address: String
            public var verified: Bool
        }

        public struct Phone: Codable, Sendable {
            public var number: String
            public var verified: Bool
        }

        /// One project role granted in one organisation.
        public struct Grant: Codable, Sendable, Hashable {
            public var role: String
            public var orgId: String
        }
    }

    /// A user's second-factor state, in Zitadel's vocabulary (`READY`, `NOT_READY`).
    public struct MFA: Codable, Sendable {
        public var totp: FactorState?
        public var otpSms: Bool
        public var otpEmail: Bool
        public var passkeys: [Authenticator]
        public var u2f: [Authenticator]
        public var recoveryCodes: RecoveryCodes?
        public var mfaInitSkipped: Bool?
        /// When the user skipped MFA set-up (RFC 3339); the seed date when only `mfaInitSkipped` is set.
        public var mfaInitSkippedAt: String?

        /// A TOTP registration: `NOT_READY` until verified; `secret` (base32) lets the mock check codes.
        public struct FactorState: Codable, Sendable {
            public var state: String
            public var secret: String?
        }

        /// A passkey or security key with its device label.
        public struct Authenticator: Codable, Sendable {
            public var id: String
            public var name: String
            public var state: String
        }

        /// A recovery-code set: the codes (dev only); the first `used` of them are spent. `acknowledged` is
        /// informational (the portal, not Zitadel, records acknowledgements).
        public struct RecoveryCodes: Codable, Sendable {
            public var codes: [String]
            public var used: Int
            public var acknowledged: Bool?

            /// Codes still usable at sign-in.
            public var remaining: [String] { Array(codes.dropFirst(max(0, used))) }
        }
    }
}

extension Seed {
    /// Reads and decodes a seed file, saying which file and why when it fails.
    public static func load(from path: String) throws -> Seed {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw MockZitadelError.seedUnreadable(path: path, reason: "\(error)")
        }
        do {
            let seed = try MockJSON.decode(Seed.self, from: data)
            try seed.validate()
            return seed
        } catch let error as MockZitadelError {
            throw error
        } catch {
            throw MockZitadelError.seedUnreadable(path: path, reason: "\(error)")
        }
    }

    /// The claims an opt-in Actions enrichment may add to JWT access tokens.
    static let actionClaimNames: Set<String> = ["amr", "auth_time", "sid"]

    /// Checks the references inside the seed so that handlers can rely on them.
    func validate() throws {
        let orgIds = Set(organisations.map(\.id))
        for user in users {
            guard orgIds.contains(user.orgId) else {
                throw MockZitadelError.invalidSeed("user \(user.id) belongs to unknown organisation \(user.orgId)")
            }
            for grant in user.grants where !orgIds.contains(grant.orgId) {
                throw MockZitadelError.invalidSeed("user \(user.id) has a grant in unknown organisation \(grant.orgId)")
            }
        }
        for machine in machineUsers where !orgIds.contains(machine.orgId) {
            throw MockZitadelError.invalidSeed("machine user \(machine.id) belongs to unknown organisation \(machine.orgId)")
        }
        let ids = users.map(\.id) + machineUsers.map(\.id)
        guard Set(ids).count == ids.count else { throw MockZitadelError.invalidSeed("duplicate user ids") }
        let loginNames = users.map { $0.loginName.lowercased() }
        guard Set(loginNames).count == loginNames.count else { throw MockZitadelError.invalidSeed("duplicate login names") }
        let pats = machineUsers.flatMap { $0.personalAccessTokens ?? [] }.map(\.token)
        guard Set(pats).count == pats.count, !pats.contains("") else {
            throw MockZitadelError.invalidSeed("personal access tokens must be unique and non-empty")
        }
        for user in users {
            if let codes = user.mfa.recoveryCodes, !(0...codes.codes.count).contains(codes.used) {
                throw MockZitadelError.invalidSeed("user \(user.id) has used more recovery codes than it has")
            }
        }
        guard !applications.isEmpty else { throw MockZitadelError.invalidSeed("no applications") }
        for app in applications {
            for claim in app.accessTokenActionClaims ?? [] where !Self.actionClaimNames.contains(claim) {
                throw MockZitadelError.invalidSeed("application \(app.clientId): accessTokenActionClaims may name amr, auth_time, sid")
            }
        }
    }

    /// The organisation with this id.
    func organisation(_ id: String) -> Organisation? {
        organisations.first { $0.id == id }
    }

    /// The portal's OIDC app: the first `oidc` application, else the first application.
    var portalApplication: Application? {
        applications.first { $0.type == "oidc" } ?? applications.first
    }

    /// An application by client id.
    func application(clientId: String) -> Application? {
        applications.first { $0.clientId == clientId }
    }

    /// `aud` of tokens issued in the project: every app's client id, then the project id (as Zitadel does).
    var projectAudience: [String] {
        var audience = applications.map(\.clientId)
        if let portal = portalApplication?.clientId, let index = audience.firstIndex(of: portal), index != 0 {
            audience.remove(at: index)
            audience.insert(portal, at: 0)
        }
        audience.append(project.id)
        return audience
    }
}

/// Errors raised while setting the mock up.
public enum MockZitadelError: Error, CustomStringConvertible, Sendable {
    case seedNotFound(tried: [String])
    case seedUnreadable(path: String, reason: String)
    case invalidSeed(String)
    case keyGeneration(String)
    case serverDidNotStart

    public var description: String {
        switch self {
        case .seedNotFound(let tried):
            "Mock Zitadel seed file not found; tried: \(tried.joined(separator: ", ")). Pass a seed file path or run from the repository root."
        case .seedUnreadable(let path, let reason):
            "Mock Zitadel seed file \(path) could not be read: \(reason)"
        case .invalidSeed(let reason):
            "Mock Zitadel seed is inconsistent: \(reason)"
        case .keyGeneration(let reason):
            "Mock Zitadel could not generate a signing key: \(reason)"
        case .serverDidNotStart:
            "Mock Zitadel's server stopped before it started listening."
        }
    }
}
