import GatewayCore
import Testing

@Suite struct AccessPolicyTests {
    static let document = AccessPolicyDocument(
        permissions: [
            "session.read": "", "sessions.revoke.tenant": "", "users.read": "", "users.manage": "",
            "audit.read": "", "profile.self": "",
        ],
        roles: [
            "any_session": ["session.read", "profile.self"],
            "client_admin": ["users.read", "users.manage", "sessions.revoke.tenant"],
            "client_manager": ["users.read"],
            "partner_admin": ["users.read", "sessions.revoke.tenant"],
        ],
        integrations: ["audit-export": ["audit.read"]],
        routes: [
            .init(route: "GET /v1/session", permission: "session.read", mfa: "exempt"),
            .init(route: "GET /api/settings/profile", permission: "profile.self", mfa: "exempt"),
            .init(
                route: "DELETE /v1/tenants/{orgId}/users/{userId}/sessions", permission: "sessions.revoke.tenant",
                tenant: "{orgId}"),
            .init(route: "GET /api/users/{userId}", permission: "users.read", tenant: "active"),
            .init(route: "GET /api/users/me", permission: "profile.self", mfa: "exempt"),
            .init(route: "POST /api/users", permission: "users.manage", tenant: "active"),
            .init(route: "GET /v1/audit-events", permission: "audit.read", tenant: "active"),
        ])

    static func portal(
        _ roles: [String: Set<PortalRole>], role: PortalRole? = nil, active: String? = nil, compliant: Bool = true
    ) -> AccessCaller {
        .portal(rolesByTenant: roles, role: role ?? roles.values.flatMap { $0 }.max(), activeTenant: active, mfaCompliant: compliant)
    }

    let policy: AccessPolicy

    init() throws {
        policy = try Self.document.policy()
    }

