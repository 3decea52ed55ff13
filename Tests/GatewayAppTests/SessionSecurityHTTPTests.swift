import Foundation
import GatewayCore
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

@testable import GatewayApp

/// Session management, revoke-all, administrator revocation and sign-out, over HTTP against the mock Zitadel.
@Suite struct SessionSecurityHTTPTests {
    @Test func userListsAndEndsTheirOwnSessions() async throws {
        try await SessionSecurityHarness.run { client, admin, storeURL in
            let laptop = try await admin.mint(Seeded.aliceClientAdmin, format: "opaque")
            let phone = try await admin.mint(Seeded.aliceClientAdmin, format: "opaque")
            // The portal backend sends the ID token issued with each access token: it names the session.
            let laptopID = try await admin.idToken(for: laptop, subject: Seeded.aliceClientAdmin)
            let phoneID = try await admin.idToken(for: phone, subject: Seeded.aliceClientAdmin)
            #expect(try await client.get("/v1/session", token: phone.token, idToken: phoneID).status == .ok)

            let listed = try await client.get("/v1/sessions", token: laptop.token, idToken: laptopID)
            #expect(listed.status == .ok)
            #expect(listed.json["sessionBinding"] as? String == "id_token")
            #expect(Set(listed.sessionIds).isSuperset(of: [laptop.sessionId, phone.sessionId]))
            let rows = listed.json["sessions"] as? [[String: Any]] ?? []
            let current = try #require(rows.first { $0["id"] as? String == laptop.sessionId })
            #expect(current["current"] as? Bool == true)
            #expect(current["factors"] as? [String] == ["password", "totp"])
            // Zitadel's protojson times (fractional seconds) in the API's one format.
            #expect(APITime.isWellFormed(current["createdAt"]))
            #expect(APITime.isWellFormed(current["lastChangedAt"]))
            #expect(current["userAgent"] as? String == "minted by /mock/admin/tokens")
            #expect(rows.first { $0["id"] as? String == phone.sessionId }?["current"] as? Bool == false)
            #expect(!String(buffer: listed.body).contains(laptop.token))

            let ended = try await client.call(.delete, "/v1/sessions/\(phone.sessionId)", token: laptop.token)
            #expect(ended.status == .noContent)
            #expect(try await admin.sessionActive(phone.sessionId, userId: Seeded.aliceClientAdmin) == false)
            // The ended session's token is refused at once, although its introspection result was cached.
            let refused = try await client.get("/v1/session", token: phone.token, idToken: phoneID)
            #expect(refused.status == .unauthorized)
            #expect(refused.problemCode == "revoked_token")
            #expect(try await client.get("/v1/session", token: laptop.token, idToken: laptopID).status == .ok)
            let after = try await client.call(.get, "/v1/sessions", token: laptop.token)
            #expect(after.sessionIds.contains(laptop.sessionId))
            #expect(!after.sessionIds.contains(phone.sessionId))

            let events = try await SessionSecurityHarness.auditEvents(storeURL: storeURL, tenant: Seeded.acacia)
            let audit = try #require(events.first { $0.action == "session.end" })
            #expect(audit.outcome == "ok")
            #expect(audit.actor == Seeded.aliceClientAdmin)
            #expect(audit.metadata["session_id"] == phone.sessionId)
        }
    }

    @Test func anEndedSessionsJWTsAreRefusedWhenTheirCompanionNamesIt() async throws {
        try await SessionSecurityHarness.run { client, admin, _ in
            // Zitadel JWT access tokens carry no sid, and introspection reports none: the ID-token companion
            // names the session.
            let laptop = try await admin.mint(Seeded.aliceClientAdmin, format: "opaque")
            let phone = try await admin.mint(Seeded.aliceClientAdmin)
            let tablet = try await admin.mint(Seeded.aliceClientAdmin)
            let phoneID = try await admin.idToken(for: phone, subject: Seeded.aliceClientAdmin)
            let tabletID = try await admin.idToken(for: tablet, subject: Seeded.aliceClientAdmin)
            #expect(try await client.get("/v1/session", token: phone.token, idToken: phoneID).status == .ok)
            let ended = try await client.call(.delete, "/v1/sessions/\(phone.sessionId)", token: laptop.token)
            #expect(ended.status == .noContent)
            let refused = try await client.get("/v1/session", token: phone.token, idToken: phoneID)
            #expect(refused.status == .unauthorized)
            #expect(refused.problemCode == "revoked_token")
            // Without the companion the JWT verifies locally and its session is unknown: it says so.
            let unbound = try await client.session(phone.token)
            #expect(unbound.json["sessionBinding"] as? String == "none")
            // The user's other sessions, JWT and opaque, go on working.
            #expect(try await client.get("/v1/session", token: tablet.token, idToken: tabletID).status == .ok)
            #expect(try await client.session(laptop.token).status == .ok)
        }
    }

