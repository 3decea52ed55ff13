import AsyncHTTPClient
import Foundation
import GatewayApp
import GatewayStore
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

@testable import MockZitadel

/// The gateway against what Zitadel really sends (issue 17 part B): ID tokens are no access tokens, roles come
/// from the portal project only, the home organisation is never the tenant header, and the session is learnt
/// from a verified ID-token companion.
@Suite struct ZitadelSemanticsTests {
    static let ownerClaims = [
        "urn:zitadel:iam:user:resourceowner:id", "urn:zitadel:iam:user:resourceowner:name",
        "urn:zitadel:iam:user:resourceowner:primary_domain",
    ]
    static let genericRoles = "urn:zitadel:iam:org:project:roles"
    static let portalRoles = "urn:zitadel:iam:org:project:\(Seeded.projectId):roles"

    // MARK: An ID token is not an access token

    @Test func aZitadelIDTokenIsRefusedAsBearer() async throws {
        try await Harness.withGateway { client, admin in
            let (access, sessionId) = try await admin.mint(Seeded.aliceClientAdmin)
            #expect(try await client.session(access).status == .ok)
            let idToken = try await admin.idToken(for: (access, sessionId), subject: Seeded.aliceClientAdmin)
            let refused = try await client.session(idToken)
            #expect(refused.status == .unauthorized)
            #expect(refused.problemCode == "invalid_token")
            #expect((refused.json["detail"] as? String)?.contains("ID token") == true)
            #expect(refused.headers[.wwwAuthenticate]?.contains("invalid_token") == true)
        }
    }

    /// `nonce`, `at_hash` and `c_hash` exist only in Zitadel's ID tokens; its access tokens always carry `jti`.
    @Test(arguments: ["nonce", "at_hash", "c_hash", "jti"])
    func aBearerJWTShapedLikeAnIDTokenIsRefused(claim: String) async throws {
        try await Harness.withGateway { client, admin in
            let change: [String: Any] = claim == "jti" ? ["omitClaims": ["jti"]] : ["extraClaims": [claim: "77QmUPtjPfzWtF2AnpK9RQ"]]
            let token = try await admin.token(Seeded.aliceClientAdmin, change)
            let response = try await client.session(token)
            #expect(response.status == .unauthorized)
            #expect(response.problemCode == "invalid_token")
        }
    }

    // MARK: Portal roles come from the portal project only

    @Test func aSameNamedRoleOfAnotherProjectIsNoPortalRole() async throws {
        try await Harness.withGateway { client, admin in
            let acaciaAdmin: [String: Any] = ["client_admin": [Seeded.acacia: "acacia-freight.aidial.example"]]
            // Another project's claim, in a token of the portal's client.
            let otherProject = try await admin.token(
                Seeded.aliceClientAdmin,
                [
                    "omitClaims": [Self.genericRoles, Self.portalRoles],
                    "extraClaims": ["urn:zitadel:iam:org:project:999999999999999999:roles": acaciaAdmin],
                ])
            let body = try await client.session(otherProject).json
            #expect(body["portalRole"] == nil)
            #expect((body["tenantScope"] as? [Any])?.isEmpty == true)
            // The generic claim holds the roles of the asking client's project: another application's token.
            let otherClient = try await admin.token(
                Seeded.aliceClientAdmin,
                [
                    "omitClaims": [Self.portalRoles],
                    "extraClaims": [Self.genericRoles: acaciaAdmin, "client_id": "400000000000000002@other"],
                ])
            #expect(try await client.session(otherClient).json["portalRole"] == nil)
            // The same generic claim from the portal's own client is the portal project's.
            let portalClient = try await admin.token(
                Seeded.aliceClientAdmin, ["omitClaims": [Self.portalRoles], "extraClaims": [Self.genericRoles: acaciaAdmin]])
            #expect(try await client.session(portalClient).json["portalRole"] as? String == "client_admin")
            // And the project's own claim counts whatever the client.
            let projectClaim = try await admin.token(
                Seeded.aliceClientAdmin,
                [
                    "omitClaims": [Self.genericRoles],
                    "extraClaims": [Self.portalRoles: acaciaAdmin, "client_id": "400000000000000002@other"],
                ])
            #expect(try await client.session(projectClaim).json["portalRole"] as? String == "client_admin")
        }
    }

    // MARK: The home organisation

