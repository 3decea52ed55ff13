import Foundation
import Hummingbird
import HummingbirdTesting
import MockZitadel
import NIOCore
import Testing

/// The v2 APIs' authorization, errors and preconditions as Zitadel v4's sources have them (cited at each rule in
/// the mock: `internal/api/authz`, `internal/command`, `internal/query`, grpc-gateway, libphonenumber).
@Suite("Faithful Zitadel v2 semantics")
struct FaithfulUserServiceTests {
    static let helpdeskPAT = "mock-pat-acacia-helpdesk-300000000000000303"
    static let unknownUser = "999999999999999999"

    @Test(
        "existence before permission; no membership is 404 AUTHZ-cdgFk; a user manager lacks user.credential.write",
        arguments: Wire.allCases)
    func authorization(wire: Wire) async throws {
        try await withMock { client, _ in
            // Unknown users are NotFound with the RPC's own id, whoever asks.
            for (rpc, id) in [
                (V2Call.user("GetUserByID", Self.unknownUser, [:], .get, ""), "QUERY-Dfbg2"),
                (.user("SetPhone", Self.unknownUser, ["phone": "+61491570006", "returnCode": [:]], .post, "/phone"), "COMMAND-ieJ2e"),
                (.user("AddOTPSMS", Self.unknownUser, [:], .post, "/otp_sms"), "COMMAND-4g3xq"),
            ] {
                try expectError(try await call(client, wire, rpc, token: Seeded.reportingPAT), wire, status: .notFound, code: 5, id: id)
            }
            // No membership covering the user's organisation: NotFound, not PermissionDenied.
            let alice = V2Call.user("GetUserByID", Seeded.alice, [:], .get, "")
            try expectError(
                try await call(client, wire, alice, token: Seeded.reportingPAT), wire, status: .notFound, code: 5, id: "AUTHZ-cdgFk")
            let beth = V2Call.user("GetUserByID", Seeded.beth, [:], .get, "")
            try expectError(
                try await call(client, wire, beth, token: Self.helpdeskPAT), wire, status: .notFound, code: 5, id: "AUTHZ-cdgFk")
            // An ORG_USER_MANAGER reads and writes users of its organisation, but not their credentials.
            #expect(try await call(client, wire, alice, token: Self.helpdeskPAT).status == .ok)
            try expectError(
                try await call(client, wire, .user("RemoveOTPSMS", Seeded.alice, [:], .delete, "/otp_sms"), token: Self.helpdeskPAT), wire,
                status: .forbidden, code: 7, id: "AUTH-AWfge")
        }
    }

    @Test("list calls for an unknown user answer 200 with nothing", arguments: Wire.allCases)
    func unknownUserLists(wire: Wire) async throws {
        try await withMock { client, _ in
            let factors = try await ok(
                client, wire, .user("ListAuthenticationFactors", Self.unknownUser, [:], .post, "/authentication_factors/_search"))
            #expect(factors["result"] == nil)
            let passkeys = try await ok(client, wire, .user("ListPasskeys", Self.unknownUser, [:], .post, "/passkeys/_search"))
            #expect(passkeys["result"] == nil)
        }
    }

    @Test("a missing Authorization header is Unauthenticated 'auth header missing' without an error id; REST omits empty details")
    func missingAuthorization() async throws {
        try await withMock { client, _ in
            let rest = try await call(client, .rest, .user("GetUserByID", Seeded.alice, [:], .get, ""), token: nil)
            #expect(rest.status == .unauthorized)
            let body = try rest.json()
            #expect(body == ["code": 16, "message": "auth header missing"])
            let connect = try await call(client, .connect, .user("GetUserByID", Seeded.alice, [:], .get, ""), token: nil)
            #expect(try connect.json() == ["code": "unauthenticated", "message": "auth header missing"])
        }
    }

    @Test("field validation errors carry no error id: an empty phone or verification code", arguments: Wire.allCases)
    func validationErrors(wire: Wire) async throws {
        try await withMock { client, _ in
            let empty = try await call(client, wire, .user("SetPhone", Seeded.sam, ["phone": "", "returnCode": [:]], .post, "/phone"))
            try expectError(empty, wire, status: .badRequest, code: 3, id: nil)
            #expect(try empty.json()["message"]?.stringValue?.hasPrefix("invalid SetPhoneRequest.Phone:") == true)
            let code = try await call(client, wire, .user("VerifyPhone", Seeded.sam, ["verificationCode": ""], .post, "/phone/verify"))
            try expectError(code, wire, status: .badRequest, code: 3, id: nil)
        }
    }

    @Test("GetSession with a wrong session token is 403 QUERY-dsfr3", arguments: Wire.allCases)
    func wrongSessionToken(wire: Wire) async throws {
        try await withMock { client, _ in
            let token = try await mint(client, ["userId": .string(Seeded.alice), "format": "opaque"])
            let sid = try await sessionId(client, of: token)
            let response = try await call(
                client, wire,
                .session("GetSession", ["sessionId": .string(sid), "sessionToken": "wrong"], .get, "/v2/sessions/\(sid)")
                    .withRestQuery("sessionToken=wrong"))
            try expectError(response, wire, status: .forbidden, code: 7, id: "QUERY-dsfr3")
        }
    }

