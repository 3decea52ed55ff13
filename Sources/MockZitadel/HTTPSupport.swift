import Foundation
import Hummingbird
import NIOCore
import Synchronization

/// Request context of the mock: Hummingbird's core storage plus the issuer, the connection and per-request notes.
struct MockRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    /// The connection, so a fault can close it without answering.
    let channel: any Channel
    /// `http://<Host>` or the configured override; set by ``IssuerMiddleware``.
    var issuer: String = ""
    /// What handlers tell the journal and fault middleware.
    let notes = RequestNotes()

    init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.channel = source.channel
    }
}

/// Facts a handler learns that the outer middleware records (the user a call was about, a connection reset).
final class RequestNotes: Sendable {
    private struct Values {
        var userId: String?
        var callerId: String?
        var faultId: String?
        var connectionReset = false
    }

    private let values = Mutex(Values())

    var userId: String? {
        get { values.withLock { $0.userId } }
        set { values.withLock { $0.userId = newValue } }
    }

    var callerId: String? {
        get { values.withLock { $0.callerId } }
        set { values.withLock { $0.callerId = newValue } }
    }

    var faultId: String? {
        get { values.withLock { $0.faultId } }
        set { values.withLock { $0.faultId = newValue } }
    }

    var connectionReset: Bool {
        get { values.withLock { $0.connectionReset } }
        set { values.withLock { $0.connectionReset = newValue } }
    }
}

/// Response builders shared by the controllers.
enum Responses {
    static let jsonContentType = "application/json"
    static let problemContentType = "application/problem+json"

    /// A JSON response with the mock's encoder settings.
    static func json(
        _ value: some Encodable,
        status: HTTPResponse.Status = .ok,
        contentType: String = jsonContentType,
        headers extra: HTTPFields = [:]
    ) -> Response {
        var headers = extra
        headers[.contentType] = contentType
        let data: Data
        do {
            data = try MockJSON.encode(value)
        } catch {
            return Response(
                status: .internalServerError,
                headers: [.contentType: jsonContentType],
                body: .init(byteBuffer: ByteBuffer(string: #"{"error":"server_error"}"#))
            )
        }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// An RFC 9457 problem for the admin API.
    static func problem(_ problem: AdminProblem) -> Response {
        let body: JSONValue = [
            "type": .string("https://mock-zitadel.invalid/problems/\(problem.code)"),
            "title": .string(problem.title),
            "status": .int(Int64(problem.status)),
            "detail": .string(problem.detail),
            "code": .string(problem.code),
        ]
        return json(body, status: .init(code: problem.status), contentType: problemContentType)
    }

    /// An OAuth error body, with `WWW-Authenticate` where RFC 6749/6750 want it.
    static func oauth(_ failure: OAuthFailure, bearer: Bool = false) -> Response {
        var headers: HTTPFields = [.cacheControl: "no-store"]
        if failure.status == 401 {
            headers[.wwwAuthenticate] = bearer ? #"Bearer error="\#(failure.error)""# : #"Basic realm="mock-zitadel""#
        }
        let body: JSONValue = ["error": .string(failure.error), "error_description": .string(failure.description)]
        return json(body, status: .init(code: failure.status), headers: headers)
    }

    /// An empty 200 (RFC 7009 revocation, admin deletes).
    static func empty(status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentLength: "0"])
    }
}

extension Request {
    /// Reads the whole body up to `limit` bytes.
    func collectedBody(limit: Int = 1 << 20) async throws -> ByteBuffer {
        var request = self
        return try await request.collectBody(upTo: limit)
    }

    /// The `Authorization: Bearer` token, if any.
    var bearerToken: String? {
        guard let value = headers[.authorization] else { return nil }
        let parts = value.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].caseInsensitiveCompare("Bearer") == .orderedSame else { return nil }
        let token = parts[1].trimmingCharacters(in: .whitespaces)
        return token.isEmpty ? nil : token
    }

    /// Client id and secret from `Authorization: Basic base64(urlenc(id):urlenc(secret))`; `nil` when absent.
    /// A malformed Basic header yields an empty pair so that it fails authentication rather than being ignored.
    var basicCredentials: (id: String, secret: String)? {
        guard let value = headers[.authorization] else { return nil }
        let parts = value.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].caseInsensitiveCompare("Basic") == .orderedSame else { return nil }
        guard let data = Data(base64Encoded: String(parts[1]).trimmingCharacters(in: .whitespaces)),
            let decoded = String(data: data, encoding: .utf8),
            let colon = decoded.firstIndex(of: ":")
        else { return ("", "") }
        let id = FormBody.percentDecode(String(decoded[..<colon])) ?? ""
        let secret = FormBody.percentDecode(String(decoded[decoded.index(after: colon)...])) ?? ""
        return (id, secret)
    }
}

/// `application/x-www-form-urlencoded` parsing for the OAuth endpoints.
enum FormBody {
    /// Decodes a form body; later duplicates are ignored, undecodable pairs skipped.
    static func parse(_ buffer: ByteBuffer) -> [String: String] {
        let string = String(buffer: buffer)
        var fields: [String: String] = [:]
        for pair in string.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = percentDecode(String(parts[0])), !name.isEmpty else { continue }
            let value = parts.count > 1 ? percentDecode(String(parts[1])) : ""
            if fields[name] == nil, let value { fields[name] = value }
        }
        return fields
    }

    /// Decodes a form body keeping every value of repeated fields (checkbox groups).
    static func parseAll(_ buffer: ByteBuffer) -> FormFields {
        var pairs: [(String, String)] = []
        for pair in String(buffer: buffer).split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = percentDecode(String(parts[0])), !name.isEmpty else { continue }
            guard let value = parts.count > 1 ? percentDecode(String(parts[1])) : "" else { continue }
            pairs.append((name, value))
        }
        return FormFields(pairs: pairs)
    }

    /// Percent-decoding with `+` as space.
    static func percentDecode(_ string: String) -> String? {
        string.replacingOccurrences(of: "+", with: " ").removingPercentEncoding
    }
}

/// A decoded form with repeated fields.
struct FormFields: Sendable {
    let pairs: [(String, String)]

    func first(_ name: String) -> String? {
        pairs.first { $0.0 == name }?.1
    }

    func all(_ name: String) -> [String] {
        pairs.filter { $0.0 == name }.map(\.1)
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
