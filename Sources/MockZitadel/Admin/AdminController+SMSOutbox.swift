import Foundation
import Hummingbird

/// The SMS outbox.
extension AdminController {
    /// The codes the mock "sent" by SMS: `[{userId, maskedPhone, code, at, kind}]`, filtered by `userId`, `phone`, `kind`.
    @Sendable func smsOutbox(_ request: Request, context: Context) async throws -> Response {
        let query = request.uri.queryParameters
        let kind = query.get("kind").flatMap(SMSMessage.Kind.init(rawValue:))
        return Responses.json(await mock.sentMessages(userId: query.get("userId"), phone: query.get("phone"), kind: kind))
    }

    @Sendable func clearOutbox(_ request: Request, context: Context) async throws -> Response {
        await mock.clearOutbox()
        return Responses.empty(status: .noContent)
    }
}
