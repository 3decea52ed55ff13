import Crypto

/// SHA-256 fingerprints for lifecycle markers (swift-crypto: pure computation, no I/O).
public enum SHA256Digest {
    public static func hash(_ message: [UInt8]) -> [UInt8] {
        Array(SHA256.hash(data: message))
    }

    /// Lowercase hex SHA-256 of the string's UTF-8 bytes.
    public static func hex(_ string: String) -> String {
        SHA256.hash(data: Array(string.utf8)).map { byte in
            let digits = Array("0123456789abcdef".utf8)
            return String(decoding: [digits[Int(byte >> 4)], digits[Int(byte & 0xF)]], as: UTF8.self)
        }.joined()
    }
}
