import Foundation

/// Passkeys and security keys as records (the mock has no WebAuthn ceremony), for the set-up pages and the admin API.
extension MockZitadel {
    /// Adds a READY passkey or security key with a device label, as the set-up pages do after a ceremony.
    @discardableResult
    func addAuthenticator(userId: String, name: String, passkey: Bool) -> String {
        let id = RandomID.zitadelID()
        let label = name.trimmingCharacters(in: .whitespacesAndNewlines)
        modifyUser(userId) { user in
            let key = Seed.MFA.Authenticator(id: id, name: label, state: "READY")
            if passkey { user.mfa.passkeys.append(key) } else { user.mfa.u2f.append(key) }
        }
        return id
    }

    /// Removes a passkey or security key; returns whether it existed.
    @discardableResult
    func removeAuthenticator(userId: String, id: String) -> Bool {
        guard let user = user(id: userId), (user.mfa.passkeys + user.mfa.u2f).contains(where: { $0.id == id }) else { return false }
        modifyUser(userId) { user in
            user.mfa.passkeys.removeAll { $0.id == id }
            user.mfa.u2f.removeAll { $0.id == id }
        }
        return true
    }
}