    @Test func theHomeOrganisationIsLearntFromZitadelNeverFromTheTenantHeader() async throws {
        try await SessionSecurityHarness.run { client, admin, storeURL in
            // A partner of Coral Partners acting in Acacia, without the resource-owner scope.
            let partner = try await admin.token(Seeded.tomPartnerUser, ["omitClaims": Self.ownerClaims])
            let session = try await client.get("/v1/session", token: partner, tenant: Seeded.acacia)
            #expect(session.status == .ok)
            #expect(session.json["homeOrgId"] as? String == Seeded.coral)
            #expect((session.json["activeTenant"] as? [String: Any])?["orgId"] as? String == Seeded.acacia)
            // Lifecycle records live in the home organisation, whichever tenant is active.
            #expect(try await client.get("/v1/portal-mfa-lifecycle", token: partner, tenant: Seeded.acacia).status == .ok)
            let store = try await GatewayStoreFactory.open(url: storeURL)
            #expect(try await store.lifecycleRecord(tenant: Seeded.coral, user: Seeded.tomPartnerUser) != nil)
            #expect(try await store.lifecycleRecord(tenant: Seeded.acacia, user: Seeded.tomPartnerUser) == nil)
            try await store.close()
        }
    }

    @Test func aCustomerGrantedInAnotherOrganisationGetsNoRoleThere() async throws {
        // Alice belongs to Acacia; a client_admin grant in Banksia must not make Banksia her tenant.
        try await SessionSecurityHarness.run { client, admin, _ in
            let token = try await admin.token(
                Seeded.aliceClientAdmin,
                [
                    "omitClaims": Self.ownerClaims,
                    "roles": ["client_admin": [Seeded.banksia: "banksia-health.aidial.example"]],
                ])
            let body = try await client.session(token).json
            #expect(body["homeOrgId"] as? String == Seeded.acacia)
            #expect(body["portalRole"] == nil)
            #expect(try await client.get("/v1/session", token: token, tenant: Seeded.banksia).status == .notFound)
        }
    }

    @Test func withoutTheClaimOrAZitadelCredentialTheHomeOrganisationIsUnknown() async throws {
        try await Harness.withGateway { client, admin in
            let token = try await admin.token(Seeded.tomPartnerUser, ["omitClaims": Self.ownerClaims])
            let response = try await client.get("/v1/session", token: token, tenant: Seeded.acacia)
            #expect(response.status == .serviceUnavailable)
            #expect(response.problemCode == "home_organisation_unknown")
        }
    }

    // MARK: The ID-token companion

    @Test func aVerifiedCompanionSuppliesTheSession() async throws {
        try await Harness.withGateway { client, admin in
            let (access, sessionId) = try await admin.mint(Seeded.aliceClientAdmin)
            let idToken = try await admin.idToken(for: (access, sessionId), subject: Seeded.aliceClientAdmin)
            let plain = try await client.session(access).json
            #expect(plain["sessionId"] == nil)
            #expect(plain["sessionBinding"] as? String == "none")
            for _ in 0..<2 {
                let bound = try await client.get("/v1/session", token: access, idToken: idToken)
                #expect(bound.status == .ok)
                #expect(bound.json["sessionId"] as? String == sessionId)
                #expect(bound.json["sessionBinding"] as? String == "id_token")
                let mfa = bound.json["mfa"] as? [String: Any]
                #expect(mfa?["source"] as? String == "id_token")
                #expect(mfa?["state"] as? String == "satisfied")
                #expect(bound.json["authTime"] != nil)
            }
        }
    }

    @Test func aCompanionFailingAnyCheckIsRefused() async throws {
        try await Harness.withGateway { client, admin in
            let (access, sessionId) = try await admin.mint(Seeded.aliceClientAdmin)
            let (other, _) = try await admin.mint(Seeded.marcusClientManager)
            let issuer = admin.baseURL
            func companion(_ change: (inout [String: JSONValue]) -> Void) async throws -> String {
                try await ZitadelTokens.idToken(
                    mock: admin.mock, issuer: issuer, accessToken: access, subject: Seeded.aliceClientAdmin,
                    sessionId: sessionId, change)
            }
            let cases: [String] = [
                try await companion { $0["at_hash"] = .string(MockZitadel.tokenHash(other)) },
                try await companion { $0["at_hash"] = nil },
                try await companion { $0["sub"] = .string(Seeded.marcusClientManager) },
                try await companion { $0["aud"] = .strings([Seeded.projectId]) },
                try await companion { $0["azp"] = "400000000000000002@other" },
                try await companion { $0["exp"] = .epoch(Date().addingTimeInterval(-3600)) },
                try await companion { $0["iss"] = "https://elsewhere.example" },
                String(try await companion { _ in }.dropLast(4)) + "AAAA",
                "not-a-jwt",
            ]
            for idToken in cases {
                let response = try await client.get("/v1/session", token: access, idToken: idToken)
                #expect(response.status == .unauthorized)
                #expect(response.problemCode == "invalid_id_token")
            }
            // The valid one still binds after the refusals.
            let valid = try await companion { _ in }
            #expect(try await client.get("/v1/session", token: access, idToken: valid).status == .ok)
        }
    }

