import Configuration
import Foundation
import GatewayCore
import GatewayStore
import HTTPTypes
import HummingbirdTesting
import Logging
import MockZitadel
import SessionValidation
import Synchronization
import Testing

@testable import GatewayApp

/// A real store with every call counted: each call is one store transaction (or a plain read of the clock).
final class TransactionCountingStore: GatewayStore {
    let inner: any GatewayStore
    let calls = Atomic<Int>(0)

    init(_ inner: any GatewayStore) { self.inner = inner }

    var count: Int { calls.load(ordering: .relaxed) }

    private func counted<T>(_ body: () async throws -> T) async rethrows -> T {
        calls.add(1, ordering: .relaxed)
        return try await body()
    }

    func migrate() async throws { try await counted { try await inner.migrate() } }
    func lifecycleRecord(tenant: String, user: String) async throws -> StoredLifecycleRecord? {
        try await counted { try await inner.lifecycleRecord(tenant: tenant, user: user) }
    }
    func saveLifecycleRecord(_ record: MFALifecycleRecord, tenant: String, user: String, expectedRevision: Int) async throws -> Bool {
        try await counted { try await inner.saveLifecycleRecord(record, tenant: tenant, user: user, expectedRevision: expectedRevision) }
    }
    func appendAuditEvent(_ event: AuditEvent) async throws { try await counted { try await inner.appendAuditEvent(event) } }
    func auditEvents(tenant: String, after cursor: String?, limit: Int) async throws -> AuditPage {
        try await counted { try await inner.auditEvents(tenant: tenant, after: cursor, limit: limit) }
    }
    func close() async throws { try await inner.close() }
    func now() async throws -> Double { try await counted { try await inner.now() } }
    func sharedSecret(named name: String, candidate: [UInt8]) async throws -> [UInt8] {
        try await counted { try await inner.sharedSecret(named: name, candidate: candidate) }
    }
    func claimSMSEnrolment(_ claim: SMSEnrolmentClaim) async throws -> SMSEnrolmentClaimOutcome {
        try await counted { try await inner.claimSMSEnrolment(claim) }
    }
    func updateSMSEnrolment(
        _ enrolment: SMSEnrolment, completing: IdempotencyCompletion?, audit: AuditEvent?
    ) async throws
        -> SMSEnrolment?
    {
        try await counted { try await inner.updateSMSEnrolment(enrolment, completing: completing, audit: audit) }
    }
    func finishIdempotencyKey(_ completion: IdempotencyCompletion) async throws {
        try await counted { try await inner.finishIdempotencyKey(completion) }
    }
    func smsEnrolment(id: String, tenant: String, userId: String) async throws -> SMSEnrolment? {
        try await counted { try await inner.smsEnrolment(id: id, tenant: tenant, userId: userId) }
    }
    func orphanedSMSEnrolments(limit: Int) async throws -> [SMSEnrolment] {
        try await counted { try await inner.orphanedSMSEnrolments(limit: limit) }
    }
    func chargeRateLimits(_ charges: [RateLimitCharge], refusalAudit: AuditEvent?) async throws -> RateLimitRefusal? {
        try await counted { try await inner.chargeRateLimits(charges, refusalAudit: refusalAudit) }
    }
    func recordRevocation(_ revocation: SessionRevocation) async throws -> SessionRevocation {
        try await counted { try await inner.recordRevocation(revocation) }
    }
    func revocations(after cursor: String?, limit: Int) async throws -> RevocationPage {
        try await counted { try await inner.revocations(after: cursor, limit: limit) }
    }
    func prune(_ retention: StoreRetention) async throws -> PrunedRows {
        try await counted { try await inner.prune(retention) }
    }
    func recordBackChannelLogout(
        tokenId: String, issuer: String, expiresAt: Double, revocation: SessionRevocation
    ) async throws -> SessionRevocation? {
        try await counted {
            try await inner.recordBackChannelLogout(
                tokenId: tokenId, issuer: issuer, expiresAt: expiresAt, revocation: revocation)
        }
    }
}

/// Issue 16's SMS items: bursts, slow providers, missing proxy headers and codes with letters.
@Suite struct SMSEnrolmentHostileTests {
    static var staffAmr: [String: Any] { ["amr": ["pwd"]] }

