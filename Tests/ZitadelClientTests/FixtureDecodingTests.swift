import Foundation
import Testing

@testable import ZitadelClient

/// `Mocks/zitadel/...` relative to this file.
enum Fixtures {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Mocks/zitadel")

    /// A fixture's response body (fixtures are envelopes: version, call, request, response, expectation);
    /// files outside the fixtures (`../seed.json`) as they are.
    static func data(_ path: String) throws -> Data {
        let raw = try Data(contentsOf: root.appendingPathComponent(path))
        guard !path.hasPrefix("../") else { return raw }
        let envelope = try JSONSerialization.jsonObject(with: raw) as? [String: Any]
        let response = envelope?["response"] as? [String: Any]
        return try JSONSerialization.data(withJSONObject: response?["body"] ?? NSNull(), options: [.fragmentsAllowed])
    }

    static func decode<T: Decodable>(_ type: T.Type, _ path: String) throws -> T {
        try JSONDecoder().decode(type, from: try data(path))
    }
}

/// Targeted readings of fixtures; `ProviderContractTests` decodes every fixture into its stated value.
@Suite struct FixtureDecodingTests {
    @Test func userProfileFields() throws {
        let full = try Fixtures.decode(GetUserByIDResponse.self, "UserService/GetUserByID/human.json")
        #expect(full.user?.human?.profile?.displayName == "Alice Nguyen")
        #expect(full.user?.human?.email?.isVerified == true)
        #expect(full.user?.preferredLoginName == "alice.admin@acacia-freight.aidial.example")
        #expect(full.user?.isLocked == false)
        let sparse = try Fixtures.decode(GetUserByIDResponse.self, "UserService/GetUserByID/optional-fields-absent.json")
        #expect(sparse.user?.human?.profile?.displayName == nil)
        #expect(sparse.user?.human?.email?.isVerified == nil)
        #expect(sparse.user?.human?.phone?.phone == nil)
        let locked = try Fixtures.decode(
            GetUserByIDResponse.self, "UserService/GetUserByID/locked-unknown-enum-extra-fields.json")
        #expect(locked.user?.isLocked == true)
    }

    @Test func sessionListsAndDeletion() throws {
        let two = try Fixtures.decode(ListSessionsResponse.self, "SessionService/ListSessions/two-sessions.json")
        #expect(two.details?.totalResult == "2")
        #expect(two.sessions?.map(\.id) == ["318730000000000912", "318730000000000777"])
        #expect(two.sessions?[0].userAgent?.description == "Safari, macOS")
        #expect(two.sessions?[0].expirationDate == "2025-08-21T10:00:00Z")
        #expect(two.sessions?[0].factors?.webAuthN?.userVerified == true)
        #expect(two.sessions?[1].factors?.totp?.verifiedAt == "2025-08-20T09:00:05Z")
        #expect(two.sessions?[1].expirationDate == nil)
        let none = try Fixtures.decode(ListSessionsResponse.self, "SessionService/ListSessions/none.json")
        #expect(none.sessions == nil)
        #expect(none.details?.totalResult == nil)
        let extra = try Fixtures.decode(
            ListSessionsResponse.self, "SessionService/ListSessions/extra-fields-no-user-agent.json")
        #expect(extra.sessions?.first?.userAgent == nil)
        #expect(extra.sessions?.first?.factors?.intent?.verifiedAt != nil)
        let deleted = try Fixtures.decode(DetailsResponse.self, "SessionService/DeleteSession/deleted.json")
        // Sessions belong to the instance (internal/command/session.go): its id is the resource owner.
        #expect(deleted.details?.resourceOwner == "300000000000000000")
        #expect(deleted.details?.sequence == "413")
        let ended = try Fixtures.decode(DetailsResponse.self, "SessionService/DeleteSession/already-ended.json")
        #expect(ended.details?.sequence == "413", "an ended session answers the details of its termination")
        let user = try Fixtures.decode(GetUserByIDResponse.self, "UserService/GetUserByID/human.json")
        #expect(user.details?.resourceOwner == "300000000000000101" || user.user?.details?.resourceOwner == "300000000000000101")
    }

    @Test func methodTypesKeepUnknownValues() throws {
        let response = try Fixtures.decode(
            ListAuthenticationMethodTypesResponse.self, "UserService/ListAuthenticationMethodTypes/unknown-enum.json")
        #expect(response.authMethodTypes?.count == 3)
        let none = try Fixtures.decode(
            ListAuthenticationMethodTypesResponse.self, "UserService/ListAuthenticationMethodTypes/none.json")
        #expect(none.authMethodTypes == nil)
    }

