import Foundation

/// A JWS in compact serialisation, split strictly: three base64url segments, no padding, nothing else.
struct CompactJWS: Sendable {
    private let token: String
    /// Byte offsets of the two dots.
    private let firstDot: Int
    private let secondDot: Int
    var payloadBytes: [UInt8]
    var signature: [UInt8]

    /// Returns nil unless `token` has exactly the shape of a compact JWS. The header segment is decoded
    /// lazily (`headerBytes`): identical headers are parsed once (see the validator's header cache).
    init?(_ token: String) {
        var token = token
        let parsed: (Int, Int, [UInt8], [UInt8])? = token.withUTF8 { bytes in
            guard let (first, second) = Self.dots(bytes), first > 0, second > first + 1, second < bytes.count - 1 else {
                return nil
            }
            guard Base64URL.isValid(UnsafeBufferPointer(rebasing: bytes[0..<first])),
                let payload = Base64URL.decode(UnsafeBufferPointer(rebasing: bytes[(first + 1)..<second])),
                let signature = Base64URL.decode(UnsafeBufferPointer(rebasing: bytes[(second + 1)...]))
            else { return nil }
            return (first, second, payload, signature)
        }
        guard let (first, second, payload, signature) = parsed else { return nil }
        self.token = token
        self.firstDot = first
        self.secondDot = second
        self.payloadBytes = payload
        self.signature = signature
    }

    /// The positions of exactly two dots, or nil. `memchr` scans a kilobyte-long token many bytes at a time.
    private static func dots(_ bytes: UnsafeBufferPointer<UInt8>) -> (Int, Int)? {
        guard let base = bytes.baseAddress else { return nil }
        let count = bytes.count
        func dot(from start: Int) -> Int? {
            guard start < count, let found = memchr(base + start, Int32(UInt8(ascii: ".")), count - start) else {
                return nil
            }
            return UnsafePointer<UInt8>(found.assumingMemoryBound(to: UInt8.self)) - base
        }
        guard let first = dot(from: 0), let second = dot(from: first + 1), dot(from: second + 1) == nil else {
            return nil
        }
        return (first, second)
    }

    /// The raw header segment, the key of the header cache.
    var headerSegment: Substring {
        let utf8 = token.utf8
        return Substring(utf8[utf8.startIndex..<utf8.index(utf8.startIndex, offsetBy: firstDot)])
    }

    /// The decoded header (validated as base64url in `init`).
    var headerBytes: [UInt8] {
        var token = token
        return token.withUTF8 { Base64URL.decode(UnsafeBufferPointer(rebasing: $0[0..<firstDot])) } ?? []
    }

    /// `header.payload` as sent: the bytes the signature covers.
    var signingInput: Substring {
        let utf8 = token.utf8
        return Substring(utf8[utf8.startIndex..<utf8.index(utf8.startIndex, offsetBy: secondDot)])
    }

    /// Runs `body` over the signing input's bytes without copying them.
    func withSigningInput<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        var token = token
        let end = secondDot
        return try token.withUTF8 { try body(UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: $0[0..<end]))) }
    }

    /// A cheap test whether a bearer value is shaped like a JWS (two dots) rather than an opaque token.
    static func looksLikeJWS(_ token: String) -> Bool {
        var token = token
        return token.withUTF8 { dots($0) != nil }
    }
}
