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
    indirect case session(VerifiedToken, Principal, rawToken: String)
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
}
