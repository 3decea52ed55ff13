import Crypto
import GatewayCore
import HTTPTypes
import Hummingbird
import Logging
import SessionValidation

/// Authenticates the caller: `Authorization: Bearer` for portal sessions, `X-API-Key` for trusted
/// server-side integrations (never from a browser). Resolves the principal and the tenant in scope, and builds
/// the request's one `Caller`.
struct AuthenticationMiddleware: RouterMiddleware {
    typealias Context = GatewayRequestContext

    let validator: SessionValidator
    let apiKeys: APIKeyVerifier
    let homeOrganisations: HomeOrganisationResolver

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        let (authorization, apiKey, requestedTenant, idToken) = Self.credentialFields(request.headers)
        guard requestedTenant.count <= 1 else {
            throw GatewayProblem(.invalidRequest, "Send X-AiDial-Tenant at most once.")
        }
        guard idToken.count <= 1 else {
            throw GatewayProblem(.invalidIDToken, "Send X-AiDial-ID-Token at most once.")
        }

        if !apiKey.isEmpty {
            guard authorization.isEmpty, idToken.isEmpty else {
                throw GatewayProblem(.invalidRequest, "Send either a bearer token or an API key, not both.")
            }
            if Self.hasBrowserMarkers(request.headers) {
                throw GatewayProblem(
                    .apiKeyFromBrowser, "API keys are for server-side integrations and are refused from browsers.")
            }
            guard apiKey.count == 1, let key = apiKeys.match(apiKey[0]) else {
                throw GatewayProblem(.invalidAPIKey, "The API key is not valid.")
            }
            let route = "\(request.method.rawValue) \(context.endpointPath ?? request.uri.path)"
            guard key.routes.contains(route) else {
                throw GatewayProblem(.forbidden, "This API key may not call this route.")
            }
            var tenant: String?
            if let requested = requestedTenant.first {
                guard key.tenants.contains(requested) else { throw GatewayProblem.notFound() }
                tenant = requested
            } else if key.tenants.count == 1 {
                tenant = key.tenants.first
            }
            context.caller = Caller(integration: key, tenant: tenant)
            return try await next(request, context)
        }

        guard !authorization.isEmpty else {
            throw GatewayProblem(ValidationFailure.missing)
        }
        guard authorization.count == 1, let token = Self.bearerToken(authorization[0]) else {
            throw GatewayProblem(.invalidToken, "Use the Bearer scheme: `Authorization: Bearer <token>`.")
        }
        let verified: VerifiedToken
        if let cached = validator.cachedValidation(token) {
            verified = cached
        } else {
            do {
                verified = try await validator.validate(token, callerAddress: callerAddress(request))
            } catch {
                context.logger.info("Token refused", metadata: ["reason": "\(error.rawValue)"])
                throw GatewayProblem(error)
            }
        }
        var companion: IDTokenCompanion?
        if let presented = idToken.first {
            companion = try await Self.companion(presented, for: verified, rawToken: token, validator: validator, context: context)
        }
        var homeOrgId = verified.claims.resourceOwnerId ?? homeOrganisations.cached(for: verified)
        if homeOrgId == nil {
            homeOrgId = try await homeOrganisations.lookUp(for: verified)
        }
        var principal = try PrincipalResolver.resolve(
            verified.sessionClaims, homeOrgId: homeOrgId, requestedTenant: requestedTenant.first)
        if let sid = companion?.sessionId { principal.sessionId = sid }
        context.caller = Caller(session: verified, principal: principal, rawToken: token, companion: companion)
        RequestLogContext.current?.subject = principal.subject
        return try await next(request, context)
    }

    /// The trusted caller-address header's value, when one is configured (`validation.opaqueTokens.callerAddressHeader`).
    func callerAddress(_ request: Request) -> String? {
        guard let header = validator.callerAddressHeader, let name = HTTPField.Name(header) else { return nil }
        return request.headers[values: name].last
    }

    /// The ID-token companion bound to the access token: kept with the cached token after its first check, so a
    /// repeated pair costs a digest and a comparison. Any failed check is a 401 `invalid_id_token`.
    static func companion(
        _ idToken: String, for token: VerifiedToken, rawToken: String, validator: SessionValidator, context: Context
    ) async throws(GatewayProblem) -> IDTokenCompanion {
        if let cached = validator.cachedCompanion(idToken, for: token) { return cached }
        do {
            return try await validator.companion(idToken, for: token, rawToken: rawToken)
        } catch {
            context.logger.info("ID-token companion refused", metadata: ["reason": "\(error.rawValue)"])
            switch error {
            case .revoked, .revocationListUnavailable, .keysUnavailable: throw GatewayProblem(error)
            default:
                throw GatewayProblem(.invalidIDToken, "The X-AiDial-ID-Token companion is not valid: \(error.explanation).")
            }
        }
    }

    /// The Authorization, X-API-Key, X-AiDial-Tenant and X-AiDial-ID-Token values, in one pass over the fields
    /// (a `headers[values:]` lookup per name walked them once each and built an array each on every request).
    static func credentialFields(
        _ headers: HTTPFields
    ) -> (authorization: [String], apiKey: [String], tenant: [String], idToken: [String]) {
        var authorization: [String] = []
        var apiKey: [String] = []
        var tenant: [String] = []
        var idToken: [String] = []
        for field in headers {
            switch field.name {
            case .authorization: authorization.append(field.value)
            case .apiKey: apiKey.append(field.value)
            case .tenant: tenant.append(field.value)
            case .idToken: idToken.append(field.value)
            default: continue
            }
        }
        return (authorization, apiKey, tenant, idToken)
    }

    /// RFC 6750 §2.1: the scheme is case-insensitive, one or more spaces, then the b64token.
    ///
    /// Scans the header's contiguous UTF-8 bytes once: this runs on every request, and tokens are a kilobyte or
    /// more (a byte-by-byte walk of `String.UTF8View` indices showed up in profiles).
    static func bearerToken(_ header: String) -> String? {
        var header = header
        return header.withUTF8 { bytes -> String? in
            var index = 0
            let count = bytes.count
            while index < count, bytes[index] == UInt8(ascii: " ") { index += 1 }
            for expected in "bearer".utf8 {
                guard index < count, bytes[index] | 0x20 == expected else { return nil }
                index += 1
            }
            guard index < count, bytes[index] == UInt8(ascii: " ") else { return nil }
            while index < count, bytes[index] == UInt8(ascii: " ") { index += 1 }
            guard index < count else { return nil }
            let token = UnsafeBufferPointer(rebasing: bytes[index...])
            guard token.firstIndex(of: UInt8(ascii: " ")) == nil else { return nil }
            return String(decoding: token, as: UTF8.self)
        }
    }

    static func hasBrowserMarkers(_ headers: HTTPFields) -> Bool {
        headers[.origin] != nil || headers[.cookie] != nil || headers[.secFetchSite] != nil
            || headers[.secFetchMode] != nil || headers[.secFetchDest] != nil || headers[.secFetchUser] != nil
    }
}
