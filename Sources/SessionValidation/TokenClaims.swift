import Foundation
import GatewayCore

/// A JSON object key that is not known in advance (Zitadel's per-project roles claim).
struct DynamicKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(_ string: String) { self.stringValue = string }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

/// The JOSE header fields the gateway's policy looks at, read by `ClaimsParser.parseHeader`. `jku`, `x5u`, `jwk`
/// and `x5c` are type-checked and ignored: never fetched, never trusted.
struct JOSEHeader: Sendable, Equatable {
    var alg: String
    var kid: String?
    var typ: String?
    var hasCritical: Bool
}

/// Claims common to JWT access tokens and introspection responses, as Zitadel emits them.
public struct TokenClaims: Decodable, Sendable, Equatable {
    public var issuer: String?
    public var subject: String?
    public var audience: [String]
    public var expiresAt: Double?
    public var notBefore: Double?
    public var issuedAt: Double?
    public var authTime: Double?
    public var tokenId: String?
    public var clientId: String?
    public var amr: [String]?
    public var sessionId: String?
    public var username: String?
    /// The portal project's role grants only (`resolvePortalRoles`); empty until the issuer is known.
    public var roles: RoleGrants
    /// What parsing found that only verification needs; nil when nothing, and dropped once roles are resolved.
    var parsed: ParsedOnly?
    /// `azp`: Zitadel puts it in ID tokens (zitadel/oidc `NewIDTokenClaims`), never in access tokens.
    public var authorizedParty: String?
    /// `at_hash` (ID tokens: OIDC Core 3.1.3.6).
    public var accessTokenHash: String?
    public var nonce: String?

    /// Raw role claims and token-kind markers, kept from parsing until the issuer's policy has used them.
    struct ParsedOnly: Sendable, Equatable {
        /// `urn:zitadel:iam:org:project:roles`: the roles of the project of the client that asked (Zitadel
        /// `internal/api/oidc/userinfo.go`, `setUserInfoRoleClaims`), whichever project that is.
        var clientProjectRoles = RoleGrants()
        /// `urn:zitadel:iam:org:project:{projectId}:roles`, by project id.
        var projectRoles: [String: RoleGrants] = [:]
        /// `nonce`, `at_hash` or `c_hash` is present at all (whatever its type): members only an ID token has.
        var hasIDTokenMember = false
        /// `events` names the back-channel logout event with an object value (Back-Channel Logout 1.0, 2.4).
        var hasBackChannelLogoutEvent = false
    }

    var hasIDTokenMember: Bool { parsed?.hasIDTokenMember ?? false }
    var hasBackChannelLogoutEvent: Bool { parsed?.hasBackChannelLogoutEvent ?? false }

    /// Records what only verification needs (allocated only for tokens that have some).
    mutating func noteParsed(_ change: (inout ParsedOnly) -> Void) {
        var value = parsed ?? ParsedOnly()
        change(&value)
        parsed = value
    }
    public var resourceOwnerId: String?
    public var resourceOwnerName: String?
    public var resourceOwnerDomain: String?
    /// RFC 7662 `active`; absent in a JWT.
    public var active: Bool?

    static let rolesKey = "urn:zitadel:iam:org:project:roles"
    static let backChannelLogoutEvent = "http://schemas.openid.net/event/backchannel-logout"
    static let projectRolesPrefix = "urn:zitadel:iam:org:project:"
    static let projectRolesSuffix = ":roles"