    /// The SMS service on a counted SQLite store, against the running mock.
    static func withCountedService(
        timeoutMs: Int = 8000, leaseSeconds: Int? = nil,
        _ body: @escaping @Sendable (SMSEnrolmentService, TransactionCountingStore, MockAdmin) async throws -> Void
    ) async throws {
        let pat = try #require(Seeded.servicePAT)
        try await MockZitadelAppRunner.run { baseURL, admin in
            var keys = Harness.keys(baseURL).merging(Harness.zitadel(baseURL, pat: pat, timeoutMs: timeoutMs)) { $1 }
            if let leaseSeconds { keys["sms.forwardLeaseSeconds"] = .init(integerLiteral: leaseSeconds) }
            let configuration = try await GatewayConfiguration.testing(keys)
            let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
            let validator = try SessionValidator(
                issuers: configuration.issuers, settings: configuration.validation, httpClient: .shared, logger: logger)
            let store = TransactionCountingStore(try await GatewayStoreFactory.open(url: "sqlite::memory:"))
            let lifecycle = try await buildMFALifecycle(
                configuration: configuration, validator: validator, httpClient: .shared, logger: logger, store: store)
            try await body(lifecycle.sms, store, admin)
            try await store.close()
        }
    }

    static let sam = Caller(
        userId: Seeded.samClientStaff, homeOrg: Seeded.acacia, tenant: Seeded.acacia, role: .clientStaff, sessionId: nil)

