import Foundation

/// The Session service (`zitadel.session.v2.SessionService`): `GetSession`, `ListSessions`, `DeleteSession`.
extension MockZitadel {
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
}
