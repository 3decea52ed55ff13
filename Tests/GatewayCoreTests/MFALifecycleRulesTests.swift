import GatewayCore
import Testing

@Suite struct MFAPolicyTests {
    let configuration = MFAPolicyConfiguration(
        tenants: ["strict": TenantMFAPolicy(required: true, deniedFactors: [.smsOTP, .emailOTP])],
        userPolicyMetadataKey: "aidial.mfa.policy")

    @Test func roleDefaults() {
        let client = configuration.resolve(role: .clientStaff, tenantId: "any", userRequiresMFA: false)
        #expect(client.requirement == .optional)
        #expect(client.source == .role)
        #expect(client.allowedFactors == [.totp, .recoveryCode, .emailOTP, .smsOTP, .webauthn])
        let partner = configuration.resolve(role: .partnerUser, tenantId: "any", userRequiresMFA: false)
        #expect(partner.requirement == .required)
        #expect(partner.allowedFactors == [.totp, .recoveryCode, .webauthn])
    }

    @Test func tenantRaisesAndDenies() {
        let policy = configuration.resolve(role: .clientAdmin, tenantId: "strict", userRequiresMFA: false)
        #expect(policy.requirement == .required)
        #expect(policy.source == .tenant)
        #expect(policy.allowedFactors == [.totp, .recoveryCode, .webauthn])
    }

    @Test func userMetadataRaises() {
        #expect(MFAPolicyConfiguration.userRequiresMFA(metadataValue: " Required\n"))
        #expect(!MFAPolicyConfiguration.userRequiresMFA(metadataValue: "optional"))
        #expect(!MFAPolicyConfiguration.userRequiresMFA(metadataValue: nil))
        let policy = configuration.resolve(role: .clientManager, tenantId: nil, userRequiresMFA: true)
        #expect(policy.requirement == .required)
        #expect(policy.source == .user)
        // A role that already requires keeps `role` as its source.
        #expect(configuration.resolve(role: .partnerAdmin, tenantId: "strict", userRequiresMFA: true).source == .role)
    }

    /// An unreadable user policy is not an optional one: unless role or tenant already require MFA, the
    /// requirement is `unknown`, and the decision is unavailable, not compliant, with no disable action.
    @Test func anUnreadableUserPolicyIsUnknownNotOptional() {
        let unknown = configuration.resolve(role: .clientAdmin, tenantId: nil, userRequiresMFA: nil)
        #expect(unknown.requirement == .unknown)
        #expect(unknown.source == .user)
        #expect(configuration.resolve(role: .partnerUser, tenantId: nil, userRequiresMFA: nil).requirement == .required)
        #expect(configuration.resolve(role: .clientAdmin, tenantId: "strict", userRequiresMFA: nil).source == .tenant)
        let provider = MFAProviderState(
            loginName: "a@b", enrolledFactors: [EnrolledFactor(factor: .totp)], userRequiresMFA: nil)
        let decision = MFALifecycleRules.decide(
            policy: unknown, session: .fromAMR(["pwd"], source: .tokenAMR), provider: provider,
            record: MFALifecycleRecord(), sessionId: "s1",
            urls: TrustedURLBuilder(issuer: "https://id.example.com", style: .console), orgId: "o1")
        #expect(decision.status == .unavailable)
        #expect(!decision.mfaCompliant)
        #expect(!decision.isAvailable(.openMFAManagementToDisable))
        #expect(decision.isAvailable(.refresh))
    }

    @Test func methodTypesMap() {
        #expect(MFAFactor(zitadelMethodType: "AUTHENTICATION_METHOD_TYPE_TOTP") == .totp)
        #expect(MFAFactor(zitadelMethodType: "AUTHENTICATION_METHOD_TYPE_U2F") == .webauthn)
        #expect(MFAFactor(zitadelMethodType: "AUTHENTICATION_METHOD_TYPE_PASSKEY") == .webauthn)
        #expect(MFAFactor(zitadelMethodType: "AUTHENTICATION_METHOD_TYPE_RECOVERY_CODE") == .recoveryCode)
        #expect(MFAFactor(zitadelMethodType: "AUTHENTICATION_METHOD_TYPE_PASSWORD") == nil)
        #expect(MFAFactor(zitadelMethodType: "AUTHENTICATION_METHOD_TYPE_SOMETHING_NEW") == nil)
    }
}

@Suite struct SecurityStatusTableTests {
    let required = EffectiveMFAPolicy(requirement: .required, source: .role, allowedFactors: [.totp])
    let optional = EffectiveMFAPolicy(requirement: .optional, source: .role, allowedFactors: [.totp])

