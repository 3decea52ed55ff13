import Foundation

/// Sessions: started at sign-in or by the admin API, their verified factors, and the Session service's view of one.
extension MockZitadel {
    /// Starts a session for a user with factors verified now.
    @discardableResult
    func createSession(userId: String, factors: [SessionFactor], userAgent: String?, at date: Date = Date()) -> SessionRecord {
        eventSequence += 1
        var verified: [SessionFactor: Date] = [:]
        for factor in factors {
            verified[factor] = date
        }
        let session = SessionRecord(
            id: RandomID.zitadelID(),
            userId: userId,
            token: RandomID.token(),
            csrf: RandomID.token(bytes: 16),
            creationDate: date,
            changeDate: date,
            sequence: eventSequence,
            userCheckedAt: date,
            verified: verified,
            userAgent: userAgent
        )
        sessions[session.id] = session
        return session
    }

    /// Records another verified factor on a session (a check during sign-in or set-up).
    func verifyFactor(_ factor: SessionFactor, session id: String, at date: Date = Date()) {
        guard sessions[id] != nil else { return }
        eventSequence += 1
        sessions[id]?.verified[factor] = date
        sessions[id]?.changeDate = date
        sessions[id]?.sequence = eventSequence
    }

    /// Ends a session and every token issued in it.
    func terminateSession(_ id: String) {
        guard let session = sessions[id], !session.terminated else { return }
        sendBackChannelLogouts(forSession: id)
        eventSequence += 1
        sessions[id]?.terminated = true
        sessions[id]?.changeDate = Date()
        sessions[id]?.sequence = eventSequence
        revokeTokens(ofSession: id)
    }

    /// An active session by id.
    func activeSession(_ id: String?) -> SessionRecord? {
        guard let id, let session = sessions[id], session.isActive() else { return nil }
        return session
    }

    /// A session as the Session service returns it; factors never checked are absent.
    func sessionJSON(_ session: SessionRecord) -> JSONValue {
        var factors: [String: JSONValue] = [:]
        if let user = user(id: session.userId) {
            factors["user"] = [
                "verifiedAt": .timestamp(session.userCheckedAt), "id": .string(user.id), "loginName": .string(user.loginName),
                "displayName": .string(user.displayName), "organizationId": .string(user.orgId),
            ]
        }
        let verified = session.verified
        if let date = verified[.password] { factors["password"] = ["verifiedAt": .timestamp(date)] }
        if let date = verified[.passkey] {
            factors["webAuthN"] = ["verifiedAt": .timestamp(date), "userVerified": true]
        } else if let date = verified[.u2f] {
            factors["webAuthN"] = ["verifiedAt": .timestamp(date)]
        }
        if let date = verified[.intent] { factors["intent"] = ["verifiedAt": .timestamp(date)] }
        if let date = verified[.totp] { factors["totp"] = ["verifiedAt": .timestamp(date)] }
        if let date = verified[.otpSms] { factors["otpSms"] = ["verifiedAt": .timestamp(date)] }
        if let date = verified[.otpEmail] { factors["otpEmail"] = ["verifiedAt": .timestamp(date)] }
        if let date = verified[.recoveryCode] { factors["recoveryCode"] = ["verifiedAt": .timestamp(date)] }
        var body: [String: JSONValue] = [
            "id": .string(session.id),
            "creationDate": .timestamp(session.creationDate),
            "changeDate": .timestamp(session.changeDate),
            "sequence": .int64String(session.sequence),
            "factors": .object(factors),
        ]
        if let description = session.userAgent, !description.isEmpty {
            body["userAgent"] = ["description": .string(description)]
        }
        if let expiration = session.expirationDate { body["expirationDate"] = .timestamp(expiration) }
        return .object(body)
    }
}
