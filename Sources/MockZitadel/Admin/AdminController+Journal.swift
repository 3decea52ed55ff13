import Foundation
import Hummingbird

/// The call journal.
extension AdminController {
    /// The journal, filtered by `path`, `method` and `since` (RFC 3339).
    @Sendable func journal(_ request: Request, context: Context) async throws -> Response {
        let query = request.uri.queryParameters
        var since: Date?
        if let value = query.get("since") {
            guard let parsed = Timestamp.parse(value) else {
                return Responses.problem(
                    AdminProblem(status: 400, code: "invalid_query", title: "Invalid query", detail: "since must be an RFC 3339 timestamp.")
                )
            }
            since = parsed
        }
        let entries = await mock.journalEntries(
            path: query.get("path"), method: query.get("method"), since: since, rpc: query.get("rpc"), userId: query.get("userId"))
        return Responses.json(entries)
    }

    @Sendable func clearJournal(_ request: Request, context: Context) async throws -> Response {
        await mock.clearJournal()
        return Responses.empty(status: .noContent)
    }
}
