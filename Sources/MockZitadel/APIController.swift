import Foundation
import Hummingbird
import NIOCore

/// The v2 User and Session services in both wire forms Zitadel serves: Connect JSON
/// (`POST /zitadel.user.v2.UserService/<Method>`) and gRPC-gateway REST (`/v2/users/{userId}/…`).
///
/// Both forms decode into one ``RPCRequest``, resolve the caller from `Authorization: Bearer`, and run the same
/// implementation on ``MockZitadel``; only the body and error encodings differ.
struct APIController {
    typealias Context = MockRequestContext
    let mock: MockZitadel

    func addRoutes(to router: Router<Context>) {
        for service in V2Service.allCases {
            router.post("/\(service.rawValue)/:method", use: connect)
        }
        for method in [HTTPRequest.Method.get, .post, .put, .patch, .delete] {
            router.on("/v2/**", method: method, use: rest)
        }
    }

    // MARK: Connect

    /// Connect unary over JSON: 200 with the response message, or a Connect error body with the mapped status.
    @Sendable func connect(_ request: Request, context: Context) async throws -> Response {
        let path = request.uri.path
        guard let service = V2Service.allCases.first(where: { path.hasPrefix("/\($0.rawValue)/") }),
            let method = context.parameters.get("method")
        else { return Self.plainNotFound() }
        guard service.methods.contains(method) || service.unimplemented.contains(method) else { return Self.plainNotFound() }
        if let contentType = request.headers[.contentType], !contentType.lowercased().hasPrefix("application/json") {
            return Response(
                status: .unsupportedMediaType, headers: [.init("Accept-Post")!: "application/json"], body: .init())
        }
        do {
            let fields = try await Self.decodeObject(request)
            let rpcRequest = RPCRequest(message: method + "Request", fields: fields)
            let result = try await call(service, method, rpcRequest, request: request, context: context)
            return Responses.json(result)
        } catch {
            return Responses.json(error.connectBody, status: .init(code: error.code.httpStatus))
        }
    }

    // MARK: REST

    /// gRPC-gateway REST: path parameters, query parameters and (where the mapping has one) the JSON body.
    @Sendable func rest(_ request: Request, context: Context) async throws -> Response {
        let matches = V2Route.routes.compactMap { route in route.match(request.uri.path).map { (route, $0) } }
        guard !matches.isEmpty else {
            return Responses.json(["code": 5, "message": "Not Found", "details": []] as JSONValue, status: .notFound)
        }
        guard let (route, parameters) = matches.first(where: { $0.0.method == request.method }) else {
            return Responses.json(
                ["code": 12, "message": "Method Not Allowed", "details": []] as JSONValue, status: .methodNotAllowed)
        }
        do {
            var fields: [String: JSONValue] = [:]
            if route.bodyMapped {
                fields = try await Self.decodeObject(request)
            }
            if !route.bodyMapped || request.method == .delete || request.method == .get {
                // grpc-gateway reads the query with Go's url.ParseQuery: `+` is a space, repeated names repeat.
                for (name, value) in FormBody.parseAll(ByteBuffer(string: request.uri.query ?? "")).pairs {
                    let string = JSONValue.string(value)
                    switch fields[name] {
                    case nil: fields[name] = string
                    case .array(let existing)?: fields[name] = .array(existing + [string])
                    case let existing?: fields[name] = .array([existing, string])
                    }
                }
            }
            for (name, value) in parameters {
                fields[name] = .string(value)
            }
            let rpcRequest = RPCRequest(message: route.rpc + "Request", fields: fields)
            let result = try await call(route.service, route.rpc, rpcRequest, request: request, context: context)
            return Responses.json(result)
        } catch {
            var headers: HTTPFields = [:]
            if error.code == .unauthenticated { headers[.wwwAuthenticate] = "Bearer" }
            return Responses.json(error.restBody, status: .init(code: error.code.httpStatus), headers: headers)
        }
    }

