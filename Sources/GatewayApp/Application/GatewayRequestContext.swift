import Foundation
import GatewayCore
import HTTPTypes
import Hummingbird
import Logging
import SessionValidation

/// Who is calling: a portal session (bearer token) or a trusted integration (API key).
///
/// `indirect`: the context is copied through every middleware, and a boxed session is one reference to retain
/// where the payload inline was a dozen (most of them claim strings shared with the token cache, so contended
/// between threads serving the same session).
public enum CallerIdentity: Sendable {
    /// `companion`: the verified ID token sent with the access token (`X-AiDial-ID-Token`), when one was.
    indirect case session(VerifiedToken, Principal, rawToken: String, companion: IDTokenCompanion?)
    case integration(APIKeyConfiguration, activeTenant: String?)
}

/// The per-request context: request id, and the caller once authenticated.
public struct GatewayRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public var requestId: String = ""
    public var identity: CallerIdentity?

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
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
