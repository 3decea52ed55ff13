import Foundation
import HTTPTypes
import Hummingbird
import Logging

/// Gives every request an id (the caller's `X-Request-Id` when it is sane), logs with it and echoes it back.
struct RequestIdMiddleware: RouterMiddleware {
    typealias Context = GatewayRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        let id: String
        if let supplied = request.headers[.requestId], Self.isAcceptable(supplied) {
            id = supplied
        } else {
            id = UUID().uuidString.lowercased()
        }
        context.requestId = id
        var response = try await RequestLogContext.$requestId.withValue(id) { try await next(request, context) }
        response.headers[.requestId] = id
        return response
    }

    static func isAcceptable(_ value: String) -> Bool {
        value.utf8.count <= 128 && !value.isEmpty
            && value.utf8.allSatisfy { byte in
                (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                    || byte == 0x2D || byte == 0x5F || byte == 0x2E
            }
    }
}
