import Foundation
import Testing

@testable import SessionValidation

@Suite struct Base64URLTests {
    @Test func roundTrips() {
        for length in 0..<40 {
            let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
            #expect(Base64URL.decode(Base64URL.encode(bytes)) == bytes)
        }
    }

    @Test(arguments: ["ab==", "a+b/", "ab c", "a", "abcde", "YQ=", "YR", "YWJ", "YWJjYWJ", "YWJjY.Jj", "YWJj\u{0}WJj", "YWJjYW+"])
    func rejectsNonCanonicalOrForeignInput(input: String) {
        #expect(Base64URL.decode(input) == nil)
    }

    /// The decoder works four characters at a time: every length, every byte value, against Foundation.
    @Test func agreesWithFoundation() {
        var generator = SystemRandomNumberGenerator()
        for length in 0..<70 {
            for _ in 0..<20 {
                let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
                let standard = Data(bytes).base64EncodedString()
                let url = standard.replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
                    .replacingOccurrences(of: "=", with: "")
                #expect(Base64URL.decode(url) == bytes, "\(url)")
                #expect(Base64URL.encode(bytes) == url)
            }
        }
    }
}

@Suite struct CompactJWSTests {
    let header = Base64URL.encode(Array(#"{"alg":"RS256","kid":"k1"}"#.utf8))
    let payload = Base64URL.encode(Array(#"{"sub":"x"}"#.utf8))

    @Test func splitsThreeSegments() throws {
        let jws = try #require(CompactJWS("\(header).\(payload).c2ln"))
        #expect(jws.signature == Array("sig".utf8))
        #expect(String(jws.signingInput) == "\(header).\(payload)")
        #expect(jws.headerBytes == Array(#"{"alg":"RS256","kid":"k1"}"#.utf8))
    }

    @Test(arguments: ["a.b", "a.b.c.d", ".b.c", "a..c", "a.b.", "a.b.c d", "a.b.c=", "a.b.c+"])
    func rejectsMalformedShapes(token: String) {
        #expect(CompactJWS(token) == nil)
    }

    @Test func looksLikeJWSCountsDots() {
        #expect(CompactJWS.looksLikeJWS("a.b.c"))
        #expect(!CompactJWS.looksLikeJWS("opaque-token"))
        #expect(!CompactJWS.looksLikeJWS("a.b.c.d.e"))
    }
}

@Suite struct KeySetTests {
    // A 1024-bit RSA modulus (RFC 7517 appendix style), too short to be trusted.
    let shortModulus = Base64URL.encode([UInt8](repeating: 0xC3, count: 128))

    @Test func refusesShortRSAKeysAndForeignUse() async throws {
        let json = """
            {"keys":[
              {"kty":"RSA","kid":"short","n":"\(shortModulus)","e":"AQAB","alg":"RS256","use":"sig"},
              {"kty":"RSA","kid":"enc","n":"\(shortModulus)","e":"AQAB","use":"enc"},
              {"kty":"oct","kid":"hmac","k":"c2VjcmV0"},
              {"kid":"no-kty"}
            ]}
            """
        let (set, skipped) = try await KeySet.parse(Array(json.utf8), allowed: [.rs256])
        #expect(set.keys.isEmpty)
        #expect(skipped.count == 4)
    }

    @Test func bitLengthIgnoresLeadingZeros() {
        #expect(KeySet.bitLength([0x00, 0x80] + [UInt8](repeating: 0, count: 255)) == 2048)
        #expect(KeySet.bitLength([0x7F] + [UInt8](repeating: 0, count: 255)) == 2047)
    }

    @Test func rejectsMalformedDocument() async {
        await #expect(throws: (any Error).self) {
            _ = try await KeySet.parse(Array("not json".utf8), allowed: [.rs256])
        }
    }
}

@Suite struct ExpiringCacheTests {
    @Test func staysBoundedAndExpires() {
        let cache = ExpiringCache<Int>(capacity: 64)
        for index in 0..<1000 {
            cache.insert(index, for: TokenKey(token: "t\(index)"), expiresAt: 100, fetchedAt: 0)
        }
        // Bounded by the capacity plus an eighth of slack per shard.
        #expect(cache.count <= 64 * 9 / 8 + 16)
        #expect(cache.count >= 48)
        #expect(cache.value(for: TokenKey(token: "t999"), now: 50) == 999)
        #expect(cache.value(for: TokenKey(token: "t999"), now: 100) == nil)
    }

    /// A reader with a shorter bound than the entry's lifetime refuses an entry fetched before it.
    @Test func eachReadAppliesItsOwnBound() {
        let cache = ExpiringCache<Int>(capacity: 64)
        let key = TokenKey(token: "t")
        cache.insert(1, for: key, expiresAt: 160, fetchedAt: 100)
        #expect(cache.value(for: key, now: 150) == 1)
        #expect(cache.value(for: key, now: 150, fetchedSince: 100) == 1)
        #expect(cache.value(for: key, now: 150, fetchedSince: 140) == nil)
        // Too old for one reader is not gone for another.
        #expect(cache.value(for: key, now: 150, fetchedSince: 90) == 1)
        // A slow answer to an older question does not replace it; a newer one does.
        cache.insert(2, for: key, expiresAt: 170, fetchedAt: 95)
        #expect(cache.value(for: key, now: 150) == 1)
        cache.insert(3, for: key, expiresAt: 170, fetchedAt: 120)
        #expect(cache.value(for: key, now: 150, fetchedSince: 110) == 3)
    }

    /// A cache sized for N live sessions keeps all N: uneven shards must not evict early.
    @Test func holdsItsCapacity() {
        #expect(TokenKey(token: "session-1") == TokenKey(token: "session-1"))
        #expect(TokenKey(token: "session-1") != TokenKey(token: "session-2"))
        let cache = ExpiringCache<Int>(capacity: 10_000)
        for index in 0..<10_000 {
            cache.insert(index, for: TokenKey(token: "session-\(index)"), expiresAt: 100, fetchedAt: 0)
        }
        #expect(cache.count == 10_000)
        var missing = 0
        for index in 0..<10_000 where cache.value(for: TokenKey(token: "session-\(index)"), now: 1) != index {
            missing += 1
        }
        #expect(missing == 0)
    }
}

@Suite struct Base64URLValidityTests {
    @Test func isValidAgreesWithDecode() {
        let samples = ["", "YQ", "YWI", "YWJj", "YR", "YWJ", "ab==", "a", "a+b", "AAAA", "AAB", "AAC", "AB", "AE"]
        for sample in samples {
            #expect(Base64URL.isValid(Array(sample.utf8)) == (Base64URL.decode(sample) != nil), "\(sample)")
        }
        for length in 0..<24 {
            let encoded = Base64URL.encode((0..<length).map { UInt8(truncatingIfNeeded: $0 &* 91) })
            #expect(Base64URL.isValid(Array(encoded.utf8)))
        }
    }
}