    @Test func factorsAndPasskeys() throws {
        let factors = try Fixtures.decode(
            ListAuthenticationFactorsResponse.self, "UserService/ListAuthenticationFactors/otp-u2f.json")
        #expect(factors.result?.count == 3)
        #expect(factors.result?[0].otp != nil)
        #expect(factors.result?[1].u2f?.name == "YubiKey 5C NFC")
        let passkeys = try Fixtures.decode(ListPasskeysResponse.self, "UserService/ListPasskeys/two-passkeys.json")
        #expect(passkeys.result?.map(\.name) == ["iPhone 15 Pro", "Windows Hello (Surface Laptop)"])
        let metadata = try Fixtures.decode(ListUserMetadataResponse.self, "UserService/ListUserMetadata/mfa-required.json")
        #expect(metadata.metadata?.first?.decodedValue == "required")
    }

    @Test func newerStatesAndFieldsAreKept() throws {
        let passkeys = try Fixtures.decode(ListPasskeysResponse.self, "UserService/ListPasskeys/unknown-enum-extra-fields.json")
        #expect(passkeys.result?.map(\.state) == ["AUTH_FACTOR_STATE_SUSPENDED", "AUTH_FACTOR_STATE_READY"])
        #expect(passkeys.result?.map(\.name) == ["iPhone 15 Pro", "Windows Hello (Surface Laptop)"])
        let factors = try Fixtures.decode(
            ListAuthenticationFactorsResponse.self, "UserService/ListAuthenticationFactors/unknown-enum-extra-fields.json")
        let rows = try #require(factors.result)
        try #require(rows.count == 3)
        #expect(rows[0].state == "AUTH_FACTOR_STATE_SOMETHING_NEW")
        #expect(rows[0].otp != nil)
        #expect(rows[1].u2f?.name == "YubiKey 5C NFC")
        // A factor type no release has: the row decodes with its state and no factor the client knows.
        let future = rows[2]
        #expect(future.state == "AUTH_FACTOR_STATE_READY")
        #expect(future.otp == nil && future.otpSms == nil && future.otpEmail == nil && future.u2f == nil)
    }

    /// protojson writes int64 as strings; the models refuse numbers (as for GetUserByID/int64-as-numbers.json).
    @Test func int64AsNumbersIsRefused() {
        #expect(throws: DecodingError.self) {
            _ = try Fixtures.decode(ListSessionsResponse.self, "SessionService/ListSessions/int64-as-numbers.json")
        }
        #expect(throws: DecodingError.self) {
            _ = try Fixtures.decode(GetSessionResponse.self, "SessionService/GetSession/int64-as-numbers.json")
        }
        #expect(throws: DecodingError.self) {
            _ = try Fixtures.decode(DetailsResponse.self, "SessionService/DeleteSession/int64-as-numbers.json")
        }
        #expect(throws: DecodingError.self) {
            _ = try Fixtures.decode(GetUserByIDResponse.self, "UserService/GetUserByID/int64-as-numbers.json")
        }
    }

    @Test func sessionFactors() throws {
        let totp = try Fixtures.decode(GetSessionResponse.self, "SessionService/GetSession/password-totp.json")
        #expect(totp.session?.hasSecondFactor == true)
        #expect(totp.session?.usedRecoveryCode == false)
        let recovery = try Fixtures.decode(GetSessionResponse.self, "SessionService/GetSession/password-recovery-code.json")
        #expect(recovery.session?.usedRecoveryCode == true)
        let passkey = try Fixtures.decode(GetSessionResponse.self, "SessionService/GetSession/passkey.json")
        #expect(passkey.session?.factors?.webAuthN?.userVerified == true)
        let password = try Fixtures.decode(GetSessionResponse.self, "SessionService/GetSession/password-only.json")
        #expect(password.session?.hasSecondFactor == false)
    }
}

@Suite struct ErrorDecodingTests {
    func decode(_ file: String, status: Int) throws -> ZitadelAPIError {
        ZitadelAPIError.decode(status: status, body: Array(try Fixtures.data(file)))
    }

    @Test func connectForm() throws {
        let error = try decode("UserService/AddOTPSMS/phone-not-verified.connect.json", status: 400)
        #expect(error.code == .failedPrecondition)
        #expect(error.id == ZitadelErrorId.phoneNotVerified)
        #expect(try decode("UserService/GetUserByID/not-found.connect.json", status: 404).id == ZitadelErrorId.userNotFound)
        let noDetails = try decode("errors/unauthenticated.connect.json", status: 401)
        #expect(noDetails.code == .unauthenticated)
        #expect(noDetails.id == ZitadelErrorId.invalidToken)
        #expect(try decode("errors/unknown-code.connect.json", status: 500).code == .unknown)
    }

