import Foundation
import Hummingbird
import HummingbirdTesting
import MockZitadel
import NIOCore
import Testing

@Suite("User service v2 (Connect and REST)")
struct UserServiceTests {
    @Test("GetUserByID returns protojson: camelCase, int64 as strings, zero values omitted", arguments: Wire.allCases)
    func getUserByID(wire: Wire) async throws {
        try await withMock { client, _ in
            let alice = try await ok(client, wire, .user("GetUserByID", Seeded.alice, [:], .get, ""))
            let user = try #require(alice["user"])
            #expect(user["userId"] == .string(Seeded.alice))
            #expect(user["state"] == "USER_STATE_ACTIVE")
            #expect(user["username"] == "alice.admin")
            #expect(user["loginNames"] == ["alice.admin@acacia-freight.aidial.example"])
            #expect(user["preferredLoginName"] == "alice.admin@acacia-freight.aidial.example")
            #expect(user["human"]?["profile"]?["givenName"] == "Alice")
            #expect(user["human"]?["profile"]?["displayName"] == "Alice Nguyen")
            #expect(user["human"]?["email"] == ["email": "alice.nguyen@acacia-freight.aidial.example", "isVerified": true])
            #expect(user["human"]?["phone"] == ["phone": "+61491570156", "isVerified": true])
            let details = try #require(alice["details"])
            #expect(details["sequence"]?.stringValue.flatMap { Int64($0) } != nil, "sequence must be an int64 string")
            #expect(details["resourceOwner"] == .string(Seeded.acacia))
            #expect(details["changeDate"]?.stringValue?.hasSuffix("Z") == true)

            // Zero values are absent: Sam's email is unverified and he has no phone.
            let sam = try await ok(client, wire, .user("GetUserByID", Seeded.sam, [:], .get, ""))
            #expect(sam["user"]?["human"]?["email"] == ["email": "sam.okafor@acacia-freight.aidial.example"])
            #expect(sam["user"]?["human"]?["phone"] == [:])
            #expect(sam["user"]?["human"]?["mfaInitSkipped"] == nil)
            let nora = try await ok(client, wire, .user("GetUserByID", Seeded.nora, [:], .get, ""))
            #expect(nora["user"]?["human"]?["mfaInitSkipped"]?.stringValue != nil)

            let machine = try await ok(client, wire, .user("GetUserByID", Seeded.machineUserId, [:], .get, ""))
            #expect(machine["user"]?["machine"]?["name"] == "zitadel-gateway service user")
            #expect(machine["user"]?["human"] == nil)

            let unknown = try await call(client, wire, .user("GetUserByID", "999999999999999999", [:], .get, ""))
            try expectError(unknown, wire, status: .notFound, code: 5, id: "QUERY-Dfbg2")
        }
    }

    @Test(
        "PAT and bearer auth: missing or wrong tokens are Unauthenticated; humans act on their own id only (404 AUTHZ-cdgFk)",
        arguments: Wire.allCases)
    func authentication(wire: Wire) async throws {
        try await withMock { client, _ in
            let get = V2Call.user("GetUserByID", Seeded.alice, [:], .get, "")
            try expectError(try await call(client, wire, get, token: nil), wire, status: .unauthorized, code: 16, id: nil)
            try expectError(try await call(client, wire, get, token: "nope"), wire, status: .unauthorized, code: 16, id: "AUTH-7fs1e")

            let aliceToken = try await mint(client, ["userId": .string(Seeded.alice), "format": "opaque"])
            #expect(try await call(client, wire, get, token: aliceToken).status == .ok)
            let jwt = try await mint(client, ["userId": .string(Seeded.alice), "format": "jwt"])
            #expect(try await call(client, wire, get, token: jwt).status == .ok)
            let other = V2Call.user("GetUserByID", Seeded.beth, [:], .get, "")
            try expectError(try await call(client, wire, other, token: aliceToken), wire, status: .notFound, code: 5, id: "AUTHZ-cdgFk")
            // A machine user without manager roles may not read other users either.
            try expectError(
                try await call(client, wire, get, token: Seeded.reportingPAT), wire, status: .notFound, code: 5, id: "AUTHZ-cdgFk")
            // An expired token is no better than none.
            let expired = try await mint(client, ["userId": .string(Seeded.alice), "format": "opaque", "expiresIn": -5])
            try expectError(try await call(client, wire, get, token: expired), wire, status: .unauthorized, code: 16, id: "AUTH-7fs1e")
        }
    }

