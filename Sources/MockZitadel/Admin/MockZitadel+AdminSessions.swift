import Foundation

/// Sessions through the admin API.
extension MockZitadel {
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