    /// Empty claims, filled in by `ClaimsParser`.
    init() {
        audience = []
        roles = RoleGrants()
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: DynamicKey.self)
        func string(_ key: String) -> String? { try? container.decodeIfPresent(String.self, forKey: DynamicKey(key)) }
        func number(_ key: String) throws -> Double? {
            let codingKey = DynamicKey(key)
            guard container.contains(codingKey), try !container.decodeNil(forKey: codingKey) else { return nil }
            let seconds = try container.decode(Double.self, forKey: codingKey)
            guard NumericDate.isValid(seconds) else {
                throw DecodingError.dataCorruptedError(forKey: codingKey, in: container, debugDescription: "date out of range")
            }
            return seconds
        }
        issuer = string("iss")
        subject = string("sub")
        if let single = try? container.decodeIfPresent(String.self, forKey: DynamicKey("aud")) {
            audience = [single]
        } else {
            audience = (try? container.decodeIfPresent([String].self, forKey: DynamicKey("aud"))) ?? []
        }
        // Time claims must be numbers when present: a string `exp` is a malformed token, not a missing one.
        expiresAt = try number("exp")
        notBefore = try number("nbf")
        issuedAt = try number("iat")
        // `auth_time` of another type reads as absent; a number must be a valid date.
        if (try? container.decodeIfPresent(Double.self, forKey: DynamicKey("auth_time"))) != nil {
            authTime = try number("auth_time")
        } else {
            authTime = nil
        }
        tokenId = string("jti")
        clientId = string("client_id")
        amr = try? container.decodeIfPresent([String].self, forKey: DynamicKey("amr"))
        sessionId = string("sid")
        username = string("username")
        resourceOwnerId = string("urn:zitadel:iam:user:resourceowner:id")
        resourceOwnerName = string("urn:zitadel:iam:user:resourceowner:name")
        resourceOwnerDomain = string("urn:zitadel:iam:user:resourceowner:primary_domain")
        active = try? container.decodeIfPresent(Bool.self, forKey: DynamicKey("active"))
        authorizedParty = string("azp")
        accessTokenHash = string("at_hash")
        nonce = string("nonce")
        roles = RoleGrants()
        if ["nonce", "at_hash", "c_hash"].contains(where: { container.contains(DynamicKey($0)) }) {
            noteParsed { $0.hasIDTokenMember = true }
        }
        if (try? container.nestedContainer(keyedBy: DynamicKey.self, forKey: DynamicKey("events"))
            .nestedContainer(keyedBy: DynamicKey.self, forKey: DynamicKey(Self.backChannelLogoutEvent))) != nil
        {
            noteParsed { $0.hasBackChannelLogoutEvent = true }
        }
        for key in container.allKeys {
            guard let project = Self.roleClaimProject(key.stringValue),
                let value = try? container.decode([String: [String: String]].self, forKey: key)
            else { continue }
            noteRoles(value, project: project)
        }
    }

    /// A well-formed roles claim of `project` ("" for the generic claim).
    mutating func noteRoles(_ grants: [String: [String: String]], project: String) {
        noteParsed { parsed in
            if project.isEmpty {
                parsed.clientProjectRoles.merge(grants)
            } else {
                parsed.projectRoles[project, default: RoleGrants()].merge(grants)
            }
        }
    }

    /// For a roles claim name, the project it names: "" for the generic claim, nil for any other claim.
    static func roleClaimProject(_ name: String) -> String? {
        if name == rolesKey { return "" }
        guard name.hasPrefix(projectRolesPrefix), name.hasSuffix(projectRolesSuffix),
            name.utf8.count > projectRolesPrefix.utf8.count + projectRolesSuffix.utf8.count,
            !name.hasPrefix(projectRolesPrefix + "id:")
        else { return nil }
        return String(name.dropFirst(projectRolesPrefix.count).dropLast(projectRolesSuffix.count))
    }

    /// Whether a bearer JWT is shaped like an ID token rather than an access token. Zitadel's JWT access token
    /// (zitadel/oidc `pkg/oidc/token.go` `NewAccessTokenClaims`, built by Zitadel's `internal/api/oidc/token.go`
    /// `createJWT` and zitadel/oidc `pkg/op/token.go` `CreateJWT`) always carries `jti` (the token id) and never
    /// `nonce`, `at_hash` or `c_hash`; its ID token (`NewIDTokenClaims`, `createIDToken`, `CreateIDToken`)
    /// never carries `jti`, and `nonce`, `at_hash` and `c_hash` exist only in `IDTokenClaims`.
    public var isShapedLikeIDToken: Bool { hasIDTokenMember || tokenId == nil }

    /// Keeps only the portal project's roles: its own claim, and the generic claim only when the token's client
    /// (`client_id`, else `azp`) is one of the portal project's applications, since Zitadel fills the generic
    /// claim with the roles of the asking client's project. A same-named role of another project never counts.
    public mutating func resolvePortalRoles(projectId: String, portalClients: [String]) {
        var grants = parsed?.projectRoles[projectId] ?? RoleGrants()
        if let client = clientId ?? authorizedParty, portalClients.contains(client), let generic = parsed?.clientProjectRoles {
            grants.merge(generic.grants)
        }
        roles = grants
        parsed = nil
    }
}
