import Foundation

/// A factor a session verified, in the Session service's vocabulary.
public enum SessionFactor: String, Codable, Sendable, CaseIterable {
    case password
    /// WebAuthn with user verification: multi-factor by itself.
    case passkey
    /// WebAuthn without user verification: a second factor.
    case u2f
    case totp
    case otpSms
    case otpEmail
    case recoveryCode
    /// An external identity provider.
    case intent

    /// Zitadel's `amr` for a set of verified factors: only `pwd`, `user`, `otp` and `mfa` are emitted; `mfa` when at
    /// least two factors count (passkey counts two). A recovery code is an `otp` (Zitadel v4.9+,
    /// `internal/api/oidc/amr/amr.go`: password + recovery code is `["pwd","otp","mfa"]`).
    static func amr(for factors: Set<SessionFactor>) -> [String] {
        var amr: [String] = []
        var count = 0
        if factors.contains(.password) {
            amr.append("pwd")
            count += 1
        }
        if factors.contains(.passkey) || factors.contains(.u2f) {
            amr.append("user")
            count += factors.contains(.passkey) ? 2 : 1
        }
        if !factors.isDisjoint(with: [.totp, .otpSms, .otpEmail, .recoveryCode]) {
            amr.append("otp")
            count += 1
        }
        if factors.contains(.intent) { count += 1 }
        if count >= 2 { amr.append("mfa") }
        return amr
    }

    /// The factors a minted token's `amr` implies for its session: `otp` becomes the user's enrolled OTP kind.
    static func fromAMR(_ amr: [String], user: Seed.User) -> [SessionFactor] {
        var factors: [SessionFactor] = []
        if amr.contains("pwd") || amr.contains("password") { factors.append(.password) }
        if amr.contains("user") || amr.contains("hwk") || amr.contains("swk") {
            let hasU2F = user.mfa.u2f.contains { $0.state == "READY" }
            factors.append(factors.contains(.password) && hasU2F ? .u2f : .passkey)
        }
        if amr.contains("otp") || amr.contains("sms") {
            if user.mfa.totp?.state == "READY" {
                factors.append(.totp)
            } else if user.mfa.otpSms {
                factors.append(.otpSms)
            } else if user.mfa.otpEmail {
                factors.append(.otpEmail)
            } else {
                factors.append(.totp)
            }
        }
        return factors
    }
}

/// A session of the Session service: the user, the factors verified and when, and whether it ended.
struct SessionRecord: Sendable {
    let id: String
    let userId: String
    /// The session token (for the `sessionToken` parameters); never shown in the journal.
    let token: String
    /// Protects the console and login pages' forms for this browser session.
    let csrf: String
    let creationDate: Date
    var changeDate: Date
    var sequence: Int64
    var userCheckedAt: Date
    var verified: [SessionFactor: Date]
    var userAgent: String?
    var expirationDate: Date?
    var terminated = false

    var authTime: Date {
        verified.values.max() ?? userCheckedAt
    }

    var amr: [String] {
        SessionFactor.amr(for: Set(verified.keys))
    }

    func isActive(at date: Date = Date()) -> Bool {
        !terminated && (expirationDate.map { $0 > date } ?? true)
    }
}
