import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// The gateway's one JSON encoding of response bodies. It is the request context's `responseEncoder`, so a
/// handler returns its DTO (`ResponseEncodable`, or wrapped in `EditedResponse` for a status or header) and
/// Hummingbird encodes it here; the problem renderer and the SMS answers stored for idempotent replay use the
/// same `JSONEncoder`. Keys sorted, slashes unescaped, times as `Timestamp` (RFC 3339, UTC, whole seconds).
///
/// `/v1/session` alone is written by hand (`JSONWriter`): the README's Performance section has the figures.
public struct APIResponseEncoder: ResponseEncoder {
    /// Shared by every request: a configured `JSONEncoder` may encode on several threads at once.
    static let json: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            try Timestamp(date).encode(to: encoder)
        }
        return encoder
    }()

    /// Request bodies (`GatewayRequestContext.requestDecoder`): one shared decoder, no per-request setup.
    static let decoder = JSONDecoder()

    /// Every JSON answer: it is about one caller, so never stored by a cache.
    static let headers: HTTPFields = [.contentType: "application/json", .cacheControl: "no-store"]

    public func encode(_ value: some Encodable, from request: Request, context: some RequestContext) throws -> Response {
        try Self.response(value)
    }

    /// `value` as a JSON response with the gateway's headers.
    static func response(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: try json.encode(value))))
    }

    /// `value`'s JSON text (an answer kept for replay).
    static func text(_ value: some Encodable) throws -> String {
        String(decoding: try json.encode(value), as: UTF8.self)
    }
}
