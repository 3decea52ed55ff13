import Crypto
import Foundation

/// Digests for checking the mock's codes, journal digests and PKCE, computed with swift-crypto rather than
/// with any of the mock's own code.
enum Digest {
    static func sha256(_ message: [UInt8]) -> [UInt8] { Array(SHA256.hash(data: message)) }

    static func sha1(_ message: [UInt8]) -> [UInt8] { Array(Insecure.SHA1.hash(data: message)) }

    static func hmacSHA1(key: [UInt8], message: [UInt8]) -> [UInt8] {
        Array(HMAC<Insecure.SHA1>.authenticationCode(for: message, using: SymmetricKey(data: key)))
    }

    static func hex(_ bytes: [UInt8]) -> String {
        bytes.map { String(format: "%02x", $0) }.joined()
    }

    static func base64URL(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }
}

/// RFC 6238 codes for a base32 secret, as an authenticator app computes them.
enum Authenticator {
    static func code(secret: String, at date: Date = Date()) -> String? {
        guard let key = base32Decode(secret) else { return nil }
        let counter = UInt64(date.timeIntervalSince1970 / 30)
        let message = (0..<8).reversed().map { UInt8((counter >> (UInt64($0) * 8)) & 0xFF) }
        let mac = Digest.hmacSHA1(key: key, message: message)
        let offset = Int(mac[19] & 0x0F)
        let value =
            ((UInt32(mac[offset]) & 0x7F) << 24) | (UInt32(mac[offset + 1]) << 16) | (UInt32(mac[offset + 2]) << 8)
            | UInt32(mac[offset + 3])
        return String(format: "%06u", value % 1_000_000)
    }

    static func base32Decode(_ string: String) -> [UInt8]? {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
        var output: [UInt8] = []
        var buffer: UInt32 = 0
        var bits = 0
        for character in string where character != "=" {
            guard let index = alphabet.firstIndex(of: character) else { return nil }
            buffer = (buffer << 5) | UInt32(index)
            bits += 5
            if bits >= 8 {
                output.append(UInt8((buffer >> UInt32(bits - 8)) & 0xFF))
                bits -= 8
            }
        }
        return output
    }
}
