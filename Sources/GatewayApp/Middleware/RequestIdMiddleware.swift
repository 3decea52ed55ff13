import HTTPTypes
import Hummingbird
import Logging
import Synchronization

/// Gives every request an id (the caller's `X-Request-Id` when it is sane), logs with it and echoes it back.
struct RequestIdMiddleware: RouterMiddleware {
    typealias Context = GatewayRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        let id: String
        if let supplied = request.headers[.requestId], Self.isAcceptable(supplied) {
            id = supplied
        } else {
            id = RequestIdGenerator.next()
        }
        context.requestId = id
        var response = try await RequestLogContext.$current.withValue(RequestLogContext.Fields(requestId: id)) {
            try await next(request, context)
        }
        response.headers[.requestId] = id
        return response
    }

    static func isAcceptable(_ value: String) -> Bool {
        value.utf8.count <= 128 && !value.isEmpty
            && value.utf8.allSatisfy { byte in
                (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                    || byte == 0x2D || byte == 0x5F || byte == 0x2E
            }
    }
}

/// Request ids: 32 lowercase hex digits, a random 64-bit prefix chosen at start-up followed by a counter that
/// starts at a random value. Unique per process and unguessable across processes without a random draw or
/// `UUID()` per request (which read the system's random source and formatted with `snprintf`, and showed up in
/// `/v1/session` profiles). Request ids are correlation handles, never secrets.
enum RequestIdGenerator {
    private static let prefix = UInt64.random(in: .min ... .max)
    private static let counter = Atomic<UInt64>(UInt64.random(in: .min ... .max))

    static func next() -> String {
        let sequence = counter.wrappingAdd(1, ordering: .relaxed).oldValue
        return String(unsafeUninitializedCapacity: 32) { buffer in
            func write(_ word: UInt64, at offset: Int) {
                for index in 0..<16 {
                    let nibble = UInt8(truncatingIfNeeded: (word >> UInt64(60 - index * 4)) & 0xF)
                    buffer[offset + index] = nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "a") + nibble - 10
                }
            }
            write(prefix, at: 0)
            write(sequence, at: 16)
            return 32
        }
    }
}
