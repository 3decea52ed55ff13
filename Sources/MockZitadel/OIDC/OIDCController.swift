import Foundation
import Hummingbird
import NIOCore

/// Zitadel's OIDC and OAuth endpoints, at Zitadel's default paths.
struct OIDCController {
    typealias Context = MockRequestContext
    let mock: MockZitadel

    static let clientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

    func addRoutes(to router: Router<Context>) {
        router.get("/.well-known/openid-configuration", use: discovery)
        router.get("/oauth/v2/keys", use: keys)
        router.post("/oauth/v2/introspect", use: introspect)
        router.post("/oauth/v2/revoke", use: revoke)
        router.post("/oauth/v2/token", use: token)
        router.get("/oidc/v1/userinfo", use: userinfo)
        router.post("/oidc/v1/userinfo", use: userinfo)
        router.get("/oauth/v2/authorize", use: authorize)
        router.post("/oauth/v2/authorize", use: authorize)
        router.get("/oidc/v1/end_session", use: endSession)
    }

    /// The discovery document with Zitadel's fields; endpoint URLs hang off the request's issuer.
    @Sendable func discovery(_ request: Request, context: Context) async throws -> Response {
        let issuer = context.issuer
        let authMethods: JSONValue = ["none", "client_secret_basic", "client_secret_post", "private_key_jwt"]
        let document: JSONValue = [
            "issuer": .string(issuer),
            "authorization_endpoint": .string(issuer + "/oauth/v2/authorize"),
            "token_endpoint": .string(issuer + "/oauth/v2/token"),
            "introspection_endpoint": .string(issuer + "/oauth/v2/introspect"),
            "userinfo_endpoint": .string(issuer + "/oidc/v1/userinfo"),
            "revocation_endpoint": .string(issuer + "/oauth/v2/revoke"),
            "end_session_endpoint": .string(issuer + "/oidc/v1/end_session"),
            "device_authorization_endpoint": .string(issuer + "/oauth/v2/device_authorization"),
            "jwks_uri": .string(issuer + "/oauth/v2/keys"),
            "scopes_supported": ["openid", "profile", "email", "phone", "address", "offline_access"],
            "response_types_supported": ["code", "id_token", "id_token token"],
            "response_modes_supported": ["query", "fragment", "form_post"],
            // v4 lists `implicit` always, and back-channel logout (with its `sid`) as supported
            // (`internal/api/oidc/server.go` createDiscoveryConfig, zitadel/oidc `pkg/op/discovery.go`).
            "grant_types_supported": [
                "authorization_code", "implicit", "refresh_token", "client_credentials", .string(Self.jwtBearerGrant),
            ],
            "backchannel_logout_supported": true,
            "backchannel_logout_session_supported": true,
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["EdDSA", "RS256", "RS384", "RS512", "ES256", "ES384", "ES512"],
            "request_object_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": authMethods,
            "token_endpoint_auth_signing_alg_values_supported": ["RS256"],
            "revocation_endpoint_auth_methods_supported": authMethods,
            "revocation_endpoint_auth_signing_alg_values_supported": ["RS256"],
            "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "private_key_jwt"],
            "introspection_endpoint_auth_signing_alg_values_supported": ["RS256"],
            "claims_supported": [
                "sub", "aud", "exp", "iat", "iss", "auth_time", "nonce", "acr", "amr", "c_hash", "at_hash", "act",
                "scopes", "client_id", "azp", "preferred_username", "name", "family_name", "given_name", "locale",
                "email", "email_verified", "phone_number", "phone_number_verified",
            ],
            "code_challenge_methods_supported": ["S256"],
            "ui_locales_supported": ["en", "de"],
            "request_parameter_supported": true,
            "request_uri_parameter_supported": false,
        ]
        return Responses.json(document)
    }

    /// The published signing keys, cacheable like Zitadel's.
    @Sendable func keys(_ request: Request, context: Context) async throws -> Response {
        let jwks = try await mock.jwks()
        return Responses.json(jwks, headers: [.cacheControl: "max-age=300, must-revalidate"])
    }

