import Crypto
import GatewayCore
import HTTPTypes
import Hummingbird
import Logging
import SessionValidation

/// Matches presented API keys against configured SHA-256 hashes in constant time.
struct APIKeyVerifier: Sendable {
    let keys: [APIKeyConfiguration]

    /// Hashes the presented key and compares it with every configured hash, without early exit.
    func match(_ presented: String) -> APIKeyConfiguration? {
        guard !presented.isEmpty, presented.utf8.count <= 512 else { return nil }
        let digest = Array(SHA256.hash(data: Array(presented.utf8)))
        var found: APIKeyConfiguration?
        for key in keys {
            if Self.constantTimeEquals(digest, key.sha256) && found == nil { found = key }
        }
        return found
    }

    static func constantTimeEquals(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
        guard lhs.count == rhs.count else { return false }
        var difference: UInt8 = 0
        for index in lhs.indices { difference |= lhs[index] ^ rhs[index] }
        return difference == 0
    }
}