    /// Item 5: 100 parallel enrolment requests of one user (distinct keys, one number) while the provider is slow
    /// cost about one claim each, not a claim every 50 ms for the whole forward.
    @Test func aBurstForOneUserCostsABoundedCountedNumberOfStoreTransactions() async throws {
        try await Self.withCountedService { service, store, admin in
            try await admin.fault(rpc: "SetPhone", ["latencyMs": 1500, "times": 1])
            let before = store.count
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for index in 0..<100 {
                    group.addTask {
                        do {
                            let outcome = try await service.create(
                                phone: "0491 570 040", idempotencyKey: "burst-\(index)", caller: Self.sam, callerAddress: nil,
                                requestId: nil)
                            return try service.presenter.answer(outcome).status
                        } catch let problem as GatewayProblem {
                            return problem.status
                        }
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            let transactions = store.count - before
            print("SMS burst: 100 parallel requests for one user cost \(transactions) store transactions")
            #expect(statuses.allSatisfy { [200, 201, 409].contains($0) }, "\(statuses)")
            #expect(statuses.filter { $0 == 201 }.count == 1)
            #expect(try await admin.calls("SetPhone") == 1)
            // At most one claim per request, plus two (clock, key) for a request that arrives once the code is
            // out, the forward's own few, and the two waiters' backed-off polls; polling every 50 ms for the
            // forward's 1.5 s, as before, cost about 3,000.
            #expect(transactions <= 3 * 100 + 2 * 10 + 10, "\(transactions) store transactions")
        }
    }

    /// Item 4: a chain of Zitadel calls (SetPhone unchanged, lookup, resend, lookup, remove, set) stretched past
    /// the forward's lease while the client retries with the same key: the lease is renewed call by call, so the
    /// retry never takes the forward over (before, it read the phone while it was removed, forwarded a second
    /// SetPhone, and the first request's late answer overwrote the key's), and the user gets one code.
    @Test func aChainStretchedPastTheLeaseStillSendsOneMessage() async throws {
        // A 7 s lease (the 6 s call deadline plus a second); the chain below takes about 8.2 s, and the phone is off
        // the account from 5.2 s to 8.2 s (mock latency comes before the handler). Every latency is seconds short
        // of the deadline, so that a loaded machine does not turn it into a timeout.
        try await LifecycleHarness.run(timeoutMs: 6000, testing: .live, smsLeaseSeconds: 7) { client, admin, _ in
            // Marcus already has +61 491 570 157, unverified and with no code pending: the remove-and-set chain.
            let marcus = try await admin.token(Seeded.marcusClientManager, Self.staffAmr)
            try await admin.fault(rpc: "SetPhone", ["latencyMs": 0, "times": 1])
            try await admin.fault(rpc: "ResendPhoneCode", ["latencyMs": 2600, "times": 1])
            try await admin.fault(rpc: "RemovePhone", ["latencyMs": 2600, "times": 1])
            try await admin.fault(rpc: "SetPhone", ["latencyMs": 3000, "times": 1])
            // Over separate connections (the test client's own requests take turns on one).
            let url = "http://127.0.0.1:\(try #require(client.port))/v1/portal-mfa-lifecycle/sms-enrolments"
            let headers = ["Authorization": "Bearer \(marcus)", "Idempotency-Key": "chain"]
            let first = Task { () async throws -> (Int, String?, String?) in
                let answer = try await GatewayHTTP.send(.POST, url, headers: headers, json: ["phone": "0491 570 157"])
                return (answer.status, answer.json["id"] as? String, answer.json["status"] as? String)
            }
            // Once the first request forwards (its SetPhone reached the mock), the client retries with the same key
            // all along (a retry lands after the lease would have ended).
            let started = ContinuousClock.now
            while try await admin.calls("SetPhone") == 0, ContinuousClock.now - started < .seconds(20) {
                try await Task.sleep(for: .milliseconds(10))
            }
            var retries: [(Duration, Int, String?)] = []
            while ContinuousClock.now - started < .seconds(20) {
                try await Task.sleep(for: .milliseconds(200))
                let retry = try await GatewayHTTP.send(.POST, url, headers: headers, json: ["phone": "0491 570 157"])
                retries.append((ContinuousClock.now - started, retry.status, retry.json["code"] as? String))
                if retry.status == 201 { break }
            }
            let (status, id, state) = try await first.value
            #expect(status == 201 && state == "code_sent", "\(status) \(state ?? "-")")
            #expect(retries.contains { $0.0 > .milliseconds(7100) }, "a retry came after the lease: \(retries)")
            for (_, status, code) in retries {
                #expect(status == 201 || status == 409 && code == "request_in_progress", "\(retries)")
            }
            // One message with one code, from the one SetPhone that changed the number.
            #expect(await admin.codes(for: Seeded.marcusClientManager).count == 1)
            #expect(try await admin.calls("RemovePhone") == 1)
            #expect(try await admin.calls("SetPhone") == 2)
            let code = try #require(await admin.codes(for: Seeded.marcusClientManager).last)
            let verified = try await client.verifyEnrolment(marcus, id: try #require(id), code: code)
            #expect(verified.json["status"] as? String == "verified")
        }
    }

    /// Item 11: a key whose enrolment was superseded by a newer number, or whose code expired, says so in its own
    /// code and keeps saying it; neither claims that Zitadel refused anything.
    @Test func aKeysSupersededOrExpiredEnrolmentAnswersInItsOwnCode() async throws {
        try await Self.withCountedService { service, store, _ in
            /// A key whose request recorded the code as sent, then died before binding the key to its answer.
            func interrupted(_ caller: Caller, key: String, phone: String, lifetime: Double) async throws {
                let mobile = try AustralianMobile(parsing: phone)
                let homeOrg = try #require(caller.homeOrg)
                let claim = SMSEnrolmentClaim(
                    scope: IdempotencyScope(tenant: homeOrg, userId: caller.userId, key: key),
                    fingerprint: service.digests.request(mobile.e164), numberKey: service.digests.number(mobile.e164),
                    maskedPhone: mobile.masked, enrolmentId: SMSEnrolmentService.newId(), leaseSeconds: 0.1,
                    codeLifetimeSeconds: 600, charges: [],
                    audit: AuditEvent(
                        tenant: homeOrg, actor: caller.userId, session: nil, action: "sms_enrolment.requested",
                        outcome: "claimed", requestId: nil))
                guard case .claimed(let enrolment) = try await store.claimSMSEnrolment(claim) else {
                    Issue.record("expected a claim")
                    return
                }
                var sent = enrolment
                sent.state = .codeSent
                sent.leaseUntil = nil
                sent.expiresAt = try await store.now() + lifetime
                _ = try #require(try await store.updateSMSEnrolment(sent, completing: nil, audit: nil))
            }
            func answer(_ caller: Caller, key: String, phone: String) async throws -> (Int, String?) {
                do {
                    let answer = try service.presenter.answer(
                        try await service.create(
                            phone: phone, idempotencyKey: key, caller: caller, callerAddress: nil, requestId: nil))
                    let body = try JSONSerialization.jsonObject(with: Data(answer.body.utf8)) as? [String: Any]
                    return (answer.status, body?["code"] as? String)
                } catch let problem as GatewayProblem {
                    return (problem.status, problem.code.rawValue)
                }
            }
            try await interrupted(Self.sam, key: "older", phone: "0491 570 046", lifetime: 600)
            let harriet = Caller(
                userId: "300000000000001008", homeOrg: Seeded.acacia, tenant: Seeded.acacia, role: .clientStaff, sessionId: nil)
            try await interrupted(harriet, key: "late", phone: "0491 570 048", lifetime: 0.1)
            try await Task.sleep(for: .milliseconds(300))
            // A newer number replaces the first one at Zitadel before it was verified.
            #expect(try await answer(Self.sam, key: "newer", phone: "0491 570 047").0 == 201)
            for _ in 0..<2 {
                let superseded = try await answer(Self.sam, key: "older", phone: "0491 570 046")
                #expect(superseded.0 == 409 && superseded.1 == "enrolment_superseded", "\(superseded)")
                let expired = try await answer(harriet, key: "late", phone: "0491 570 048")
                #expect(expired.0 == 410 && expired.1 == "enrolment_expired", "\(expired)")
            }
        }
    }

    /// Item 8: with a trusted-proxy header configured, a request without it (or without an address in it) is
    /// refused before anything is charged; IPv6 callers share one budget per /64, IPv4-mapped ones count as IPv4.
    @Test func aMissingCallerAddressIsRefusedAndIPv6IsKeyedByItsSlash64() async throws {
        let sms: [String: ConfigValue] = [
            "sms.callerAddressHeader": "X-Forwarded-For", "sms.rateLimits.address.limit": 1,
            "sms.rateLimits.address.periodSeconds": 3600, "sms.resendIntervalSeconds": 0,
        ]
        try await LifecycleHarness.run(sms: sms) { client, admin, _ in
            let sam = try await admin.token(Seeded.samClientStaff, Self.staffAmr)
            let harriet = try await admin.token("300000000000001008", Self.staffAmr)
            let alice = try await admin.token(Seeded.aliceClientAdmin, ["amr": ["pwd", "otp", "mfa"]])
            let header = HTTPField.Name("X-Forwarded-For")!
            for headers: HTTPFields in [[:], [header: ""], [header: "203.0.113.5, unknown"], [header: "2001:db8::1%eth0"]] {
                let refused = try await client.enrol(sam, phone: "0491 570 041", key: "a0", headers: headers)
                #expect(refused.status == .badRequest, "\(headers)")
                #expect(refused.problemCode == "caller_address_required", "\(headers)")
            }
            #expect(try await admin.calls("SetPhone") == 0)
            // Two addresses in one /64 are one caller; another /64 is another.
            let first = try await client.enrol(sam, phone: "0491 570 041", key: "a1", headers: [header: "2001:DB8:0:1::1"])
            #expect(first.status == .created)
            let sameNetwork = try await client.enrol(
                harriet, phone: "0491 570 042", key: "a2", headers: [header: "2001:db8:0:1:ffff:ffff:ffff:fffe"])
            #expect(sameNetwork.status == .tooManyRequests)
            #expect(sameNetwork.headers[.init("RateLimit-Policy")!] == "\"address\";q=1;w=3600")
            let otherNetwork = try await client.enrol(harriet, phone: "0491 570 042", key: "a3", headers: [header: "2001:db8:0:2::1"])
            #expect(otherNetwork.status == .created)
            // An IPv4 address and its IPv4-mapped IPv6 spelling are one caller.
            let v4 = try await client.enrol(alice, phone: "0491 570 043", key: "a4", headers: [header: "198.51.100.20"])
            #expect(v4.status == .created)
            let mapped = try await client.resendEnrolment(
                alice, id: try #require(v4.json["id"] as? String), headers: [header: "::ffff:198.51.100.20"])
            #expect(mapped.status == .tooManyRequests)
            #expect(mapped.headers[.init("RateLimit-Policy")!] == "\"address\";q=1;w=3600")
        }
    }

    /// Item 9: Zitadel compares codes exactly; an instance may generate letters of either case. The code goes to
    /// Zitadel as typed, trimmed of surrounding whitespace only.
    @Test func codesKeepTheirCase() async throws {
        try await LifecycleHarness.run { client, admin, _ in
            await admin.mock.setPhoneCodeGenerator(
                SecretGeneratorConfig(length: 8, includeLowerLetters: true, includeUpperLetters: true, includeDigits: false))
            let sam = try await admin.token(Seeded.samClientStaff, Self.staffAmr)
            let created = try await client.enrol(sam, phone: "0491 570 044", key: "case")
            let id = try #require(created.json["id"] as? String)
            let code = try #require(await admin.codes(for: Seeded.samClientStaff).last)
            #expect(code.count == 8 && code.allSatisfy(\.isLetter))
            let flipped = String(code.map { $0.isUppercase ? Character($0.lowercased()) : Character($0.uppercased()) })
            let wrongCase = try await client.verifyEnrolment(sam, id: id, code: flipped)
            #expect(wrongCase.status == .unprocessableContent)
            #expect(wrongCase.problemCode == "invalid_code")
            // It reached Zitadel, which refused it: case is Zitadel's to judge.
            #expect(try await admin.calls("VerifyPhone") == 1)
            let verified = try await client.verifyEnrolment(sam, id: id, code: "  \(code)\n")
            #expect(verified.status == .ok, "\(verified.json)")
            #expect(verified.json["status"] as? String == "verified")
        }
    }

    @Test func codeFormatAcceptsWhatZitadelCanGenerate() {
        #expect(SMSEnrolmentService.normalisedCode(" aBcD12 ") == "aBcD12")
        #expect(SMSEnrolmentService.normalisedCode("~!@#$^&*()_+`-={}|[]:<>?,./") == "~!@#$^&*()_+`-={}|[]:<>?,./")
        #expect(SMSEnrolmentService.normalisedCode("ab cd") == nil)
        #expect(SMSEnrolmentService.normalisedCode("") == nil)
        #expect(SMSEnrolmentService.normalisedCode(String(repeating: "A", count: 65)) == nil)
        #expect(SMSEnrolmentService.normalisedCode("ÄÖ12") == nil)
    }
}