    /// RFC 7662: 400 for bad client authentication, otherwise 200 with `active` true or false. zitadel/oidc
    /// (`pkg/op/server_http.go` parseClientCredentials, introspectionHandler): no client id or assertion at all is
    /// `invalid_request`, a client id without a secret `invalid_client`; Zitadel (`internal/api/oidc/introspect.go`
    /// introspectionClientAuth) answers a wrong secret, assertion or unknown client with `unauthorized_client`. All
    /// 400: `pkg/op/error.go` WriteError has no 401.
    @Sendable func introspect(_ request: Request, context: Context) async throws -> Response {
        let form = FormBody.parse(try await request.collectedBody())
        let basic = request.basicCredentials
        let assertion = form["client_assertion"].flatMap { $0.isEmpty ? nil : $0 }
        if (basic?.id ?? "").isEmpty, assertion == nil, (form["client_id"] ?? "").isEmpty {
            return Responses.oauth(Self.noClient)
        }
        if assertion == nil, (basic?.secret ?? form["client_secret"] ?? "").isEmpty {
            return Responses.oauth(OAuthFailure(status: 400, error: "invalid_client", description: "client must be authenticated"))
        }
        let caller: AuthenticatedClient
        do {
            caller = try await authenticateClient(request, form: form, issuer: context.issuer, allowPost: false)
        } catch {
            return Responses.oauth(OAuthFailure(status: 400, error: "unauthorized_client", description: error.description))
        }
        guard let token = form["token"], !token.isEmpty else {
            return Responses.oauth(OAuthFailure(status: 400, error: "invalid_request", description: "token missing"))
        }
        let response = await mock.introspect(token: token, caller: caller)
        context.notes.userId = response["sub"]?.stringValue
        return Responses.json(JSONValue.object(response), headers: [.cacheControl: "no-store"])
    }

    /// RFC 7009: client authentication required; unknown tokens still answer 200.
    @Sendable func revoke(_ request: Request, context: Context) async throws -> Response {
        let form = FormBody.parse(try await request.collectedBody())
        do {
            let caller = try await authenticateClient(request, form: form, issuer: context.issuer, allowPost: true, allowPublic: true)
            guard let token = form["token"], !token.isEmpty else {
                return Responses.oauth(OAuthFailure(status: 400, error: "invalid_request", description: "token missing"))
            }
            context.notes.userId = await mock.userId(forToken: token)
            try await mock.revoke(token: token, caller: caller)
            return Responses.empty()
        } catch {
            return Responses.oauth(error)
        }
    }

    /// The token endpoint: client credentials, authorization code (with PKCE) and refresh token grants.
    @Sendable func token(_ request: Request, context: Context) async throws -> Response {
        let form = FormBody.parse(try await request.collectedBody())
        guard let grantType = form["grant_type"], !grantType.isEmpty else {
            return Responses.oauth(OAuthFailure(status: 400, error: "invalid_request", description: "grant_type missing"))
        }
        switch grantType {
        case "client_credentials": break
        case Self.jwtBearerGrant:
            do {
                let caller = try await mock.authenticateJWTProfile(assertion: form["assertion"] ?? "", issuer: context.issuer)
                context.notes.userId = caller.machineUserId
                return await machineToken(for: caller, form: form, issuer: context.issuer)
            } catch {
                return Responses.oauth(error)
            }
        case "authorization_code", "refresh_token":
            do {
                let caller = try await authenticateClient(
                    request, form: form, issuer: context.issuer, allowPost: true, allowPublic: true)
                let body =
                    grantType == "authorization_code"
                    ? try await mock.exchangeCode(form, client: caller, issuer: context.issuer)
                    : try await mock.refresh(form, client: caller, issuer: context.issuer)
                if let token = body["access_token"]?.stringValue { context.notes.userId = await mock.userId(forToken: token) }
                return Responses.json(body, headers: [.cacheControl: "no-store"])
            } catch {
                return Responses.oauth(error)
            }
        default:
            return Responses.oauth(
                OAuthFailure(status: 400, error: "unsupported_grant_type", description: "\(grantType) is not supported by the mock")
            )
        }
        do {
            let caller = try await authenticateClient(request, form: form, issuer: context.issuer, allowPost: true)
            context.notes.userId = caller.machineUserId
            return await machineToken(for: caller, form: form, issuer: context.issuer)
        } catch {
            return Responses.oauth(error)
        }
    }

    static let jwtBearerGrant = "urn:ietf:params:oauth:grant-type:jwt-bearer"

    /// A machine user's opaque access token (client credentials or JWT profile): no session, no refresh token.
    private func machineToken(for caller: AuthenticatedClient, form: [String: String], issuer: String) async -> Response {
        let scope = (form["scope"] ?? "openid").split(separator: " ").map(String.init)
        let issued = await mock.clientCredentialsToken(for: caller, scope: scope, issuer: issuer)
        let body: JSONValue = [
            "access_token": .string(issued.token),
            "token_type": "Bearer",
            "expires_in": .int(Int64(issued.expiresIn)),
            "scope": .string(scope.joined(separator: " ")),
        ]
        return Responses.json(body, headers: [.cacheControl: "no-store"])
    }

