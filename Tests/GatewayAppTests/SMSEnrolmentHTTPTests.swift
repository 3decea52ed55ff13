import AsyncHTTPClient
import Configuration
import Crypto
import Foundation
import GatewayCore
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import MockZitadel
import NIOCore
import Testing

@testable import GatewayApp

extension TestClientProtocol {
    func enrol(_ token: String, phone: Any, key: String?, headers extra: HTTPFields = [:]) async throws -> TestResponse {
        var headers = extra
        headers[.authorization] = "Bearer \(token)"
        headers[.contentType] = "application/json"
        if let key { headers[.init("Idempotency-Key")!] = key }
        return try await execute(
            uri: "/v1/portal-mfa-lifecycle/sms-enrolments", method: .post, headers: headers,
            body: ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: ["phone": phone])))
    }

    func verifyEnrolment(_ token: String, id: String, code: String) async throws -> TestResponse {
        try await execute(
            uri: "/v1/portal-mfa-lifecycle/sms-enrolments/\(id)/verification", method: .post,
            headers: [.authorization: "Bearer \(token)", .contentType: "application/json"],
            body: ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: ["code": code])))
    }

    func resendEnrolment(_ token: String, id: String, headers extra: HTTPFields = [:]) async throws -> TestResponse {
        var headers = extra
        headers[.authorization] = "Bearer \(token)"
        return try await execute(uri: "/v1/portal-mfa-lifecycle/sms-enrolments/\(id)/resend", method: .post, headers: headers)
    }
}

extension MockAdmin {
    /// RPC calls the mock received (`GET /mock/admin/journal?rpc=`).
    func calls(_ rpc: String) async throws -> Int {
        let (_, entries) = try await get("/mock/admin/journal?rpc=UserService/\(rpc)")
        return (entries as? [Any])?.count ?? -1
    }

    /// The codes the mock "sent" to a user, oldest first.
    func codes(for userId: String) async -> [String] {
        await mock.sentMessages(userId: userId).map(\.code)
    }
}

/// `POST /v1/portal-mfa-lifecycle/sms-enrolments` and its verification and resend, against the mock's User service.
@Suite struct SMSEnrolmentHTTPTests {
    static var staffAmr: [String: Any] { ["amr": ["pwd"]] }

    @Test func enrolVerifyAndTheSnapshotShowsSMS() async throws {
        let logs = LogCapture()
        try await LifecycleHarness.run(logs: logs) { client, admin, _ in
            let token = try await admin.token(Seeded.samClientStaff, Self.staffAmr)
            let created = try await client.enrol(token, phone: "0491 570 006", key: "k-\(UUID().uuidString)")
            #expect(created.status == .created)
            let id = try #require(created.json["id"] as? String)
            #expect(created.json["status"] as? String == "code_sent")
            #expect(created.json["phone"] as? String == "+61 4•• ••• 006")
            #expect(created.headers[.location] == "/v1/portal-mfa-lifecycle/sms-enrolments/\(id)")
            #expect((created.json["verification"] as? [String: Any])?["attemptsRemaining"] as? Int == 5)
            let code = try #require(await admin.codes(for: Seeded.samClientStaff).last)
            let wrong = try await client.verifyEnrolment(token, id: id, code: code == "AAAAAA" ? "BBBBBB" : "AAAAAA")
            #expect(wrong.status == .unprocessableContent)
            #expect(wrong.problemCode == "invalid_code")
            #expect(wrong.json["detail"] as? String == "The code is not correct. 4 attempts left.")
            // A code with a space inside cannot be one Zitadel generated: refused without spending an attempt.
            let malformed = try await client.verifyEnrolment(token, id: id, code: "12 34")
            #expect(malformed.problemCode == "invalid_code")
            let verified = try await client.verifyEnrolment(token, id: id, code: " \(code) ")
            #expect(verified.status == .ok)
            #expect(verified.json["status"] as? String == "verified")
            // Verifying again is idempotent and calls nothing more.
            #expect(try await client.verifyEnrolment(token, id: id, code: code).json["status"] as? String == "verified")
            #expect(try await admin.calls("SetPhone") == 1)
            #expect(try await admin.calls("VerifyPhone") == 2)
            #expect(try await admin.calls("AddOTPSMS") == 1)
            #expect(try await client.lifecycle(token).enrolled.contains("sms_otp"))
            // No full number or code in the log.
            #expect(!logs.text.contains("570006") && !logs.text.contains("570 006") && !logs.text.contains(code))
        }
    }