    @Test func anEndedSessionRefusesItsJWTWhenTheCompanionNamesIt() async throws {
        try await SessionSecurityHarness.run { client, admin, _ in
            let (access, sessionId) = try await admin.mint(Seeded.aliceClientAdmin)
            let (other, _) = try await admin.mint(Seeded.aliceClientAdmin)
            let idToken = try await admin.idToken(for: (access, sessionId), subject: Seeded.aliceClientAdmin)
            let listed = try await client.get("/v1/sessions", token: other)
            #expect(listed.json["sessionBinding"] as? String == "none")
            #expect(try await client.call(.delete, "/v1/sessions/\(sessionId)", token: other).status == .noContent)
            let refused = try await client.get("/v1/session", token: access, idToken: idToken)
            #expect(refused.status == .unauthorized)
            #expect(refused.problemCode == "revoked_token")
        }
    }

    // MARK: Back-channel logout

    @Test func aLogoutTokenRevokesItsSessionAndIsNotReplayed() async throws {
        try await SessionSecurityHarness.run { client, admin, _ in
            let (access, sessionId) = try await admin.mint(Seeded.aliceClientAdmin)
            let idToken = try await admin.idToken(for: (access, sessionId), subject: Seeded.aliceClientAdmin)
            #expect(try await client.get("/v1/session", token: access, idToken: idToken).status == .ok)
            let logout = try await admin.logoutToken(subject: Seeded.aliceClientAdmin, sessionId: sessionId)
            let accepted = try await client.backChannelLogout("logout_token=\(logout)")
            #expect(accepted.status == .ok)
            #expect(accepted.headers[.cacheControl] == "no-store")
            let refused = try await client.get("/v1/session", token: access, idToken: idToken)
            #expect(refused.problemCode == "revoked_token")
            let replay = try await client.backChannelLogout("logout_token=\(logout)")
            #expect(replay.status == .badRequest)
            #expect(replay.json["error"] as? String == "invalid_request")
            #expect(replay.headers[.cacheControl] == "no-store")
        }
    }

