import Foundation
import GatewayCore
import HTTPTypes
import Hummingbird
import NIOCore

/// The one renderer of RFC 9457 problem documents (`application/problem+json`) with the gateway's stable
/// `code`: `ProblemMiddleware` answers every thrown problem with it, the stale-marker answer adds the fresh
/// snapshot as an extension member, and SMS enrolments store its text to replay for their Idempotency-Key.
/// Bodies go through the API's one encoder (`APIResponseEncoder`).
enum ProblemRenderer {
    /// The document: RFC 9457's members, the gateway's `code` and `requestId`, then `Members`' own keys as
    /// extension members of the same object.
    struct Document<Members: Encodable>: Encodable {
        var problem: GatewayProblem
        var requestId: String?
        var members: Members

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode("https://aidial.example/problems/\(problem.code.rawValue)", forKey: .type)
            try container.encode(problem.code.title, forKey: .title)
            try container.encode(problem.status, forKey: .status)
            try container.encode(problem.detail, forKey: .detail)
            try container.encode(problem.code.rawValue, forKey: .code)
            try container.encodeIfPresent(requestId, forKey: .requestId)
            try members.encode(to: encoder)
        }

        enum CodingKeys: String, CodingKey { case type, title, status, detail, code, requestId }
    }

    /// A problem with no extension members.
    struct NoMembers: Encodable {
        func encode(to encoder: any Encoder) throws {}
    }

    static let problemHeaders: HTTPFields = [.contentType: "application/problem+json", .cacheControl: "no-store"]

    /// The problem document's JSON text (an SMS enrolment keeps it to replay).
    static func body(_ problem: GatewayProblem, requestId: String?) -> String {
        String(decoding: data(problem, requestId: requestId, members: NoMembers()), as: UTF8.self)
    }

    /// The response for `problem`: the status its code is served with, the document, and the headers the code
    /// calls for (`WWW-Authenticate` on 401s, `Retry-After`, the RateLimit headers of a refusing bucket).
    static func response(_ problem: GatewayProblem, requestId: String?) -> Response {
        response(problem, requestId: requestId, members: NoMembers())
    }

    static func response(_ problem: GatewayProblem, requestId: String?, members: some Encodable) -> Response {
        RequestLogContext.current?.problemCode = problem.code.rawValue
        var headers = problemHeaders
        switch problem.code {
        case .missingToken:
            headers[.wwwAuthenticate] = "Bearer realm=\"zitadel-gateway\""
        case .invalidToken, .tokenExpired, .revokedToken:
            let description = problem.detail.replacingOccurrences(of: "\"", with: "'")
            headers[.wwwAuthenticate] =
                "Bearer realm=\"zitadel-gateway\", error=\"invalid_token\", error_description=\"\(description)\""
        default:
            break
        }
        if let retryAfter = problem.retryAfter { headers[.retryAfter] = String(retryAfter) }
        if let refusal = problem.rateLimit {
            // draft-ietf-httpapi-ratelimit-headers: the policy that refused, and what is left of it.
            let rule = refusal.rule
            headers[.rateLimitPolicy] = "\"\(rule.name)\";q=\(rule.limit);w=\(Int(rule.periodSeconds))"
            headers[.rateLimit] = "\"\(rule.name)\";r=0;t=\(refusal.retryAfterSeconds)"
        }
        let data = data(problem, requestId: requestId, members: members)
        return Response(
            status: .init(code: problem.status), headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// An answer rendered earlier and stored (an SMS enrolment's, replayed for its Idempotency-Key): the same
    /// bytes, as a problem document when its status is an error's, otherwise as the JSON body it was.
    static func stored(status: Int, body: String) -> Response {
        var headers = APIResponseEncoder.headers
        if status >= 400 {
            headers = problemHeaders
            RequestLogContext.current?.problemCode = code(inBody: body)
        }
        return Response(status: .init(code: status), headers: headers, body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    /// The `code` of a problem document rendered earlier.
    static func code(inBody body: String) -> String? {
        struct Coded: Decodable { var code: String? }
        return (try? APIResponseEncoder.decoder.decode(Coded.self, from: Data(body.utf8)))?.code
    }

    private static func data(_ problem: GatewayProblem, requestId: String?, members: some Encodable) -> Data {
        let document = Document(problem: problem, requestId: requestId, members: members)
        // Strings, numbers and the caller's own DTOs: encoding cannot fail, and a problem must still answer.
        return (try? APIResponseEncoder.json.encode(document)) ?? Data()
    }
}