    @Test func anotherUsersSessionIsNotFound() async throws {
        try await SessionSecurityHarness.run { client, admin, _ in
            let alice = try await admin.mint(Seeded.aliceClientAdmin, format: "opaque")
            let beth = try await admin.mint(Seeded.bethBanksiaAdmin, format: "opaque")
            let listed = try await client.call(.get, "/v1/sessions", token: alice.token)
            #expect(!listed.sessionIds.contains(beth.sessionId))
            for id in [beth.sessionId, "318730000000099999", "not-an-id"] {
                let response = try await client.call(.delete, "/v1/sessions/\(id)", token: alice.token)
                #expect(response.status == .notFound, "\(id)")
                #expect(response.problemCode == "not_found")
                #expect(response.json["detail"] as? String == "The requested resource does not exist.")
            }
            #expect(try await admin.sessionActive(beth.sessionId, userId: Seeded.bethBanksiaAdmin) == true)
            #expect(try await client.session(beth.token).status == .ok)
        }
    }

    @Test func revokeAllRefusesEveryEarlierTokenWhileANewTokenWorks() async throws {
        try await SessionSecurityHarness.run { client, admin, storeURL in
            let jwt = try await admin.mint(Seeded.aliceClientAdmin)
            let opaque = try await admin.mint(Seeded.aliceClientAdmin, format: "opaque")
            let older = try await admin.mint(Seeded.aliceClientAdmin, ["issuedAtIn": -600])
            for token in [jwt.token, opaque.token, older.token] {
                #expect(try await client.session(token).status == .ok)
            }
            let bystander = try await admin.mint(Seeded.samClientStaff)

            let revoked = try await client.call(.post, "/v1/sessions/revoke-all", token: jwt.token)
            #expect(revoked.status == .ok)
            #expect(revoked.json["userId"] as? String == Seeded.aliceClientAdmin)
            #expect((revoked.json["sessionsEnded"] as? Int ?? 0) >= 3)
            let notBefore = try #require((revoked.json["notBefore"] as? String).flatMap { try? Date($0, strategy: .iso8601) })
            for token in [jwt.token, opaque.token, older.token] {
                let response = try await client.session(token)
                #expect(response.status == .unauthorized)
                #expect(response.problemCode == "revoked_token")
                #expect(response.headers[.wwwAuthenticate]?.contains("invalid_token") == true)
            }
            for id in [jwt.sessionId, opaque.sessionId] {
                #expect(try await admin.sessionActive(id, userId: Seeded.aliceClientAdmin) == false)
            }
            #expect(try await client.session(bystander.token).status == .ok)

            // `iat` has whole seconds: a token is newer once its second starts after the not-before time.
            let wait = notBefore.timeIntervalSinceNow + 1.05
            if wait > 0 { try await Task.sleep(for: .milliseconds(Int(wait * 1000))) }
            for format in ["jwt", "opaque"] {
                let fresh = try await admin.mint(Seeded.aliceClientAdmin, format: format)
                #expect(try await client.session(fresh.token).status == .ok, "\(format)")
            }
            let events = try await SessionSecurityHarness.auditEvents(storeURL: storeURL, tenant: Seeded.acacia)
            #expect(events.contains { $0.action == "sessions.revoke_all" && $0.outcome == "ok" })
        }
    }

