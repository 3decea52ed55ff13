import Foundation

extension MockZitadel {
    /// Runs one v2 RPC.
    func callRPC(
        _ service: V2Service, _ method: String, _ request: RPCRequest, caller: APICaller, issuer: String
    ) throws(ZitadelError) -> JSONValue {
        switch (service, method) {
        case (.user, "GetUserByID"): return try getUserByID(request, caller: caller)
        case (.user, "ListAuthenticationMethodTypes"): return try listAuthenticationMethodTypes(request, caller: caller)
        case (.user, "ListAuthenticationFactors"): return try listAuthenticationFactors(request, caller: caller)
        case (.user, "ListPasskeys"): return try listPasskeys(request, caller: caller)
        case (.user, "SetPhone"): return try setPhone(request, caller: caller)
        case (.user, "VerifyPhone"): return try verifyPhone(request, caller: caller)
        case (.user, "ResendPhoneCode"): return try resendPhoneCode(request, caller: caller)
        case (.user, "RemovePhone"): return try removePhone(request, caller: caller)
        case (.user, "AddOTPSMS"): return try addOTPSMS(request, caller: caller)
        case (.user, "RemoveOTPSMS"): return try removeOTPSMS(request, caller: caller)
        case (.user, "AddOTPEmail"): return try addOTPEmail(request, caller: caller)
        case (.user, "RemoveOTPEmail"): return try removeOTPEmail(request, caller: caller)
        case (.user, "RegisterTOTP"): return try registerTOTP(request, caller: caller, issuer: issuer)
        case (.user, "VerifyTOTPRegistration"): return try verifyTOTPRegistration(request, caller: caller)
        case (.user, "RemoveTOTP"): return try removeTOTP(request, caller: caller)
        case (.user, "GenerateRecoveryCodes"): return try generateRecoveryCodes(request, caller: caller)
        case (.user, "RemoveRecoveryCodes"): return try removeRecoveryCodes(request, caller: caller)
        case (.user, "HumanMFAInitSkipped"): return try humanMFAInitSkipped(request, caller: caller)
        case (.user, "ListUserMetadata"): return try listUserMetadata(request, caller: caller)
        case (.user, "SetUserMetadata"): return try setUserMetadata(request, caller: caller)
        case (.user, "DeleteUserMetadata"): return try deleteUserMetadata(request, caller: caller)
        case (.session, "GetSession"): return try getSession(request, caller: caller)
        case (.session, "ListSessions"): return try listSessions(request, caller: caller)
        case (.session, "DeleteSession"): return try deleteSession(request, caller: caller)
        default: throw .unimplemented("\(service.rawValue).\(method)")
        }
    }

    /// The user an RPC is about, for the journal: its `userId`, or the owner of its `sessionId`.
    func affectedUser(of request: RPCRequest) -> String? {
        if let userId = try? request.string("userId"), !userId.isEmpty { return userId }
        if let sessionId = try? request.string("sessionId") { return sessions[sessionId]?.userId }
        return nil
    }
}
