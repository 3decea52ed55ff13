import Foundation
import Testing

@testable import SessionValidation

/// The hand-written claims reader must agree with Foundation's decoder on every well-formed document and
/// refuse what is not JSON (or is ambiguous).
@Suite struct ClaimsParserTests {
    static let zitadelJWT = #"""
        {"iss":"https://id.example","sub":"300000000000001001","aud":["300000000000000002@aidial","300000000000000001"],
         "exp":1795000000,"iat":1794956800,"nbf":1794956800,"client_id":"300000000000000002@aidial","jti":"V2_3",
         "urn:zitadel:iam:org:project:roles":{"client_admin":{"300000000000000101":"acacia.example"}},
         "urn:zitadel:iam:org:project:300000000000000001:roles":{"client_staff":{"300000000000000101":"acacia.example"}},
         "urn:zitadel:iam:org:project:id:zitadel:aud":{"x":{"y":"z"}},
         "urn:zitadel:iam:user:resourceowner:id":"300000000000000101","urn:zitadel:iam:user:resourceowner:name":"Acacia \u00e9 \"Freight\"",
         "urn:zitadel:iam:user:resourceowner:primary_domain":"acacia.example","extra":[1,2.5e3,-0.25,{"deep":[true,false,null]}]}
        """#

    static let introspection = #"""
        {"active":true,"scope":"openid profile","client_id":"c","token_type":"Bearer","exp":1795000000.5,"iat":1794956800,
         "auth_time":1794956700,"amr":["pwd","otp","mfa"],"aud":"300000000000000001","iss":"https://id.example",
         "sub":"u","username":"alice@acacia.example","sid":"s1","emoji":"\ud83d\ude00"}
        """#

    /// Zitadel's ID token (zitadel/oidc `NewIDTokenClaims`) and back-channel logout token (`NewLogoutTokenClaims`).
    static let idToken = #"""
        {"iss":"https://id.example","sub":"u","aud":["300000000000000001","300000000000000002@aidial"],"exp":1795000000,
         "iat":1794956800,"auth_time":1794956700,"nonce":"n","amr":["pwd","otp","mfa"],"azp":"300000000000000002@aidial",
         "client_id":"300000000000000002@aidial","at_hash":"x1Y","sid":"310000000000000001"}
        """#
    static let logoutToken = #"""
        {"iss":"https://id.example","sub":"u","aud":["300000000000000002@aidial"],"iat":1794956800,"exp":1794957100,
         "jti":"3","events":{"http://schemas.openid.net/event/backchannel-logout":{}},"sid":"310000000000000001"}
        """#

    @Test func readsIDTokenAndLogoutTokenMembers() throws {
        let idToken = try ClaimsParser.parse(Array(Self.idToken.utf8))
        #expect(idToken.isShapedLikeIDToken)
        #expect(idToken.accessTokenHash == "x1Y")
        #expect(idToken.authorizedParty == "300000000000000002@aidial")
        #expect(idToken.sessionId == "310000000000000001")
        let logout = try ClaimsParser.parse(Array(Self.logoutToken.utf8))
        #expect(logout.hasBackChannelLogoutEvent)
        #expect(!logout.hasIDTokenMember)
        let wrongEvent = try ClaimsParser.parse(Array(#"{"events":{"http://schemas.openid.net/event/backchannel-logout":1}}"#.utf8))
        #expect(!wrongEvent.hasBackChannelLogoutEvent)
        #expect(try ClaimsParser.parse(Array(#"{"jti":"1","c_hash":5}"#.utf8)).isShapedLikeIDToken)
    }

    @Test(arguments: [
        zitadelJWT, introspection, idToken, logoutToken, "{}", #"{"aud":[],"amr":[]}"#, #"{"exp":null,"amr":["a",1]}"#,
        #"{"iss":5,"sub":{"a":1},"aud":7,"active":"yes","urn:zitadel:iam:org:project:roles":{"r":{"o":1}}}"#,
        #"{"exp":-0,"iat":99999999999,"nbf":253402300799.99,"auth_time":17}"#,
        #"{"exp":1e3,"iat":0,"nbf":1795000000,"auth_time":12.75}"#, #"{"auth_time":"yesterday","exp":null}"#,
    ])
    func agreesWithFoundation(document: String) throws {
        let parsed = try ClaimsParser.parse(Array(document.utf8))
        let decoded = try JSONDecoder().decode(TokenClaims.self, from: Data(document.utf8))
        #expect(parsed == decoded)
    }

    @Test func readsZitadelClaims() throws {
        let claims = try ClaimsParser.parse(Array(Self.zitadelJWT.utf8))
        #expect(claims.subject == "300000000000001001")
        #expect(claims.audience.count == 2)
        // Raw claims are kept per project until the issuer's portal project is known.
        #expect(claims.roles.grants.isEmpty)
        #expect(claims.parsed?.clientProjectRoles.grants["client_admin"]?["300000000000000101"] == "acacia.example")
        #expect(claims.parsed?.projectRoles["300000000000000001"]?.grants["client_staff"] != nil)
        #expect(claims.parsed?.projectRoles["id:zitadel:aud"] == nil)
        var portal = claims
        portal.resolvePortalRoles(projectId: "300000000000000001", portalClients: ["300000000000000002@aidial"])
        #expect(portal.roles.grants["client_admin"]?["300000000000000101"] == "acacia.example")
        #expect(portal.roles.grants["client_staff"] != nil)
        #expect(portal.roles.grants["x"] == nil)
        // Another client's token: its generic claim is its own project's roles.
        var other = claims
        other.resolvePortalRoles(projectId: "300000000000000001", portalClients: ["400000000000000002@other"])
        #expect(other.roles.grants["client_admin"] == nil)
        #expect(other.roles.grants["client_staff"] != nil)
        #expect(other.parsed == nil)
        // Another project: none of these roles.
        var elsewhere = claims
        elsewhere.resolvePortalRoles(projectId: "999", portalClients: ["300000000000000002@aidial"])
        #expect(elsewhere.roles.grants["client_staff"] == nil)
        #expect(claims.isShapedLikeIDToken == false)
        #expect(claims.resourceOwnerName == "Acacia é \"Freight\"")
        let introspection = try ClaimsParser.parse(Array(Self.introspection.utf8))
        #expect(introspection.active == true)
        #expect(introspection.expiresAt == 1_795_000_000.5)
        #expect(introspection.amr == ["pwd", "otp", "mfa"])
        #expect(introspection.audience == ["300000000000000001"])
    }

    @Test(arguments: [
        "", "[]", "{", "{]", #"{"a":1,}"#, #"{"a" 1}"#, #"{"iss":"a","iss":"b"}"#, #"{"exp":"1"}"#, #"{"exp":01}"#,
        #"{"exp":1.}"#, #"{"exp":-}"#, #"{"a":tru}"#, "{\"a\":\"\u{01}\"}", #"{"a":"\x"}"#, #"{"a":"\ud800"}"#,
        #"{"a":"\udc00\ud800"}"#, #"{} {}"#, #"{"sub":"a","sub":"a"}"#, #"{"aud":[],"x":1,"aud":[]}"#,
        #"{"urn:zitadel:iam:org:project:roles":{},"urn:zitadel:iam:org:project:roles":{}}"#, #"{"a":1} x"#, #"{'a':1}"#, #"{"a":NaN}"#,
        #"{"exp":1e999}"#,
        String(repeating: #"{"a":"#, count: 40) + "1" + String(repeating: "}", count: 40),
    ])
    func refusesMalformedDocuments(document: String) {
        #expect(throws: ClaimsParser.Malformed.self) { try ClaimsParser.parse(Array(document.utf8)) }
    }

    /// NumericDates outside 1970-01-01...9999-12-31 are no real dates: a token carrying one is malformed (the
    /// session answer could not render it), in the strict reader and in the decoder it is checked against.
    @Test(arguments: ["exp", "nbf", "iat", "auth_time"], ["1e300", "-1", "-0.5", "253402300800", "1e19", "-9.3e18"])
    func refusesDatesOutsideTheWindow(claim: String, value: String) {
        let document = #"{"sub":"u","\#(claim)":\#(value)}"#
        #expect(throws: ClaimsParser.Malformed.self) { try ClaimsParser.parse(Array(document.utf8)) }
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(TokenClaims.self, from: Data(document.utf8)) }
    }

    @Test func acceptsTheWindowsEnds() throws {
        let claims = try ClaimsParser.parse(Array(#"{"exp":253402300799.5,"nbf":0,"iat":-0,"auth_time":253402300799}"#.utf8))
        #expect(claims.expiresAt == 253_402_300_799.5)
        #expect(claims.notBefore == 0)
        #expect(claims.authTime == 253_402_300_799)
    }

    @Test func refusesInvalidUTF8() {
        #expect(throws: ClaimsParser.Malformed.self) { try ClaimsParser.parse([0x7B, 0x22, 0xFF, 0x22, 0x3A, 0x31, 0x7D]) }
    }

    /// Random documents built by Foundation's serializer: both readers see the same claims.
    @Test func randomDocumentsAgree() throws {
        var generator = SystemRandomNumberGenerator()
        let keys = [
            "iss", "sub", "aud", "exp", "nbf", "iat", "amr", "sid", "jti", "active", "username", "other",
            "urn:zitadel:iam:org:project:roles", "urn:zitadel:iam:org:project:42:roles", "urn:zitadel:iam:user:resourceowner:id",
            "azp", "at_hash", "c_hash", "nonce", "events",
        ]
        func value(_ depth: Int) -> Any {
            switch Int.random(in: 0..<(depth > 2 ? 5 : 8), using: &generator) {
            case 0: return Int.random(in: -1_000_000...2_000_000_000, using: &generator)
            case 1: return ["a\"b", "é", "\\", "x\ny", "😀", ""].randomElement(using: &generator)!
            case 2: return Bool.random(using: &generator)
            case 3: return NSNull()
            case 4: return Double.random(in: -1e6...1e6, using: &generator)
            case 5: return (0..<Int.random(in: 0...3, using: &generator)).map { _ in value(depth + 1) }
            case 6:
                return [
                    "r": ["o": "d"], "s": ["p": value(depth + 1)],
                    "http://schemas.openid.net/event/backchannel-logout": Bool.random(using: &generator) ? [:] : value(depth + 1),
                ]
            default:
                return Dictionary(uniqueKeysWithValues: (0..<Int.random(in: 0...3, using: &generator)).map { ("k\($0)", value(depth + 1)) })
            }
        }
        for _ in 0..<500 {
            var object: [String: Any] = [:]
            for key in keys where Bool.random(using: &generator) { object[key] = value(0) }
            let data = try JSONSerialization.data(withJSONObject: object)
            let decoded = try? JSONDecoder().decode(TokenClaims.self, from: data)
            let parsed = try? ClaimsParser.parse(Array(data))
            #expect(parsed == decoded, "\(String(decoding: data, as: UTF8.self))")
        }
    }
}
