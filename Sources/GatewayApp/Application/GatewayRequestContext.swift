import Foundation
import GatewayCore
import HTTPTypes
import Hummingbird
import Logging
import SessionValidation

/// The per-request context: request id, and the caller once authenticated.
public struct GatewayRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public var requestId: String = ""
    /// Set by `AuthenticationMiddleware` on every `/v1` route.
    var caller: Caller?

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
    }

    /// The authenticated caller; a route outside the authenticated group has none (401, as without credentials).
    func requireCaller() throws(GatewayProblem) -> Caller {
        guard let caller else { throw GatewayProblem(ValidationFailure.missing) }
        return caller
    }

    /// Small bodies only: every request this gateway takes is a few hundred bytes.
    public var maxUploadSize: Int { 64 * 1024 }

    /// Every DTO a handler returns is encoded by the API's one encoder.
    public var responseEncoder: APIResponseEncoder { APIResponseEncoder() }

    public var requestDecoder: JSONDecoder { APIResponseEncoder.decoder }
}

/// How the gateway knows the caller's Zitadel session, said in every answer that depends on it: Zitadel's access
/// tokens carry no `sid` and introspection reports none, so only a verified ID-token companion names it (or a
/// deployment's opt-in `sid` in the access token). With `none`, the current session, per-session revocation of
/// JWTs and the recovery-code-used reminder are unavailable.
enum SessionBinding: String, Sendable {
    case idToken = "id_token"
    case tokenClaim = "token_claim"
    case none

    init(token: VerifiedToken, companion: IDTokenCompanion?) {
        if companion?.sessionId != nil {
            self = .idToken
        } else if token.claims.sessionId != nil {
            self = .tokenClaim
        } else {
            self = .none
        }
    }
}
