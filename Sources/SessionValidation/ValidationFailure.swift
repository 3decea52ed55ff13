/// Why a bearer token was refused. The raw value is the metrics label and log reason; never the token.
public enum ValidationFailure: String, Error, Sendable, CaseIterable {
    case missing
    case oversize
    case malformed
    case unsupportedTokenType = "unsupported_token_type"
    case unknownIssuer = "unknown_issuer"
    case algorithmNotAllowed = "algorithm_not_allowed"
    case algorithmKeyMismatch = "algorithm_key_mismatch"
    case kidRequired = "kid_required"
    case unknownKid = "unknown_kid"
    case unsupportedCritical = "unsupported_crit"
    case badSignature = "bad_signature"
    case expired
    case missingExpiry = "missing_exp"
    case notYetValid = "not_yet_valid"
    case issuedInFuture = "issued_in_future"
    case wrongAudience = "wrong_audience"
    case missingSubject = "missing_sub"
    case inactive
    case revoked
    case keysUnavailable = "keys_unavailable"
    case introspectionUnavailable = "introspection_unavailable"
    case revocationListUnavailable = "revocation_list_unavailable"
    /// This caller sent too many unknown opaque tokens (per-address budget).
    case introspectionRateLimited = "introspection_rate_limited"
    /// Unknown opaque tokens arrive faster than the instance budget, or too many are being checked at once.
    case introspectionOverloaded = "introspection_overloaded"
    /// A bearer JWT shaped like an ID token (`TokenClaims.isShapedLikeIDToken`).
    case idTokenPresented = "id_token_presented"
    /// ID-token companion and logout-token checks (OIDC Core 3.1.3.7, Back-Channel Logout 1.0 2.6).
    case wrongIssuer = "wrong_issuer"
    case wrongAuthorizedParty = "wrong_azp"
    case subjectMismatch = "subject_mismatch"
    case accessTokenHashMismatch = "at_hash_mismatch"
    case missingTokenId = "missing_jti"
    case missingLogoutEvent = "missing_logout_event"
    case missingSessionOrSubject = "missing_sid_and_sub"
    case nonceInLogoutToken = "nonce_present"
    case issuedTooLongAgo = "issued_too_long_ago"
    case replayed

    /// What is wrong, in a few words (problem details and logout-token error descriptions; never the token).
    public var explanation: String {
        switch self {
        case .wrongIssuer: "it was issued by another issuer than the access token's"
        case .wrongAudience: "its audience names no configured portal client"
        case .wrongAuthorizedParty: "its authorised party (azp) is not a configured portal client"
        case .subjectMismatch: "its subject differs from the access token's"
        case .accessTokenHashMismatch: "its at_hash does not match the presented access token"
        case .missingTokenId: "it has no jti"
        case .missingLogoutEvent: "it does not carry the back-channel logout event"
        case .missingSessionOrSubject: "it names neither a session (sid) nor a subject (sub)"
        case .nonceInLogoutToken: "a logout token must not carry nonce, at_hash or c_hash"
        case .issuedTooLongAgo: "it was issued too long ago"
        case .replayed: "it was received before (jti)"
        case .expired: "it has expired"
        case .missingExpiry: "it has no expiry"
        case .issuedInFuture: "it was issued in the future"
        case .notYetValid: "it is not valid yet"
        case .badSignature: "its signature is invalid"
        case .unknownIssuer: "it was not issued by a configured issuer"
        case .unknownKid: "its signing key is not known to the issuer"
        case .kidRequired: "it must name its signing key (kid)"
        case .algorithmNotAllowed: "its signing algorithm is not allowed"
        case .algorithmKeyMismatch: "its algorithm does not match its key"
        case .unsupportedCritical: "it requires unsupported header extensions"
        case .unsupportedTokenType: "its type is not accepted"
        case .keysUnavailable: "the issuer's signing keys are unavailable"
        case .missingSubject: "it has no subject"
        case .idTokenPresented: "it is an ID token, not an access token"
        default: "it is not a well-formed signed token"
        }
    }
}
