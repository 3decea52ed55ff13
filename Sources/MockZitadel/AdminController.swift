import Foundation
import Hummingbird
import NIOCore

/// The mock's admin API under `/mock/admin/`: users, tokens, keys, journal, faults and reset.
struct AdminController {
    typealias Context = MockRequestContext
    let mock: MockZitadel

    func addRoutes(to router: Router<Context>) {
        let admin = router.group("mock/admin")
        admin.get("users", use: users)
        admin.post("tokens", use: mintToken)
        admin.post("reset", use: reset)
        admin.get("keys", use: listKeys)
        admin.post("keys/rotate", use: rotateKey)
        admin.post("keys/:kid/publish", use: publishKey)
        admin.delete("keys/:kid", use: deleteKey)
        admin.get("journal", use: journal)
        admin.delete("journal", use: clearJournal)
        admin.post("faults", use: addFault)
        admin.get("faults", use: listFaults)
        admin.delete("faults", use: clearFaults)
        admin.delete("faults/:id", use: removeFault)
        for method in [HTTPRequest.Method.get, .post, .put, .patch, .delete] {
            admin.on("**", method: method, use: unknownRoute)
        }
    }

    /// `[{id, loginName, orgId, roles, ...}]`.
    @Sendable func users(_ request: Request, context: Context) async throws -> Response {
        Responses.json(await mock.adminUsers())
    }

    /// Mints a token: 400 for a bad body, 404 for an unknown user.
    @Sendable func mintToken(_ request: Request, context: Context) async throws -> Response {
        do {
            let body = try await decodeRequiredBody(TokenMintRequest.self, from: request)
            let minted = try await mock.mintToken(body, issuer: context.issuer)
            return Responses.json(minted)
        } catch {
            return Responses.problem(error)
        }
    }

    struct ResetBody: Decodable {
        var keys: Bool?
    }

    /// Restores the seed; `{"keys":true}` also replaces the signing keys.
    @Sendable func reset(_ request: Request, context: Context) async throws -> Response {
        do {
            let body = try await decodeOptionalBody(ResetBody.self, from: request)
            try await mock.reset(keys: body?.keys ?? false)
            return Responses.json(JSONValue.object(["reset": true, "keys": .bool(body?.keys ?? false)]))
        } catch let problem as AdminProblem {
            return Responses.problem(problem)
        } catch {
            return Responses.problem(AdminProblem(status: 500, code: "reset_failed", title: "Reset failed", detail: "\(error)"))
        }
    }

    @Sendable func listKeys(_ request: Request, context: Context) async throws -> Response {
        Responses.json(await mock.keyInfos())
    }

    struct RotateBody: Decodable {
        var alg: SigningAlgorithm?
        var publish: Bool?
    }

    /// Creates and activates a key for an algorithm (default RS256); `publish:false` keeps it out of the JWKS.
    @Sendable func rotateKey(_ request: Request, context: Context) async throws -> Response {
        do {
            let body = try await decodeOptionalBody(RotateBody.self, from: request)
            let info = try await mock.rotateKey(algorithm: body?.alg ?? .rs256, publish: body?.publish ?? true)
            return Responses.json(info)
        } catch let problem as AdminProblem {
            return Responses.problem(problem)
        } catch {
            return Responses.problem(
                AdminProblem(status: 500, code: "key_generation_failed", title: "Key generation failed", detail: "\(error)"))
        }
    }

    @Sendable func publishKey(_ request: Request, context: Context) async throws -> Response {
        let kid = context.parameters.get("kid") ?? ""
        guard let info = await mock.publishKey(kid: kid) else { return Responses.problem(Self.unknownKey(kid)) }
        return Responses.json(info)
    }

    @Sendable func deleteKey(_ request: Request, context: Context) async throws -> Response {
        let kid = context.parameters.get("kid") ?? ""
        guard await mock.deleteKey(kid: kid) else { return Responses.problem(Self.unknownKey(kid)) }
        return Responses.empty(status: .noContent)
    }

    /// The journal, filtered by `path`, `method` and `since` (RFC 3339).
    @Sendable func journal(_ request: Request, context: Context) async throws -> Response {
        let query = request.uri.queryParameters
        var since: Date?
        if let value = query.get("since") {
            guard let parsed = Timestamp.parse(value) else {
                return Responses.problem(
                    AdminProblem(status: 400, code: "invalid_query", title: "Invalid query", detail: "since must be an RFC 3339 timestamp.")
                )
            }
            since = parsed
        }
        let entries = await mock.journalEntries(path: query.get("path"), method: query.get("method"), since: since)
        return Responses.json(entries)
    }