    // MARK: Shared

    /// Authenticates, records who the call was about, and runs the RPC.
    private func call(
        _ service: V2Service, _ method: String, _ rpcRequest: RPCRequest, request: Request, context: Context
    ) async throws(ZitadelError) -> JSONValue {
        let caller = try await mock.apiCaller(bearer: request.bearerToken)
        context.notes.callerId = caller.userId
        context.notes.userId = await mock.affectedUser(of: rpcRequest)
        return try await mock.callRPC(service, method, rpcRequest, caller: caller, issuer: context.issuer)
    }

    /// The body as a JSON object; empty means `{}`; anything else is InvalidArgument, as protojson answers.
    static func decodeObject(_ request: Request) async throws(ZitadelError) -> [String: JSONValue] {
        let buffer: ByteBuffer
        do {
            buffer = try await request.collectedBody()
        } catch {
            throw ZitadelError(.resourceExhausted, nil, "grpc: received message larger than max")
        }
        guard buffer.readableBytes > 0, !String(buffer: buffer).allSatisfy(\.isWhitespace) else { return [:] }
        guard let value = try? MockJSON.decode(JSONValue.self, from: Data(buffer.readableBytesView)) else {
            throw .malformedBody("unexpected token in request body")
        }
        guard let object = value.objectValue else { throw .malformedBody("the request body must be a JSON object") }
        return object
    }

