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
        admin.get("users/:id", use: userDetail)
        admin.put("users/:id/metadata/:key", use: setMetadata)
        admin.delete("users/:id/metadata/:key", use: deleteMetadata)
        admin.put("users/:id/mfa", use: replaceMFA)
        admin.put("users/:id/phone", use: replacePhone)
        admin.delete("users/:id/phone", use: deletePhone)
        admin.post("tokens", use: mintToken)
        admin.post("reset", use: reset)
        admin.post("seed", use: loadSeed)
        admin.get("sessions", use: listSessions)
        admin.post("sessions", use: createSession)
        admin.delete("sessions/:id", use: deleteSession)
        admin.get("sms-outbox", use: smsOutbox)
        admin.delete("sms-outbox", use: clearOutbox)
        admin.get("keys", use: listKeys)
        admin.post("keys/rotate", use: rotateKey)
        admin.post("keys/:kid/publish", use: publishKey)
        admin.delete("keys/:kid", use: deleteKey)
        admin.get("applications", use: applications)
        admin.patch("applications/:clientId", use: updateApplication)
        admin.get("backchannel-logouts", use: backChannelLogouts)
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

    /// Unknown admin routes answer problem JSON too, so scripts get a readable error.
    @Sendable func unknownRoute(_ request: Request, context: Context) async throws -> Response {
        Responses.problem(
            AdminProblem(
                status: 404, code: "not_found", title: "Not found", detail: "No admin route \(request.method) \(request.uri.path).")
        )
    }

    // MARK: Helpers

    static func unknownUser(_ id: String) -> AdminProblem {
        AdminProblem(status: 404, code: "user_not_found", title: "User not found", detail: "No human user has id \(id).")
    }

    static func unknownKey(_ kid: String) -> AdminProblem {
        AdminProblem(status: 404, code: "key_not_found", title: "Key not found", detail: "No signing key has kid \(kid).")
    }

    static func validate(_ spec: FaultSpec) throws(AdminProblem) {
        func invalid(_ detail: String) -> AdminProblem {
            AdminProblem(status: 400, code: "invalid_fault", title: "Invalid fault", detail: detail)
        }
        guard spec.path.hasPrefix("/") || spec.path == "*" else { throw invalid("path must start with / (or be * for every path).") }
        guard !spec.path.hasPrefix(adminPathPrefix) else { throw invalid("the admin API cannot be faulted.") }
        if let status = spec.status, !(100...599).contains(status) { throw invalid("status must be 100-599.") }
        if let latency = spec.latencyMs, !(0...600_000).contains(latency) { throw invalid("latencyMs must be 0-600000.") }
        if let times = spec.times, times < 1 { throw invalid("times must be at least 1.") }
    }

    /// Decodes a JSON body, mapping every failure to a 400 problem; an empty body is `nil`.
    func decodeOptionalBody<T: Decodable>(_ type: T.Type, from request: Request) async throws(AdminProblem) -> T? {
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
    func decodeRequiredBody<T: Decodable>(_ type: T.Type, from request: Request) async throws(AdminProblem) -> T {
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