    @Test("DeleteSession's details are the session's: sequence, change date, the instance as resource owner", arguments: Wire.allCases)
    func deleteSessionDetails(wire: Wire) async throws {
        try await withMock { client, _ in
            let token = try await mint(client, ["userId": .string(Seeded.alice), "format": "opaque"])
            let sid = try await sessionId(client, of: token)
            let delete = V2Call.session("DeleteSession", ["sessionId": .string(sid)], .delete, "/v2/sessions/\(sid)")
            let first = try await ok(client, wire, delete)
            #expect(first["details"]?["resourceOwner"] == "300000000000000000")
            #expect(first["details"]?["sequence"]?.stringValue != nil)
            let again = try await ok(client, wire, delete)
            #expect(again["details"] == first["details"], "an ended session answers its existing details")
        }
    }

    @Test("recovery codes: count required, added up to 10 (COMMAND-8f2k9 beyond), removal needs codes", arguments: Wire.allCases)
    func recoveryCodes(wire: Wire) async throws {
        try await withMock { client, _ in
            let generate = { (userId: String, count: JSONValue?) in
                V2Call.user("GenerateRecoveryCodes", userId, count.map { ["count": $0] } ?? [:], .post, "/recovery_codes")
            }
            try expectError(try await call(client, wire, generate(Seeded.sam, nil)), wire, status: .badRequest, code: 3, id: nil)
            try expectError(try await call(client, wire, generate(Seeded.sam, 11)), wire, status: .badRequest, code: 3, id: "COMMAND-7c0nx")
            let four = try await ok(client, wire, generate(Seeded.sam, 4))
            #expect(four["recoveryCodes"]?.arrayValue?.count == 4)
            let six = try await ok(client, wire, generate(Seeded.sam, 6))
            #expect(six["recoveryCodes"]?.arrayValue?.count == 6, "new codes are added to the unused ones")
            try expectError(try await call(client, wire, generate(Seeded.sam, 1)), wire, status: .conflict, code: 6, id: "COMMAND-8f2k9")
            let types = try await ok(client, wire, .user("ListAuthenticationMethodTypes", Seeded.sam, [:], .get, "/authentication_methods"))
            #expect(types["authMethodTypes"]?.arrayValue?.contains("AUTHENTICATION_METHOD_TYPE_RECOVERY_CODE") == true)

            let remove = V2Call.user("RemoveRecoveryCodes", Seeded.beth, [:], .delete, "/recovery_codes")
            try expectError(try await call(client, wire, remove), wire, status: .badRequest, code: 9, id: "COMMAND-84rgg")
        }
    }

    @Test("ListAuthenticationMethodTypes lists PASSWORD after the factor types", arguments: Wire.allCases)
    func methodTypeOrder(wire: Wire) async throws {
        try await withMock { client, _ in
            let types = try await ok(
                client, wire, .user("ListAuthenticationMethodTypes", Seeded.alice, [:], .get, "/authentication_methods"))
            #expect(types["authMethodTypes"]?.arrayValue?.last == "AUTHENTICATION_METHOD_TYPE_PASSWORD")
            #expect(types["authMethodTypes"]?.arrayValue?.first == "AUTHENTICATION_METHOD_TYPE_TOTP")
        }
    }

    @Test("phone numbers are parsed as libphonenumber's Parse does: form, not validity", arguments: Wire.allCases)
    func phoneParsing(wire: Wire) async throws {
        try await withMock { client, _ in
            let short = try await ok(client, wire, .user("SetPhone", Seeded.sam, ["phone": "+6112", "isVerified": true], .post, "/phone"))
            #expect(short["details"] != nil)
            let user = try await ok(client, wire, .user("GetUserByID", Seeded.sam, [:], .get, ""))
            #expect(user["user"]?["human"]?["phone"]?["phone"] == "+6112")
            for invalid in ["+999123456", "+611"] {
                let response = try await call(
                    client, wire, .user("SetPhone", Seeded.beth, ["phone": .string(invalid), "returnCode": [:]], .post, "/phone"))
                try expectError(response, wire, status: .badRequest, code: 3, id: "PHONE-so0wa")
            }
        }
    }

    @Test("AddOTPSMS follows Zitadel's write model: a number once verified still counts after a change", arguments: Wire.allCases)
    func addOTPSMSAfterNumberChange(wire: Wire) async throws {
        try await withMock { client, _ in
            _ = try await ok(
                client, wire, .user("SetPhone", Seeded.tom, ["phone": .string(Seeded.sparePhone), "returnCode": [:]], .post, "/phone"))
            let user = try await ok(client, wire, .user("GetUserByID", Seeded.tom, [:], .get, ""))
            #expect(user["user"]?["human"]?["phone"]?["isVerified"] == nil)
            _ = try await ok(client, wire, .user("AddOTPSMS", Seeded.tom, [:], .post, "/otp_sms"))
        }
    }

    @Test("DeleteUserMetadata over REST takes its keys from the query")
    func deleteMetadataOverREST() async throws {
        try await withMock { client, mock in
            #expect(await mock.adminSetMetadata(userId: Seeded.sam, key: "first", value: "1"))
            #expect(await mock.adminSetMetadata(userId: Seeded.sam, key: "second key", value: "2"))
            #expect(await mock.adminSetMetadata(userId: Seeded.sam, key: "kept", value: "3"))
            // grpc-gateway reads the query as Go's url.ParseQuery does: `+` is a space.
            let response = try await client.execute(
                uri: "/v2/users/\(Seeded.sam)/metadata?keys=first&keys=second+key", method: .delete,
                headers: [.authorization: "Bearer \(Seeded.servicePAT)"])
            #expect(response.status == .ok, "\(response.text)")
            #expect(await mock.user(id: Seeded.sam)?.metadata == ["kept": "3"])
        }
    }
}

extension V2Call {
    /// The same call with a REST query string.
    func withRestQuery(_ query: String) -> V2Call {
        var copy = self
        copy.restQuery = query
        return copy
    }
}
