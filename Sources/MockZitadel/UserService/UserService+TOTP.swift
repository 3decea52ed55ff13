import Foundation

/// The User service's authenticator apps: `RegisterTOTP`, `VerifyTOTPRegistration`, `RemoveTOTP`.
extension MockZitadel {
    /// `RegisterTOTP`: a new secret (NOT_READY until verified); `COMMAND-do9se` once one is READY.
    func registerTOTP(_ request: RPCRequest, caller: APICaller, issuer: String) throws(ZitadelError) -> JSONValue {
        let userId = try request.id("userId")
        let user = try authorizedHuman(
            caller, userId: userId, permission: .credential,
            missing: ZitadelError(.failedPrecondition, "COMMAND-SqyJz", "User could not be found"))
        let registration = try startTOTPRegistration(for: user, issuer: issuer)
        return ["details": details(for: userId), "uri": .string(registration.uri), "secret": .string(registration.secret)]
    }

    /// Starts (or restarts) a TOTP registration; shared with the set-up pages.
    func startTOTPRegistration(for user: Seed.User, issuer: String) throws(ZitadelError) -> (secret: String, uri: String) {
        guard user.mfa.totp?.state != "READY" else {
            throw ZitadelError(.alreadyExists, "COMMAND-do9se", ZitadelError.otpAlreadyReady)
        }
        let secret = TOTP.generateSecret()
        modifyUser(user.id) { $0.mfa.totp = .init(state: "NOT_READY", secret: secret) }
        let host = URLComponents(string: issuer)?.host ?? issuer
        return (secret, TOTP.uri(secret: secret, issuer: host, accountName: user.loginName))
    }

    /// `VerifyTOTPRegistration`: the code must match the pending secret.
    func verifyTOTPRegistration(_ request: RPCRequest, caller: APICaller) throws(ZitadelError) -> JSONValue {
        let userId = try request.id("userId")
        let code = try request.string("code") ?? ""
        guard (1...200).contains(code.count) else {
            throw .validation(request.message, field: "Code", rule: "value length must be between 1 and 200 runes, inclusive")
        }
        let user = try authorizedHuman(
            caller, userId: userId, permission: .credential,
            missing: ZitadelError(.notFound, "COMMAND-3Mif9s", ZitadelError.otpNotExisting))
        return ["details": try completeTOTPRegistration(for: user, code: code)]
    }

    /// Verifies a pending TOTP registration; shared with the set-up pages.
    func completeTOTPRegistration(for user: Seed.User, code: String) throws(ZitadelError) -> JSONValue {
        guard let totp = user.mfa.totp else { throw ZitadelError(.notFound, "COMMAND-3Mif9s", ZitadelError.otpNotExisting) }
        guard totp.state != "READY" else {
            throw ZitadelError(.failedPrecondition, "COMMAND-qx4ls", ZitadelError.otpAlreadyReady)
        }
        guard let secret = totp.secret, TOTP.verify(code, secret: secret) else {
            throw ZitadelError(.invalidArgument, "EVENT-8isk2", "Invalid code")
        }
        return modifyUser(user.id) { $0.mfa.totp?.state = "READY" }
    }

    func removeTOTP(_ request: RPCRequest, caller: APICaller) throws(ZitadelError) -> JSONValue {
        let userId = try request.id("userId")
        let user = try authorizedHuman(
            caller, userId: userId, permission: .credential,
            missing: ZitadelError(.notFound, "COMMAND-Hd9sd", ZitadelError.otpNotExisting))
        guard user.mfa.totp != nil else { throw ZitadelError(.notFound, "COMMAND-Hd9sd", ZitadelError.otpNotExisting) }
        return ["details": modifyUser(userId) { $0.mfa.totp = nil }]
    }
}
