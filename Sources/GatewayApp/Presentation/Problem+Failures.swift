import GatewayCore
import SessionValidation

/// The lower layers' typed failures as the problems the caller sees: the one place they meet HTTP.
extension GatewayProblem {
    /// A refused tenant choice: out of scope answers exactly as a tenant that does not exist.
    init(_ failure: PrincipalResolutionFailure) {
        self =
            switch failure {
            case .malformedTenant: GatewayProblem(.invalidRequest, "X-AiDial-Tenant must be an organisation id.")
            case .tenantOutOfScope: .notFound()
            }
    }

    /// The problem a refused token is answered with. Details say what is wrong without echoing the token.
    init(_ failure: ValidationFailure) {
        self =
            switch failure {
            case .missing: GatewayProblem(.missingToken, "Send the session's access token as `Authorization: Bearer <token>`.")
            case .oversize: GatewayProblem(.invalidToken, "The token exceeds the maximum accepted size.")
            case .malformed: GatewayProblem(.invalidToken, "The token is not a well-formed access token.")
            case .unsupportedTokenType: GatewayProblem(.invalidToken, "The token type is not accepted.")
            case .unknownIssuer: GatewayProblem(.invalidToken, "The token was not issued by a configured issuer.")
            case .algorithmNotAllowed: GatewayProblem(.invalidToken, "The token's signing algorithm is not allowed.")
            case .algorithmKeyMismatch: GatewayProblem(.invalidToken, "The token's algorithm does not match its key.")
            case .kidRequired: GatewayProblem(.invalidToken, "The token must name its signing key (kid).")
            case .unknownKid: GatewayProblem(.invalidToken, "The token's signing key is not known to the issuer.")
            case .unsupportedCritical: GatewayProblem(.invalidToken, "The token requires unsupported header extensions.")
            case .badSignature: GatewayProblem(.invalidToken, "The token's signature is invalid.")
            case .expired: GatewayProblem(.tokenExpired, "The token has expired.")
            case .missingExpiry: GatewayProblem(.invalidToken, "The token has no expiry.")
            case .notYetValid: GatewayProblem(.invalidToken, "The token is not valid yet.")
            case .issuedInFuture: GatewayProblem(.invalidToken, "The token was issued in the future.")
            case .wrongAudience: GatewayProblem(.invalidToken, "The token is not intended for this service.")
            case .missingSubject: GatewayProblem(.invalidToken, "The token has no subject.")
            case .inactive: GatewayProblem(.invalidToken, "The token is not active.")
            case .revoked: GatewayProblem(.revokedToken, "The session has been revoked.")
            case .keysUnavailable:
                GatewayProblem(.issuerUnavailable, "The issuer's signing keys are unavailable.", retryAfter: 5)
            case .introspectionUnavailable:
                GatewayProblem(.issuerUnavailable, "The issuer could not confirm the token.", retryAfter: 5)
            case .introspectionRateLimited:
                GatewayProblem(.introspectionRateLimited, "Too many unknown tokens from this caller; retry later.", retryAfter: 1)
            case .introspectionOverloaded:
                GatewayProblem(.introspectionOverloaded, "Too many unknown tokens are being checked; retry later.", retryAfter: 1)
            case .revocationListUnavailable:
                GatewayProblem(.storeUnavailable, "The session's revocation status could not be checked.", retryAfter: 5)
            case .idTokenPresented:
                GatewayProblem(.invalidToken, "An ID token is not an access token: send the access token issued with it.")
            default: GatewayProblem(.invalidToken, "The token is not valid: \(failure.explanation).")
            }
    }
}
