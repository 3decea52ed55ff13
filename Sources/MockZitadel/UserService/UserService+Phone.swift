import Foundation

/// A phone verification code waiting to be entered.
struct PendingCode: Sendable {
    let code: String
    let createdAt: Date
    let expiresAt: Date
}

/// The User service's phone: `SetPhone`, `VerifyPhone`, `ResendPhoneCode`, `RemovePhone`.
extension MockZitadel {
    /// How long a phone verification code stays valid (Zitadel's default: 1 h).
    static let phoneCodeLifetime: TimeInterval = 3600

    /// `SetPhone` with `sendCode` (or none: an SMS is sent), `returnCode` or `isVerified` (which needs `user.write`,
    /// also on one's own user). Any change clears the verified flag; OTP SMS stays.
    func setPhone(_ request: RPCRequest, caller: APICaller) throws(ZitadelError) -> JSONValue {
        let userId = try request.id("userId")
        let verification = ["sendCode", "returnCode", "isVerified"].filter(request.isSet)
        guard verification.count <= 1 else {
            throw .malformedBody("oneof zitadel.user.v2.SetPhoneRequest.verification is already set")
        }
        let phone = try request.string("phone") ?? ""
        // proto/zitadel/user/v2/user_service.proto: `phone` min_len 1, max_len 200 (a validator error, no id).
        guard (1...200).contains(phone.count) else {
            throw .validation(request.message, field: "Phone", rule: "value length must be between 1 and 200 runes, inclusive")
        }
        let markVerified = try request.bool("isVerified")
        let user = try authorizedHuman(caller, userId: userId, allowSelf: !markVerified, missing: .phoneUserNotFound())
        let normalised = try PhoneNumber.normalise(phone)
        guard user.phone?.number != normalised else {
            throw ZitadelError(.failedPrecondition, "COMMAND-Uch5e", "Phone not changed")
        }
        var details = modifyUser(userId) { $0.phone = .init(number: normalised, verified: markVerified) }
        if markVerified { phoneVerifiedOnce.insert(userId) }
        phoneCodes[userId] = nil
        guard !markVerified else { return ["details": details] }
        let code = issuePhoneCode(userId: userId, number: normalised, send: !request.isSet("returnCode"))
        details = self.details(for: userId)
        var body: [String: JSONValue] = ["details": details]
        if request.isSet("returnCode") { body["verificationCode"] = .string(code) }
        return .object(body)
    }

    /// A new verification code for the user's phone: into the SMS outbox, or back to the caller.
    private func issuePhoneCode(userId: String, number: String, send: Bool) -> String {
        let now = Date()
        let code = OneTimeCode.phoneVerification(phoneCodeGenerator)
        phoneCodes[userId] = PendingCode(code: code, createdAt: now, expiresAt: now.addingTimeInterval(Self.phoneCodeLifetime))
        if send {
            recordSMS(userId: userId, number: number, code: code, kind: .phoneVerification, at: now)
        }
        return code
    }

    /// `VerifyPhone`: Zitadel checks no permission here, the code is the proof.
    func verifyPhone(_ request: RPCRequest, caller: APICaller) throws(ZitadelError) -> JSONValue {
        let userId = try request.id("userId")
        let code = try request.string("verificationCode") ?? ""
        guard (1...20).contains(code.count) else {
            throw .validation(request.message, field: "VerificationCode", rule: "value length must be between 1 and 20 runes, inclusive")
        }
        guard user(id: userId) != nil else { throw .phoneUserNotFound() }
        // Exactly as generated, case included and nothing trimmed (internal/command/user_v2_phone.go `VerifyCode`,
        // internal/crypto/code.go `verifyEncryptedCode`).
        guard let pending = phoneCodes[userId], pending.expiresAt > Date(), constantTimeEquals(pending.code, code) else {
            throw ZitadelError(.invalidArgument, "COMMAND-eis9R", "Code is invalid")
        }
        phoneCodes[userId] = nil
        phoneVerifiedOnce.insert(userId)
        let details = modifyUser(userId) { $0.phone?.verified = true }
        return ["details": details]
    }

    /// `ResendPhoneCode`: only while a code is pending.
    func resendPhoneCode(_ request: RPCRequest, caller: APICaller) throws(ZitadelError) -> JSONValue {
        let userId = try request.id("userId")
        guard ["sendCode", "returnCode"].filter(request.isSet).count <= 1 else {
            throw .malformedBody("oneof zitadel.user.v2.ResendPhoneCodeRequest.verification is already set")
        }
        let user = try authorizedHuman(caller, userId: userId, missing: .phoneUserNotFound())
        guard phoneCodes[userId] != nil, let number = user.phone?.number else {
            throw ZitadelError(.failedPrecondition, "PHONE-5xrra88eq8", "Code is empty")
        }
        let code = issuePhoneCode(userId: userId, number: number, send: !request.isSet("returnCode"))
        var body: [String: JSONValue] = ["details": touch(userId)]
        if request.isSet("returnCode") { body["verificationCode"] = .string(code) }
        return .object(body)
    }

    /// `RemovePhone`: also removes OTP SMS.
    func removePhone(_ request: RPCRequest, caller: APICaller) throws(ZitadelError) -> JSONValue {
        let userId = try request.id("userId")
        let user = try authorizedHuman(caller, userId: userId, missing: .phoneUserNotFound())
        guard user.phone != nil else { throw ZitadelError(.failedPrecondition, "COMMAND-ieJ2e", "Phone not found") }
        phoneCodes[userId] = nil
        phoneVerifiedOnce.remove(userId)
        let details = modifyUser(userId) { user in
            user.phone = nil
            user.mfa.otpSms = false
        }
        return ["details": details]
    }
}
