import Foundation

/// Who called a v2 API: resolved from a personal access token or an access token the mock issued.
struct APICaller: Sendable {
    let userId: String
    /// Organisations the caller manages users in; `nil` for instance-wide managers (IAM roles).
    let managedOrgs: Set<String>?
    let isManager: Bool
    /// Whether the caller's roles carry `user.credential.write` (owners do; user managers do not).
    let writesCredentials: Bool
    /// The session of the caller's token, if it has one (PATs and machine tokens do not).
    let sessionId: String?

    /// Whether the caller holds a membership (any manager role) covering an organisation.
    func isMember(of orgId: String?) -> Bool {
        guard isManager else { return false }
        guard let managedOrgs else { return true }
        return orgId.map(managedOrgs.contains) ?? false
    }

    /// Whether the caller holds manager permissions (`user.write`, `session.delete`, …) in an organisation.
    func manages(orgId: String?) -> Bool {
        isMember(of: orgId)
    }
}

/// The permission an RPC needs on another user (Zitadel's `domain.Permission*`).
enum UserPermission: Sendable {
    /// `user.read` / `user.write`: every manager role has them.
    case user
    /// `user.credential.write`: second factors, passkeys, recovery codes (owners only).
    case credential
}
/// Caller resolution and Zitadel's permission rules for the v2 APIs.
extension MockZitadel {
    /// Resolves `Authorization: Bearer` to a caller: a seeded personal access token, or an active access token
    /// the mock issued (to a machine user, or a human acting on their own id).
    func apiCaller(bearer: String?, now: Date = Date()) throws(ZitadelError) -> APICaller {
        // Zitadel's auth interceptor (`internal/api/grpc/server/middleware/auth_interceptor.go`): no header at all is
        // Unauthenticated "auth header missing" without an error id.
        guard let bearer, !bearer.isEmpty else { throw ZitadelError(.unauthenticated, nil, "auth header missing") }
        for machine in state.machineUsers {
            for pat in machine.personalAccessTokens ?? [] where constantTimeEquals(pat.token, bearer) {
                if let expiry = pat.expirationDate.flatMap(Timestamp.parse), expiry <= now { throw .unauthenticated() }
                return caller(userId: machine.id, sessionId: nil)
            }
        }
        guard let record = activeRecord(for: bearer, now: now) else { throw .unauthenticated() }
        return caller(userId: record.userId, sessionId: record.sessionId)
    }

    private func caller(userId: String, sessionId: String?) -> APICaller {
        let roles = Set(machineUser(id: userId)?.managerRoles ?? [])
        let instanceWide = !roles.isDisjoint(with: ["IAM_OWNER", "IAM_USER_MANAGER", "IAM_ADMIN_IMPERSONATOR"])
        let orgWide = !roles.isDisjoint(with: ["ORG_OWNER", "ORG_USER_MANAGER"])
        let orgId = subject(id: userId)?.orgId
        return APICaller(
            userId: userId,
            managedOrgs: instanceWide ? nil : Set([orgId].compactMap(\.self)),
            isManager: instanceWide || orgWide,
            // cmd/defaults.yaml RolePermissionMappings: IAM_/ORG_USER_MANAGER lack `user.credential.write`.
            writesCredentials: !roles.isDisjoint(with: ["IAM_OWNER", "ORG_OWNER"]),
            sessionId: sessionId
        )
    }

    /// Zitadel's check (`internal/api/authz/permissions.go`, `internal/command/permission_checks.go`): the caller
    /// acts on their own id (where the RPC allows it); otherwise no membership covering the user's organisation is
    /// NotFound `AUTHZ-cdgFk`, a membership without the permission PermissionDenied `AUTH-AWfge`.
    func authorize(
        _ caller: APICaller, userId: String, allowSelf: Bool = true, permission: UserPermission = .user
    ) throws(ZitadelError) {
        if allowSelf, caller.userId == userId { return }
        guard caller.isMember(of: subject(id: userId)?.orgId) else { throw .membershipNotFound() }
        if permission == .credential, !caller.writesCredentials { throw .permissionDenied() }
    }

    /// The human user an RPC is about: existence is checked first (`missing` is the RPC's not-found error, as
    /// Zitadel's commands and queries load the user before the permission check), then the permission.
    func authorizedHuman(
        _ caller: APICaller, userId: String, allowSelf: Bool = true, permission: UserPermission = .user,
        missing: ZitadelError
    ) throws(ZitadelError) -> Seed.User {
        guard let user = user(id: userId) else { throw missing }
        try authorize(caller, userId: userId, allowSelf: allowSelf, permission: permission)
        return user
    }
}
