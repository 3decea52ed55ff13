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
