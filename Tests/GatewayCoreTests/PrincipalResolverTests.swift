import GatewayCore
import Testing

@Suite struct PrincipalResolverTests {
    let acacia = "300000000000000101"
    let banksia = "300000000000000102"
    let coral = "300000000000000201"

    func claims(_ grants: [String: [String: String]], owner: String?) -> SessionClaims {
        SessionClaims(
            subject: "u1", issuer: "https://issuer.example", roles: RoleGrants(grants), resourceOwnerId: owner,
            resourceOwnerDomain: nil, sessionId: nil)
    }

    @Test func customerIsSingleTenantInOwnOrganisation() throws {
        let principal = try PrincipalResolver.resolve(
            claims(["client_admin": [acacia: "acacia.example"], "client_staff": [banksia: "b.example"]], owner: acacia),
            requestedTenant: nil)
        #expect(principal.kind == .client)
        #expect(principal.portalRole == .clientAdmin)
        #expect(principal.activeTenant?.orgId == acacia)
        #expect(principal.tenantScope.map(\.orgId) == [acacia])
        #expect(!principal.hasInScope(banksia))
    }

    /// The home organisation is the resource owner (claim, else learnt from Zitadel), never inferred from where
    /// roles are granted nor taken from the tenant header.
    @Test func customerHomeIsNeverInferredFromGrantsOrTheTenantHeader() throws {
        let grants = ["client_admin": [banksia: "b.example"]]
        let unknown = try PrincipalResolver.resolve(claims(grants, owner: nil), requestedTenant: nil)
        #expect(unknown.homeOrgId == nil)
        #expect(unknown.portalRole == nil)
        #expect(throws: PrincipalResolutionFailure.tenantOutOfScope) {
            try PrincipalResolver.resolve(claims(grants, owner: nil), requestedTenant: banksia)
        }
        let learnt = try PrincipalResolver.resolve(claims(grants, owner: nil), homeOrgId: acacia, requestedTenant: nil)
        #expect(learnt.homeOrgId == acacia)
        #expect(learnt.portalRole == nil)
        let home = try PrincipalResolver.resolve(claims(grants, owner: nil), homeOrgId: banksia, requestedTenant: nil)
        #expect(home.portalRole == .clientAdmin)
        // The claim wins over a learnt value.
        #expect(try PrincipalResolver.resolve(claims(grants, owner: banksia), homeOrgId: acacia, requestedTenant: nil).homeOrgId == banksia)
    }

    @Test func partnerHomeIsTheResourceOwnerNotTheActiveTenant() throws {
        let grants = ["partner_user": [acacia: "a"]]
        let principal = try PrincipalResolver.resolve(claims(grants, owner: nil), homeOrgId: coral, requestedTenant: acacia)
        #expect(principal.homeOrgId == coral)
        #expect(principal.activeTenant?.orgId == acacia)
    }

    @Test func customerAskingForAnotherTenantGetsNotFound() {
        #expect(throws: PrincipalResolutionFailure.tenantOutOfScope) {
            try PrincipalResolver.resolve(claims(["client_admin": [acacia: "a"]], owner: acacia), requestedTenant: banksia)
        }
    }

    @Test func customerMayNameOwnTenant() throws {
        let principal = try PrincipalResolver.resolve(
            claims(["client_manager": [acacia: "a"]], owner: acacia), requestedTenant: acacia)
        #expect(principal.portalRole == .clientManager)
    }

    @Test func partnerScopeIsEveryGrantedClient() throws {
        let grants = ["partner_admin": [acacia: "a", banksia: "b"], "partner_user": [acacia: "a"]]
        let principal = try PrincipalResolver.resolve(claims(grants, owner: coral), requestedTenant: nil)
        #expect(principal.kind == .partner)
        #expect(principal.tenantScope.map(\.orgId) == [acacia, banksia])
        #expect(principal.activeTenant == nil)
        #expect(principal.portalRole == .partnerAdmin)

        let selected = try PrincipalResolver.resolve(claims(grants, owner: coral), requestedTenant: banksia)
        #expect(selected.activeTenant?.orgId == banksia)
        #expect(selected.activeTenant?.domain == "b")
    }

    @Test func partnerOutsideScopeAndOwnOrgAreNotFound() {
        let grants = ["partner_user": [acacia: "a"]]
        #expect(throws: PrincipalResolutionFailure.tenantOutOfScope) {
            try PrincipalResolver.resolve(claims(grants, owner: coral), requestedTenant: banksia)
        }
        #expect(throws: PrincipalResolutionFailure.tenantOutOfScope) {
            try PrincipalResolver.resolve(claims(grants, owner: coral), requestedTenant: coral)
        }
    }

    @Test func singleClientPartnerDefaultsToIt() throws {
        let principal = try PrincipalResolver.resolve(claims(["partner_user": [acacia: "a"]], owner: coral), requestedTenant: nil)
        #expect(principal.activeTenant?.orgId == acacia)
        #expect(principal.portalRole == .partnerUser)
    }

    @Test func sessionWithoutPortalRoleHasNoTenant() throws {
        let principal = try PrincipalResolver.resolve(
            claims(["billing_viewer": [acacia: "a"]], owner: acacia), requestedTenant: nil)
        #expect(principal.portalRole == nil)
        #expect(principal.tenantScope.isEmpty)
        #expect(principal.activeTenant == nil)
        #expect(throws: PrincipalResolutionFailure.tenantOutOfScope) {
            try PrincipalResolver.resolve(claims([:], owner: acacia), requestedTenant: acacia)
        }
    }

    @Test(arguments: ["", "300000000000000101; drop", String(repeating: "9", count: 65), "../x", "a b"])
    func malformedTenantHeaderIsRefused(value: String) {
        #expect(throws: PrincipalResolutionFailure.malformedTenant) {
            try PrincipalResolver.resolve(claims(["client_admin": [acacia: "a"]], owner: acacia), requestedTenant: value)
        }
    }

    @Test func amrInterpretation() {
        #expect(MFAChallenge.fromAMR(["pwd", "otp", "mfa"], source: .tokenAMR).state == .satisfied)
        #expect(MFAChallenge.fromAMR(["user", "mfa"], source: .introspection).state == .satisfied)
        #expect(MFAChallenge.fromAMR(["pwd"], source: .tokenAMR).state == .notSatisfied)
    }
}