    @Test func clientAdminRevokesAUserOfTheirTenantOnly() async throws {
        try await SessionSecurityHarness.run { client, admin, storeURL in
            let alice = try await admin.mint(Seeded.aliceClientAdmin)
            let sam = try await admin.mint(Seeded.samClientStaff)
            let beth = try await admin.mint(Seeded.bethBanksiaAdmin)
            #expect(try await client.session(sam.token).status == .ok)

            let done = try await client.call(
                .delete, "/v1/tenants/\(Seeded.acacia)/users/\(Seeded.samClientStaff)/sessions", token: alice.token)
            #expect(done.status == .ok)
            #expect(done.json["userId"] as? String == Seeded.samClientStaff)
            let refused = try await client.session(sam.token)
            #expect(refused.problemCode == "revoked_token")
            #expect(try await admin.sessionActive(sam.sessionId, userId: Seeded.samClientStaff) == false)
            #expect(try await client.session(alice.token).status == .ok)

            // Another tenant, or another tenant's user through one's own tenant: 404, exactly like a missing one.
            for uri in [
                "/v1/tenants/\(Seeded.banksia)/users/\(Seeded.bethBanksiaAdmin)/sessions",
                "/v1/tenants/\(Seeded.acacia)/users/\(Seeded.bethBanksiaAdmin)/sessions",
                "/v1/tenants/\(Seeded.acacia)/users/300000000000009999/sessions",
                "/v1/tenants/300000000000000999/users/\(Seeded.samClientStaff)/sessions",
            ] {
                let response = try await client.call(.delete, uri, token: alice.token)
                #expect(response.status == .notFound, "\(uri)")
                #expect(response.problemCode == "not_found")
            }
            #expect(try await client.session(beth.token).status == .ok)
            #expect(try await admin.sessionActive(beth.sessionId, userId: Seeded.bethBanksiaAdmin) == true)

            // In scope without the role: 403 (a client_manager, MFA satisfied with his passkey).
            let manager = try await admin.mint(Seeded.marcusClientManager)
            let forbidden = try await client.call(
                .delete, "/v1/tenants/\(Seeded.acacia)/users/\(Seeded.aliceClientAdmin)/sessions", token: manager.token)
            #expect(forbidden.status == .forbidden)
            #expect(forbidden.problemCode == "forbidden")
            #expect(try await client.session(alice.token).status == .ok)

            let events = try await SessionSecurityHarness.auditEvents(storeURL: storeURL, tenant: Seeded.acacia)
            let revocation = try #require(events.first { $0.action == "sessions.admin_revoke" && $0.outcome == "ok" })
            #expect(revocation.actor == Seeded.aliceClientAdmin)
            #expect(revocation.metadata["target_user"] == Seeded.samClientStaff)
            #expect(events.contains { $0.action == "sessions.admin_revoke" && $0.outcome == "forbidden" })
        }
    }

    @Test func partnerAdminRevokesInAClientTheyHold() async throws {
        try await SessionSecurityHarness.run { client, admin, _ in
            let priya = try await admin.mint(Seeded.priyaPartnerAdmin)
            let beth = try await admin.mint(Seeded.bethBanksiaAdmin, format: "opaque")
            // Validated once: its introspection result is cached, so only the gateway's own list can refuse it.
            #expect(try await client.session(beth.token).status == .ok)
            let done = try await client.call(
                .delete, "/v1/tenants/\(Seeded.banksia)/users/\(Seeded.bethBanksiaAdmin)/sessions", token: priya.token,
                tenant: Seeded.banksia)
            #expect(done.status == .ok)
            #expect(try await client.session(beth.token).problemCode == "revoked_token")
            // Her own partner organisation is no client she holds.
            let own = try await client.call(
                .delete, "/v1/tenants/\(Seeded.coral)/users/\(Seeded.tomPartnerUser)/sessions", token: priya.token)
            #expect(own.status == .notFound)
        }
    }

    @Test func signOutRevokesTheTokenAtTheMockAndReturnsTheTrustedEndSessionURL() async throws {
        try await SessionSecurityHarness.run { client, admin, storeURL in
            for format in ["opaque", "jwt"] {
                let minted = try await admin.mint(Seeded.aliceClientAdmin, format: format)
                let other = try await admin.mint(Seeded.aliceClientAdmin, format: format)
                #expect(try await client.session(minted.token).status == .ok)
                #expect(try await admin.introspectionActive(minted.token))
                let revocations = try await admin.count(path: "/oauth/v2/revoke")

                let response = try await client.call(.post, "/v1/session/end", token: minted.token)
                #expect(response.status == .ok, "\(format)")
                #expect(response.json["issuerRevocation"] as? String == "revoked")
                let url = try #require(response.json["endSessionUrl"] as? String)
                #expect(url.hasPrefix(admin.baseURL + "/oidc/v1/end_session?client_id="))
                #expect(url.contains("post_logout_redirect_uri=http%3A%2F%2Flocalhost%3A3000%2F"))
                #expect(!String(buffer: response.body).contains(minted.token))

                #expect(try await admin.count(path: "/oauth/v2/revoke") == revocations + 1)
                #expect(try await admin.introspectionActive(minted.token) == false)
                let refused = try await client.session(minted.token)
                #expect(refused.status == .unauthorized)
                // The opaque token's cached introspection was dropped: the issuer now calls it inactive. The JWT
                // verifies locally, so the gateway's own list refuses it.
                #expect(refused.problemCode == (format == "jwt" ? "revoked_token" : "invalid_token"), "\(format)")
                // Only this session signed out.
                #expect(try await client.session(other.token).status == .ok)
            }
            let events = try await SessionSecurityHarness.auditEvents(storeURL: storeURL, tenant: Seeded.acacia)
            #expect(events.filter { $0.action == "session.sign_out" }.count == 2)
            #expect(events.allSatisfy { $0.metadata["issuer_revocation"] == nil || $0.metadata["issuer_revocation"] == "revoked" })
        }
    }

