import Foundation

/// Random identifiers in the formats Zitadel uses.
enum RandomID {
    /// An 18-digit numeric id, like Zitadel's snowflake ids.
    static func zitadelID() -> String {
        String(UInt64.random(in: 100_000_000_000_000_000..<1_000_000_000_000_000_000))
    }

    /// `count` random bytes as base64url: opaque tokens use 32 bytes (256 bits).
    static func token(bytes count: Int = 32) -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<count).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        return Base64URL.encode(bytes)
    }
}
