import Crypto
import Foundation
import GatewayCore
import GatewayStore
import Logging
import SessionValidation
import Testing
import ZitadelClient

@testable import GatewayApp

/// With the store unavailable, enrolment refuses (503 `store_unavailable`) and never reaches Zitadel.
@Suite struct SMSEnrolmentFailClosedTests {
    /// A store whose every call fails, as a database that went away.
    struct UnavailableStore: GatewayStore {
        struct Down: Error {}
        func migrate() async throws { throw Down() }
        func lifecycleRecord(tenant: String, user: String) async throws -> StoredLifecycleRecord? { throw Down() }
        func saveLifecycleRecord(_ record: MFALifecycleRecord, tenant: String, user: String, expectedRevision: Int) async throws -> Bool {
            throw Down()
        }
        func appendAuditEvent(_ event: AuditEvent) async throws { throw Down() }
        func auditEvents(tenant: String, after cursor: String?, limit: Int) async throws -> AuditPage { throw Down() }
        func close() async throws {}
        func now() async throws -> Double { throw Down() }
        func sharedSecret(named name: String, candidate: [UInt8]) async throws -> [UInt8] { throw Down() }
        func claimSMSEnrolment(_ claim: SMSEnrolmentClaim) async throws -> SMSEnrolmentClaimOutcome { throw Down() }
        func updateSMSEnrolment(
            _ enrolment: SMSEnrolment, completing: IdempotencyCompletion?, audit: AuditEvent?
        ) async throws
            -> SMSEnrolment?
        { throw Down() }
        func finishIdempotencyKey(_ completion: IdempotencyCompletion) async throws { throw Down() }
        func smsEnrolment(id: String, tenant: String, userId: String) async throws -> SMSEnrolment? { throw Down() }
        func orphanedSMSEnrolments(limit: Int) async throws -> [SMSEnrolment] { throw Down() }
        func chargeRateLimits(_ charges: [RateLimitCharge], refusalAudit: AuditEvent?) async throws -> RateLimitRefusal? {
            throw Down()
        }
        func recordRevocation(_ revocation: SessionRevocation) async throws -> SessionRevocation { throw Down() }
        func revocations(after cursor: String?, limit: Int) async throws -> RevocationPage { throw Down() }
        func prune(_ retention: StoreRetention) async throws -> PrunedRows { throw Down() }
        func recordBackChannelLogout(
            tokenId: String, issuer: String, expiresAt: Double, revocation: SessionRevocation
        ) async throws -> SessionRevocation? { throw Down() }
    }

    /// Counts the calls that would change state at Zitadel.
    final class RecordingPhoneAPI: ZitadelPhoneEnrolment, @unchecked Sendable {
        let lock = NSLock()
        var calls: [String] = []

        func record(_ name: String) { lock.withLock { calls.append(name) } }
        static func empty<T: Decodable>() -> T {
            // swift-format-ignore: NeverForceUnwrap
            (try? JSONDecoder().decode(T.self, from: Data("{}".utf8)))!
        }
        func setPhone(_ userId: String, phone: String) async throws(ZitadelClientError) -> SetPhoneResponse {
            record("SetPhone")
            return Self.empty()
        }
        func verifyPhone(_ userId: String, code: String) async throws(ZitadelClientError) -> DetailsResponse {
            record("VerifyPhone")
            return Self.empty()
        }
        func resendPhoneCode(_ userId: String) async throws(ZitadelClientError) -> SetPhoneResponse {
            record("ResendPhoneCode")
            return Self.empty()
        }
        func addOTPSMS(_ userId: String) async throws(ZitadelClientError) -> DetailsResponse {
            record("AddOTPSMS")
            return Self.empty()
        }
        func removePhone(_ userId: String) async throws(ZitadelClientError) -> DetailsResponse {
            record("RemovePhone")
            return Self.empty()
        }
    }

    @Test func aStoreOutageRefusesWithoutForwarding() async throws {
        let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        let validator = try SessionValidator(
            issuers: [
                IssuerConfiguration(
                    name: "t", issuer: "http://127.0.0.1:1", audiences: ["a"], projectId: "a", clientIds: ["c"])
            ],
            settings: ValidationSettings(), httpClient: .shared, logger: logger)
        let store = UnavailableStore()
        let lifecycle = MFALifecycleService(
            directory: nil, store: store, validator: validator, settings: MFASettings(), cacheTTL: .zero, logger: logger)
        let phoneAPI = RecordingPhoneAPI()
        let service = SMSEnrolmentService(
            phoneAPI: phoneAPI, directory: nil, store: store, lifecycle: lifecycle, settings: SMSSettings(),
            numberKey: SymmetricKey(size: .bits256), leaseSeconds: 5, logger: logger)
        let caller = Caller(userId: "u1", homeOrg: "t1", tenant: "t1", role: .clientStaff, sessionId: nil)
        await #expect(
            throws: GatewayProblem(
                .storeUnavailable, "The enrolment ledger is unavailable; nothing was sent. Retry shortly.", retryAfter: 2)
        ) {
            _ = try await service.create(phone: "0491 570 006", idempotencyKey: "k", caller: caller, callerAddress: nil, requestId: nil)
        }
        await #expect(throws: GatewayProblem.self) {
            _ = try await service.resend(id: "sme_aaaaaaaaaaaaaaaaaaaaaaaa", caller: caller, callerAddress: nil, requestId: nil)
        }
        await #expect(throws: GatewayProblem.self) {
            _ = try await service.verify(id: "sme_aaaaaaaaaaaaaaaaaaaaaaaa", code: "ABC123", caller: caller, requestId: nil)
        }
        #expect(phoneAPI.calls.isEmpty)
    }
}