    @Test("ListAuthenticationMethodTypes lists READY factors, RECOVERY_CODE while codes remain", arguments: Wire.allCases)
    func authenticationMethodTypes(wire: Wire) async throws {
        try await withMock { client, _ in
            func types(_ userId: String) async throws -> [String] {
                let body = try await ok(client, wire, .user("ListAuthenticationMethodTypes", userId, [:], .get, "/authentication_methods"))
                return (body["authMethodTypes"]?.arrayValue ?? []).compactMap(\.stringValue)
            }
            let prefix = "AUTHENTICATION_METHOD_TYPE_"
            #expect(try await types(Seeded.alice) == ["TOTP", "OTP_SMS", "RECOVERY_CODE", "PASSWORD"].map { prefix + $0 })
            #expect(try await types(Seeded.priya) == ["PASSKEY", "TOTP", "RECOVERY_CODE", "PASSWORD"].map { prefix + $0 })
            #expect(try await types(Seeded.beth) == ["TOTP", "U2F", "OTP_EMAIL", "PASSWORD"].map { prefix + $0 })
            #expect(try await types(Seeded.sam) == [prefix + "PASSWORD"])
            // Oscar's TOTP is not ready and his recovery codes are used up.
            #expect(try await types(Seeded.oscar) == ["OTP_SMS", "PASSWORD"].map { prefix + $0 })
            let body = try await ok(
                client, wire, .user("ListAuthenticationMethodTypes", Seeded.alice, [:], .get, "/authentication_methods"))
            #expect(body["details"]?["totalResult"] == "4")
        }
    }

