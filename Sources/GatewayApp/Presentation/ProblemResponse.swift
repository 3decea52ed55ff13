import Foundation
import GatewayCore
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Synchronization

/// RFC 9457 problem documents with the gateway's stable `code`.
enum ProblemResponse {
    struct Body: Encodable {
        var type: String
        var title: String
        var status: Int
        var detail: String
        var code: String
        var instance: String?
        var requestId: String?
    }

    /// The problem document's JSON.
    static func body(_ problem: GatewayProblem, requestId: String?) -> String {
        String(decoding: data(problem, requestId: requestId), as: UTF8.self)
    }

    static func data(_ problem: GatewayProblem, requestId: String?) -> Data {
        let body = Body(
            type: "https://aidial.example/problems/\(problem.code.rawValue)", title: problem.code.title,
            status: problem.status, detail: problem.detail, code: problem.code.rawValue, instance: nil,
            requestId: requestId)
        return (try? JSONEncoder().encode(body)) ?? Data()
    }

    /// The `code` of a problem document rendered earlier (an idempotent replay's stored answer).
    static func code(inBody body: String) -> String? {
        struct Coded: Decodable { var code: String? }
        return (try? JSONDecoder().decode(Coded.self, from: Data(body.utf8)))?.code
    }

    static func make(_ problem: GatewayProblem, requestId: String?) -> Response {
        RequestLogContext.current?.problemCode = problem.code.rawValue
        let data = data(problem, requestId: requestId)
        var headers: HTTPFields = [.contentType: "application/problem+json", .cacheControl: "no-store"]
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
        return Response(
            status: .init(code: problem.status), headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}
