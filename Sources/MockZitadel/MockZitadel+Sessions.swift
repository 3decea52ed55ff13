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

/// The Session service (`zitadel.session.v2.SessionService`): GetSession, ListSessions, DeleteSession.
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

    /// `GetSession`: the caller's own sessions, any with the session token, every one for managers.
    func getSession(_ request: RPCRequest, caller: APICaller) throws(ZitadelError) -> JSONValue {
        let id = try request.id("sessionId")
        let token = try request.string("sessionToken")
        guard let session = sessions[id], !session.terminated else { throw .sessionNotFound() }
        if let token, !token.isEmpty {
            // A wrong session token is refused, whoever asks (`internal/query/session.go` GetSession).
            guard constantTimeEquals(token, session.token) else { throw .sessionTokenInvalidQuery() }
        } else {
            try authorize(caller, userId: session.userId)
        }
        return ["session": sessionJSON(session)]
    }

    /// `ListSessions` with `idsQuery`, `userIdQuery` and `creationDateQuery`; callers without `session.read`
    /// see their own sessions only. Ended sessions are not listed.
    func listSessions(_ request: RPCRequest, caller: APICaller) throws(ZitadelError) -> JSONValue {
        var candidates = sessions.values.filter { !$0.terminated }
        for query in try request.array("queries") {
            guard let query = query.objectValue, query.count == 1, let (kind, value) = query.first else {
                throw .validation("SearchQuery", field: "Query", rule: "value is required")
            }
            switch kind {
            case "idsQuery":
                let ids = Set((value["ids"]?.arrayValue ?? []).compactMap(\.stringValue))
                candidates = candidates.filter { ids.contains($0.id) }
            case "userIdQuery":
                let id = value["id"]?.stringValue ?? ""
                candidates = candidates.filter { $0.userId == id }
            case "creationDateQuery":
                guard let date = value["creationDate"]?.stringValue.flatMap(Timestamp.parse) else { continue }
                let method = value["method"]?.stringValue ?? "TIMESTAMP_QUERY_METHOD_EQUALS"
                candidates = candidates.filter { session in
                    switch method {
                    case "TIMESTAMP_QUERY_METHOD_GREATER": session.creationDate > date
                    case "TIMESTAMP_QUERY_METHOD_GREATER_OR_EQUALS": session.creationDate >= date
                    case "TIMESTAMP_QUERY_METHOD_LESS": session.creationDate < date
                    case "TIMESTAMP_QUERY_METHOD_LESS_OR_EQUALS": session.creationDate <= date
                    default: abs(session.creationDate.timeIntervalSince(date)) < 0.001
                    }
                }
            default:
                throw .malformedBody("unknown field \"\(kind)\" in SearchQuery")
            }
        }
        candidates = candidates.filter { session in
            session.userId == caller.userId || caller.manages(orgId: subject(id: session.userId)?.orgId)
        }
        let query = try request.object("query") ?? [:]
        let ascending = query["asc"]?.boolValue ?? false
        let sortedByCreation = try request.string("sortingColumn") == "SESSION_FIELD_NAME_CREATION_DATE"
        candidates.sort { lhs, rhs in
            let ordered = (lhs.creationDate, lhs.id) < (rhs.creationDate, rhs.id)
            return sortedByCreation && !ascending ? !ordered : ordered
        }
        let total = candidates.count
        let offset = Int(query["offset"].flatMap { $0.intValue ?? $0.stringValue.flatMap { Int64($0) } } ?? 0)
        let limit = Int(query["limit"]?.intValue ?? 0)
        var page = Array(candidates.dropFirst(max(0, offset)))
        if limit > 0 { page = Array(page.prefix(limit)) }
        var details: [String: JSONValue] = ["timestamp": .timestamp(Date())]
        if total > 0 { details["totalResult"] = .int64String(Int64(total)) }
        if eventSequence > 0 { details["processedSequence"] = .int64String(eventSequence) }
        var body: [String: JSONValue] = ["details": .object(details)]
        if !page.isEmpty { body["sessions"] = .array(page.map(sessionJSON)) }
        return .object(body)
    }

    /// `DeleteSession`: the caller's own session, any with its token, any for managers; ending an ended or
    /// unknown session succeeds (Zitadel's terminate is idempotent once permitted).
    func deleteSession(_ request: RPCRequest, caller: APICaller) throws(ZitadelError) -> JSONValue {
        let id = try request.id("sessionId")
        let session = sessions[id]
        if let token = try request.string("sessionToken"), !token.isEmpty {
            guard let session, constantTimeEquals(token, session.token) else { throw .sessionTokenInvalid() }
        } else if session == nil || session?.userId != caller.userId {
            // An unknown session has no owner: only instance-wide `session.delete` passes.
            let permitted =
                session.map { caller.manages(orgId: subject(id: $0.userId)?.orgId) } ?? (caller.isManager && caller.managedOrgs == nil)
            guard permitted else { throw .membershipNotFound() }
        }
        // `internal/command/session.go` terminateSession: the session write model's details (sessions belong to
        // the instance, so `resourceOwner` is its id); an ended session answers its existing details, no new event.
        if let session, !session.terminated { terminateSession(id) }
        var details: [String: JSONValue] = ["resourceOwner": .string(state.instance.id)]
        if let ended = sessions[id] {
            details["changeDate"] = .timestamp(ended.changeDate)
            details["sequence"] = .int64String(ended.sequence)
        } else {
            details["changeDate"] = .timestamp(Date(timeIntervalSince1970: -62_135_596_800))  // protobuf's zero time
        }
        return ["details": .object(details)]
    }

    /// Sessions for the admin API, newest first.
    public func sessionSummaries(userId: String? = nil) -> [SessionSummary] {
        sessions.values
            .filter { userId == nil || $0.userId == userId }
            .sorted { ($0.creationDate, $0.id) > ($1.creationDate, $1.id) }
            .map(summary)
    }

    func summary(of session: SessionRecord) -> SessionSummary {
        SessionSummary(
            id: session.id,
            userId: session.userId,
            factors: SessionFactor.allCases.filter { session.verified[$0] != nil },
            amr: session.amr,
            createdAt: Timestamp.format(session.creationDate),
            active: session.isActive(),
            userAgent: session.userAgent,
            tokenIds: tokens.values.filter { $0.sessionId == session.id }.map(\.jti).sorted()
        )
    }

    /// Creates a session through the admin API; returns its id and token.
    public func adminCreateSession(userId: String, factors: [SessionFactor]) throws(AdminProblem) -> SessionSummary {
        guard user(id: userId) != nil else {
            throw AdminProblem(status: 404, code: "user_not_found", title: "User not found", detail: "No human user has id \(userId).")
        }
        let session = createSession(userId: userId, factors: factors, userAgent: "created by /mock/admin/sessions")
        return summary(of: session)
    }

    /// Ends a session through the admin API; returns whether it existed.
    public func adminTerminateSession(id: String) -> Bool {
        guard sessions[id] != nil else { return false }
        terminateSession(id)
        return true
    }
}

/// A session as the admin API lists it.
public struct SessionSummary: Codable, Sendable {
    public var id: String
    public var userId: String
    public var factors: [SessionFactor]
    public var amr: [String]
    public var createdAt: String
    public var active: Bool
    public var userAgent: String?
    /// The `jti` of every access token issued in the session (Zitadel's tokens name no session themselves).
    public var tokenIds: [String]
}