    @Test("ListAuthenticationFactors: otp is TOTP, U2F carries id and name, filters by type and state", arguments: Wire.allCases)
    func authenticationFactors(wire: Wire) async throws {
        try await withMock { client, _ in
            let beth = try await ok(
                client, wire, .user("ListAuthenticationFactors", Seeded.beth, [:], .post, "/authentication_factors/_search"))
            #expect(
                beth == [
                    "result": [
                        ["state": "AUTH_FACTOR_STATE_READY", "otp": [:]],
                        ["state": "AUTH_FACTOR_STATE_READY", "u2f": ["id": "300000000000002002", "name": "YubiKey 5C NFC"]],
                        ["state": "AUTH_FACTOR_STATE_READY", "otpEmail": [:]],
                    ]
                ])
            // Tom's TOTP is NOT_READY: absent by default, present when asked for.
            #expect(
                try await ok(client, wire, .user("ListAuthenticationFactors", Seeded.tom, [:], .post, "/authentication_factors/_search"))
                    == [:])
            let notReady = V2Call.user(
                "ListAuthenticationFactors", Seeded.tom, ["authFactors": ["OTP"], "states": ["AUTH_FACTOR_STATE_NOT_READY"]], .post,
                "/authentication_factors/_search", query: "authFactors=OTP&states=AUTH_FACTOR_STATE_NOT_READY")
            #expect(try await ok(client, wire, notReady) == ["result": [["state": "AUTH_FACTOR_STATE_NOT_READY", "otp": [:]]]])
            let onlySMS = V2Call.user(
                "ListAuthenticationFactors", Seeded.alice, ["authFactors": ["OTP_SMS"]], .post, "/authentication_factors/_search",
                query: "authFactors=OTP_SMS")
            #expect(try await ok(client, wire, onlySMS) == ["result": [["state": "AUTH_FACTOR_STATE_READY", "otpSms": [:]]]])
        }
    }

    @Test("ListPasskeys returns READY passkeys with device labels and no timestamps", arguments: Wire.allCases)
    func passkeys(wire: Wire) async throws {
        try await withMock { client, _ in
            let priya = try await ok(client, wire, .user("ListPasskeys", Seeded.priya, [:], .post, "/passkeys/_search"))
            #expect(
                priya["result"] == [
                    ["id": "300000000000002003", "state": "AUTH_FACTOR_STATE_READY", "name": "iPhone 15 Pro"],
                    ["id": "300000000000002004", "state": "AUTH_FACTOR_STATE_READY", "name": "Windows Hello (Surface Laptop)"],
                ])
            #expect(priya["details"]?["totalResult"] == "2")
            let sam = try await ok(client, wire, .user("ListPasskeys", Seeded.sam, [:], .post, "/passkeys/_search"))
            #expect(sam["result"] == nil)
            #expect(sam["details"]?["totalResult"] == nil)
            #expect(sam["details"]?["timestamp"] != nil)
        }
    }

    @Test("SetPhone sends a code to the outbox, VerifyPhone checks it, the same number again is COMMAND-Uch5e", arguments: Wire.allCases)
    func phoneVerification(wire: Wire) async throws {
        try await withMock { client, _ in
            let set = V2Call.user("SetPhone", Seeded.sam, ["phone": "0491 571 266", "sendCode": [:]], .post, "/phone")
            let australian = V2Call.user("SetPhone", Seeded.sam, ["phone": "+61 491 571 266", "sendCode": [:]], .post, "/phone")
            // Without `+` the number is read as Swiss (Zitadel's default region).
            let swiss = try await ok(client, wire, set)
            #expect(swiss["verificationCode"] == nil)
            #expect(
                try await ok(client, wire, .user("GetUserByID", Seeded.sam, [:], .get, ""))["user"]?["human"]?["phone"] == [
                    "phone": "+41491571266"
                ])
            let body = try await ok(client, wire, australian)
            #expect(body["details"]?["sequence"] != nil)
            let messages = try await outbox(client, query: "?userId=\(Seeded.sam)")
            #expect(messages.count == 2)
            let sms = try #require(messages.last)
            #expect(sms["maskedPhone"] == "+61 4•• ••• 266")
            #expect(sms["kind"] == "phone_verification")
            let code = try #require(sms["code"]?.stringValue)
            #expect(code.count == 6 && code.allSatisfy { $0.isUppercase || $0.isNumber })

            let wrong = V2Call.user("VerifyPhone", Seeded.sam, ["verificationCode": "WRONG1"], .post, "/phone/verify")
            try expectError(try await call(client, wire, wrong), wire, status: .badRequest, code: 3, id: "COMMAND-eis9R")
            _ = try await ok(client, wire, .user("VerifyPhone", Seeded.sam, ["verificationCode": .string(code)], .post, "/phone/verify"))
            let user = try await ok(client, wire, .user("GetUserByID", Seeded.sam, [:], .get, ""))
            #expect(user["user"]?["human"]?["phone"] == ["phone": .string(Seeded.sparePhone), "isVerified": true])

            // The same number again: FailedPrecondition, HTTP 400 (not 412).
            try expectError(try await call(client, wire, australian), wire, status: .badRequest, code: 9, id: "COMMAND-Uch5e")
            let empty = V2Call.user("SetPhone", Seeded.sam, ["phone": ""], .post, "/phone")
            try expectError(try await call(client, wire, empty), wire, status: .badRequest, code: 3, id: nil)
            let garbage = V2Call.user("SetPhone", Seeded.sam, ["phone": "call me"], .post, "/phone")
            try expectError(try await call(client, wire, garbage), wire, status: .badRequest, code: 3, id: "PHONE-so0wa")
            let unknown = V2Call.user("SetPhone", "999999999999999999", ["phone": "+61491570006"], .post, "/phone")
            try expectError(try await call(client, wire, unknown), wire, status: .notFound, code: 5, id: "COMMAND-ieJ2e")
        }
    }

    @Test("returnCode returns the code and sends nothing; isVerified needs user.write, also on one's own user", arguments: Wire.allCases)
    func phoneVerificationModes(wire: Wire) async throws {
        try await withMock { client, _ in
            let returned = try await ok(
                client, wire, .user("SetPhone", Seeded.sam, ["phone": "+61491570006", "returnCode": [:]], .post, "/phone"))
            let code = try #require(returned["verificationCode"]?.stringValue)
            #expect(code.count == 6)
            #expect(try await outbox(client).isEmpty)
            // ResendPhoneCode with sendCode sends a new one; with returnCode returns it.
            _ = try await ok(client, wire, .user("ResendPhoneCode", Seeded.sam, ["sendCode": [:]], .post, "/phone/resend"))
            let resent = try #require(try await outbox(client, query: "?userId=\(Seeded.sam)").last?["code"]?.stringValue)
            try expectError(
                try await call(client, wire, .user("VerifyPhone", Seeded.sam, ["verificationCode": .string(code)], .post, "/phone/verify")),
                wire,
                status: .badRequest, code: 3, id: "COMMAND-eis9R")
            _ = try await ok(client, wire, .user("VerifyPhone", Seeded.sam, ["verificationCode": .string(resent)], .post, "/phone/verify"))
            // No code pending any more.
            try expectError(
                try await call(client, wire, .user("ResendPhoneCode", Seeded.sam, ["returnCode": [:]], .post, "/phone/resend")), wire,
                status: .badRequest, code: 9, id: "PHONE-5xrra88eq8")

            let samToken = try await mint(client, ["userId": .string(Seeded.sam), "format": "opaque"])
            let verified = V2Call.user("SetPhone", Seeded.sam, ["phone": "+61491570737", "isVerified": true], .post, "/phone")
            try expectError(try await call(client, wire, verified, token: samToken), wire, status: .notFound, code: 5, id: "AUTHZ-cdgFk")
            _ = try await ok(client, wire, verified)
            let user = try await ok(client, wire, .user("GetUserByID", Seeded.sam, [:], .get, ""))
            #expect(user["user"]?["human"]?["phone"] == ["phone": "+61491570737", "isVerified": true])
            #expect(try await outbox(client, query: "?userId=\(Seeded.sam)").count == 1)
            // The user may change their own number (a code is sent).
            _ = try await ok(client, wire, .user("SetPhone", Seeded.sam, ["phone": "+61491570110"], .post, "/phone"), token: samToken)
            #expect(try await outbox(client, query: "?phone=%2B61491570110").count == 1)
        }
    }

    @Test("AddOTPSMS needs a verified phone (COMMAND-Q54j2), once (COMMAND-Ad3g2); RemovePhone removes it", arguments: Wire.allCases)
    func otpSMS(wire: Wire) async throws {
        try await withMock { client, _ in
            let addMarcus = V2Call.user("AddOTPSMS", Seeded.marcus, [:], .post, "/otp_sms")
            try expectError(try await call(client, wire, addMarcus), wire, status: .badRequest, code: 9, id: "COMMAND-Q54j2")
            let addAlice = V2Call.user("AddOTPSMS", Seeded.alice, [:], .post, "/otp_sms")
            try expectError(try await call(client, wire, addAlice), wire, status: .conflict, code: 6, id: "COMMAND-Ad3g2")
            let tomToken = try await mint(client, ["userId": .string(Seeded.tom), "format": "jwt"])
            _ = try await ok(client, wire, .user("AddOTPSMS", Seeded.tom, [:], .post, "/otp_sms"), token: tomToken)
            let types = try await ok(client, wire, .user("ListAuthenticationMethodTypes", Seeded.tom, [:], .get, "/authentication_methods"))
            #expect(types["authMethodTypes"]?.arrayValue?.contains("AUTHENTICATION_METHOD_TYPE_OTP_SMS") == true)
            _ = try await ok(client, wire, .user("RemoveOTPSMS", Seeded.tom, [:], .delete, "/otp_sms"))
            try expectError(
                try await call(client, wire, .user("RemoveOTPSMS", Seeded.tom, [:], .delete, "/otp_sms")), wire, status: .notFound, code: 5,
                id: "COMMAND-Sr3h3")
            let missingUser = V2Call.user("AddOTPSMS", "999999999999999999", [:], .post, "/otp_sms")
            try expectError(try await call(client, wire, missingUser), wire, status: .notFound, code: 5, id: "COMMAND-4g3xq")

            // Changing Alice's number keeps OTP SMS; removing it removes OTP SMS.
            _ = try await ok(client, wire, .user("SetPhone", Seeded.alice, ["phone": "+61491578888", "isVerified": true], .post, "/phone"))
            let factors = V2Call.user(
                "ListAuthenticationFactors", Seeded.alice, ["authFactors": ["OTP_SMS"]], .post, "/authentication_factors/_search",
                query: "authFactors=OTP_SMS")
            #expect(try await ok(client, wire, factors)["result"]?.arrayValue?.count == 1)
            _ = try await ok(client, wire, .user("RemovePhone", Seeded.alice, [:], .delete, "/phone"))
            #expect(try await ok(client, wire, factors) == [:])
            try expectError(
                try await call(client, wire, .user("RemovePhone", Seeded.alice, [:], .delete, "/phone")), wire, status: .badRequest,
                code: 9,
                id: "COMMAND-ieJ2e")
        }
    }

    @Test("AddOTPEmail needs a verified email (COMMAND-KLJ2d), once (COMMAND-MKL2s)", arguments: Wire.allCases)
    func otpEmail(wire: Wire) async throws {
        try await withMock { client, _ in
            try expectError(
                try await call(client, wire, .user("AddOTPEmail", Seeded.sam, [:], .post, "/otp_email")), wire, status: .badRequest,
                code: 9,
                id: "COMMAND-KLJ2d")
            _ = try await ok(client, wire, .user("AddOTPEmail", Seeded.alice, [:], .post, "/otp_email"))
            try expectError(
                try await call(client, wire, .user("AddOTPEmail", Seeded.alice, [:], .post, "/otp_email")), wire, status: .conflict,
                code: 6,
                id: "COMMAND-MKL2s")
            _ = try await ok(client, wire, .user("RemoveOTPEmail", Seeded.alice, [:], .delete, "/otp_email"))
            try expectError(
                try await call(client, wire, .user("RemoveOTPEmail", Seeded.alice, [:], .delete, "/otp_email")), wire, status: .notFound,
                code: 5, id: "COMMAND-b312D")
        }
    }

    @Test("RegisterTOTP returns a real otpauth secret that VerifyTOTPRegistration checks", arguments: Wire.allCases)
    func totp(wire: Wire) async throws {
        try await withMock { client, _ in
            let samToken = try await mint(client, ["userId": .string(Seeded.sam), "format": "opaque"])
            let registered = try await ok(client, wire, .user("RegisterTOTP", Seeded.sam, [:], .post, "/totp"), token: samToken)
            let secret = try #require(registered["secret"]?.stringValue)
            #expect(secret.count == 32)
            let uri = try #require(registered["uri"]?.stringValue)
            #expect(uri.hasPrefix("otpauth://totp/localhost:sam.staff@acacia-freight.aidial.example?"))
            #expect(uri.contains("secret=\(secret)") && uri.contains("algorithm=SHA1") && uri.contains("period=30"))
            let notReady = V2Call.user(
                "ListAuthenticationFactors", Seeded.sam, ["states": ["AUTH_FACTOR_STATE_NOT_READY"]], .post,
                "/authentication_factors/_search",
                query: "states=AUTH_FACTOR_STATE_NOT_READY")
            #expect(try await ok(client, wire, notReady) == ["result": [["state": "AUTH_FACTOR_STATE_NOT_READY", "otp": [:]]]])

            let wrong = V2Call.user("VerifyTOTPRegistration", Seeded.sam, ["code": "000000"], .post, "/totp/verify")
            let wrongResponse = try await call(client, wire, wrong, token: samToken)
            // (A one-in-a-million chance that 000000 is the real code: then it verifies, and the next check fails.)
            if wrongResponse.status != .ok {
                try expectError(wrongResponse, wire, status: .badRequest, code: 3, id: "EVENT-8isk2")
                let code = try #require(Authenticator.code(secret: secret))
                _ = try await ok(
                    client, wire, .user("VerifyTOTPRegistration", Seeded.sam, ["code": .string(code)], .post, "/totp/verify"),
                    token: samToken)
            }
            let types = try await ok(client, wire, .user("ListAuthenticationMethodTypes", Seeded.sam, [:], .get, "/authentication_methods"))
            #expect(types["authMethodTypes"]?.arrayValue?.contains("AUTHENTICATION_METHOD_TYPE_TOTP") == true)
            try expectError(
                try await call(client, wire, .user("RegisterTOTP", Seeded.sam, [:], .post, "/totp")), wire, status: .conflict, code: 6,
                id: "COMMAND-do9se")
            try expectError(
                try await call(client, wire, .user("VerifyTOTPRegistration", Seeded.sam, ["code": "123456"], .post, "/totp/verify")), wire,
                status: .badRequest, code: 9, id: "COMMAND-qx4ls")
            _ = try await ok(client, wire, .user("RemoveTOTP", Seeded.sam, [:], .delete, "/totp"))
            try expectError(
                try await call(client, wire, .user("RemoveTOTP", Seeded.sam, [:], .delete, "/totp")), wire, status: .notFound, code: 5,
                id: "COMMAND-Hd9sd")
            try expectError(
                try await call(client, wire, .user("VerifyTOTPRegistration", Seeded.sam, ["code": "123456"], .post, "/totp/verify")), wire,
                status: .notFound, code: 5, id: "COMMAND-3Mif9s")
        }
    }

    @Test("GenerateRecoveryCodes returns a new set once; RemoveRecoveryCodes removes it", arguments: Wire.allCases)
    func recoveryCodes(wire: Wire) async throws {
        try await withMock { client, _ in
            let generated = try await ok(client, wire, .user("GenerateRecoveryCodes", Seeded.sam, ["count": 5], .post, "/recovery_codes"))
            let codes = (generated["recoveryCodes"]?.arrayValue ?? []).compactMap(\.stringValue)
            #expect(codes.count == 5 && Set(codes).count == 5)
            let types = V2Call.user("ListAuthenticationMethodTypes", Seeded.sam, [:], .get, "/authentication_methods")
            #expect(
                try await ok(client, wire, types)["authMethodTypes"]?.arrayValue?.contains("AUTHENTICATION_METHOD_TYPE_RECOVERY_CODE")
                    == true)
            let tooMany = V2Call.user("GenerateRecoveryCodes", Seeded.sam, ["count": 1000], .post, "/recovery_codes")
            try expectError(try await call(client, wire, tooMany), wire, status: .badRequest, code: 3, id: nil)
            _ = try await ok(client, wire, .user("RemoveRecoveryCodes", Seeded.sam, [:], .delete, "/recovery_codes"))
            #expect(try await ok(client, wire, types)["authMethodTypes"] == ["AUTHENTICATION_METHOD_TYPE_PASSWORD"])
            try expectError(
                try await call(client, wire, .user("RemoveRecoveryCodes", Seeded.sam, [:], .delete, "/recovery_codes")), wire,
                status: .badRequest, code: 9, id: "COMMAND-84rgg")
        }
    }

    @Test("user metadata: v2 ListUserMetadata with key filters, base64 values; only managers write it", arguments: Wire.allCases)
    func metadata(wire: Wire) async throws {
        try await withMock { client, _ in
            let policyFilter: JSONValue = [["keyFilter": ["key": "aidial.mfa.policy", "method": "TEXT_FILTER_METHOD_EQUALS"]]]
            let list = V2Call.user("ListUserMetadata", Seeded.marcus, ["filters": policyFilter], .post, "/metadata/search")
            let body = try await ok(client, wire, list)
            let entries = body["metadata"]?.arrayValue ?? []
            #expect(entries.count == 1)
            #expect(entries.first?["key"] == "aidial.mfa.policy")
            #expect(entries.first?["value"] == .string(Data("required".utf8).base64EncodedString()))
            #expect(entries.first?["creationDate"]?.stringValue != nil && entries.first?["changeDate"]?.stringValue != nil)
            #expect(body["pagination"]?["totalResult"] == "1")
            // The user may read their own metadata; others may not.
            let marcusToken = try await mint(client, ["userId": .string(Seeded.marcus), "format": "opaque"])
            #expect(try await call(client, wire, list, token: marcusToken).status == .ok)
            let aliceToken = try await mint(client, ["userId": .string(Seeded.alice), "format": "opaque"])
            try expectError(try await call(client, wire, list, token: aliceToken), wire, status: .notFound, code: 5, id: "AUTHZ-cdgFk")

            let value = JSONValue.string(Data("required".utf8).base64EncodedString())
            let set = V2Call.user(
                "SetUserMetadata", Seeded.sam, ["metadata": [["key": "aidial.mfa.policy", "value": value]]], .post, "/metadata")
            let samToken = try await mint(client, ["userId": .string(Seeded.sam), "format": "opaque"])
            try expectError(try await call(client, wire, set, token: samToken), wire, status: .notFound, code: 5, id: "AUTHZ-cdgFk")
            #expect(try await ok(client, wire, set)["setDate"]?.stringValue != nil)
            let samList = V2Call.user("ListUserMetadata", Seeded.sam, [:], .post, "/metadata/search")
            #expect(try await ok(client, wire, samList)["metadata"]?.arrayValue?.count == 1)
            // REST: DeleteUserMetadata has no body mapping, the keys travel in the query.
            let delete = V2Call.user(
                "DeleteUserMetadata", Seeded.sam, ["keys": ["aidial.mfa.policy"]], .delete, "/metadata", query: "keys=aidial.mfa.policy")
            _ = try await ok(client, wire, delete)
            #expect(try await ok(client, wire, samList)["metadata"] == nil)
        }
    }

    @Test("writes bump the sequence and change date in details")
    func details() async throws {
        try await withMock { client, _ in
            let before = try await ok(client, .connect, .user("GetUserByID", Seeded.alice, [:], .get, ""))["details"]
            let write = try await ok(client, .connect, .user("AddOTPEmail", Seeded.alice, [:], .post, "/otp_email"))["details"]
            let after = try await ok(client, .rest, .user("GetUserByID", Seeded.alice, [:], .get, ""))["details"]
            let sequence = { (details: JSONValue?) in details?["sequence"]?.stringValue.flatMap { Int64($0) } ?? -1 }
            #expect(sequence(write) > sequence(before))
            #expect(sequence(after) == sequence(write))
            #expect(after?["changeDate"] != before?["changeDate"])
        }
    }

    @Test("Connect transport: unknown procedures 404, unimplemented 501, bad media type 415, bad JSON and validation 400")
    func connectTransport() async throws {
        try await withMock { client, _ in
            let auth: HTTPFields = [.authorization: "Bearer \(Seeded.servicePAT)", .contentType: "application/json"]
            let unknown = try await client.execute(
                uri: "/zitadel.user.v2.UserService/Nope", method: .post, headers: auth, body: ByteBuffer(string: "{}"))
            #expect(unknown.status == .notFound)
            let unimplemented = try await client.execute(
                uri: "/zitadel.user.v2.UserService/RegisterPasskey", method: .post, headers: auth,
                body: try jsonBody(["userId": .string(Seeded.alice)]))
            try expectError(unimplemented, .connect, status: .notImplemented, code: 12, id: nil)
            let proto = try await client.execute(
                uri: "/zitadel.user.v2.UserService/GetUserByID", method: .post,
                headers: [.authorization: "Bearer \(Seeded.servicePAT)", .contentType: "application/proto"], body: ByteBuffer(string: "x"))
            #expect(proto.status == .unsupportedMediaType)
            let malformed = try await client.execute(
                uri: "/zitadel.user.v2.UserService/GetUserByID", method: .post, headers: auth, body: ByteBuffer(string: "{not json"))
            try expectError(malformed, .connect, status: .badRequest, code: 3, id: nil)
            let missing = try await client.execute(
                uri: "/zitadel.user.v2.UserService/GetUserByID", method: .post, headers: auth, body: ByteBuffer(string: "{}"))
            try expectError(missing, .connect, status: .badRequest, code: 3, id: nil)
            #expect(try missing.json()["message"]?.stringValue?.hasPrefix("invalid GetUserByIDRequest.UserId") == true)
            // Unknown input fields are dropped, as protojson does for Zitadel.
            let extra = try await client.execute(
                uri: "/zitadel.user.v2.UserService/GetUserByID", method: .post, headers: auth,
                body: try jsonBody(["userId": .string(Seeded.alice), "somethingNew": true]))
            #expect(extra.status == .ok)
            // The Python SDK sends no Connect-Protocol-Version header and no charset: both are fine.
            let sdkLike = try await client.execute(
                uri: "/zitadel.user.v2.UserService/ListPasskeys", method: .post,
                headers: [
                    .authorization: "Bearer \(Seeded.servicePAT)", .contentType: "application/json", .accept: "application/json",
                    .userAgent: "zitadel-client/4.1.8 (lang=python)",
                ],
                body: try jsonBody(["userId": .string(Seeded.priya)]))
            #expect(sdkLike.status == .ok)
        }
    }

    @Test("REST transport: gRPC-gateway bodies for unknown routes (404, code 5) and wrong methods (405, code 12)")
    func restTransport() async throws {
        try await withMock { client, _ in
            let auth: HTTPFields = [.authorization: "Bearer \(Seeded.servicePAT)"]
            let unknown = try await client.execute(uri: "/v2/nothing/here", method: .get, headers: auth)
            #expect(unknown.status == .notFound)
            #expect(try unknown.json() == ["code": 5, "message": "Not Found", "details": []])
            let wrongMethod = try await client.execute(uri: "/v2/users/\(Seeded.alice)/otp_sms", method: .get, headers: auth)
            #expect(wrongMethod.status == .methodNotAllowed)
            #expect(try wrongMethod.json()["code"] == 12)
            let unimplemented = try await client.execute(uri: "/v2/users/\(Seeded.alice)/passkeys", method: .post, headers: auth)
            try expectError(unimplemented, .rest, status: .notImplemented, code: 12, id: nil)
            let unauthenticated = try await client.execute(uri: "/v2/users/\(Seeded.alice)", method: .get)
            #expect(unauthenticated.headers[.wwwAuthenticate] == "Bearer")
        }
    }
}