    @Test(arguments: [
        // lookups ok?, policy required?, enrollment, challenge, expected
        (false, true, MFAEnrollment.enrolled, MFAChallengeStatus.satisfied, MFASecurityStatus.unavailable),
        (true, false, .unknown, .satisfied, .unavailable),
        (true, false, .enrolled, .unknown, .unavailable),
        (true, true, .enrolled, .failed, .failed),
        (true, false, .notEnrolled, .failed, .failed),
        (true, true, .notEnrolled, .required, .required),
        (true, true, .notEnrolled, .satisfied, .required),
        (true, true, .enrolled, .required, .pending),
        (true, true, .enrolled, .satisfied, .satisfied),
        (true, false, .enrolled, .satisfied, .satisfied),
        (true, false, .enrolled, .required, .optional),
        (true, false, .notEnrolled, .required, .optional),
    ])
    func firstMatchWins(
        _ lookups: Bool, _ isRequired: Bool, _ enrollment: MFAEnrollment, _ challenge: MFAChallengeStatus,
        _ expected: MFASecurityStatus
    ) {
        let policy = isRequired ? required : optional
        let status = MFALifecycleRules.status(
            policy: policy, enrollment: enrollment, challenge: challenge, lookupsSucceeded: lookups)
        #expect(status == expected)
        #expect(MFALifecycleRules.compliant(policy: policy, status: status) == (!isRequired || expected == .satisfied))
    }

    @Test func lockedUserFailsTheChallenge() {
        let state = MFAProviderState(userLocked: true)
        let challenge = MFALifecycleRules.challenge(
            session: .fromAMR(["pwd", "otp", "mfa"], source: .tokenAMR), provider: state)
        #expect(challenge == .failed)
        #expect(MFALifecycleRules.challenge(session: .unknown, provider: MFAProviderState()) == .unknown)
        #expect(MFALifecycleRules.challenge(session: .fromAMR(["pwd"], source: .introspection), provider: MFAProviderState()) == .required)
    }

    @Test func recoveryCodesAloneAreNotAnEnrolment() {
        #expect(MFALifecycleRules.enrollment(MFAProviderState(enrolledFactors: [EnrolledFactor(factor: .recoveryCode)])) == .notEnrolled)
        #expect(MFALifecycleRules.enrollment(MFAProviderState(enrolledFactors: nil)) == .unknown)
        #expect(MFALifecycleRules.enrollment(MFAProviderState(enrolledFactors: [EnrolledFactor(factor: .totp)])) == .enrolled)
    }
}

@Suite struct LifecycleActionsTests {
    let urls = TrustedURLBuilder(issuer: "https://id.example.com", style: .console)
    let totpAndCodes = [EnrolledFactor(factor: .totp), EnrolledFactor(factor: .recoveryCode)]

    func decide(
        _ requirement: MFARequirement, factors: [EnrolledFactor]?, record: MFALifecycleRecord = MFALifecycleRecord(),
        usedRecoveryCode: Bool = false, amr: [String] = ["pwd", "otp", "mfa"]
    ) -> MFALifecycleDecision {
        let policy = EffectiveMFAPolicy(
            requirement: requirement, source: .role, allowedFactors: [.totp, .recoveryCode, .webauthn])
        return MFALifecycleRules.decide(
            policy: policy, session: .fromAMR(amr, source: .tokenAMR),
            provider: MFAProviderState(loginName: "a@b", enrolledFactors: factors, sessionUsedRecoveryCode: usedRecoveryCode),
            record: record, sessionId: "s1", urls: urls, orgId: "o1")
    }

