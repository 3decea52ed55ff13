import Foundation
import Hummingbird

/// Sessions: list, create, end.
extension AdminController {
    @Sendable func listSessions(_ request: Request, context: Context) async throws -> Response {
        Responses.json(await mock.sessionSummaries(userId: request.uri.queryParameters.get("userId")))
    }

    struct SessionBody: Decodable {
        var userId: String
        var factors: [SessionFactor]?
    }

    /// Starts a session for a user with chosen factors (default: password); tokens can then be minted in it.
    @Sendable func createSession(_ request: Request, context: Context) async throws -> Response {
        do {
            let body = try await decodeRequiredBody(SessionBody.self, from: request)
            let summary = try await mock.adminCreateSession(userId: body.userId, factors: body.factors ?? [.password])
            return Responses.json(summary, status: .created)
        } catch {
            return Responses.problem(error)
        }
    }

    /// Ends a session (as an administrator would): its tokens introspect inactive from now on.
    @Sendable func deleteSession(_ request: Request, context: Context) async throws -> Response {
        let id = context.parameters.get("id") ?? ""
        guard await mock.adminTerminateSession(id: id) else {
            return Responses.problem(
                AdminProblem(status: 404, code: "session_not_found", title: "Session not found", detail: "No session has id \(id)."))
        }
        return Responses.empty(status: .noContent)
    }
}