    @Test func everySessionHoldsTheSharedPermissionsWhateverItsRoles() {
        let roleless = Self.portal([:])
        #expect(policy.decide(method: "GET", path: "/v1/session", caller: roleless).outcome == .allow)
        #expect(policy.decide(method: "HEAD", path: "/v1/session", caller: roleless).outcome == .allow)
        #expect(
            policy.decide(method: "POST", path: "/api/users", caller: roleless).outcome == .deny(.tenantRequired))
    }

    @Test func tenantFromThePathIsCheckedBeforeThePermissionSoOutOfScopeLooksAbsent() {
        let admin = Self.portal(["acacia": [.clientAdmin]])
        let manager = Self.portal(["acacia": [.clientManager]])
        let path = "/v1/tenants/acacia/users/u1/sessions"
        let allowed = policy.decide(method: "DELETE", path: path, caller: admin)
        #expect(allowed.outcome == .allow)
        #expect(allowed.tenant == "acacia")
        // In scope without the permission: 403; out of scope: the same answer as no route at all.
        #expect(policy.decide(method: "DELETE", path: path, caller: manager).outcome == .deny(.permissionMissing))
        let other = policy.decide(method: "DELETE", path: "/v1/tenants/banksia/users/u1/sessions", caller: admin)
        #expect(other.outcome == .deny(.outOfScope))
        #expect(policy.decide(method: "DELETE", path: "/v1/tenants/banksia", caller: admin).outcome == .deny(.noSuchRoute))
    }

    @Test func aPartnersRoleIsTheOneHeldInTheTenantAskedAbout() {
        let partner = Self.portal(["acacia": [.partnerAdmin], "banksia": [.partnerUser]])
        #expect(
            policy.decide(method: "DELETE", path: "/v1/tenants/acacia/users/u/sessions", caller: partner).outcome
                == .allow)
        #expect(
            policy.decide(method: "DELETE", path: "/v1/tenants/banksia/users/u/sessions", caller: partner).outcome
                == .deny(.permissionMissing))
    }

    @Test func activeTenantRoutesUseTheRolesInTheActiveTenant() {
        let admin = Self.portal(["acacia": [.clientAdmin]], active: "acacia")
        let manager = Self.portal(["acacia": [.clientManager]], active: "acacia")
        #expect(policy.decide(method: "POST", path: "/api/users", caller: admin).outcome == .allow)
        #expect(policy.decide(method: "POST", path: "/api/users", caller: manager).outcome == .deny(.permissionMissing))
        #expect(policy.decide(method: "GET", path: "/api/users/42", caller: manager).outcome == .allow)
    }

    @Test func mfaIsCheckedLastAndExemptRoutesStayOpen() {
        let unmet = Self.portal(["acacia": [.clientAdmin]], active: "acacia", compliant: false)
        #expect(policy.decide(method: "POST", path: "/api/users", caller: unmet).outcome == .deny(.mfaRemediationRequired))
        #expect(policy.decide(method: "GET", path: "/api/settings/profile", caller: unmet).outcome == .allow)
        // Scope and permission refusals win over the MFA refusal: they say less.
        let manager = Self.portal(["acacia": [.clientManager]], active: "acacia", compliant: false)
        #expect(policy.decide(method: "POST", path: "/api/users", caller: manager).outcome == .deny(.permissionMissing))
    }

    @Test func aLiteralSegmentBeatsAParameterWhateverTheOrderInTheFile() {
        let staff = Self.portal(["acacia": [.clientStaff]], active: "acacia", compliant: false)
        let me = policy.decide(method: "GET", path: "/api/users/me", caller: staff)
        #expect(me.outcome == .allow)
        #expect(me.rule?.permission == "profile.self")
        #expect(policy.decide(method: "GET", path: "/api/users/42", caller: staff).outcome == .deny(.permissionMissing))
    }

    @Test func integrationsHoldTheirPermissionsOnlyInTheirTenants() {
        let key = AccessCaller.integration(name: "audit-export", tenants: ["acacia"], activeTenant: "acacia")
        #expect(policy.decide(method: "GET", path: "/v1/audit-events", caller: key).outcome == .allow)
        #expect(policy.decide(method: "GET", path: "/v1/session", caller: key).outcome == .deny(.permissionMissing))
        let unknown = AccessCaller.integration(name: "other", tenants: ["acacia"], activeTenant: "acacia")
        #expect(policy.decide(method: "GET", path: "/v1/audit-events", caller: unknown).outcome == .deny(.permissionMissing))
    }

    @Test func pathsMatchBySegmentIgnoringQueryAndTrailingSlash() {
        let admin = Self.portal(["acacia": [.clientAdmin]], active: "acacia")
        #expect(policy.rule(method: "GET", path: "/api/users/42?expand=roles")?.parameters == ["userId": "42"])
        #expect(policy.rule(method: "GET", path: "/api/users/42/")?.parameters == ["userId": "42"])
        #expect(policy.rule(method: "GET", path: "/api/users/42/roles") == nil)
        #expect(policy.rule(method: "PUT", path: "/api/users") == nil)
        #expect(policy.methods(at: "/api/users") == ["POST"])
        #expect(policy.decide(method: "GET", path: "/v1/sessionx", caller: admin).outcome == .deny(.noSuchRoute))
    }

    @Test func permissionItemsDecideInTheActiveTenant() {
        let admin = Self.portal(["acacia": [.clientAdmin]], active: "acacia", compliant: false)
        #expect(policy.decide(permission: "users.manage", caller: admin) == .deny(.mfaRemediationRequired))
        #expect(policy.decide(permission: "profile.self", caller: admin) == .allow)
        #expect(policy.decide(permission: "nonexistent", caller: admin) == .deny(.unknownPermission))
        let manager = Self.portal(["acacia": [.clientManager]], active: "acacia")
        #expect(policy.decide(permission: "users.manage", caller: manager) == .deny(.permissionMissing))
    }

    @Test func everyMistakeIsReportedWithItsLocation() {
        let broken = AccessPolicyDocument(
            permissions: ["a": ""],
            roles: ["any_session": ["zz"], "client_boss": ["a"], "client_admin": ["b"]],
            integrations: ["k": ["c"]],
            routes: [
                .init(route: "GET /x", permission: "a"),
                .init(route: "FETCH /y", permission: "a"),
                .init(route: "GET /x/{id}/{id}", permission: "a"),
                .init(route: "GET /t/{orgId}", permission: "a", tenant: "{tenantId}"),
                .init(route: "GET /x", permission: "d"),
                .init(route: "GET /z", permission: "a", mfa: "sometimes"),
                .init(route: "/no-method", permission: "a"),
                .init(route: "GET /a//b", permission: "a"),
            ])
        #expect(throws: AccessPolicyError.self) { try broken.policy() }
        do {
            _ = try broken.policy()
        } catch {
            let locations = error.problems.map(\.location)
            #expect(
                Set(locations)
                    == [
                        "roles.any_session", "roles.client_boss", "roles.client_admin", "integrations.k",
                        "routes[1].route", "routes[2].route", "routes[3].tenant", "routes[4].permission", "routes[4]",
                        "routes[5].mfa", "routes[6].route", "routes[7].route",
                    ])
            #expect(error.description.contains("routes[4]: GET /x is the same route as routes[0]"))
        }
    }

    @Test func templatesWithDifferentParameterNamesAreTheSameRoute() {
        let document = AccessPolicyDocument(
            permissions: ["a": ""], roles: [:],
            routes: [.init(route: "GET /u/{id}", permission: "a"), .init(route: "GET /u/{userId}", permission: "a")])
        #expect(
            throws: AccessPolicyError(problems: [
                .init(location: "routes[1]", message: "GET /u/{userId} is the same route as routes[0] (GET /u/{id})")
            ])
        ) {
            try document.policy()
        }
    }
}
