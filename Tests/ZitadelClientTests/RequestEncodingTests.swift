import Foundation
import Testing

@testable import ZitadelClient

/// The request bodies on the wire, as Zitadel's Connect handlers read them (protojson names, `sendCode: {}`).
@Suite struct RequestEncodingTests {
    static func json(_ value: some Encodable) throws -> NSDictionary {
        try #require(JSONSerialization.jsonObject(with: JSONEncoder().encode(value)) as? NSDictionary)
    }

    static func expected(_ text: String) throws -> NSDictionary {
        try #require(JSONSerialization.jsonObject(with: Data(text.utf8)) as? NSDictionary)
    }

    @Test func bodiesMatchTheWireForm() throws {
        #expect(try Self.json(UserRequest(userId: "1")) == Self.expected(#"{"userId":"1"}"#))
        #expect(try Self.json(SessionRequest(sessionId: "s")) == Self.expected(#"{"sessionId":"s"}"#))
        #expect(
            try Self.json(SetPhoneRequest(userId: "1", phone: "+61400000000"))
                == Self.expected(#"{"userId":"1","phone":"+61400000000","sendCode":{}}"#))
        #expect(try Self.json(ResendPhoneCodeRequest(userId: "1")) == Self.expected(#"{"userId":"1","sendCode":{}}"#))
        #expect(
            try Self.json(VerifyPhoneRequest(userId: "1", verificationCode: "123456"))
                == Self.expected(#"{"userId":"1","verificationCode":"123456"}"#))
        #expect(
            try Self.json(ListUserMetadataRequest(userId: "1", key: "k"))
                == Self.expected(#"{"userId":"1","filters":[{"keyFilter":{"key":"k","method":"TEXT_FILTER_METHOD_EQUALS"}}]}"#))
        #expect(
            try Self.json(ListSessionsRequest(userId: "1", limit: 0))
                == Self.expected(
                    #"{"queries":[{"userIdQuery":{"id":"1"}}],"sortingColumn":"SESSION_FIELD_NAME_CREATION_DATE","query":{"limit":1,"asc":false}}"#
                ))
    }
}
