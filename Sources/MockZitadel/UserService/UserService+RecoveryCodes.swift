import Foundation

/// The User service's recovery codes: `GenerateRecoveryCodes`, `RemoveRecoveryCodes`, and their use at sign-in.
extension MockZitadel {
    /// Zitadel's default `Multifactors.RecoveryCodes.MaxCount`: at most this many unused codes per user.
    static let recoveryCodesMaxCount = 10

    /// `GenerateRecoveryCodes` (`internal/command/user_human_recovery_codes.go`): `count` is required (proto
    /// validation 1-50); the user must exist, then `user.credential.write` (or the own user); more than the
    /// configured maximum is `COMMAND-7c0nx`; the new codes are added to the unused ones, and more than the
    /// maximum in all is AlreadyExists `COMMAND-8f2k9`. Only the new codes are returned.
    func generateRecoveryCodes(_ request: RPCRequest, caller: APICaller) throws(ZitadelError) -> JSONValue {
        let userId = try request.id("userId")
        let count = Int(try request.int("count") ?? 0)
        guard (1...50).contains(count) else {
            throw .validation(request.message, field: "Count", rule: "value must be inside range [1, 50]")
        }
        let user = try authorizedHuman(caller, userId: userId, permission: .credential, missing: .commandUserNotFound())
        guard count <= Self.recoveryCodesMaxCount else {
            throw ZitadelError(.invalidArgument, "COMMAND-7c0nx", "The number of recovery codes is invalid")
        }
        let remaining = user.mfa.recoveryCodes?.remaining ?? []
        guard remaining.count + count <= Self.recoveryCodesMaxCount else {
            throw ZitadelError(.alreadyExists, "COMMAND-8f2k9", "The maximum number of recovery codes is exceeded")
        }
        let result = addRecoveryCodes(userId: userId, count: count)
        return ["details": result.details, "recoveryCodes": .strings(result.codes)]
    }

    /// Adds fresh codes to the user's unused ones and returns the new codes; shared with the set-up pages.
    func addRecoveryCodes(userId: String, count: Int = 10) -> (codes: [String], details: JSONValue) {
        let kept = user(id: userId)?.mfa.recoveryCodes?.remaining ?? []
        var codes: [String] = []
        while codes.count < count {
            let code = OneTimeCode.recoveryCode()
            if !codes.contains(code), !kept.contains(code) { codes.append(code) }
        }
        let acknowledged = user(id: userId)?.mfa.recoveryCodes?.acknowledged ?? false
        let details = modifyUser(userId) { $0.mfa.recoveryCodes = .init(codes: kept + codes, used: 0, acknowledged: acknowledged) }
        return (codes, details)
    }

    /// A fresh set of ten in place of the old one, as the pages' "regenerate" does (remove, then generate).
    func replaceRecoveryCodes(userId: String) -> (codes: [String], details: JSONValue) {
        modifyUser(userId) { $0.mfa.recoveryCodes = nil }
        return addRecoveryCodes(userId: userId, count: Self.recoveryCodesMaxCount)
    }

    /// `RemoveRecoveryCodes`: with no codes set, FailedPrecondition `COMMAND-84rgg`
    /// (`internal/command/user_human_recovery_codes.go` RemoveRecoveryCodes checks the write model's state).
    func removeRecoveryCodes(_ request: RPCRequest, caller: APICaller) throws(ZitadelError) -> JSONValue {
        let userId = try request.id("userId")
        let user = try authorizedHuman(caller, userId: userId, permission: .credential, missing: .commandUserNotFound())
        guard user.mfa.recoveryCodes != nil else {
            throw ZitadelError(.failedPrecondition, "COMMAND-84rgg", "Recovery codes are not set up")
        }
        return ["details": modifyUser(userId) { $0.mfa.recoveryCodes = nil }]
    }

    /// Spends a recovery code at sign-in; returns whether it was valid and unused.
    func consumeRecoveryCode(userId: String, code: String) -> Bool {
        let wanted = code.trimmingCharacters(in: .whitespaces).uppercased()
        guard let codes = user(id: userId)?.mfa.recoveryCodes,
            let index = codes.codes.indices.dropFirst(codes.used).first(where: { constantTimeEquals(codes.codes[$0], wanted) })
        else { return false }
        modifyUser(userId) { user in
            guard var set = user.mfa.recoveryCodes else { return }
            set.codes.swapAt(index, set.used)
            set.used += 1
            user.mfa.recoveryCodes = set
        }
        return true
    }
}
