import Configuration
import Foundation
import GatewayCore
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import MockZitadel
import NIOCore
import SessionValidation
import Testing

@testable import GatewayApp

/// `POST /v1/portal-mfa-lifecycle/actions`: availability, refusal, markers and the audit trail.
@Suite struct MFALifecycleActionTests {
    @Test func recoveryCodesStoredClearsTheReminderOnce() async throws {
        try await LifecycleHarness.run { client, admin, _ in
            let token = try await admin.token(Seeded.aliceClientAdmin, ["amr": ["pwd", "otp", "mfa"]])
            let before = try await client.lifecycle(token)
            #expect(before.json["recoveryCodeReminder"] as? String == "store_new_set")
            #expect(before.actions.contains("recovery_codes_stored"))
            let done = try await client.act(token, "recovery_codes_stored", marker: before.marker)
            #expect(done.status == .ok)
            #expect(done.snapshot["recoveryCodeReminder"] as? String == "none")
            let newMarker = try #require(done.snapshot["marker"] as? String)
            #expect(newMarker != before.marker)
            #expect(done.headers[.eTag] == "\"\(newMarker)\"")
            // Refused once acknowledged: no longer available.
            let again = try await client.act(token, "recovery_codes_stored", marker: newMarker)
            #expect(again.status == .conflict)
            #expect(again.problemCode == "action_unavailable")
            // The acknowledgement persists across snapshots.
            #expect(try await client.lifecycle(token).json["recoveryCodeReminder"] as? String == "none")
        }
    }

    @Test func aRegeneratedOrReEnabledSetNeedsStoringAgain() async throws {
        try await LifecycleHarness.run { client, admin, rpc in
            let token = try await admin.token(Seeded.aliceClientAdmin, ["amr": ["pwd", "otp", "mfa"]])
            let first = try await client.lifecycle(token)
            let stored = try await client.act(token, "recovery_codes_stored", marker: first.marker)
            let marker = stored.snapshot["marker"] as? String
            let regenerated = try await client.act(token, "recovery_codes_regenerated", marker: marker)
            #expect(regenerated.status == .ok)
            #expect(regenerated.json["url"] as? String == first.url(of: "open_mfa_setup"))
            #expect(regenerated.snapshot["recoveryCodeReminder"] as? String == "store_new_set")
            let acknowledged = try await client.act(
                token, "recovery_codes_stored", marker: regenerated.snapshot["marker"] as? String)
            #expect(acknowledged.snapshot["recoveryCodeReminder"] as? String == "none")
            // Removed at the provider, then re-enabled: a new set awaits acknowledgement.
            try #require(try await rpc.user("RemoveRecoveryCodes", ["userId": Seeded.aliceClientAdmin]).0 == 200)
            #expect(try await client.lifecycle(token).json["recoveryCodeReminder"] as? String == "none")
            try #require(try await rpc.user("GenerateRecoveryCodes", ["userId": Seeded.aliceClientAdmin, "count": 10]).0 == 200)
            #expect(try await client.lifecycle(token).json["recoveryCodeReminder"] as? String == "store_new_set")
        }
    }

    @Test func regenerationNeedsAnEnrolment() async throws {
        try await LifecycleHarness.run { client, admin, _ in
            let token = try await admin.token(Seeded.samClientStaff, ["amr": ["pwd"]])
            let snapshot = try await client.lifecycle(token)
            #expect(!snapshot.actions.contains("recovery_codes_regenerated"))
            let refused = try await client.act(token, "recovery_codes_regenerated", marker: snapshot.marker)
            #expect(refused.status == .conflict)
            #expect(refused.problemCode == "action_unavailable")
        }
    }