    @Test func refusalsSayWhy() async throws {
        try await LifecycleHarness.run { client, admin, _ in
            let sam = try await admin.token(Seeded.samClientStaff, Self.staffAmr)
            let missingKey = try await client.enrol(sam, phone: "0491 570 006", key: nil)
            #expect(missingKey.status == .badRequest)
            #expect(missingKey.problemCode == "idempotency_key_missing")
            let landline = try await client.enrol(sam, phone: "02 9876 5432", key: "k1")
            #expect(landline.status == .unprocessableContent)
            #expect(landline.problemCode == "invalid_phone")
            #expect((landline.json["detail"] as? String)?.contains("landline") == true)
            let badBody = try await client.enrol(sam, phone: 491_570_006, key: "k2")
            #expect(badBody.problemCode == "invalid_request")
            // Partners may not use SMS codes (role policy).
            let priya = try await admin.token(Seeded.priyaPartnerAdmin, ["amr": ["pwd", "otp", "mfa"]])
            let partner = try await client.enrol(priya, phone: "0491 570 006", key: "k3")
            #expect(partner.status == .forbidden)
            #expect(partner.problemCode == "factor_not_allowed")
            // Another user's enrolment id is simply not found.
            let created = try await client.enrol(sam, phone: "0491 570 006", key: "k4")
            let id = try #require(created.json["id"] as? String)
            let alice = try await admin.token(Seeded.aliceClientAdmin, ["amr": ["pwd", "otp", "mfa"]])
            let foreign = try await client.verifyEnrolment(alice, id: id, code: "ABC123")
            #expect(foreign.status == .notFound)
            let missing = try await client.verifyEnrolment(alice, id: "sme_aaaaaaaaaaaaaaaaaaaaaaaa", code: "ABC123")
            #expect(missing.status == .notFound)
            #expect(
                NSDictionary(dictionary: missing.json.filter { $0.key != "requestId" })
                    == NSDictionary(dictionary: foreign.json.filter { $0.key != "requestId" }))
            #expect(try await admin.calls("SetPhone") == 1)
        }
    }

    @Test func idempotencyKeysReplayRefuseReuseAndJoinOpenEnrolments() async throws {
        try await LifecycleHarness.run { client, admin, _ in
            let sam = try await admin.token(Seeded.samClientStaff, Self.staffAmr)
            let first = try await client.enrol(sam, phone: "0491 570 006", key: "key-a")
            #expect(first.status == .created)
            let replay = try await client.enrol(sam, phone: "+61 491 570 006", key: "key-a")
            #expect(replay.status == .created)
            #expect(replay.headers[.init("Idempotent-Replayed")!] == "true")
            #expect(replay.json["id"] as? String == first.json["id"] as? String)
            let reused = try await client.enrol(sam, phone: "0491 570 007", key: "key-a")
            #expect(reused.status == .unprocessableContent)
            #expect(reused.problemCode == "idempotency_key_reused")
            // A new key for the same pending number returns the same enrolment: no second SMS.
            let joined = try await client.enrol(sam, phone: "0491-570-006", key: "key-b")
            #expect(joined.status == .ok)
            #expect(joined.json["id"] as? String == first.json["id"] as? String)
            #expect(try await admin.calls("SetPhone") == 1)
            #expect(await admin.codes(for: Seeded.samClientStaff).count == 1)
            // The same key from another user is theirs alone.
            let harriet = try await admin.token("300000000000001008", Self.staffAmr)
            #expect(try await client.enrol(harriet, phone: "0491 570 008", key: "key-a").status == .created)
        }
    }

    @Test func manyConcurrentDuplicatesForwardExactlyOnce() async throws {
        try await LifecycleHarness.run(testing: .live) { client, admin, _ in
            let sam = try await admin.token(Seeded.samClientStaff, Self.staffAmr)
            // Slow the provider so that duplicates arrive while the first forward is in flight.
            try await admin.fault(rpc: "SetPhone", ["latencyMs": 300])
            let answers = try await withThrowingTaskGroup(of: (Int, String?, String?).self) { group in
                for index in 0..<48 {
                    group.addTask {
                        let phone = ["0491 570 009", "+61491570009", "0011 61 491 570 009"][index % 3]
                        let response = try await client.enrol(sam, phone: phone, key: "load-\(index % 6)")
                        return (Int(response.status.code), response.json["id"] as? String, response.problemCode)
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(try await admin.calls("SetPhone") == 1)
            let ids = Set(answers.compactMap(\.1))
            #expect(ids.count == 1, "every successful answer names the same enrolment")
            for (status, id, code) in answers {
                #expect((status == 201 || status == 200) && id != nil || status == 409 && code == "request_in_progress")
            }
            #expect(answers.filter { $0.0 == 201 }.count >= 1)
        }
    }

    @Test func rateLimitsRefuseWithRetryAfterAndRateLimitHeaders() async throws {
        let sms: [String: ConfigValue] = [
            "sms.rateLimits.user.limit": 2, "sms.rateLimits.user.periodSeconds": 3600, "sms.resendIntervalSeconds": 0,
            "sms.maxResends": 1, "sms.callerAddressHeader": "X-Forwarded-For", "sms.rateLimits.address.limit": 10,
            "sms.rateLimits.address.periodSeconds": 60,
        ]
        try await LifecycleHarness.run(sms: sms) { client, admin, _ in
            let sam = try await admin.token(Seeded.samClientStaff, Self.staffAmr)
            let proxied: HTTPFields = [.init("X-Forwarded-For")!: "203.0.113.9, 198.51.100.7"]
            let first = try await client.enrol(sam, phone: "0491 570 010", key: "r1", headers: proxied)
            #expect(first.status == .created)
            let second = try await client.enrol(sam, phone: "0491 570 011", key: "r2", headers: proxied)
            #expect(second.status == .created)
            let refused = try await client.enrol(sam, phone: "0491 570 012", key: "r3", headers: proxied)
            #expect(refused.status == .tooManyRequests)
            #expect(refused.problemCode == "rate_limited")
            #expect(Int(refused.headers[.retryAfter] ?? "") ?? 0 > 0)
            #expect(refused.headers[.init("RateLimit-Policy")!] == "\"user\";q=2;w=3600")
            #expect(refused.headers[.init("RateLimit")!]?.hasPrefix("\"user\";r=0;t=") == true)
            #expect(try await admin.calls("SetPhone") == 2)
            // The refused key recorded nothing: once allowed, it would be a fresh claim (not a replay of the 429).
            // The second number replaced the first at Zitadel (one phone per user): its enrolment is closed.
            let firstId = try #require(first.json["id"] as? String)
            #expect(try await client.resendEnrolment(sam, id: firstId, headers: proxied).problemCode == "enrolment_superseded")
            // Resends: one allowed, the second refused for this enrolment.
            let id = try #require(second.json["id"] as? String)
            let resent = try await client.resendEnrolment(sam, id: id, headers: proxied)
            #expect(resent.status == .ok)
            #expect((resent.json["resend"] as? [String: Any])?["remaining"] as? Int == 0)
            let again = try await client.resendEnrolment(sam, id: id, headers: proxied)
            #expect(again.status == .tooManyRequests)
            #expect(try await admin.calls("ResendPhoneCode") == 1)
            #expect(await admin.codes(for: Seeded.samClientStaff).count == 3)
        }
    }

    @Test func verificationAttemptsAreLimitedPerEnrolment() async throws {
        let sms: [String: ConfigValue] = ["sms.maxVerificationAttempts": 2]
        try await LifecycleHarness.run(sms: sms) { client, admin, _ in
            let sam = try await admin.token(Seeded.samClientStaff, Self.staffAmr)
            let id = try #require(try await client.enrol(sam, phone: "0491 570 013", key: "v1").json["id"] as? String)
            #expect(try await client.verifyEnrolment(sam, id: id, code: "WRONG1").problemCode == "invalid_code")
            #expect(try await client.verifyEnrolment(sam, id: id, code: "WRONG2").problemCode == "invalid_code")
            let code = try #require(await admin.codes(for: Seeded.samClientStaff).last)
            let locked = try await client.verifyEnrolment(sam, id: id, code: code)
            #expect(locked.status == .tooManyRequests)
            #expect(try await admin.calls("VerifyPhone") == 2)
        }
    }

    @Test func aTimeoutAfterZitadelAppliedTheChangeIsReconciledNotRepeated() async throws {
        try await LifecycleHarness.run(timeoutMs: 700, smsLeaseSeconds: 2) { client, admin, _ in
            let sam = try await admin.token(Seeded.samClientStaff, Self.staffAmr)
            try await admin.fault(rpc: "SetPhone", ["timeout": true, "afterHandler": true, "latencyMs": 5000, "times": 1])
            let created = try await client.enrol(sam, phone: "0491 570 014", key: "t1")
            #expect(created.status == .created)
            #expect(created.json["status"] as? String == "code_sent")
            #expect(try await admin.calls("SetPhone") == 1)
            #expect(try await admin.calls("GetUserByID") >= 1)
            let replay = try await client.enrol(sam, phone: "0491 570 014", key: "t1")
            #expect(replay.json["id"] as? String == created.json["id"] as? String)
            #expect(try await admin.calls("SetPhone") == 1)
        }
    }

    @Test func aForwardConfirmedNotAppliedIsRetriedOnlyAfterItsLease() async throws {
        // A lease long enough that the early retry below lands inside it however busy the machine is.
        try await LifecycleHarness.run(timeoutMs: 500, smsLeaseSeconds: 6) { client, admin, _ in
            let sam = try await admin.token(Seeded.samClientStaff, Self.staffAmr)
            // The provider fails without applying anything (503 before the handler runs).
            try await admin.fault(rpc: "SetPhone", ["status": 503, "times": 1])
            let failed = try await client.enrol(sam, phone: "0491 570 015", key: "u1")
            #expect(failed.status == .serviceUnavailable)
            #expect(failed.problemCode == "provider_unavailable")
            // Within the lease the outcome still counts as unknown: no second forward.
            let early = try await client.enrol(sam, phone: "0491 570 015", key: "u1")
            #expect(early.problemCode == "request_in_progress")
            #expect(try await admin.calls("SetPhone") == 1)
            try await Task.sleep(for: .milliseconds(6200))
            let retried = try await client.enrol(sam, phone: "0491 570 015", key: "u1")
            // The read shows no change was applied: the key starts afresh, and this time it goes through.
            #expect(retried.status == .serviceUnavailable || retried.status == .created)
            let final = retried.status == .created ? retried : try await client.enrol(sam, phone: "0491 570 015", key: "u1")
            #expect(final.status == .created)
            #expect(try await admin.calls("SetPhone") == 2)
            #expect(await admin.codes(for: Seeded.samClientStaff).count == 1)
        }
    }

    @Test func aNumberAlreadyOnTheAccountGetsAFreshCode() async throws {
        try await LifecycleHarness.run { client, admin, _ in
            // Marcus already has +61 491 570 157, unverified.
            let marcus = try await admin.token(Seeded.marcusClientManager, Self.staffAmr)
            let created = try await client.enrol(marcus, phone: "0491 570 157", key: "m1")
            #expect(created.status == .created)
            #expect(created.json["status"] as? String == "code_sent")
            // No code was pending for it, so the gateway removed and set it again to get one sent.
            #expect(try await admin.calls("ResendPhoneCode") == 1)
            #expect(try await admin.calls("RemovePhone") == 1)
            let code = try #require(await admin.codes(for: Seeded.marcusClientManager).last)
            let id = try #require(created.json["id"] as? String)
            #expect(try await client.verifyEnrolment(marcus, id: id, code: code).json["status"] as? String == "verified")
        }
    }

    @Test func aRefusedResendForANumberOnTheAccountLeavesThePhoneInPlace() async throws {
        try await LifecycleHarness.run { client, admin, _ in
            // Marcus already has +61 491 570 157, unverified; Zitadel refuses the resend (quota).
            let marcus = try await admin.token(Seeded.marcusClientManager, Self.staffAmr)
            try await admin.fault(rpc: "ResendPhoneCode", ["status": 429, "times": 1])
            let refused = try await client.enrol(marcus, phone: "0491 570 157", key: "m2")
            #expect(refused.status == .serviceUnavailable)
            #expect(refused.problemCode == "provider_unavailable")
            // Nothing was removed or set again: the phone is as it was.
            #expect(try await admin.calls("RemovePhone") == 0)
            #expect(try await admin.calls("SetPhone") == 1)
            // The key was released: the same request goes through once Zitadel takes it.
            let created = try await client.enrol(marcus, phone: "0491 570 157", key: "m2")
            #expect(created.status == .created)
            #expect(try await admin.calls("RemovePhone") == 1)
            #expect(await admin.codes(for: Seeded.marcusClientManager).count == 1)
        }
    }

    @Test func verifyingAgainAfterSMSCodesFailedToEnableCompletesTheEnrolment() async throws {
        try await LifecycleHarness.run { client, admin, _ in
            let sam = try await admin.token(Seeded.samClientStaff, Self.staffAmr)
            let created = try await client.enrol(sam, phone: "0491 570 018", key: "v1")
            let id = try #require(created.json["id"] as? String)
            let code = try #require(await admin.codes(for: Seeded.samClientStaff).last)
            // VerifyPhone succeeds, AddOTPSMS fails (both tries): the user is asked to verify again.
            try await admin.fault(rpc: "AddOTPSMS", ["status": 503, "times": 2])
            let first = try await client.verifyEnrolment(sam, id: id, code: code)
            #expect(first.status == .serviceUnavailable)
            #expect(first.problemCode == "provider_unavailable")
            // The code is spent at Zitadel, but the phone is verified there: verifying again enables SMS codes.
            let again = try await client.verifyEnrolment(sam, id: id, code: code)
            #expect(again.status == .ok)
            #expect(again.json["status"] as? String == "verified")
            #expect(try await admin.calls("AddOTPSMS") == 3)
            let snapshot = try await client.lifecycle(sam)
            #expect(snapshot.enrolled.contains("sms_otp"))
        }
    }

    @Test func auditEventsAreMaskedAndTenantScoped() async throws {
        let key = "audit-key-\(UUID().uuidString)"
        let apiKey = Harness.apiKey("siem", key: key, tenants: [Seeded.acacia], routes: ["GET /v1/audit-events"])
        try await LifecycleHarness.run(apiKeys: apiKey) { client, admin, _ in
            let sam = try await admin.token(Seeded.samClientStaff, Self.staffAmr)
            let created = try await client.enrol(sam, phone: "0491 570 016", key: "a1")
            let id = try #require(created.json["id"] as? String)
            _ = try await client.verifyEnrolment(sam, id: id, code: "WRONG1")
            var events: [[String: Any]] = []
            var cursor: String?
            repeat {
                let page = try await client.execute(
                    uri: "/v1/audit-events?limit=2" + (cursor.map { "&cursor=\($0)" } ?? ""), method: .get,
                    headers: [.init("X-API-Key")!: key])
                #expect(page.status == .ok)
                events += page.json["events"] as? [[String: Any]] ?? []
                cursor = page.json["nextCursor"] as? String
            } while cursor != nil
            let actions = events.compactMap { $0["action"] as? String }
            #expect(actions == ["sms_enrolment.requested", "sms_enrolment.code_sent", "sms_enrolment.verification_failed"])
            let text = String(decoding: try JSONSerialization.data(withJSONObject: events), as: UTF8.self)
            #expect(!text.contains("570016") && !text.contains("570 016") && !text.contains("WRONG1"))
            #expect((events.first?["metadata"] as? [String: Any])?["phone"] as? String == "+61 4•• ••• 016")
            // The API's one time format, as every other route (the audit trail once wrote fractional seconds).
            #expect(events.allSatisfy { APITime.isWellFormed($0["time"]) })
            // Another tenant is out of this key's scope: 404, as for a tenant that does not exist.
            let other = try await client.execute(
                uri: "/v1/audit-events", method: .get, headers: [.init("X-API-Key")!: key, .init("X-AiDial-Tenant")!: Seeded.banksia])
            #expect(other.status == .notFound)
            let badCursor = try await client.execute(
                uri: "/v1/audit-events?cursor=zz", method: .get, headers: [.init("X-API-Key")!: key])
            #expect(badCursor.problemCode == "invalid_request")
            // Sessions cannot read the audit trail.
            #expect(
                try await client.execute(uri: "/v1/audit-events", method: .get, headers: [.authorization: "Bearer \(sam)"]).status
                    == .forbidden)
        }
    }

    @Test func expiredEnrolmentsRefuseAndNoLongerBlockTheNumber() async throws {
        let sms: [String: ConfigValue] = ["sms.codeLifetimeSeconds": 1]
        try await LifecycleHarness.run(sms: sms) { client, admin, _ in
            let sam = try await admin.token(Seeded.samClientStaff, Self.staffAmr)
            let first = try await client.enrol(sam, phone: "0491 570 017", key: "e1")
            let id = try #require(first.json["id"] as? String)
            try await Task.sleep(for: .milliseconds(1200))
            let code = try #require(await admin.codes(for: Seeded.samClientStaff).last)
            let late = try await client.verifyEnrolment(sam, id: id, code: code)
            #expect(late.status == .gone)
            #expect(late.problemCode == "enrolment_expired")
            #expect(try await client.resendEnrolment(sam, id: id).problemCode == "enrolment_expired")
            #expect(try await admin.calls("VerifyPhone") == 0)
            // The expired enrolment no longer holds the number: a new key starts a new enrolment.
            let second = try await client.enrol(sam, phone: "0491 570 017", key: "e2")
            #expect(second.status == .created)
            #expect(second.json["id"] as? String != id)
        }
    }

    @Test func thePerAddressLimitUsesOnlyTheTrustedProxyHeader() async throws {
        let sms: [String: ConfigValue] = [
            "sms.callerAddressHeader": "X-Forwarded-For", "sms.rateLimits.address.limit": 1,
            "sms.rateLimits.address.periodSeconds": 3600,
        ]
        try await LifecycleHarness.run(sms: sms) { client, admin, _ in
            let sam = try await admin.token(Seeded.samClientStaff, Self.staffAmr)
            let harriet = try await admin.token("300000000000001008", Self.staffAmr)
            let header = HTTPField.Name("X-Forwarded-For")!
            // The proxy appends the address it saw last; earlier entries are the client's own claims.
            let first = try await client.enrol(sam, phone: "0491 570 018", key: "x1", headers: [header: "10.0.0.1, 203.0.113.5"])
            #expect(first.status == .created)
            let sameAddress = try await client.enrol(harriet, phone: "0491 570 019", key: "x2", headers: [header: "203.0.113.5"])
            #expect(sameAddress.status == .tooManyRequests)
            #expect(sameAddress.headers[.init("RateLimit-Policy")!] == "\"address\";q=1;w=3600")
            let otherAddress = try await client.enrol(harriet, phone: "0491 570 019", key: "x3", headers: [header: "203.0.113.6"])
            #expect(otherAddress.status == .created)
        }
    }
}
