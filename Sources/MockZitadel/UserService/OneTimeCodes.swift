import Crypto
import Foundation

/// RFC 6238 TOTP as Zitadel configures it: SHA-1, 6 digits, 30-second steps, base32 secrets of 20 bytes.
enum TOTP {
    static let period: TimeInterval = 30
    static let digits = 6

    /// A new 160-bit secret, base32 without padding (32 characters), like Zitadel's.
    static func generateSecret() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<20).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        return Base32.encode(bytes)
    }

    /// The `otpauth://` URI authenticator apps scan.
    static func uri(secret: String, issuer: String, accountName: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~@")
        let encodedIssuer = issuer.addingPercentEncoding(withAllowedCharacters: allowed) ?? issuer
        let encodedAccount = accountName.addingPercentEncoding(withAllowedCharacters: allowed) ?? accountName
        return
            "otpauth://totp/\(encodedIssuer):\(encodedAccount)?algorithm=SHA1&digits=6&issuer=\(encodedIssuer)&period=30&secret=\(secret)"
    }

    /// The code for a secret at a time; `nil` when the secret is not base32.
    static func code(secret: String, at date: Date) -> String? {
        guard let key = Base32.decode(secret) else { return nil }
        let counter = UInt64(date.timeIntervalSince1970 / period)
        var bigEndian = counter.bigEndian
        let message = withUnsafeBytes(of: &bigEndian) { Data($0) }
        let mac = Array(HMAC<Insecure.SHA1>.authenticationCode(for: message, using: SymmetricKey(data: key)))
        let offset = Int(mac[mac.count - 1] & 0x0F)
        let truncated =
            (UInt32(mac[offset] & 0x7F) << 24) | (UInt32(mac[offset + 1]) << 16) | (UInt32(mac[offset + 2]) << 8)
            | UInt32(mac[offset + 3])
        let value = truncated % 1_000_000
        let string = String(value)
        return String(repeating: "0", count: digits - string.count) + string
    }

    /// Accepts the code of the current step or the one either side (clock skew), as Zitadel's validator does.
    static func verify(_ code: String, secret: String, at date: Date = Date()) -> Bool {
        let trimmed = code.trimmingCharacters(in: .whitespaces)
        guard trimmed.count == digits else { return false }
        return [-period, 0, period].contains { offset in
            Self.code(secret: secret, at: date.addingTimeInterval(offset)).map { constantTimeEquals($0, trimmed) } ?? false
        }
    }
}

/// RFC 4648 base32 (upper case, no padding), for TOTP secrets.
enum Base32 {
    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")

    static func encode(_ bytes: [UInt8]) -> String {
        var output = ""
        var buffer: UInt32 = 0
        var bits = 0
        for byte in bytes {
            buffer = (buffer << 8) | UInt32(byte)
            bits += 8
            while bits >= 5 {
                output.append(alphabet[Int((buffer >> UInt32(bits - 5)) & 0x1F)])
                bits -= 5
            }
        }
        if bits > 0 { output.append(alphabet[Int((buffer << UInt32(5 - bits)) & 0x1F)]) }
        return output
    }

    static func decode(_ string: String) -> [UInt8]? {
        var output: [UInt8] = []
        var buffer: UInt32 = 0
        var bits = 0
        for character in string.uppercased() where character != "=" && character != " " {
            guard let index = alphabet.firstIndex(of: character) else { return nil }
            buffer = (buffer << 5) | UInt32(index)
            bits += 5
            if bits >= 8 {
                output.append(UInt8((buffer >> UInt32(bits - 8)) & 0xFF))
                bits -= 8
            }
        }
        return output.isEmpty ? nil : output
    }
}

/// An instance's secret generator settings (Zitadel's `crypto.GeneratorConfig`, set per generator type through
/// the admin API's `UpdateSecretGenerator`): the code's length and which character sets it draws from. The sets
/// are Zitadel's own (`internal/crypto/code.go`); a code is compared exactly as generated, case included
/// (`verifyEncryptedCode`: `code != verificationCode`).
public struct SecretGeneratorConfig: Sendable, Equatable {
    public var length: Int
    public var includeLowerLetters: Bool
    public var includeUpperLetters: Bool
    public var includeDigits: Bool
    public var includeSymbols: Bool

    public init(
        length: Int = 6, includeLowerLetters: Bool = false, includeUpperLetters: Bool = true, includeDigits: Bool = true,
        includeSymbols: Bool = false
    ) {
        self.length = max(1, length)
        self.includeLowerLetters = includeLowerLetters
        self.includeUpperLetters = includeUpperLetters
        self.includeDigits = includeDigits
        self.includeSymbols = includeSymbols
    }

    /// The characters a code is drawn from, in Zitadel's order; digits when nothing is included.
    var alphabet: [Character] {
        var runes = ""
        if includeLowerLetters { runes += "abcdefghijklmnopqrstuvwxyz" }
        if includeUpperLetters { runes += "ABCDEFGHIJKLMNOPQRSTUVWXYZ" }
        if includeDigits || runes.isEmpty && !includeSymbols { runes += "0123456789" }
        if includeSymbols { runes += "~!@#$^&*()_+`-={}|[]:<>?,./" }
        return Array(runes)
    }
}

/// Verification and recovery codes in the formats the mock hands out.
enum OneTimeCode {
    /// A phone verification code from the instance's generator settings (A–Z and 0–9, 6 long, unless changed).
    static func phoneVerification(_ generator: SecretGeneratorConfig = SecretGeneratorConfig()) -> String {
        random(length: generator.length, alphabet: generator.alphabet)
    }

    /// A recovery code: two groups of five unambiguous characters.
    static func recoveryCode() -> String {
        let alphabet = Array("ABCDEFGHJKLMNPQRSTUVWXYZ23456789")
        return random(length: 5, alphabet: alphabet) + "-" + random(length: 5, alphabet: alphabet)
    }

    private static func random(length: Int, alphabet: [Character]) -> String {
        var generator = SystemRandomNumberGenerator()
        return String((0..<length).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &generator)] })
    }
}
