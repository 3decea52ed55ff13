import Foundation

/// A text message the mock "sent": phone verification codes (`SetPhone`, `ResendPhoneCode`) and sign-in codes.
public struct SMSMessage: Codable, Sendable {
    public enum Kind: String, Codable, Sendable {
        case phoneVerification = "phone_verification"
        case otpSMS = "otp_sms"
    }

    public var userId: String
    /// Only the masked number is ever shown, e.g. `+61 4•• ••• 156`.
    public var maskedPhone: String
    public var code: String
    public var at: String
    public var kind: Kind
    /// The full number, for filtering only.
    var phone: String = ""

    enum CodingKeys: String, CodingKey {
        case userId, maskedPhone, code, at, kind
    }
}
