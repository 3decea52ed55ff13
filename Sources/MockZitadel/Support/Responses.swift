import Foundation
import Hummingbird
import NIOCore

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
