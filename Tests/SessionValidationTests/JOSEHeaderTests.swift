import Testing

@testable import SessionValidation

/// The protected header is read by the same strict parser as the claims. RFC 7515 §4: header parameter names
/// are unique, so a header that repeats one is refused, whichever copy comes first and whatever its value.
@Suite struct JOSEHeaderTests {
    /// Every registered JWS header parameter (RFC 7515 §4.1, RFC 7797 `b64`) and an unregistered one, each
    /// with a value of its registered type and a second, different one.
    static let members: [(name: String, value: String, other: String)] = [
        ("alg", #""ES256""#, #""RS256""#),
        ("kid", #""k1""#, #""k2""#),
        ("typ", #""JWT""#, #""at+jwt""#),
        ("cty", #""JWT""#, #""json""#),
        ("crit", #"["exp"]"#, #"["b64"]"#),
        ("jku", #""https://a.example/keys""#, #""https://b.example/keys""#),
        ("jwk", #"{"kty":"EC","crv":"P-256","x":"AA","y":"AA"}"#, #"{"kty":"RSA","n":"AQAB","e":"AQAB"}"#),
        ("x5u", #""https://a.example/x5u""#, #""https://b.example/x5u""#),
        ("x5c", #"["MIIB"]"#, #"["MIIC"]"#),
        ("x5t", #""AAAA""#, #""BBBB""#),
        ("x5t#S256", #""AAAA""#, #""BBBB""#),
        ("b64", "true", "false"),
        ("urn:example:private", "1", #"{"a":[1]}"#),
    ]

    static func parse(_ header: String) throws(ClaimsParser.Malformed) -> JOSEHeader {
        try ClaimsParser.parseHeader(Array(header.utf8))
    }

    /// The member on its own is accepted (with `alg` beside it), so each refusal below is the duplicate's.
    @Test func acceptsEachMemberOnce() throws {
        for member in Self.members {
            let alg = member.name == "alg" ? "" : #""alg":"ES256","#
            _ = try Self.parse("{\(alg)\"\(member.name)\":\(member.value)}")
            _ = try Self.parse("{\(alg)\"\(member.name)\":\(member.other)}")
        }
    }

    @Test(arguments: members.map(\.name))
    func refusesEachDuplicatedMemberInBothOrders(name: String) throws {
        let member = try #require(Self.members.first { $0.name == name })
        let alg = name == "alg" ? "" : #""alg":"ES256","#
        for (first, second) in [(member.value, member.value), (member.value, member.other), (member.other, member.value)] {
            for header in [
                "{\(alg)\"\(name)\":\(first),\"\(name)\":\(second)}",
                "{\"\(name)\":\(first),\(alg)\"\(name)\":\(second)}",
                // The duplicate spelt with an escape is the same name once unescaped.
                "{\(alg)\"\(name)\":\(first),\"\\u00\(String(name.utf8.first!, radix: 16))\(name.dropFirst())\":\(second)}",
            ] {
                #expect(throws: ClaimsParser.Malformed.self, "\(header)") { try Self.parse(header) }
            }
        }
    }

    @Test(arguments: [
        #"{"alg":256}"#, #"{"alg":null}"#, #"{"alg":["ES256"]}"#, #"{"alg":"ES256","kid":{"id":"k1"}}"#,
        #"{"alg":"ES256","kid":7}"#, #"{"alg":"ES256","typ":true}"#, #"{"alg":"ES256","cty":1}"#,
        #"{"alg":"ES256","crit":"exp"}"#, #"{"alg":"ES256","crit":[]}"#, #"{"alg":"ES256","crit":["exp",1]}"#,
        #"{"alg":"ES256","crit":[["exp"]]}"#, #"{"alg":"ES256","jku":{}}"#, #"{"alg":"ES256","x5u":["u"]}"#,
        #"{"alg":"ES256","jwk":"key"}"#, #"{"alg":"ES256","jwk":[]}"#, #"{"alg":"ES256","x5c":"MIIB"}"#,
        #"{"alg":"ES256","x5c":[]}"#, #"{"alg":"ES256","x5c":[1]}"#, #"{"alg":"ES256","x5t":0}"#,
        #"{"alg":"ES256","x5t#S256":false}"#, #"{"alg":"ES256","b64":"false"}"#, #"{"alg":"ES256","b64":0}"#,
    ])
    func refusesMembersOfTheWrongType(header: String) {
        #expect(throws: ClaimsParser.Malformed.self) { try Self.parse(header) }
    }

    @Test(arguments: [
        "", "[]", #""alg""#, "{}", #"{"kid":"k1"}"#, #"{"alg":"ES256"}x"#, #"{"alg":"ES256",}"#,
        #"{"alg":"ES256"}{}"#, #"{"alg":"ES256""#, "{\"alg\":\"ES256\",\"x\":\"\u{01}\"}",
        #"{"alg":"ES256","x":"\ud800"}"#,
    ])
    func refusesWhatIsNotAHeaderObject(header: String) {
        #expect(throws: ClaimsParser.Malformed.self) { try Self.parse(header) }
    }

    @Test func boundsNesting() throws {
        func nested(_ depth: Int) -> String {
            #"{"alg":"ES256","x":"# + String(repeating: "[", count: depth) + String(repeating: "]", count: depth) + "}"
        }
        _ = try Self.parse(nested(30))
        #expect(throws: ClaimsParser.Malformed.self) { try Self.parse(nested(40)) }
        let jwk = #"{"alg":"ES256","jwk":"# + String(repeating: #"{"a":"#, count: 40) + "1" + String(repeating: "}", count: 41)
        #expect(throws: ClaimsParser.Malformed.self) { try Self.parse(jwk) }
    }

    @Test func readsThePolicyFields() throws {
        let header = try Self.parse(#" {"typ":"at+jwt","kid":"k\u0031","alg":"RS256","jku":"https://x.example","x":[{}]} "#)
        #expect(header == JOSEHeader(alg: "RS256", kid: "k1", typ: "at+jwt", hasCritical: false))
        #expect(try Self.parse(#"{"alg":"ES256","crit":["b64"],"b64":false}"#).hasCritical)
    }
}