    @Test func recoveryCodesReviewedAfterASessionUsedOneNamedByTheIDTokenCompanion() async throws {
        try await LifecycleHarness.run { client, admin, _ in
            // Priya acknowledged her set long ago (in the gateway) and signs in with a recovery code.
            let plain = try await admin.token(Seeded.priyaPartnerAdmin, format: "opaque", ["amr": ["pwd", "otp", "mfa"]])
            let initial = try await client.lifecycle(plain, tenant: Seeded.acacia)
            _ = try await client.act(plain, "recovery_codes_stored", marker: initial.marker, tenant: Seeded.acacia)
            #expect(!(try await client.lifecycle(plain, tenant: Seeded.acacia)).actions.contains("recovery_codes_reviewed"))
            let refused = try await client.act(
                plain, "recovery_codes_reviewed", marker: try await client.lifecycle(plain, tenant: Seeded.acacia).marker,
                tenant: Seeded.acacia)
            #expect(refused.problemCode == "action_unavailable")

            // The session is known only from the ID token Zitadel issued with the access token (the companion).
            let (status, minted) = try await admin.post(
                "/mock/admin/tokens",
                [
                    "userId": Seeded.priyaPartnerAdmin, "format": "opaque", "factors": ["password", "recoveryCode"],
                    "idToken": true,
                ])
            try #require(status == 200)
            let recovery = try #require(minted["accessToken"] as? String)
            let idToken = try #require(minted["idToken"] as? String)
            let unbound = try await client.lifecycle(recovery, tenant: Seeded.acacia)
            #expect(unbound.json["sessionBinding"] as? String == "none")
            #expect(unbound.json["recoveryCodeReminder"] as? String == "none")
            let used = try await client.lifecycle(recovery, tenant: Seeded.acacia, idToken: idToken)
            #expect(used.json["sessionBinding"] as? String == "id_token")
            #expect(used.json["recoveryCodeReminder"] as? String == "review_after_use")
            #expect(used.actions.contains("recovery_codes_reviewed"))
            let reviewed = try await client.act(
                recovery, "recovery_codes_reviewed", marker: used.marker, tenant: Seeded.acacia, idToken: idToken)
            #expect(reviewed.status == .ok)
            #expect(reviewed.snapshot["recoveryCodeReminder"] as? String == "none")
        }
    }

    @Test func disableIsOfferedToOptionalRolesOnly() async throws {
        try await LifecycleHarness.run { client, admin, _ in
            let alice = try await admin.token(Seeded.aliceClientAdmin, ["amr": ["pwd", "otp", "mfa"]])
            let snapshot = try await client.lifecycle(alice)
            let url = try #require(snapshot.url(of: "open_mfa_management_to_disable"))
            #expect(url.hasPrefix(admin.baseURL + "/ui/console/users/me?id=security"))
            let launched = try await client.act(alice, "open_mfa_management_to_disable", marker: snapshot.marker)
            #expect(launched.status == .ok)
            #expect(launched.json["url"] as? String == url)
            #expect(launched.snapshot["marker"] as? String != snapshot.marker)

            let priya = try await admin.token(Seeded.priyaPartnerAdmin, ["amr": ["pwd", "otp", "mfa"]])
            let partner = try await client.lifecycle(priya, tenant: Seeded.acacia)
            #expect(!partner.actions.contains("open_mfa_management_to_disable"))
            let refused = try await client.act(priya, "open_mfa_management_to_disable", marker: partner.marker, tenant: Seeded.acacia)
            #expect(refused.problemCode == "action_unavailable")
            // Not enrolled: nothing to disable.
            let sam = try await admin.token(Seeded.samClientStaff, ["amr": ["pwd"]])
            #expect(!(try await client.lifecycle(sam)).actions.contains("open_mfa_management_to_disable"))
        }
    }

    @Test func openSetupAndRefresh() async throws {
        try await LifecycleHarness.run(cacheSeconds: 60) { client, admin, rpc in
            let tom = try await admin.token(Seeded.tomPartnerUser, ["amr": ["pwd"]])
            let snapshot = try await client.lifecycle(tom)
            let opened = try await client.act(tom, "open_mfa_setup", marker: snapshot.marker)
            #expect(opened.status == .ok)
            #expect(opened.json["url"] as? String == snapshot.url(of: "open_mfa_setup"))
            #expect(opened.snapshot["marker"] as? String == snapshot.marker)

            // Provider state changes elsewhere; the cached lookups lag until `refresh` bypasses them.
            let alice = try await admin.token(Seeded.aliceClientAdmin, ["amr": ["pwd", "otp", "mfa"]])
            #expect(try await client.lifecycle(alice).enrolled.contains("sms_otp"))
            try #require(try await rpc.user("RemoveOTPSMS", ["userId": Seeded.aliceClientAdmin]).0 == 200)
            #expect(try await client.lifecycle(alice).enrolled.contains("sms_otp"))
            let refreshed = try await client.act(alice, "refresh", marker: nil)
            #expect(refreshed.status == .ok)
            #expect(refreshed.json["url"] is NSNull)
            #expect(!((refreshed.snapshot["enrolledFactors"] as? [[String: Any]] ?? []).contains { $0["factor"] as? String == "sms_otp" }))
            #expect(!(try await client.lifecycle(alice).enrolled.contains("sms_otp")))
        }
    }