    @Test func optionalEnrolledGetsDisableAndRegenerate() {
        let decision = decide(.optional, factors: totpAndCodes)
        #expect(
            decision.actions.map(\.action) == [
                .openMFASetup, .recoveryCodesStored, .recoveryCodesRegenerated, .openMFAManagementToDisable, .refresh,
            ])
        #expect(decision.reminder == .storeNewSet)
        #expect(decision.url(for: .openMFASetup) == "https://id.example.com/ui/console/users/me?id=security&login_hint=a%40b&org=o1")
    }

    @Test func mandatoryNeverGetsDisable() {
        let decision = decide(.required, factors: totpAndCodes)
        #expect(!decision.isAvailable(.openMFAManagementToDisable))
        #expect(decision.isAvailable(.recoveryCodesRegenerated))
    }

    @Test func notEnrolledGetsSetupAndRefreshOnly() {
        let decision = decide(.required, factors: [], amr: ["pwd"])
        #expect(decision.actions.map(\.action) == [.openMFASetup, .refresh])
        #expect(decision.status == .required)
        #expect(!decision.mfaCompliant)
    }

    @Test func reviewReminderFollowsTheSession() {
        let acknowledged = MFALifecycleRecord(recoveryCodesPresent: true, recoveryCodesAcknowledged: true)
        let used = decide(.optional, factors: totpAndCodes, record: acknowledged, usedRecoveryCode: true)
        #expect(used.reminder == .reviewAfterUse)
        #expect(used.isAvailable(.recoveryCodesReviewed))
        var reviewed = acknowledged
        reviewed.markReviewed(session: "s1")
        let after = decide(.optional, factors: totpAndCodes, record: reviewed, usedRecoveryCode: true)
        #expect(after.reminder == RecoveryCodeReminder.none)
        #expect(after.marker != used.marker)
    }

    @Test func reEnabledSetNeedsAcknowledgementAgain() {
        var record = MFALifecycleRecord(recoveryCodesPresent: true, recoveryCodesAcknowledged: true)
        let removed = record.observe(recoveryCodesPresent: false, factorFingerprint: "a")
        #expect(removed)
        #expect(!record.recoveryCodesAcknowledged)
        let reEnabled = record.observe(recoveryCodesPresent: true, factorFingerprint: "b")
        #expect(reEnabled)
        #expect(!record.recoveryCodesAcknowledged)
        let unchanged = record.observe(recoveryCodesPresent: true, factorFingerprint: "b")
        #expect(!unchanged)
    }

    @Test func markerChangesWithFactorsAndRecord() {
        let base = decide(.optional, factors: totpAndCodes)
        #expect(decide(.optional, factors: totpAndCodes).marker == base.marker)
        #expect(decide(.optional, factors: [EnrolledFactor(factor: .totp)]).marker != base.marker)
        #expect(decide(.optional, factors: totpAndCodes, record: MFALifecycleRecord(disableLaunches: 1)).marker != base.marker)
        #expect(base.marker.count == 32)
    }
}

@Suite struct TrustedURLTests {
    @Test func loginV2Style() {
        let urls = TrustedURLBuilder(issuer: "https://id.example.com/", style: .loginV2)
        #expect(
            urls.setupURL(loginName: "alice admin@x", orgId: "42")
                == "https://id.example.com/ui/v2/login/mfa/set?loginName=alice%20admin%40x&organization=42")
        #expect(urls.managementURL(loginName: nil, orgId: nil) == "https://id.example.com/ui/console/users/me?id=security")
    }

    @Test func foreignURLsOnlyOnIssuerOriginAndAllowlist() {
        let urls = TrustedURLBuilder(issuer: "https://id.example.com", style: .console)
        #expect(urls.trusted("https://id.example.com/ui/console/users/me?id=security") != nil)
        #expect(urls.trusted("https://ID.example.com/ui/v2/login/mfa/set") != nil)
        #expect(urls.trusted("https://evil.example.com/ui/console/users/me") == nil)
        #expect(urls.trusted("https://id.example.com.evil.io/ui/console/users/me") == nil)
        #expect(urls.trusted("https://id.example.com@evil.io/ui/console/users/me") == nil)
        #expect(urls.trusted("http://id.example.com/ui/console/users/me") == nil)
        #expect(urls.trusted("https://id.example.com/oauth/v2/authorize") == nil)
        #expect(urls.trusted("javascript:alert(1)") == nil)
        #expect(TrustedURLBuilder(issuer: "not a url", style: .console).setupURL(loginName: nil, orgId: nil) == nil)
    }

    @Test func endSessionURLOnlyOnTheIssuerOrigin() {
        let urls = TrustedURLBuilder(issuer: "https://id.example.com", style: .console)
        #expect(
            urls.endSessionURL(
                discovered: "https://id.example.com/oidc/v1/end_session", clientId: "300@aidial",
                postLogoutRedirectURI: "https://portal.example.com/")
                == "https://id.example.com/oidc/v1/end_session?client_id=300%40aidial&post_logout_redirect_uri=https%3A%2F%2Fportal.example.com%2F"
        )
        // Another origin, or a path off the allowlist, never passes through: Zitadel's default path is used.
        for discovered in [
            "https://evil.example.com/oidc/v1/end_session", "https://id.example.com/logout",
            "https://id.example.com/ui/console/users/me", nil,
        ] {
            #expect(
                urls.endSessionURL(discovered: discovered, clientId: nil, postLogoutRedirectURI: nil)
                    == "https://id.example.com/oidc/v1/end_session")
        }
        let custom = TrustedURLBuilder(issuer: "https://id.example.com", style: .console, extraAllowedPaths: ["/logout"])
        #expect(
            custom.endSessionURL(discovered: "https://id.example.com/logout?x=1", clientId: nil, postLogoutRedirectURI: nil)
                == "https://id.example.com/logout")
        #expect(
            TrustedURLBuilder(issuer: "not a url", style: .console).endSessionURL(
                discovered: nil, clientId: nil, postLogoutRedirectURI: nil) == nil)
    }

    @Test func sha256KnownVector() {
        #expect(SHA256Digest.hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256Digest.hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }
}
