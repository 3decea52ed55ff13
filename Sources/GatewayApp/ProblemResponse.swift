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

/// The methods each route template serves, so that a known path with another method answers 405 with `Allow`
/// (the router itself only knows "no route": 404). Filled once from the router after every route is added.
final class RouteMethodTable: Sendable {
    private let entries = Mutex<[(segments: [Substring], methods: Set<String>)]>([])

    func load(_ routes: [(path: String, method: String)]) {
        var table: [String: Set<String>] = [:]
        for route in routes { table[route.path, default: []].insert(route.method) }
        entries.withLock { entries in
            entries = table.map { (Self.segments($0.key), $0.value) }
        }
    }

    /// The methods served at `path`, or nil when no route template matches it.
    func methods(for path: String) -> Set<String>? {
        let target = Self.segments(path)
        return entries.withLock { entries in
            let matching = entries.filter { entry in
                entry.segments.count == target.count
                    && zip(entry.segments, target).allSatisfy { template, value in
                        template.first == ":" || template.first == "{" || template == value
                    }
            }
            return matching.isEmpty ? nil : matching.reduce(into: Set<String>()) { $0.formUnion($1.methods) }
        }
    }

    static func segments(_ path: String) -> [Substring] {
        path.split(separator: "/", omittingEmptySubsequences: true)
    }
}

/// Turns every error into a problem response: nothing escapes as a bare 500 or an internal message.
struct ProblemMiddleware<Context: RequestContext>: RouterMiddleware {
    var routes: RouteMethodTable?

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            return response(for: error, request: request, context: context)
        }
    }

    /// Only refusals pay for the dynamic cast to the gateway's context.
    private func response(for error: any Error, request: Request, context: Context) -> Response {
        let requestId = (context as? GatewayRequestContext)?.requestId
        switch error {
        case let problem as GatewayProblem:
            return ProblemResponse.make(problem, requestId: requestId)
        case let error as any HTTPResponseError:
            if error.status == .notFound, let allowed = routes?.methods(for: request.uri.path),
                !allowed.contains(request.method.rawValue)
            {
                var response = ProblemResponse.make(Self.problem(for: .methodNotAllowed), requestId: requestId)
                response.headers[.allow] = allowed.sorted().joined(separator: ", ")
                return response
            }
            return ProblemResponse.make(Self.problem(for: error.status), requestId: requestId)
        default:
            context.logger.error("Unhandled error", metadata: ["error_type": "\(type(of: error))"])
            return ProblemResponse.make(GatewayProblem(.internalError, "The request could not be processed."), requestId: requestId)
        }
    }

    static func problem(for status: HTTPResponse.Status) -> GatewayProblem {
        switch status.code {
        case 404: .notFound()
        case 405: GatewayProblem(.methodNotAllowed, "The method is not allowed on this resource.")
        case 413: GatewayProblem(.payloadTooLarge, "The request body is too large.")
        case 400..<500: GatewayProblem(.invalidRequest, "The request is malformed.")
        default: GatewayProblem(.internalError, "The request could not be processed.")
        }
    }
}

extension HTTPField.Name {
    static let requestId = Self("X-Request-Id")!
    static let rateLimit = Self("RateLimit")!
    static let rateLimitPolicy = Self("RateLimit-Policy")!
    static let idempotencyKey = Self("Idempotency-Key")!
    static let idempotentReplayed = Self("Idempotent-Replayed")!
    static let tenant = Self("X-AiDial-Tenant")!
    static let idToken = Self("X-AiDial-ID-Token")!
    static let apiKey = Self("X-API-Key")!
    static let secFetchSite = Self("Sec-Fetch-Site")!
    static let secFetchMode = Self("Sec-Fetch-Mode")!
    static let secFetchDest = Self("Sec-Fetch-Dest")!
    static let secFetchUser = Self("Sec-Fetch-User")!
}