    @Test func signOutWhenTheIssuerFailsStillRevokesAtTheGateway() async throws {
        try await SessionSecurityHarness.run { client, admin, _ in
            let minted = try await admin.mint(Seeded.aliceClientAdmin)
            #expect(try await client.session(minted.token).status == .ok)
            let (status, _) = try await admin.post("/mock/admin/faults", ["path": "/oauth/v2/revoke", "status": 500, "times": 1])
            try #require(status == 201)
            let response = try await client.call(.post, "/v1/session/end", token: minted.token)
            #expect(response.status == .ok)
            #expect(response.json["issuerRevocation"] as? String == "failed")
            #expect(try await admin.introspectionActive(minted.token))
            #expect(try await client.session(minted.token).problemCode == "revoked_token")
        }
    }

    @Test func providerFaultsAreProblems() async throws {
        try await SessionSecurityHarness.run(timeoutMs: 1000) { client, admin, _ in
            let alice = try await admin.mint(Seeded.aliceClientAdmin)
            let path = "/zitadel.session.v2.SessionService/ListSessions"
            var (status, _) = try await admin.post("/mock/admin/faults", ["path": path, "status": 503, "times": 1])
            try #require(status == 201)
            let unavailable = try await client.call(.get, "/v1/sessions", token: alice.token)
            #expect(unavailable.status == .serviceUnavailable)
            #expect(unavailable.problemCode == "provider_unavailable")
            (status, _) = try await admin.post("/mock/admin/faults", ["path": path, "status": 403, "times": 1])
            try #require(status == 201)
            let rejected = try await client.call(.get, "/v1/sessions", token: alice.token)
            #expect(rejected.status == .badGateway)
            #expect(rejected.problemCode == "provider_rejected")
            (status, _) = try await admin.post("/mock/admin/faults", ["path": path, "timeout": true, "times": 1])
            try #require(status == 201)
            let revokeAll = try await client.call(.post, "/v1/sessions/revoke-all", token: alice.token)
            #expect(revokeAll.status == .serviceUnavailable)
            #expect(revokeAll.problemCode == "provider_unavailable")
            // The not-before was recorded before the provider call: the token is refused regardless.
            #expect(try await client.session(alice.token).problemCode == "revoked_token")
        }
    }

    @Test func sessionRoutesNeedABearerToken() async throws {
        try await SessionSecurityHarness.run { client, admin, _ in
            let response = try await client.execute(uri: "/v1/sessions", method: .get, headers: [:])
            #expect(response.status == .unauthorized)
            #expect(response.problemCode == "missing_token")
        }
    }
}

/// Revocation that bites on every instance: two gateways sharing one store (a SQLite file; PostgreSQL too when
/// `ZITADEL_GATEWAY_TEST_POSTGRES_URL` names a server).
@Suite struct SessionRevocationInstancesTests {
    static var stores: [String] { ["sqlite"] + (MultiInstanceTests.serverURL == nil ? [] : ["postgres"]) }

    @Test(arguments: stores)
    func revocationThroughOneInstanceIsRefusedByTheOtherWithinTheCacheDelay(store: String) async throws {
        var (storeURL, directory) = SessionSecurityHarness.temporaryStoreURL()
        defer { try? FileManager.default.removeItem(at: directory) }
        if store == "postgres" { storeURL = try MultiInstanceTests.freshSchemaURL() }
        try await SessionSecurityHarness.runTwoInstances(storeURL: storeURL, cacheSeconds: 2) { first, second, admin in
            let phone = try await admin.mint(Seeded.aliceClientAdmin)
            let laptop = try await admin.mint(Seeded.aliceClientAdmin, format: "opaque")
            // The second instance has seen (and cached) both tokens and its revocation list.
            #expect(try await second.session(phone.token).status == .ok)
            #expect(try await second.session(laptop.token).status == .ok)

            #expect(try await first.call(.post, "/v1/sessions/revoke-all", token: laptop.token).status == .ok)
            // Counted from the answer (the revocation is in the store by then), not from the request: ending the
            // user's Zitadel sessions inside the call takes as long as a loaded machine makes it.
            let started = ContinuousClock.now
            #expect(try await first.session(phone.token).problemCode == "revoked_token")

            var refusedAfter: Duration?
            for _ in 0..<80 {
                let response = try await second.session(phone.token)
                if response.status == .unauthorized {
                    #expect(response.problemCode == "revoked_token")
                    refusedAfter = ContinuousClock.now - started
                    break
                }
                try await Task.sleep(for: .milliseconds(50))
            }
            let delay = try #require(refusedAfter, "the second instance never refused the revoked token")
            #expect(delay <= .seconds(3), "refused after \(delay)")
            #expect(try await second.session(laptop.token).problemCode == "revoked_token")
        }
    }
}
