import GatewayCore
import HTTPTypes
import Hummingbird
import Logging
import SessionValidation

/// Turns every error into a problem response through `ProblemRenderer`: the application's problems, the lower
/// layers' typed failures (mapped in `Problem+Failures.swift`) and Hummingbird's HTTP errors. Nothing escapes as a
/// bare 500 or an internal message.
struct ProblemMiddleware<Context: RequestContext>: RouterMiddleware {
    var routes: RouteMethodTable?

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            return response(for: error, request: request, context: context)
        }
    }

    /// Only refusals pay for the dynamic cast to the gateway's context.
    private func response(for error: any Error, request: Request, context: Context) -> Response {
        let requestId = (context as? GatewayRequestContext)?.requestId
        switch error {
        case let problem as GatewayProblem:
            return ProblemRenderer.response(problem, requestId: requestId)
        case let failure as ValidationFailure:
            return ProblemRenderer.response(GatewayProblem(failure), requestId: requestId)
        case let failure as PrincipalResolutionFailure:
            return ProblemRenderer.response(GatewayProblem(failure), requestId: requestId)
        case let error as any HTTPResponseError:
            if error.status == .notFound, let allowed = routes?.methods(for: request.uri.path),
                !allowed.contains(request.method.rawValue)
            {
                var response = ProblemRenderer.response(Self.problem(for: .methodNotAllowed), requestId: requestId)
                response.headers[.allow] = allowed.sorted().joined(separator: ", ")
                return response
            }
            return ProblemRenderer.response(Self.problem(for: error.status), requestId: requestId)
        default:
            context.logger.error("Unhandled error", metadata: ["error_type": "\(type(of: error))"])
            return ProblemRenderer.response(GatewayProblem(.internalError, "The request could not be processed."), requestId: requestId)
        }
    }

    static func problem(for status: HTTPResponse.Status) -> GatewayProblem {
        switch status.code {
        case 404: .notFound()
        case 405: GatewayProblem(.methodNotAllowed, "The method is not allowed on this resource.")
        case 413: GatewayProblem(.payloadTooLarge, "The request body is too large.")
        case 400..<500: GatewayProblem(.invalidRequest, "The request is malformed.")
        default: GatewayProblem(.internalError, "The request could not be processed.")
        }
    }
}
