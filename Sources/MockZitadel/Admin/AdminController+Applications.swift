import Foundation
import Hummingbird

/// Applications and the back-channel logouts sent to them.
extension AdminController {
    /// The applications with the Zitadel settings that shape their tokens.
    @Sendable func applications(_ request: Request, context: Context) async throws -> Response {
        Responses.json(await mock.applications())
    }

    /// Changes an application's token settings: access-token type, role and userinfo assertions, back-channel
    /// logout URI, opt-in Actions claims.
    @Sendable func updateApplication(_ request: Request, context: Context) async throws -> Response {
        let clientId = context.parameters.get("clientId").map { $0.removingPercentEncoding ?? $0 } ?? ""
        do throws(AdminProblem) {
            let change = try await decodeRequiredBody(ApplicationSettingsChange.self, from: request)
            guard let app = try await mock.updateApplication(clientId: clientId, change) else {
                throw AdminProblem(
                    status: 404, code: "application_not_found", title: "Application not found",
                    detail: "No application has client id \(clientId).")
            }
            return Responses.json(app)
        } catch {
            return Responses.problem(error)
        }
    }

    /// The logout tokens the mock sent (`?sessionId=` filters): receiver, status, token.
    @Sendable func backChannelLogouts(_ request: Request, context: Context) async throws -> Response {
        Responses.json(await mock.backChannelLogouts(sessionId: request.uri.queryParameters.get("sessionId")))
    }
}
