import Crypto
import Foundation
import GatewayCore

/// HMAC-SHA256 under the SMS number key, domain-separated: phone numbers and caller addresses are never stored or
/// keyed in clear, and equal inputs in different roles never share a digest.
struct SMSNumberDigest: Sendable {
    let key: SymmetricKey

    /// The ledger's and the per-number budget's key for a number.
    func number(_ e164: String) -> String { digest("number", e164) }

    /// An enrolment request's fingerprint: a key reused for another number is told apart from a retry.
    func request(_ e164: String) -> String { digest("POST sms-enrolments", e164) }

    /// The per-address budget's key for a caller address (IPv6 by its /64).
    func address(_ address: CallerAddress) -> String { digest("address", address.key) }

    func digest(_ domain: String, _ value: String) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Array("\(domain)\u{0}\(value)".utf8), using: key)
        return mac.map { String(format: "%02x", $0) }.joined()
    }
}