    @Test func malformedRequestsAreRefused() async throws {
        try await LifecycleHarness.run { client, admin, _ in
            let token = try await admin.token(Seeded.aliceClientAdmin, ["amr": ["pwd", "otp", "mfa"]])
            let unknown = try await client.act(token, "delete_everything", marker: "x")
            #expect(unknown.status == .badRequest)
            let noMarker = try await client.act(token, "recovery_codes_stored", marker: nil)
            #expect(noMarker.status == .badRequest)
            let notJSON = try await client.execute(
                uri: "/v1/portal-mfa-lifecycle/actions", method: .post,
                headers: [.authorization: "Bearer \(token)", .contentType: "application/json"], body: ByteBuffer(string: "{"))
            #expect(notJSON.status == .badRequest)
        }
    }

    @Test func staleMarkerFromTwoConcurrentTabs() async throws {
        try await LifecycleHarness.run { client, admin, _ in
            let token = try await admin.token(Seeded.aliceClientAdmin, ["amr": ["pwd", "otp", "mfa"]])
            let tabA = try await client.lifecycle(token)
            let tabB = try await client.lifecycle(token)
            #expect(tabA.marker == tabB.marker)
            let first = try await client.act(token, "recovery_codes_stored", marker: tabA.marker)
            #expect(first.status == .ok)
            let second = try await client.act(token, "open_mfa_management_to_disable", marker: tabB.marker)
            #expect(second.status == .conflict)
            #expect(second.problemCode == "stale_marker")
            #expect(second.headers[.contentType] == "application/problem+json")
            let fresh = second.snapshot
            #expect(fresh["marker"] as? String == first.snapshot["marker"] as? String)
            #expect(fresh["recoveryCodeReminder"] as? String == "none")
            // The one problem renderer: RFC 9457 members, then the snapshot; its marker is the entity tag.
            #expect(second.json["status"] as? Int == 409)
            #expect(second.json["type"] as? String == "https://aidial.example/problems/stale_marker")
            #expect(second.json["title"] as? String == "Stale lifecycle marker")
            #expect(second.headers[.eTag] == "\"\(fresh["marker"] as? String ?? "")\"")
            #expect(second.headers[.cacheControl] == "no-store")
            // Retrying with the fresh marker works.
            let retried = try await client.act(token, "open_mfa_management_to_disable", marker: fresh["marker"] as? String)
            #expect(retried.status == .ok)
        }
    }

    @Test func concurrentActionsWithOneMarkerApplyOnce() async throws {
        try await LifecycleHarness.run { client, admin, _ in
            let token = try await admin.token(Seeded.aliceClientAdmin, ["amr": ["pwd", "otp", "mfa"]])
            let marker = try await client.lifecycle(token).marker
            let statuses = try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                for _ in 0..<4 {
                    group.addTask { try await client.act(token, "open_mfa_management_to_disable", marker: marker).status }
                }
                return try await group.reduce(into: [HTTPResponse.Status]()) { $0.append($1) }
            }
            #expect(statuses.filter { $0 == .ok }.count == 1)
            #expect(statuses.filter { $0 == .conflict }.count == 3)
        }
    }

    @Test func providerFactorChangesMakeTheMarkerStale() async throws {
        try await LifecycleHarness.run { client, admin, rpc in
            let token = try await admin.token(Seeded.aliceClientAdmin, ["amr": ["pwd", "otp", "mfa"]])
            let before = try await client.lifecycle(token)
            try #require(try await rpc.user("RemoveOTPSMS", ["userId": Seeded.aliceClientAdmin]).0 == 200)
            let stale = try await client.act(token, "recovery_codes_stored", marker: before.marker)
            #expect(stale.problemCode == "stale_marker")
            #expect(!((stale.snapshot["enrolledFactors"] as? [[String: Any]] ?? []).contains { $0["factor"] as? String == "sms_otp" }))
        }
    }
}

