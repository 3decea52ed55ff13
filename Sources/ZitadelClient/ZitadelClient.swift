import AsyncHTTPClient
import Foundation
import GatewayCore
import JWTKit
import Logging
import Metrics
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import ProviderTransport

/// How the gateway authenticates to Zitadel's APIs.
public enum ZitadelCredential: Sendable {
    /// A machine user's personal access token.
    case pat(String)
    /// A machine user's key file: a JWT-profile grant at the token endpoint yields access tokens.
    case jwtProfile(ServiceAccountKey)
}

/// A Zitadel service-account key file: `{"type":"serviceaccount","keyId","key"(PEM),"userId"}`.
public struct ServiceAccountKey: Sendable, Decodable {
    public var keyId: String
    public var key: String
    public var userId: String

    public init(keyId: String, key: String, userId: String) {
        self.keyId = keyId
        self.key = key
        self.userId = userId
    }

    public static func load(path: String) throws -> ServiceAccountKey {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ZitadelClientError.credentialUnavailable("cannot read key file")
        }
        do { return try JSONDecoder().decode(ServiceAccountKey.self, from: data) } catch {
            throw ZitadelClientError.credentialUnavailable("key file is not a Zitadel service-account key")
        }
    }
}

/// Client settings: where, how to authenticate, and how long a call may take.
public struct ZitadelClientConfiguration: Sendable {
    /// The instance origin, e.g. `https://my-instance.zitadel.cloud`.
    public var baseURL: String
    public var credential: ZitadelCredential
    /// The deadline for one call, retries included.
    public var timeout: Duration
    /// Extra attempts for reads on retryable failures.
    public var retries: Int

    public init(baseURL: String, credential: ZitadelCredential, timeout: Duration = .seconds(2), retries: Int = 1) {
        var base = baseURL
        while base.hasSuffix("/") { base.removeLast() }
        self.baseURL = base
        self.credential = credential
        self.timeout = timeout
        self.retries = max(0, retries)
    }
}

/// The v2 User and Session service calls the gateway makes, as a seam for the HTTP layer.
public protocol ZitadelUserDirectory: Sendable {
    func getUserByID(_ userId: String) async throws(ZitadelClientError) -> GetUserByIDResponse
    func listAuthenticationMethodTypes(_ userId: String) async throws(ZitadelClientError) -> ListAuthenticationMethodTypesResponse
    func listAuthenticationFactors(_ userId: String) async throws(ZitadelClientError) -> ListAuthenticationFactorsResponse
    func listPasskeys(_ userId: String) async throws(ZitadelClientError) -> ListPasskeysResponse
    func listUserMetadata(_ userId: String, key: String) async throws(ZitadelClientError) -> ListUserMetadataResponse
    func getSession(_ sessionId: String) async throws(ZitadelClientError) -> GetSessionResponse
    func listSessions(userId: String, limit: Int) async throws(ZitadelClientError) -> ListSessionsResponse
    func deleteSession(_ sessionId: String) async throws(ZitadelClientError) -> DetailsResponse
}

/// The phone and SMS one-time-code changes the gateway forwards. None of them is retried: a change whose
/// outcome is unknown is reconciled by reading the user (`getUserByID`), never by sending it again.
public protocol ZitadelPhoneEnrolment: Sendable {
    /// Sets the number; Zitadel sends the verification code by SMS (`sendCode`).
    func setPhone(_ userId: String, phone: String) async throws(ZitadelClientError) -> SetPhoneResponse
    func verifyPhone(_ userId: String, code: String) async throws(ZitadelClientError) -> DetailsResponse
    func resendPhoneCode(_ userId: String) async throws(ZitadelClientError) -> SetPhoneResponse
    func addOTPSMS(_ userId: String) async throws(ZitadelClientError) -> DetailsResponse
    func removePhone(_ userId: String) async throws(ZitadelClientError) -> DetailsResponse
}

/// A typed client for Zitadel's v2 services over Connect JSON (`POST /<service>/<Method>`), the wire form of
/// Zitadel's current SDKs. Reads retry on retryable failures within the call deadline; writes never retry.
public final class ZitadelClient: ZitadelUserDirectory, ZitadelPhoneEnrolment, Sendable {
    public static let userService = "zitadel.user.v2.UserService"
    public static let sessionService = "zitadel.session.v2.SessionService"

    let configuration: ZitadelClientConfiguration
    let httpClient: HTTPClient
    let logger: Logger
    private let tokens: ServiceTokenSource
    private let http: ProviderHTTP

    public init(configuration: ZitadelClientConfiguration, httpClient: HTTPClient, logger: Logger) throws {
        self.configuration = configuration
        self.httpClient = httpClient
        self.logger = logger
        self.http = ProviderHTTP(client: httpClient)
        self.tokens = try ServiceTokenSource(
            credential: configuration.credential, baseURL: configuration.baseURL, httpClient: httpClient)
    }

    public func getUserByID(_ userId: String) async throws(ZitadelClientError) -> GetUserByIDResponse {
        try await call(Self.userService, "GetUserByID", UserRequest(userId: userId), read: true)
    }