    /// connect-go answers unknown procedures with a plain 404.
    static func plainNotFound() -> Response {
        Response(
            status: .notFound, headers: [.contentType: "text/plain; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(string: "404 page not found\n")))
    }
}

/// The v2 services the mock serves and the methods it implements.
enum V2Service: String, CaseIterable, Sendable {
    case user = "zitadel.user.v2.UserService"
    case session = "zitadel.session.v2.SessionService"

    /// `UserService`, as the journal names it.
    var shortName: String { String(rawValue.split(separator: ".").last ?? "") }

    var methods: Set<String> {
        switch self {
        case .user:
            [
                "GetUserByID", "ListAuthenticationMethodTypes", "ListAuthenticationFactors", "ListPasskeys", "SetPhone",
                "VerifyPhone", "ResendPhoneCode", "RemovePhone", "AddOTPSMS", "RemoveOTPSMS", "AddOTPEmail", "RemoveOTPEmail",
                "RegisterTOTP", "VerifyTOTPRegistration", "RemoveTOTP", "GenerateRecoveryCodes", "RemoveRecoveryCodes",
                "HumanMFAInitSkipped", "ListUserMetadata", "SetUserMetadata", "DeleteUserMetadata",
            ]
        case .session: ["GetSession", "ListSessions", "DeleteSession"]
        }
    }

    /// Zitadel methods the mock knows but does not implement (WebAuthn ceremonies, session creation, …): 501.
    var unimplemented: Set<String> {
        switch self {
        case .user:
            [
                "AddHumanUser", "CreateUser", "UpdateHumanUser", "UpdateUser", "ListUsers", "DeleteUser", "SetEmail",
                "ResendEmailCode", "VerifyEmail", "RegisterPasskey", "VerifyPasskeyRegistration", "RemovePasskey",
                "CreatePasskeyRegistrationLink", "RegisterU2F", "VerifyU2FRegistration", "RemoveU2F", "SetPassword",
                "PasswordReset", "LockUser", "UnlockUser", "DeactivateUser", "ReactivateUser",
            ]
        case .session: ["CreateSession", "SetSession"]
        }
    }
}

/// A gRPC-gateway route: method, path template and whether the JSON body maps onto the request (`body: "*"`).
struct V2Route: Sendable {
    let method: HTTPRequest.Method
    let template: [Substring]
    let service: V2Service
    let rpc: String
    let bodyMapped: Bool

    init(_ method: HTTPRequest.Method, _ path: String, _ service: V2Service, _ rpc: String, body: Bool = true) {
        self.method = method
        self.template = path.split(separator: "/")
        self.service = service
        self.rpc = rpc
        self.bodyMapped = body
    }

    /// The path parameters (`{userId}` → `userId`) when the path fits the template.
    func match(_ path: String) -> [String: String]? {
        let components = path.split(separator: "/")
        guard components.count == template.count else { return nil }
        var parameters: [String: String] = [:]
        for (component, pattern) in zip(components, template) {
            if pattern.hasPrefix("{") {
                parameters[String(pattern.dropFirst().dropLast())] = String(component).removingPercentEncoding ?? String(component)
            } else if component != pattern {
                return nil
            }
        }
        return parameters
    }

    static let routes: [V2Route] = [
        V2Route(.get, "/v2/users/{userId}", .user, "GetUserByID", body: false),
        V2Route(.get, "/v2/users/{userId}/authentication_methods", .user, "ListAuthenticationMethodTypes", body: false),
        // The REST mapping of ListAuthenticationFactors has no `body: "*"`: filters come as query parameters.
        V2Route(.post, "/v2/users/{userId}/authentication_factors/_search", .user, "ListAuthenticationFactors", body: false),
        V2Route(.post, "/v2/users/{userId}/passkeys/_search", .user, "ListPasskeys"),
        V2Route(.post, "/v2/users/{userId}/passkeys", .user, "RegisterPasskey"),
        V2Route(.post, "/v2/users/{userId}/passkeys/registration_link", .user, "CreatePasskeyRegistrationLink"),
        V2Route(.delete, "/v2/users/{userId}/passkeys/{passkeyId}", .user, "RemovePasskey"),
        V2Route(.post, "/v2/users/{userId}/phone", .user, "SetPhone"),
        V2Route(.delete, "/v2/users/{userId}/phone", .user, "RemovePhone"),
        V2Route(.post, "/v2/users/{userId}/phone/verify", .user, "VerifyPhone"),
        V2Route(.post, "/v2/users/{userId}/phone/resend", .user, "ResendPhoneCode"),
        V2Route(.post, "/v2/users/{userId}/otp_sms", .user, "AddOTPSMS"),
        V2Route(.delete, "/v2/users/{userId}/otp_sms", .user, "RemoveOTPSMS"),
        V2Route(.post, "/v2/users/{userId}/otp_email", .user, "AddOTPEmail"),
        V2Route(.delete, "/v2/users/{userId}/otp_email", .user, "RemoveOTPEmail"),
        V2Route(.post, "/v2/users/{userId}/totp", .user, "RegisterTOTP"),
        V2Route(.post, "/v2/users/{userId}/totp/verify", .user, "VerifyTOTPRegistration"),
        V2Route(.delete, "/v2/users/{userId}/totp", .user, "RemoveTOTP"),
        V2Route(.post, "/v2/users/{userId}/u2f", .user, "RegisterU2F"),
        V2Route(.delete, "/v2/users/{userId}/u2f/{u2fId}", .user, "RemoveU2F"),
        V2Route(.post, "/v2/users/{userId}/recovery_codes", .user, "GenerateRecoveryCodes"),
        V2Route(.delete, "/v2/users/{userId}/recovery_codes", .user, "RemoveRecoveryCodes"),
        V2Route(.post, "/v2/users/{userId}/mfa_init_skipped", .user, "HumanMFAInitSkipped"),
        V2Route(.post, "/v2/users/{userId}/metadata/search", .user, "ListUserMetadata"),
        V2Route(.post, "/v2/users/{userId}/metadata", .user, "SetUserMetadata"),
        // proto/zitadel/user/v2/user_service.proto: `delete: "/v2/users/{user_id}/metadata"` without a body
        // mapping, so the keys come from the query (`?keys=a&keys=b`).
        V2Route(.delete, "/v2/users/{userId}/metadata", .user, "DeleteUserMetadata", body: false),
        V2Route(.post, "/v2/sessions/search", .session, "ListSessions"),
        V2Route(.post, "/v2/sessions", .session, "CreateSession"),
        V2Route(.get, "/v2/sessions/{sessionId}", .session, "GetSession", body: false),
        V2Route(.patch, "/v2/sessions/{sessionId}", .session, "SetSession"),
        V2Route(.delete, "/v2/sessions/{sessionId}", .session, "DeleteSession"),
    ]

    /// `UserService/SetPhone` for either wire form; `nil` for other paths.
    static func rpcName(method: HTTPRequest.Method, path: String) -> String? {
        let parts = path.split(separator: "/", omittingEmptySubsequences: true)
        if parts.count == 2, parts[0].hasPrefix("zitadel."), let service = parts[0].split(separator: ".").last {
            return "\(service)/\(parts[1])"
        }
        guard path.hasPrefix("/v2/") else { return nil }
        return routes.first { $0.method == method && $0.match(path) != nil }.map { "\($0.service.shortName)/\($0.rpc)" }
    }
}

extension MockZitadel {
    /// Runs one v2 RPC.
    func callRPC(
        _ service: V2Service, _ method: String, _ request: RPCRequest, caller: APICaller, issuer: String
    ) throws(ZitadelError) -> JSONValue {
        switch (service, method) {
        case (.user, "GetUserByID"): return try getUserByID(request, caller: caller)
        case (.user, "ListAuthenticationMethodTypes"): return try listAuthenticationMethodTypes(request, caller: caller)
        case (.user, "ListAuthenticationFactors"): return try listAuthenticationFactors(request, caller: caller)
        case (.user, "ListPasskeys"): return try listPasskeys(request, caller: caller)
        case (.user, "SetPhone"): return try setPhone(request, caller: caller)
        case (.user, "VerifyPhone"): return try verifyPhone(request, caller: caller)
        case (.user, "ResendPhoneCode"): return try resendPhoneCode(request, caller: caller)
        case (.user, "RemovePhone"): return try removePhone(request, caller: caller)
        case (.user, "AddOTPSMS"): return try addOTPSMS(request, caller: caller)
        case (.user, "RemoveOTPSMS"): return try removeOTPSMS(request, caller: caller)
        case (.user, "AddOTPEmail"): return try addOTPEmail(request, caller: caller)
        case (.user, "RemoveOTPEmail"): return try removeOTPEmail(request, caller: caller)
        case (.user, "RegisterTOTP"): return try registerTOTP(request, caller: caller, issuer: issuer)
        case (.user, "VerifyTOTPRegistration"): return try verifyTOTPRegistration(request, caller: caller)
        case (.user, "RemoveTOTP"): return try removeTOTP(request, caller: caller)
        case (.user, "GenerateRecoveryCodes"): return try generateRecoveryCodes(request, caller: caller)
        case (.user, "RemoveRecoveryCodes"): return try removeRecoveryCodes(request, caller: caller)
        case (.user, "HumanMFAInitSkipped"): return try humanMFAInitSkipped(request, caller: caller)
        case (.user, "ListUserMetadata"): return try listUserMetadata(request, caller: caller)
        case (.user, "SetUserMetadata"): return try setUserMetadata(request, caller: caller)
        case (.user, "DeleteUserMetadata"): return try deleteUserMetadata(request, caller: caller)
        case (.session, "GetSession"): return try getSession(request, caller: caller)
        case (.session, "ListSessions"): return try listSessions(request, caller: caller)
        case (.session, "DeleteSession"): return try deleteSession(request, caller: caller)
        default: throw .unimplemented("\(service.rawValue).\(method)")
        }
    }

    /// The user an RPC is about, for the journal: its `userId`, or the owner of its `sessionId`.
    func affectedUser(of request: RPCRequest) -> String? {
        if let userId = try? request.string("userId"), !userId.isEmpty { return userId }
        if let sessionId = try? request.string("sessionId") { return sessions[sessionId]?.userId }
        return nil
    }
}
