import GatewayCore

/// A stable, machine-readable error code carried in every problem response (`code`), with the HTTP status and
/// title it is always served with: the gateway's problem vocabulary, kept here so the layers below answer with
/// typed failures and only the application speaks HTTP.
///
/// Codes are part of the HTTP contract (`openapi.yaml`): never rename one.
enum ProblemCode: String, Sendable, CaseIterable, Codable {
    case missingToken = "missing_token"
    case invalidToken = "invalid_token"
    case tokenExpired = "token_expired"
    case revokedToken = "revoked_token"
    case invalidRequest = "invalid_request"
    case invalidAPIKey = "invalid_api_key"
    case apiKeyFromBrowser = "api_key_from_browser"
    case forbidden = "forbidden"
    case noPortalRole = "no_portal_role"
    case notFound = "not_found"
    case methodNotAllowed = "method_not_allowed"
    case payloadTooLarge = "payload_too_large"
    case issuerUnavailable = "issuer_unavailable"
    case notReady = "not_ready"
    case internalError = "internal_error"
    case mfaRemediationRequired = "mfa_remediation_required"
    case staleMarker = "stale_marker"
    case factorNotAllowed = "factor_not_allowed"
    case actionUnavailable = "action_unavailable"
    case invalidPhone = "invalid_phone"
    case rateLimited = "rate_limited"
    case idempotencyKeyMissing = "idempotency_key_missing"
    case idempotencyKeyReused = "idempotency_key_reused"
    case requestInProgress = "request_in_progress"
    case invalidCode = "invalid_code"
    case enrolmentExpired = "enrolment_expired"
    case enrolmentClosed = "enrolment_closed"
    case enrolmentSuperseded = "enrolment_superseded"
    case callerAddressRequired = "caller_address_required"
    case providerUnavailable = "provider_unavailable"
    case providerRejected = "provider_rejected"
    case storeUnavailable = "store_unavailable"
    case introspectionRateLimited = "introspection_rate_limited"
    case introspectionOverloaded = "introspection_overloaded"
    case invalidIDToken = "invalid_id_token"
    case homeOrganisationUnknown = "home_organisation_unknown"

    /// The HTTP status this code is always served with.
    var status: Int {
        switch self {
        case .missingToken, .invalidToken, .tokenExpired, .revokedToken, .invalidAPIKey, .invalidIDToken: 401
        case .invalidRequest, .apiKeyFromBrowser, .idempotencyKeyMissing, .callerAddressRequired: 400
        case .forbidden, .noPortalRole, .mfaRemediationRequired, .factorNotAllowed: 403
        case .staleMarker, .actionUnavailable, .requestInProgress, .enrolmentClosed, .enrolmentSuperseded: 409
        case .enrolmentExpired: 410
        case .invalidPhone, .idempotencyKeyReused, .invalidCode: 422
        case .rateLimited, .introspectionRateLimited: 429
        case .providerRejected: 502
        case .notFound: 404
        case .methodNotAllowed: 405
        case .payloadTooLarge: 413
        case .issuerUnavailable, .notReady, .providerUnavailable, .storeUnavailable, .introspectionOverloaded,
            .homeOrganisationUnknown:
            503
        case .internalError: 500
        }
    }

    /// A short, human-readable summary (RFC 9457 `title`): the same for every occurrence.
    var title: String {
        switch self {
        case .missingToken: "Bearer token required"
        case .invalidToken: "Invalid bearer token"
        case .tokenExpired: "Bearer token expired"
        case .revokedToken: "Bearer token revoked"
        case .invalidRequest: "Invalid request"
        case .invalidAPIKey: "Invalid API key"
        case .apiKeyFromBrowser: "API keys are not accepted from browsers"
        case .forbidden: "Forbidden"
        case .noPortalRole: "No portal role"
        case .notFound: "Not found"
        case .methodNotAllowed: "Method not allowed"
        case .payloadTooLarge: "Payload too large"
        case .issuerUnavailable: "Identity provider unavailable"
        case .notReady: "Not ready"
        case .internalError: "Internal error"
        case .mfaRemediationRequired: "MFA remediation required"
        case .staleMarker: "Stale lifecycle marker"
        case .factorNotAllowed: "Factor not allowed"
        case .actionUnavailable: "Action unavailable"
        case .invalidPhone: "Invalid phone number"
        case .rateLimited: "Too many requests"
        case .idempotencyKeyMissing: "Idempotency-Key required"
        case .idempotencyKeyReused: "Idempotency-Key reused with a different request"
        case .requestInProgress: "Request already in progress"
        case .invalidCode: "Invalid verification code"
        case .enrolmentExpired: "Enrolment expired"
        case .enrolmentClosed: "Enrolment closed"
        case .enrolmentSuperseded: "Enrolment superseded by a newer number"
        case .callerAddressRequired: "Caller address required"
        case .providerUnavailable: "Identity provider call failed"
        case .providerRejected: "Identity provider refused the change"
        case .storeUnavailable: "Store unavailable"
        case .introspectionRateLimited: "Too many unknown tokens"
        case .introspectionOverloaded: "Token checks overloaded"
        case .invalidIDToken: "Invalid ID-token companion"
        case .homeOrganisationUnknown: "Home organisation unknown"
        }
    }
}

/// An error the gateway reports to its caller as an RFC 9457 problem.
///
/// `detail` is written for the caller: it never carries tokens, secrets or internals.
struct GatewayProblem: Error, Sendable, Equatable {
    var code: ProblemCode
    var detail: String
    /// Seconds after which a retry may succeed (`Retry-After`), when known.
    var retryAfter: Int?
    /// The bucket that refused, for the RateLimit headers of a 429.
    var rateLimit: RateLimitRefusal?

    init(_ code: ProblemCode, _ detail: String, retryAfter: Int? = nil) {
        self.code = code
        self.detail = detail
        self.retryAfter = retryAfter
    }

    var status: Int { code.status }

    /// The resource is absent or outside the caller's scope: both answer the same.
    static func notFound() -> GatewayProblem {
        GatewayProblem(.notFound, "The requested resource does not exist.")
    }
}