    public func listAuthenticationMethodTypes(
        _ userId: String
    ) async throws(ZitadelClientError) -> ListAuthenticationMethodTypesResponse {
        try await call(Self.userService, "ListAuthenticationMethodTypes", UserRequest(userId: userId), read: true)
    }

    public func listAuthenticationFactors(_ userId: String) async throws(ZitadelClientError) -> ListAuthenticationFactorsResponse {
        try await call(Self.userService, "ListAuthenticationFactors", UserRequest(userId: userId), read: true)
    }

    public func listPasskeys(_ userId: String) async throws(ZitadelClientError) -> ListPasskeysResponse {
        try await call(Self.userService, "ListPasskeys", UserRequest(userId: userId), read: true)
    }

    /// Zitadel v4's `ListUserMetadata`, filtered to one key.
    public func listUserMetadata(_ userId: String, key: String) async throws(ZitadelClientError) -> ListUserMetadataResponse {
        try await call(Self.userService, "ListUserMetadata", ListUserMetadataRequest(userId: userId, key: key), read: true)
    }

    public func getSession(_ sessionId: String) async throws(ZitadelClientError) -> GetSessionResponse {
        try await call(Self.sessionService, "GetSession", SessionRequest(sessionId: sessionId), read: true)
    }

    public func setPhone(_ userId: String, phone: String) async throws(ZitadelClientError) -> SetPhoneResponse {
        try await call(Self.userService, "SetPhone", SetPhoneRequest(userId: userId, phone: phone), read: false)
    }

    public func verifyPhone(_ userId: String, code: String) async throws(ZitadelClientError) -> DetailsResponse {
        try await call(Self.userService, "VerifyPhone", VerifyPhoneRequest(userId: userId, verificationCode: code), read: false)
    }

    public func resendPhoneCode(_ userId: String) async throws(ZitadelClientError) -> SetPhoneResponse {
        try await call(Self.userService, "ResendPhoneCode", ResendPhoneCodeRequest(userId: userId), read: false)
    }

    public func addOTPSMS(_ userId: String) async throws(ZitadelClientError) -> DetailsResponse {
        try await call(Self.userService, "AddOTPSMS", UserRequest(userId: userId), read: false)
    }

    public func removePhone(_ userId: String) async throws(ZitadelClientError) -> DetailsResponse {
        try await call(Self.userService, "RemovePhone", UserRequest(userId: userId), read: false)
    }

    /// `SessionService/ListSessions` for one user, newest first (Zitadel lists active sessions only).
    public func listSessions(userId: String, limit: Int) async throws(ZitadelClientError) -> ListSessionsResponse {
        try await call(Self.sessionService, "ListSessions", ListSessionsRequest(userId: userId, limit: limit), read: true)
    }

    /// `SessionService/DeleteSession` with the service credential (needs `session.delete`); a write, never retried.
    public func deleteSession(_ sessionId: String) async throws(ZitadelClientError) -> DetailsResponse {
        try await call(Self.sessionService, "DeleteSession", SessionRequest(sessionId: sessionId), read: false)
    }

    /// One RPC: an encodable request in, decoded JSON out; `read` allows retries on retryable failures.
    public func call<Request: Encodable & Sendable, Response: Decodable>(
        _ service: String, _ method: String, _ request: Request, read: Bool
    ) async throws(ZitadelClientError) -> Response {
        let deadline = ContinuousClock.now + configuration.timeout
        let rpc = "\(service.split(separator: ".").last ?? "")/\(method)"
        let metrics = ProviderCallMetrics.zitadelAPI(rpc: rpc)
        guard let body = try? JSONEncoder().encode(request) else {
            throw .malformedResponse("request body not encodable")
        }
        let started = ContinuousClock.now
        var attempt = 0
        while true {
            do {
                let response: Response = try await attemptCall(service, method, body, deadline: deadline)
                metrics.record(outcome: "ok", since: started)
                return response
            } catch {
                attempt += 1
                let backoff = Duration.milliseconds(50 * attempt)
                let canRetry = read && error.isRetryable && attempt <= configuration.retries
                if canRetry, ContinuousClock.now + backoff < deadline {
                    logger.debug("Retrying Zitadel call", metadata: ["rpc": "\(rpc)", "reason": "\(error.kind)"])
                    try? await Task.sleep(for: backoff)
                    continue
                }
                metrics.record(outcome: error.kind, since: started)
                logger.warning(
                    "Zitadel call failed", metadata: ["rpc": "\(rpc)", "reason": "\(error.kind)", "errorId": "\(error.errorId ?? "-")"])
                throw error
            }
        }
    }

