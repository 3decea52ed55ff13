import Foundation

/// The User service's one-time passwords by SMS and email: `AddOTPSMS`, `RemoveOTPSMS`, `AddOTPEmail`, `RemoveOTPEmail`.
extension MockZitadel {
    /// `AddOTPSMS`: needs a verified phone (`COMMAND-Q54j2`); a second add is `COMMAND-Ad3g2`. Zitadel's write model
    /// (`internal/command/user_human_otp_model.go` HumanOTPSMSWriteModel) reduces phone verified and removed events
    /// but not phone changed ones: once a number was verified, a changed, unverified number still passes.
    func addOTPSMS(_ request: RPCRequest, caller: APICaller) throws(ZitadelError) -> JSONValue {
        let userId = try request.id("userId")
        let user = try authorizedHuman(caller, userId: userId, permission: .credential, missing: .commandUserNotFound())
        guard !user.mfa.otpSms else { throw ZitadelError(.alreadyExists, "COMMAND-Ad3g2", ZitadelError.otpAlreadyReady) }
        guard user.phone?.verified == true || phoneVerifiedOnce.contains(userId) else {
            throw ZitadelError(.failedPrecondition, "COMMAND-Q54j2", ZitadelError.otpNotReady)
        }
        return ["details": modifyUser(userId) { $0.mfa.otpSms = true }]
    }

    func removeOTPSMS(_ request: RPCRequest, caller: APICaller) throws(ZitadelError) -> JSONValue {
        let userId = try request.id("userId")
        let user = try authorizedHuman(caller, userId: userId, permission: .credential, missing: .commandUserNotFound())
        guard user.mfa.otpSms else { throw ZitadelError(.notFound, "COMMAND-Sr3h3", ZitadelError.otpNotExisting) }
        return ["details": modifyUser(userId) { $0.mfa.otpSms = false }]
    }

    /// `AddOTPEmail`: needs a verified email (`COMMAND-KLJ2d`); a second add is `COMMAND-MKL2s`.
    func addOTPEmail(_ request: RPCRequest, caller: APICaller) throws(ZitadelError) -> JSONValue {
        let userId = try request.id("userId")
        let user = try authorizedHuman(caller, userId: userId, permission: .credential, missing: .commandUserNotFound())
        guard !user.mfa.otpEmail else { throw ZitadelError(.alreadyExists, "COMMAND-MKL2s", ZitadelError.otpAlreadyReady) }
        guard user.email.verified else { throw ZitadelError(.failedPrecondition, "COMMAND-KLJ2d", ZitadelError.otpNotReady) }
        return ["details": modifyUser(userId) { $0.mfa.otpEmail = true }]
    }

    func removeOTPEmail(_ request: RPCRequest, caller: APICaller) throws(ZitadelError) -> JSONValue {
        let userId = try request.id("userId")
        let user = try authorizedHuman(caller, userId: userId, permission: .credential, missing: .commandUserNotFound())
        guard user.mfa.otpEmail else { throw ZitadelError(.notFound, "COMMAND-b312D", ZitadelError.otpNotExisting) }
        return ["details": modifyUser(userId) { $0.mfa.otpEmail = false }]
    }
}
