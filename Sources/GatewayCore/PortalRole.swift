/// A role the AiDial portal understands, as granted in Zitadel's project roles claim.
public enum PortalRole: String, Sendable, CaseIterable, Codable, Comparable {
    case clientAdmin = "client_admin"
    case clientManager = "client_manager"
    case clientStaff = "client_staff"
    case partnerAdmin = "partner_admin"
    case partnerUser = "partner_user"

    /// Partners work across the client organisations they are granted in; customers in their own only.
    public var isPartner: Bool { self == .partnerAdmin || self == .partnerUser }

    /// Higher rank wins when a principal holds several roles in one tenant.
    public var rank: Int {
        switch self {
        case .clientStaff: 1
        case .clientManager: 2
        case .clientAdmin: 3
        case .partnerUser: 4
        case .partnerAdmin: 5
        }
    }

    public static func < (lhs: PortalRole, rhs: PortalRole) -> Bool { lhs.rank < rhs.rank }
}

/// One organisation a role is granted in: Zitadel reports `{orgId: orgPrimaryDomain}`.
public struct OrganisationRef: Sendable, Hashable, Codable {
    public var orgId: String
    public var domain: String?

    public init(orgId: String, domain: String?) {
        self.orgId = orgId
        self.domain = domain
    }
}

/// Role grants as read from Zitadel's roles claims: role key -> org id -> org primary domain.
public struct RoleGrants: Sendable, Equatable {
    public var grants: [String: [String: String]]

    public init(_ grants: [String: [String: String]] = [:]) {
        self.grants = grants
    }

    /// Merges another claim's grants (the generic and per-project forms may both be present).
    public mutating func merge(_ other: [String: [String: String]]) {
        for (role, orgs) in other {
            grants[role, default: [:]].merge(orgs) { current, _ in current }
        }
    }

    /// The portal roles granted, per organisation id; non-portal role keys are ignored.
    public var portalRolesByOrg: [String: Set<PortalRole>] {
        var result: [String: Set<PortalRole>] = [:]
        for (key, orgs) in grants {
            guard let role = PortalRole(rawValue: key) else { continue }
            for orgId in orgs.keys {
                result[orgId, default: []].insert(role)
            }
        }
        return result
    }

    /// The primary domain Zitadel reported for an org, if any grant names it.
    public func domain(of orgId: String) -> String? {
        for orgs in grants.values {
            if let domain = orgs[orgId] { return domain }
        }
        return nil
    }
}
