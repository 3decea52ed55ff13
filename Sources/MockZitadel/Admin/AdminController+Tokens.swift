import Foundation
import Hummingbird

/// Minting tokens.
extension AdminController {
    /// Mints a token: 400 for a bad body, 404 for an unknown user.
    @Sendable func mintToken(_ request: Request, context: Context) async throws -> Response {
        do {
            let body = try await decodeRequiredBody(TokenMintRequest.self, from: request)
            try body.checkDates(now: Date())
            let minted = try await mock.mintToken(body, issuer: context.issuer)
            return Responses.json(minted)
        } catch {
            return Responses.problem(error)
        }
    }
}
