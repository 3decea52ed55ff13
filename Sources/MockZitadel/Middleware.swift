import Crypto
import Foundation
import Hummingbird
import NIOCore

/// Paths under this prefix are the mock's own admin API: never journaled, never faulted.
let adminPathPrefix = "/mock/admin"

/// Derives the issuer from the request's `Host`, as Zitadel does, unless the configuration fixes it.
struct IssuerMiddleware: RouterMiddleware {
    typealias Context = MockRequestContext
    let mock: MockZitadel
    let issuerOverride: String?

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        if let issuerOverride {
            context.issuer = issuerOverride
        } else if let authority = request.head.authority, Self.isPlausibleAuthority(authority) {
            context.issuer = "http://\(authority)"
        } else {
            context.issuer = await mock.defaultIssuer
        }
        return try await next(request, context)
    }

    /// Host names, IPv4/IPv6 literals and ports only: a hostile Host header must not end up inside tokens.
    static func isPlausibleAuthority(_ authority: String) -> Bool {
        guard !authority.isEmpty, authority.utf8.count <= 255 else { return false }
        return authority.unicodeScalars.allSatisfy { scalar in
            CharacterSet.alphanumerics.contains(scalar) && scalar.isASCII || "-.:[]_".unicodeScalars.contains(scalar)
        }
    }
}

/// Records every non-admin request in the journal, with the status and user the handlers reported.
struct JournalMiddleware: RouterMiddleware {
    typealias Context = MockRequestContext
    let mock: MockZitadel

    /// Bodies above this size are not collected (nor digested); handlers reject them anyway.
    static let bodyLimit = 1 << 20

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let path = request.uri.path
        guard !path.hasPrefix(adminPathPrefix) else { return try await next(request, context) }
        var request = request
        let rpc = V2Route.rpcName(method: request.method, path: path)
        // Collecting keeps the body readable for the handler; the digest lets tests tell calls apart without bodies.
        let body: ByteBuffer
        do {
            body = try await request.collectBody(upTo: Self.bodyLimit)
        } catch {
            // Too large, or cut off by a client that gave up: the stream is spent and no handler could read it
            // again (a second read traps), so the call is answered here.
            let sequence = await mock.record(method: request.method.rawValue, path: path, rpc: rpc, bodyDigest: nil)
            await mock.complete(sequence: sequence, status: 413, userId: nil, callerId: nil, faultId: nil)
            return Response(status: .contentTooLarge)
        }
        let digest = body.readableBytes > 0 ? SHA256.hash(data: Data(body.readableBytesView)).hexString : nil
        let sequence = await mock.record(method: request.method.rawValue, path: path, rpc: rpc, bodyDigest: digest)
        let notes = context.notes
        do {
            let response = try await next(request, context)
            let status = notes.connectionReset ? nil : response.status.code
            await mock.complete(
                sequence: sequence, status: status, userId: notes.userId, callerId: notes.callerId, faultId: notes.faultId)
            return response
        } catch {
            let status = (error as? any HTTPResponseError)?.status.code ?? 500
            await mock.complete(
                sequence: sequence, status: status, userId: notes.userId, callerId: notes.callerId, faultId: notes.faultId)
            throw error
        }
    }
}

extension SHA256.Digest {
    /// Lower-case hex.
    var hexString: String {
        map { String(format: "%02x", $0) }.joined()
    }
}

/// Applies the first matching injected fault: latency, a replaced status or body, a truncated body, or a reset.
struct FaultMiddleware: RouterMiddleware {
    typealias Context = MockRequestContext
    let mock: MockZitadel

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let path = request.uri.path
        let rpc = V2Route.rpcName(method: request.method, path: path)
        guard !path.hasPrefix(adminPathPrefix),
            let fault = await mock.takeFault(method: request.method.rawValue, path: path, rpc: rpc)
        else { return try await next(request, context) }
        let spec = fault.spec
        context.notes.faultId = fault.id
        if spec.timeout != true, let latency = spec.latencyMs, latency > 0 {
            try await Task.sleep(for: .milliseconds(min(latency, 600_000)))
        }
        let needsRealResponse = spec.afterHandler == true || (spec.malformed == true && spec.body == nil)
        let realResponse = needsRealResponse ? try await next(request, context) : nil
        if spec.timeout == true {
            // Hold the request unanswered, as a server that never replies; then drop the connection.
            context.notes.connectionReset = true
            try? await Task.sleep(for: .milliseconds(min(spec.latencyMs ?? 60_000, 600_000)))
            try? await context.channel.close().get()
            return Response(status: .gatewayTimeout)
        }
        if spec.reset == true {
            // Close the connection without writing a response; Hummingbird's write then fails quietly.
            context.notes.connectionReset = true
            try? await context.channel.close().get()
            return Response(status: .internalServerError)
        }
        if let body = spec.body {
            let status = HTTPResponse.Status(code: spec.status ?? realResponse?.status.code ?? 200)
            return Response(
                status: status, headers: [.contentType: Responses.jsonContentType], body: .init(byteBuffer: ByteBuffer(string: body)))
        }
        if spec.malformed == true, let realResponse {
            return try await Self.truncated(realResponse, status: spec.status)
        }
        if let status = spec.status {
            return Self.statusResponse(status, path: path, faultId: fault.id)
        }
        if let realResponse { return realResponse }
        return try await next(request, context)
    }

    /// An injected status in the route's own error format: Connect, gRPC-gateway, or OAuth.
    static func statusResponse(_ status: Int, path: String, faultId: String) -> Response {
        let message = "mock fault \(faultId) injected"
        if (200..<300).contains(status) {
            return Responses.json(JSONValue.object([:]), status: .init(code: status))
        }
        let code = ZitadelError.Code(httpStatus: status)
        if path.hasPrefix("/zitadel.") {
            let body: JSONValue = ["code": .string(code.connectName), "message": .string(message)]
            return Responses.json(body, status: .init(code: status))
        }
        if path.hasPrefix("/v2/") {
            let body: JSONValue = ["code": .int(Int64(code.rawValue)), "message": .string(message), "details": []]
            return Responses.json(body, status: .init(code: status))
        }
        let body: JSONValue = ["error": "server_error", "error_description": .string(message)]
        return Responses.json(body, status: .init(code: status))
    }

    /// The real response with its body cut short (and never valid JSON), keeping its headers.
    static func truncated(_ response: Response, status: Int?) async throws -> Response {
        let collector = CollectingBodyWriter()
        try await response.body.write(collector)
        var bytes = collector.buffer
        let length = bytes.readableBytes
        var truncated = bytes.readSlice(length: max(0, length / 2)) ?? ByteBuffer()
        if length < 2 { truncated = ByteBuffer(string: "{") }
        var headers = response.headers
        headers[.contentLength] = nil
        return Response(
            status: status.map { HTTPResponse.Status(code: $0) } ?? response.status,
            headers: headers,
            body: .init(byteBuffer: truncated)
        )
    }
}
