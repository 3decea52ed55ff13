import Foundation
import Hummingbird
import NIOCore

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

/// Collects a response body so a fault can truncate it.
final class CollectingBodyWriter: ResponseBodyWriter {
    var buffer = ByteBuffer()

    func write(_ buffer: ByteBuffer) async throws {
        var copy = buffer
        self.buffer.writeBuffer(&copy)
    }

    func finish(_ trailingHeaders: HTTPFields?) async throws {}
}