/// The remediation gate: while `mfaCompliant` is false, other protected routes answer 403.
@Suite struct MFARemediationGateTests {
    /// The production router plus one protected probe route under the same /v1 middleware.
    static func withProbeRouter(
        _ body: @escaping @Sendable (any TestClientProtocol, MockAdmin, MFALifecycleService) async throws -> Void
    ) async throws {
        let pat = try #require(Seeded.servicePAT)
        try await MockZitadelAppRunner.run { baseURL, admin in
            let configuration = try await GatewayConfiguration.testing(
                Harness.keys(baseURL).merging(Harness.zitadel(baseURL, pat: pat)) { $1 }
                    .merging(["mfa.userPolicyMetadataKey": "aidial.mfa.policy"]) { $1 })
            let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
            let validator = try SessionValidator(
                issuers: configuration.issuers, settings: configuration.validation, httpClient: .shared, logger: logger)
            let lifecycle = try await buildMFALifecycle(
                configuration: configuration, validator: validator, httpClient: .shared, logger: logger)
            let router = Router(context: GatewayRequestContext.self)
            router.add(middleware: RequestIdMiddleware())
            router.add(middleware: ProblemMiddleware())
            let homes = HomeOrganisationResolver(directory: lifecycle.service.directory, logger: logger)
            let v1 = router.group("/v1").add(
                middleware: AuthenticationMiddleware(validator: validator, apiKeys: APIKeyVerifier(keys: []), homeOrganisations: homes))
            // As `buildRouter` does: the session and the lifecycle outside the gate, every other route behind it.
            MFALifecycleController(service: lifecycle.service).addRoutes(to: v1)
            SessionController(validator: validator).addRoutes(to: v1)
            let gated = v1.group().add(middleware: MFARemediationMiddleware(service: lifecycle.service))
            gated.get("/probe") { _, _ in "reached" }
            try await Application(router: router).test(.router) { client in
                try await body(client, admin, lifecycle.service)
            }
            try await lifecycle.storeService.store.close()
        }
    }

    @Test func nonCompliantPartnerIsBlockedExceptSessionAndLifecycle() async throws {
        try await Self.withProbeRouter { client, admin, _ in
            let tom = try await admin.token(Seeded.tomPartnerUser, ["amr": ["pwd"]])
            let headers: HTTPFields = [.authorization: "Bearer \(tom)"]
            let blocked = try await client.execute(uri: "/v1/probe", method: .get, headers: headers)
            #expect(blocked.status == .forbidden)
            #expect(blocked.problemCode == "mfa_remediation_required")
            #expect(try await client.execute(uri: "/v1/session", method: .get, headers: headers).status == .ok)
            #expect(try await client.lifecycle(tom).status == .ok)
            #expect(try await client.act(tom, "refresh", marker: nil).status == .ok)
        }
    }

    /// The application's own router: the gate sits on the route groups that need it. A partner who has not
    /// completed MFA still reaches the session, the lifecycle, SMS enrolment and their own sessions, and is
    /// refused on an administration route and the audit trail.
    @Test func theApplicationGatesAdministrationButNotRemediationRoutes() async throws {
        try await LifecycleHarness.run { client, admin, _ in
            let tom = try await admin.token(Seeded.tomPartnerUser, ["amr": ["pwd"]])
            let headers: HTTPFields = [.authorization: "Bearer \(tom)"]
            // Each answers in its own terms: SMS codes are not a partner's factor; an unknown enrolment is not found.
            let reachable: [(String, HTTPRequest.Method, HTTPResponse.Status)] = [
                ("/v1/session", .get, .ok), ("/v1/portal-mfa-lifecycle", .get, .ok), ("/v1/sessions", .get, .ok),
                ("/v1/portal-mfa-lifecycle/sms-enrolments", .post, .forbidden),
                ("/v1/portal-mfa-lifecycle/sms-enrolments/sme_aaaaaaaaaaaaaaaaaaaaaaaa/resend", .post, .notFound),
            ]
            for (uri, method, status) in reachable {
                let response = try await client.execute(uri: uri, method: method, headers: headers)
                #expect(response.status == status, "\(method) \(uri)")
                #expect(response.problemCode != "mfa_remediation_required", "\(method) \(uri)")
            }
            let gated: [(String, HTTPRequest.Method)] = [
                ("/v1/tenants/\(Seeded.acacia)/users/\(Seeded.samClientStaff)/sessions", .delete), ("/v1/audit-events", .get),
            ]
            for (uri, method) in gated {
                let response = try await client.execute(uri: uri, method: method, headers: headers)
                #expect(response.status == .forbidden, "\(method) \(uri)")
                #expect(response.problemCode == "mfa_remediation_required", "\(method) \(uri)")
            }
        }
    }