    private func attemptCall<Response: Decodable>(
        _ service: String, _ method: String, _ body: Data, deadline: ContinuousClock.Instant
    ) async throws(ZitadelClientError) -> Response {
        let remaining = deadline - ContinuousClock.now
        guard remaining > .zero else { throw .timeout }
        let token = try await tokens.token(timeout: remaining)
        var request = HTTPClientRequest(url: "\(configuration.baseURL)/\(service)/\(method)")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "Accept", value: "application/json")
        request.headers.add(name: "Connect-Protocol-Version", value: "1")
        request.headers.add(name: "Connect-Timeout-Ms", value: String(max(1, ProviderHTTP.nanoseconds(remaining) / 1_000_000)))
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        request.body = .bytes(ByteBuffer(data: body))
        let response = try await execute(request, timeout: deadline - ContinuousClock.now)
        guard response.isSuccess else {
            let error = ZitadelAPIError.decode(status: response.status, body: response.body)
            if error.code == .unauthenticated { await tokens.invalidate() }
            throw .api(error)
        }
        do {
            return try JSONDecoder().decode(Response.self, from: Data(response.body))
        } catch {
            throw .malformedResponse("\(method) response does not decode")
        }
    }

    /// One exchange through the provider HTTP layer, its failures as client errors.
    func execute(_ request: HTTPClientRequest, timeout: Duration) async throws(ZitadelClientError) -> ProviderResponse {
        do {
            return try await http.execute(request, timeout: timeout)
        } catch {
            throw ZitadelClientError(error)
        }
    }
}

extension ZitadelClientError {
    /// A failure of the provider HTTP layer: no answer in time, an answer too large, or no connection.
    init(_ error: ProviderFetchError) {
        switch error.kind {
        case .timeout: self = .timeout
        case .tooLarge: self = .malformedResponse("response too large")
        case .malformed: self = .malformedResponse(error.message)
        case .transport, .status: self = .transport(error.errorType ?? error.kind.rawValue)
        }
    }
}

/// Supplies the bearer token for API calls: the PAT as is, or a JWT-profile access token fetched from the token
/// endpoint and refreshed a minute before it expires.
actor ServiceTokenSource {
    private let credential: ZitadelCredential
    private let tokenURL: String
    private let audience: String
    private let http: ProviderHTTP
    private let keys = JWTKeyCollection()
    private var privateKey: Insecure.RSA.PrivateKey?
    private var cached: (token: String, expiresAt: ContinuousClock.Instant)?

    init(credential: ZitadelCredential, baseURL: String, httpClient: HTTPClient) throws {
        self.credential = credential
        self.tokenURL = baseURL + "/oauth/v2/token"
        self.audience = baseURL
        self.http = ProviderHTTP(client: httpClient, maxBodyBytes: 64 * 1024)
        if case .jwtProfile(let key) = credential {
            do { privateKey = try Insecure.RSA.PrivateKey(pem: key.key) } catch {
                throw ZitadelClientError.credentialUnavailable("key file holds no usable RSA private key")
            }
        }
    }

    /// The `rpc` label of JWT-profile token requests in the Zitadel call metrics.
    static let tokenRPC = "oauth/token"

    func invalidate() { cached = nil }

    func token(timeout: Duration) async throws(ZitadelClientError) -> String {
        switch credential {
        case .pat(let pat): return pat
        case .jwtProfile(let key):
            if let cached, cached.expiresAt > ContinuousClock.now { return cached.token }
            return try await fetch(key: key, timeout: timeout)
        }
    }

    private func fetch(key: ServiceAccountKey, timeout: Duration) async throws(ZitadelClientError) -> String {
        struct Assertion: JWTPayload {
            var iss: String, sub: String, aud: [String], iat: Int, exp: Int
            func verify(using algorithm: some JWTAlgorithm) async throws {}
        }
        struct TokenResponse: Decodable {
            var access_token: String
            var expires_in: Int?
        }
        guard let privateKey else { throw .credentialUnavailable("no key") }
        let now = Int(Date().timeIntervalSince1970)
        let kid = JWKIdentifier(string: key.keyId)
        let assertion: String
        do {
            await keys.add(rsa: privateKey, digestAlgorithm: .sha256, kid: kid)
            assertion = try await keys.sign(
                Assertion(iss: key.userId, sub: key.userId, aud: [audience], iat: now, exp: now + 300), kid: kid)
        } catch { throw .credentialUnavailable("cannot sign the JWT-profile assertion") }
        let form = [
            ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"), ("assertion", assertion),
            ("scope", "openid urn:zitadel:iam:org:project:id:zitadel:aud"),
        ]
        let metrics = ProviderCallMetrics.zitadelAPI(rpc: Self.tokenRPC)
        let started = ContinuousClock.now
        let response: ProviderResponse
        do {
            response = try await http.postForm(tokenURL, form: form, timeout: timeout, metrics: nil)
        } catch {
            metrics.record(outcome: "unavailable", since: started)
            throw .credentialUnavailable("token endpoint unreachable")
        }
        let status = response.status
        let body = response.body
        guard status == 200, let decoded = try? JSONDecoder().decode(TokenResponse.self, from: Data(body)) else {
            metrics.record(outcome: status == 200 ? "malformed" : "refused", since: started)
            throw .credentialUnavailable("token endpoint answered \(status)")
        }
        metrics.record(outcome: "ok", since: started)
        // Reused until a minute before it expires; the provider's figure is bounded first (no overflow on any value).
        let lifetime = max(30, min(max(decoded.expires_in ?? 3600, 0), 86_400) - 60)
        cached = (decoded.access_token, ContinuousClock.now + .seconds(lifetime))
        return decoded.access_token
    }
}