    /// OIDC userinfo for the bearer token; 401 `invalid_token` when it is missing or inactive.
    @Sendable func userinfo(_ request: Request, context: Context) async throws -> Response {
        var token = request.bearerToken
        if token == nil, request.method == .post {
            token = FormBody.parse(try await request.collectedBody())["access_token"]
        }
        guard let token, let result = await mock.userinfo(token: token) else {
            return Responses.oauth(OAuthFailure(status: 401, error: "invalid_token", description: "access token invalid"), bearer: true)
        }
        context.notes.userId = result.userId
        return Responses.json(JSONValue.object(result.claims), headers: [.cacheControl: "no-store"])
    }

    /// `/oauth/v2/authorize`: validates the request and sends the browser to the login page (or, with
    /// `prompt=none` and a signed-in browser, straight back with a code).
    @Sendable func authorize(_ request: Request, context: Context) async throws -> Response {
        var parameters = Self.query(request)
        if request.method == .post {
            parameters.merge(FormBody.parse(try await request.collectedBody())) { query, _ in query }
        }
        let browserSession = request.cookies[PagesController.cookieName]?.value
        switch await mock.startAuthorization(parameters, browserSessionId: browserSession, issuer: context.issuer) {
        case .login(let requestId):
            return Redirect.to("\(PagesController.loginPath)?requestId=oidc_\(requestId)")
        case .redirect(let location):
            return Redirect.to(location)
        case .errorPage(let message):
            return HTML.page(
                "Sign-in request refused", #"<p class="error" id="authorize-error">\#(HTML.escape(message))</p>"#, status: .badRequest)
        }
    }

    /// `/oidc/v1/end_session`: ends the session (from `id_token_hint`, else the browser's), clears the cookie, and
    /// redirects to a registered `post_logout_redirect_uri`.
    @Sendable func endSession(_ request: Request, context: Context) async throws -> Response {
        let parameters = Self.query(request)
        let browserSession = request.cookies[PagesController.cookieName]?.value
        let target = await mock.endSession(parameters, browserSessionId: browserSession)
        let clear: HTTPFields = [.setCookie: "\(PagesController.cookieName)=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax"]
        if let target { return Redirect.to(target, headers: clear) }
        return HTML.page(
            "Signed out", #"<p class="ok" id="signed-out">You are signed out.</p><p><a href="/ui/v2/login/login">Sign in again</a></p>"#,
            headers: clear)
    }

    /// The query string as a form: `+` is a space (`scope=openid+profile`), as Go's `url.ParseQuery` reads it.
    static func query(_ request: Request) -> [String: String] {
        FormBody.parse(ByteBuffer(string: request.uri.query ?? ""))
    }

    /// Client authentication: HTTP Basic, `private_key_jwt`, (token and revocation only) `client_secret_post`,
    /// and for PKCE clients without a secret (`allowPublic`) the bare `client_id`.
    private func authenticateClient(
        _ request: Request,
        form: [String: String],
        issuer: String,
        allowPost: Bool,
        allowPublic: Bool = false
    ) async throws(OAuthFailure) -> AuthenticatedClient {
        if let credentials = request.basicCredentials {
            return try await mock.authenticate(clientId: credentials.id, secret: credentials.secret)
        }
        if let assertion = form["client_assertion"] {
            guard form["client_assertion_type"] == Self.clientAssertionType else {
                throw OAuthFailure(status: 400, error: "invalid_request", description: "invalid client_assertion_type")
            }
            let client = try await mock.authenticate(assertion: assertion, issuer: issuer)
            if let claimed = form["client_id"], claimed != client.clientId {
                throw OAuthFailure(status: 400, error: "invalid_client", description: "client_id does not match the assertion")
            }
            return client
        }
        if allowPost, let id = form["client_id"], let secret = form["client_secret"] {
            return try await mock.authenticate(clientId: id, secret: secret)
        }
        if allowPublic, let id = form["client_id"] {
            return try await mock.authenticatePublicClient(clientId: id)
        }
        throw Self.noClient
    }

    /// zitadel/oidc's answer when a request names no client at all (`pkg/op/server_http.go` parseClientCredentials).
    static let noClient = OAuthFailure(status: 400, error: "invalid_request", description: "client_id or client_assertion must be provided")
}