    /// End to end against the faithful mock: the portal application registers the gateway's back-channel URI, the
    /// mock issues the ID token with the access token, and ending the session at the provider posts a logout token
    /// that the gateway accepts and applies.
    @Test func endingTheSessionAtZitadelReachesTheGatewayByBackChannel() async throws {
        let (storeURL, directory) = SessionSecurityHarness.temporaryStoreURL()
        defer { try? FileManager.default.removeItem(at: directory) }
        try await MockZitadelApp.withRunningMock { baseURL, mock in
            let configuration = try await SessionSecurityHarness.configuration(mockBaseURL: baseURL, storeURL: storeURL, cacheSeconds: 1)
            let app = try await buildApplication(configuration: configuration, logger: SessionSecurityHarness.quiet)
            try await app.test(.live) { client in
                let admin = MockAdmin(baseURL: baseURL, mock: mock)
                let port = try #require(client.port)
                var patch = HTTPClientRequest(url: baseURL + "/mock/admin/applications/" + Seeded.portalClientId)
                patch.method = .PATCH
                patch.headers.add(name: "Content-Type", value: "application/json")
                let uri = "http://127.0.0.1:\(port)/v1/backchannel-logout"
                patch.body = .bytes(ByteBuffer(string: #"{"backChannelLogoutUri":"\#(uri)"}"#))
                #expect(try await HTTPClient.shared.execute(patch, timeout: .seconds(10)).status == .ok)

                let (status, minted) = try await admin.post(
                    "/mock/admin/tokens", ["userId": Seeded.aliceClientAdmin, "format": "jwt", "idToken": true])
                try #require(status == 200)
                let access = try #require(minted["accessToken"] as? String)
                let idToken = try #require(minted["idToken"] as? String)
                let sessionId = try #require(minted["sessionId"] as? String)
                let bound = try await client.get("/v1/session", token: access, idToken: idToken)
                #expect(bound.status == .ok)
                #expect(bound.json["sessionId"] as? String == sessionId)

                try await admin.delete("/mock/admin/sessions/\(sessionId)")
                // Wait for the mock's delivery to be answered (bounded), then the gateway refuses the session.
                var delivered: Int?
                for _ in 0..<200 where delivered == nil {
                    let (_, list) = try await admin.get("/mock/admin/backchannel-logouts?sessionId=\(sessionId)")
                    delivered = (list as? [[String: Any]])?.first?["status"] as? Int
                    if delivered == nil { try await Task.sleep(for: .milliseconds(50)) }
                }
                #expect(delivered == 200)
                let refused = try await client.get("/v1/session", token: access, idToken: idToken)
                #expect(refused.problemCode == "revoked_token")
            }
        }
    }

    /// With `sid` alone the user is not named: the revocation applies to every token bound to that session.
    @Test func aLogoutTokenNamingOnlyTheSessionRevokesIt() async throws {
        try await SessionSecurityHarness.run { client, admin, _ in
            let (access, sessionId) = try await admin.mint(Seeded.aliceClientAdmin)
            let (other, otherSession) = try await admin.mint(Seeded.aliceClientAdmin)
            let idToken = try await admin.idToken(for: (access, sessionId), subject: Seeded.aliceClientAdmin)
            let otherID = try await admin.idToken(for: (other, otherSession), subject: Seeded.aliceClientAdmin)
            let logout = try await admin.logoutToken(subject: nil, sessionId: sessionId)
            #expect(try await client.backChannelLogout("logout_token=\(logout)").status == .ok)
            #expect(try await client.get("/v1/session", token: access, idToken: idToken).problemCode == "revoked_token")
            #expect(try await client.get("/v1/session", token: other, idToken: otherID).status == .ok)
        }
    }

    @Test func aLogoutTokenWithoutSessionEndsEveryTokenOfTheUser() async throws {
        try await SessionSecurityHarness.run { client, admin, _ in
            let (access, _) = try await admin.mint(Seeded.aliceClientAdmin)
            #expect(try await client.session(access).status == .ok)
            // Its `iat` is whole seconds, before the not-before the logout records now.
            let logout = try await admin.logoutToken(subject: Seeded.aliceClientAdmin, sessionId: nil)
            #expect(try await client.backChannelLogout("logout_token=\(logout)").status == .ok)
            #expect(try await client.session(access).problemCode == "revoked_token")
        }
    }

    @Test func anInvalidLogoutTokenIsAnsweredAsTheSpecificationSays() async throws {
        try await SessionSecurityHarness.run { client, admin, _ in
            let issuer = admin.baseURL
            func logout(_ change: (inout [String: JSONValue]) -> Void) async throws -> String {
                try await ZitadelTokens.logoutToken(
                    mock: admin.mock, issuer: issuer, subject: Seeded.aliceClientAdmin, sessionId: "310000000000000001", change)
            }
            let invalid: [String] = [
                try await logout { $0["events"] = nil },
                try await logout { $0["events"] = .object(["http://schemas.openid.net/event/other": .object([:])]) },
                try await logout { $0["nonce"] = "n" },
                try await logout { $0["aud"] = .strings([Seeded.projectId]) },
                try await logout { $0["iat"] = .epoch(Date().addingTimeInterval(-3600)) },
                try await logout {
                    $0["sub"] = nil
                    $0["sid"] = nil
                },
                try await logout { $0["jti"] = nil },
                try await logout { $0["iss"] = "https://elsewhere.example" },
                String(try await logout { _ in }.dropLast(4)) + "AAAA",
            ]
            for token in invalid {
                let response = try await client.backChannelLogout("logout_token=\(token)")
                #expect(response.status == .badRequest)
                #expect(response.json["error"] as? String == "invalid_request")
                #expect(response.headers[.contentType] == "application/json")
                #expect(response.headers[.cacheControl] == "no-store")
            }
            let valid = try await logout { _ in }
            #expect(try await client.backChannelLogout("logout_token=\(valid)", contentType: "application/json").status == .badRequest)
            #expect(try await client.backChannelLogout("token=\(valid)").status == .badRequest)
            #expect(try await client.backChannelLogout("logout_token=\(valid)&logout_token=\(valid)").status == .badRequest)
        }
    }

    /// Two instances sharing the store (SQLite file, PostgreSQL when `ZITADEL_GATEWAY_TEST_POSTGRES_URL` names a
    /// server): the logout token's `jti` is claimed once for all of them.
    @Test(arguments: SessionRevocationInstancesTests.stores)
    func aReplayIsRefusedByEveryInstance(store: String) async throws {
        var (storeURL, directory) = SessionSecurityHarness.temporaryStoreURL()
        defer { try? FileManager.default.removeItem(at: directory) }
        if store == "postgres" { storeURL = try MultiInstanceTests.freshSchemaURL() }
        try await SessionSecurityHarness.runTwoInstances(storeURL: storeURL, cacheSeconds: 0) { one, two, admin in
            let (access, sessionId) = try await admin.mint(Seeded.aliceClientAdmin)
            let idToken = try await admin.idToken(for: (access, sessionId), subject: Seeded.aliceClientAdmin)
            #expect(try await two.get("/v1/session", token: access, idToken: idToken).status == .ok)
            let logout = try await admin.logoutToken(subject: Seeded.aliceClientAdmin, sessionId: sessionId)
            #expect(try await one.backChannelLogout("logout_token=\(logout)").status == .ok)
            #expect(try await two.backChannelLogout("logout_token=\(logout)").status == .badRequest)
            // The other instance reads the store's revocations (cacheSeconds: 0: on every check).
            #expect(try await two.get("/v1/session", token: access, idToken: idToken).problemCode == "revoked_token")
        }
    }
}