    @Sendable func clearJournal(_ request: Request, context: Context) async throws -> Response {
        await mock.clearJournal()
        return Responses.empty(status: .noContent)
    }

    /// Installs a fault; returns `{id, ...}`.
    @Sendable func addFault(_ request: Request, context: Context) async throws -> Response {
        do {
            let spec = try await decodeRequiredBody(FaultSpec.self, from: request)
            try Self.validate(spec)
            let fault = await mock.addFault(spec)
            return Responses.json(fault, status: .created)
        } catch {
            return Responses.problem(error)
        }
    }

    @Sendable func listFaults(_ request: Request, context: Context) async throws -> Response {
        Responses.json(await mock.listFaults())
    }

    @Sendable func clearFaults(_ request: Request, context: Context) async throws -> Response {
        await mock.removeAllFaults()
        return Responses.empty(status: .noContent)
    }

    @Sendable func removeFault(_ request: Request, context: Context) async throws -> Response {
        let id = context.parameters.get("id") ?? ""
        guard await mock.removeFault(id: id) else {
            return Responses.problem(
                AdminProblem(status: 404, code: "fault_not_found", title: "Fault not found", detail: "No fault has id \(id)."))
        }
        return Responses.empty(status: .noContent)
    }

    /// Unknown admin routes answer problem JSON too, so scripts get a readable error.
    @Sendable func unknownRoute(_ request: Request, context: Context) async throws -> Response {
        Responses.problem(
            AdminProblem(
                status: 404, code: "not_found", title: "Not found", detail: "No admin route \(request.method) \(request.uri.path).")
        )
    }

    // MARK: Helpers

    private static func unknownKey(_ kid: String) -> AdminProblem {
        AdminProblem(status: 404, code: "key_not_found", title: "Key not found", detail: "No signing key has kid \(kid).")
    }

    private static func validate(_ spec: FaultSpec) throws(AdminProblem) {
        func invalid(_ detail: String) -> AdminProblem {
            AdminProblem(status: 400, code: "invalid_fault", title: "Invalid fault", detail: detail)
        }
        guard spec.path.hasPrefix("/") else { throw invalid("path must start with /.") }
        guard !spec.path.hasPrefix(adminPathPrefix) else { throw invalid("the admin API cannot be faulted.") }
        if let status = spec.status, !(100...599).contains(status) { throw invalid("status must be 100-599.") }
        if let latency = spec.latencyMs, !(0...600_000).contains(latency) { throw invalid("latencyMs must be 0-600000.") }
        if let times = spec.times, times < 1 { throw invalid("times must be at least 1.") }
    }

    /// Decodes a JSON body, mapping every failure to a 400 problem; an empty body is `nil`.
    private func decodeOptionalBody<T: Decodable>(_ type: T.Type, from request: Request) async throws(AdminProblem) -> T? {
        let buffer: ByteBuffer
        do {
            buffer = try await request.collectedBody()
        } catch {
            throw AdminProblem(
                status: 400,
                code: "invalid_body",
                title: "Invalid body",
                detail: "The request body could not be read or is too large."
            )
        }
        if buffer.readableBytes == 0 || String(buffer: buffer).allSatisfy(\.isWhitespace) {
            return nil
        }
        do {
            return try MockJSON.decode(T.self, from: Data(buffer.readableBytesView))
        } catch {
            throw AdminProblem(status: 400, code: "invalid_body", title: "Invalid body", detail: Self.describe(error))
        }
    }

    /// Decodes a JSON body that must be present.
    private func decodeRequiredBody<T: Decodable>(_ type: T.Type, from request: Request) async throws(AdminProblem) -> T {
        guard let value = try await decodeOptionalBody(type, from: request) else {
            throw AdminProblem(status: 400, code: "invalid_body", title: "Invalid body", detail: "A JSON body is required.")
        }
        return value
    }

    /// A short, safe description of a decoding failure.
    private static func describe(_ error: any Error) -> String {
        guard let error = error as? DecodingError else { return "The body is not valid JSON." }
        switch error {
        case .keyNotFound(let key, _): return "Missing field \(key.stringValue)."
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            return path.isEmpty ? "The body is not valid JSON of the expected shape." : "Invalid value at \(path)."
        @unknown default: return "The body is not valid JSON."
        }
    }
}
