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
    public var roles: RoleGrants
    public var resourceOwnerId: String?
    public var resourceOwnerName: String?
    public var resourceOwnerDomain: String?
    /// RFC 7662 `active`; absent in a JWT.
    public var active: Bool?

    static let rolesKey = "urn:zitadel:iam:org:project:roles"
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
        var grants = RoleGrants()
        for key in container.allKeys where key.stringValue.hasPrefix(Self.projectRolesPrefix) {
            let name = key.stringValue
            guard name == Self.rolesKey || (name.hasSuffix(Self.projectRolesSuffix) && !name.hasPrefix(Self.projectRolesPrefix + "id:"))
            else { continue }
            if let value = try? container.decode([String: [String: String]].self, forKey: key) {
                grants.merge(value)
            }
        }
        roles = grants
    }
}
