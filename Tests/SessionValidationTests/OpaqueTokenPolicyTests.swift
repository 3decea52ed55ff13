import Foundation
import Testing

@testable import SessionValidation

/// Which strings an issuer's opaque-token policy lets through to its introspection endpoint.
@Suite struct OpaqueTokenPolicyTests {
    /// Shapes Zitadel issues (see `OpaqueTokenPolicy.Format.zitadel`): a legacy AES-CFB token or PAT (16-byte IV
    /// plus `V2_<session>-at_<token>:<user>`), and a compact JWE (A256GCMKW, A256GCM) as zitadel/oidc v3.47+ makes.
    static let legacy = Base64URL.encode(
        [UInt8](repeating: 7, count: 16) + Array("V2_363473826474920019-at_363473826474985555:363473826474395667".utf8))
    static let jwe = [
        Base64URL.encode(Array(#"{"alg":"A256GCMKW","enc":"A256GCM","iv":"AAAAAAAAAAAAAAAA","tag":"AAAAAAAAAAAAAAAAAAAAAA"}"#.utf8)),
        Base64URL.encode([UInt8](repeating: 1, count: 32)), Base64URL.encode([UInt8](repeating: 2, count: 12)),
        Base64URL.encode([UInt8](repeating: 3, count: 62)), Base64URL.encode([UInt8](repeating: 4, count: 16)),
    ].joined(separator: ".")

    @Test func zitadelShapesAreAdmitted() {
        let policy = OpaqueTokenPolicy()
        #expect(policy.admits(Self.legacy))
        #expect(policy.admits(Self.jwe))
        // The mock's tokens: 32 random bytes as base64url.
        #expect(policy.admits(Base64URL.encode([UInt8](repeating: 9, count: 32))))
    }

    @Test(arguments: [
        "short",  // under the minimum length
        "abcdefghijklmnopqrstuvwxyz0123456789 space",  // whitespace
        "abcdefghijklmnopqrstuvwxyz0123456789+/ABCD",  // standard, not url-safe, alphabet
        "abcdefghijklmnopqrstuvwxyz0123456789ABCD==",  // padding
        "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHJ",  // a length no base64 has (4n + 1)
        "abcdefghij.klmnopqrstu.vwxyz01234.56789ABCDE",  // four segments
        "abcdefghij.klmnopqrstu.vwxyz01234.56789ABCDE.FGHIJKLMNO",  // five, but the header is no JSON object
        "eyJhbGciOiJBMjU2R0NNS1cifQ.AAAA..AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA",  // an empty IV
        "caf\u{E9}caf\u{E9}caf\u{E9}caf\u{E9}caf\u{E9}caf\u{E9}caf\u{E9}",  // not ASCII
    ])
    func otherStringsAreRefused(_ token: String) {
        #expect(!OpaqueTokenPolicy().admits(token))
    }

    @Test func boundsPrefixAndDisabling() {
        #expect(!OpaqueTokenPolicy(maxLength: 64).admits(Self.legacy))
        #expect(!OpaqueTokenPolicy(enabled: false).admits(Self.legacy))
        let prefixed = OpaqueTokenPolicy(prefix: "zg_")
        #expect(prefixed.admits("zg_" + Self.legacy))
        #expect(!prefixed.admits(Self.legacy))
        #expect(!prefixed.admits("zg_" + Self.legacy + "="))
        let printable = OpaqueTokenPolicy(format: .printable, prefix: "other-", minLength: 8)
        #expect(printable.admits("other-a+b/c=~"))
        #expect(!printable.admits("other-a b"))
        #expect(!printable.admits("other-"))
    }

    @Test func callerAddressesAreKeyedByHostOrSlash64() {
        #expect(CallerAddress.limitKey("192.0.2.7") == "192.0.2.7")
        #expect(CallerAddress.limitKey("198.51.100.1, 192.0.2.7") == "192.0.2.7")
        let first = CallerAddress.limitKey("2001:db8:1:2::1")
        #expect(first == CallerAddress.limitKey("2001:db8:1:2:ffff:ffff:ffff:ffff"))
        #expect(first == "2001:db8:1:2::/64")
        #expect(first != CallerAddress.limitKey("2001:db8:1:3::1"))
    }
}