    @Test func restForm() throws {
        let error = try decode("UserService/AddOTPSMS/phone-not-verified.rest.json", status: 400)
        #expect(error.code == .failedPrecondition)
        #expect(error.id == "COMMAND-Q54j2")
        #expect(try decode("UserService/AddOTPSMS/already-added.rest.json", status: 409).code == .alreadyExists)
        #expect(try decode("errors/quota.rest.json", status: 429).id == ZitadelErrorId.quotaExhausted)
    }

    /// A state-changing call's failure, classified: what Zitadel refused, what may succeed later, and what may
    /// have been applied (the SMS workflow never repeats a SetPhone in the last case).
    @Test func classification() throws {
        let invalidPhone = ZitadelClientError.api(try decode("UserService/AddOTPSMS/phone-not-verified.connect.json", status: 400))
        #expect(invalidPhone.classification == .rejected)
        let quota = ZitadelClientError.api(try decode("errors/quota.rest.json", status: 429))
        #expect(quota.classification == .unavailable)
        #expect(ZitadelClientError.api(try decode("errors/unauthenticated.connect.json", status: 401)).classification == .unavailable)
        #expect(ZitadelClientError.api(try decode("errors/unknown-code.connect.json", status: 500)).classification == .outcomeUnknown)
        #expect(ZitadelClientError.credentialUnavailable("token endpoint refused").classification == .unavailable)
        for unknown: ZitadelClientError in [.timeout, .transport("reset"), .malformedResponse("not JSON")] {
            #expect(unknown.classification == .outcomeUnknown, "\(unknown)")
        }
        let table: [(ZitadelStatusCode, ZitadelClientError.Classification)] = [
            (.invalidArgument, .rejected), (.notFound, .rejected), (.alreadyExists, .rejected), (.failedPrecondition, .rejected),
            (.outOfRange, .rejected), (.resourceExhausted, .unavailable), (.permissionDenied, .unavailable),
            (.aborted, .unavailable), (.unimplemented, .unavailable), (.unavailable, .outcomeUnknown),
            (.deadlineExceeded, .outcomeUnknown), (.internal, .outcomeUnknown), (.dataLoss, .outcomeUnknown),
            (.canceled, .outcomeUnknown),
        ]
        for (code, expected) in table {
            let error = ZitadelClientError.api(ZitadelAPIError(code: code, httpStatus: 400, id: nil, message: nil))
            #expect(error.classification == expected, "\(code)")
        }
        #expect(Result<Int, ZitadelClientError>.failure(.timeout).kind == "timeout")
        #expect(Result<Int, ZitadelClientError>.success(1).kind == "ok")
    }

    /// ListUserMetadata on a Zitadel without the RPC: the codes the gateway reads as "no user policy".
    @Test func metadataRPCMissing() throws {
        // connect-go's plain-text 404 for a procedure the service does not have: not JSON, the status decides.
        let recorded = try Fixtures.data("UserService/ListUserMetadata/not-found.connect.json")
        let object = try JSONSerialization.jsonObject(with: recorded, options: [.fragmentsAllowed])
        let text = try #require(object as? String)
        let plain = ZitadelAPIError.decode(status: 404, body: Array(text.utf8))
        #expect(plain.code == .notFound)
        #expect(plain.id == nil)
        let rest = try decode("UserService/ListUserMetadata/not-found.rest.json", status: 404)
        #expect(rest.code == .notFound)
        #expect(rest.id == nil)
        #expect(try decode("UserService/ListUserMetadata/unimplemented.connect.json", status: 501).code == .unimplemented)
        #expect(try decode("UserService/ListUserMetadata/unimplemented.rest.json", status: 501).code == .unimplemented)
    }

    @Test func sessionNotFoundInBothForms() throws {
        for file in ["SessionService/GetSession/not-found.connect.json", "SessionService/GetSession/not-found.rest.json"] {
            let error = try decode(file, status: 404)
            #expect(error.code == .notFound, "\(file)")
            #expect(error.id == "QUERY-SFeaa", "\(file)")
        }
    }

    @Test func nonJSONFallsBackToStatus() {
        let error = ZitadelAPIError.decode(status: 503, body: Array("<html>busy</html>".utf8))
        #expect(error.code == .unavailable)
        #expect(error.id == nil)
        #expect(ZitadelClientError.api(error).isRetryable)
        #expect(!ZitadelClientError.api(ZitadelAPIError(code: .notFound, httpStatus: 404, id: nil, message: nil)).isRetryable)
        #expect(!ZitadelClientError.malformedResponse("x").isRetryable)
        #expect(ZitadelClientError.timeout.isRetryable)
    }

    @Test func idFromMessage() {
        #expect(ZitadelAPIError.idFromMessage("User could not be found (QUERY-Dfbg2)") == "QUERY-Dfbg2")
        #expect(ZitadelAPIError.idFromMessage("no id here (see docs)") == nil)
        #expect(ZitadelAPIError.idFromMessage("plain") == nil)
    }
}