    /// The user policy lookup failing leaves an optional-by-role client's policy unknown: gated routes refuse
    /// until it can be read again (issue 16, item 7).
    @Test func anUnknownUserPolicyHoldsTheGate() async throws {
        try await Self.withProbeRouter { client, admin, _ in
            let sam = try await admin.token(Seeded.samClientStaff, ["amr": ["pwd"]])
            let headers: HTTPFields = [.authorization: "Bearer \(sam)"]
            #expect(try await client.execute(uri: "/v1/probe", method: .get, headers: headers).status == .ok)
            try await admin.fault(rpc: "ListUserMetadata", ["status": 503, "body": #"{"code":"unavailable","message":"down"}"#])
            let blocked = try await client.execute(uri: "/v1/probe", method: .get, headers: headers)
            #expect(blocked.status == .forbidden)
            #expect(blocked.problemCode == "mfa_remediation_required")
            let snapshot = try await client.lifecycle(sam)
            #expect(snapshot.status_ == "unavailable")
            #expect(snapshot.json["policy"] as? String == "unknown")
            #expect(snapshot.json["mfaCompliant"] as? Bool == false)
            try await admin.delete("/mock/admin/faults")
            #expect(try await client.execute(uri: "/v1/probe", method: .get, headers: headers).status == .ok)
        }
    }

    @Test func compliantCallersPass() async throws {
        try await Self.withProbeRouter { client, admin, _ in
            let priya = try await admin.token(Seeded.priyaPartnerAdmin, ["amr": ["pwd", "otp", "mfa"]])
            let satisfied = try await client.execute(
                uri: "/v1/probe", method: .get,
                headers: [.authorization: "Bearer \(priya)", .init("X-AiDial-Tenant")!: Seeded.acacia])
            #expect(satisfied.status == .ok)
            let pending = try await admin.token(Seeded.priyaPartnerAdmin, ["amr": ["pwd"]])
            let blocked = try await client.execute(
                uri: "/v1/probe", method: .get,
                headers: [.authorization: "Bearer \(pending)", .init("X-AiDial-Tenant")!: Seeded.acacia])
            #expect(blocked.problemCode == "mfa_remediation_required")
            // Optional policy: a client without MFA is compliant.
            let sam = try await admin.token(Seeded.samClientStaff, ["amr": ["pwd"]])
            #expect(try await client.execute(uri: "/v1/probe", method: .get, headers: [.authorization: "Bearer \(sam)"]).status == .ok)
        }
    }
}

/// Every action attempt is an audit event: tenant, actor, session, outcome, request id; never tokens or URLs.
@Suite struct MFALifecycleAuditTests {
    @Test func actionsAreAuditedWithActionsEnrichedSID() async throws {
        try await MFARemediationGateTests.withProbeRouter { client, admin, service in
            let token = try await admin.token(
                Seeded.aliceClientAdmin, format: "opaque", ["amr": ["pwd", "otp", "mfa"], "actionClaims": ["sid"]])
            let snapshot = try await client.lifecycle(token)
            var headers: HTTPFields = [.authorization: "Bearer \(token)", .contentType: "application/json"]
            headers[.init("X-Request-Id")!] = "audit-test-1"
            let body = try JSONSerialization.data(withJSONObject: ["action": "recovery_codes_stored", "marker": snapshot.marker ?? ""])
            let stored = try await client.execute(
                uri: "/v1/portal-mfa-lifecycle/actions", method: .post, headers: headers, body: ByteBuffer(bytes: body))
            #expect(stored.status == .ok)
            _ = try await client.act(token, "open_mfa_management_to_disable", marker: snapshot.marker)
            _ = try await client.act(token, "refresh", marker: nil)
            let page = try await service.store.auditEvents(tenant: Seeded.acacia, after: nil, limit: 50)
            #expect(
                page.events.map(\.action) == [
                    "mfa_lifecycle.recovery_codes_stored", "mfa_lifecycle.open_mfa_management_to_disable",
                    "mfa_lifecycle.refresh",
                ])
            #expect(page.events.map(\.outcome) == ["ok", "stale_marker", "ok"])
            #expect(page.events.allSatisfy { $0.actor == Seeded.aliceClientAdmin && $0.session != nil })
            #expect(page.events.first?.requestId == "audit-test-1")
            for event in page.events {
                #expect(!event.metadata.values.contains { $0.contains(token) || $0.contains("http") })
            }
        }
    }
}

/// Runs the mock alone and hands over its admin client.
enum MockZitadelAppRunner {
    static func run(_ body: @escaping @Sendable (String, MockAdmin) async throws -> Void) async throws {
        try await MockZitadelApp.withRunningMock { baseURL, mock in
            try await body(baseURL, MockAdmin(baseURL: baseURL, mock: mock))
        }
    }
}
