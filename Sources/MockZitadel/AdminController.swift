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

    /// `[{id, loginName, orgId, roles, ...}]`.
    @Sendable func users(_ request: Request, context: Context) async throws -> Response {
        Responses.json(await mock.adminUsers())
    }

    /// Mints a token: 400 for a bad body, 404 for an unknown user.
    @Sendable func mintToken(_ request: Request, context: Context) async throws -> Response {
        do {
            let body = try await decodeRequiredBody(TokenMintRequest.self, from: request)
            try body.checkDates(now: Date())
            let minted = try await mock.mintToken(body, issuer: context.issuer)
            return Responses.json(minted)
        } catch {
            return Responses.problem(error)
        }
    }

    /// The applications with the Zitadel settings that shape their tokens.
    @Sendable func applications(_ request: Request, context: Context) async throws -> Response {
        Responses.json(await mock.applications())
    }

    /// Changes an application's token settings: access-token type, role and userinfo assertions, back-channel
    /// logout URI, opt-in Actions claims.
    @Sendable func updateApplication(_ request: Request, context: Context) async throws -> Response {
        let clientId = context.parameters.get("clientId").map { $0.removingPercentEncoding ?? $0 } ?? ""
        do throws(AdminProblem) {
            let change = try await decodeRequiredBody(ApplicationSettingsChange.self, from: request)
            guard let app = try await mock.updateApplication(clientId: clientId, change) else {
                throw AdminProblem(
                    status: 404, code: "application_not_found", title: "Application not found",
                    detail: "No application has client id \(clientId).")
            }
            return Responses.json(app)
        } catch {
            return Responses.problem(error)
        }
    }

    /// The logout tokens the mock sent (`?sessionId=` filters): receiver, status, token.
    @Sendable func backChannelLogouts(_ request: Request, context: Context) async throws -> Response {
        Responses.json(await mock.backChannelLogouts(sessionId: request.uri.queryParameters.get("sessionId")))
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
        let entries = await mock.journalEntries(
            path: query.get("path"), method: query.get("method"), since: since, rpc: query.get("rpc"), userId: query.get("userId"))
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

    /// One user's full current state: phone, factors (with recovery codes), metadata and sessions.
    @Sendable func userDetail(_ request: Request, context: Context) async throws -> Response {
        let id = context.parameters.get("id") ?? ""
        guard let user = await mock.user(id: id) else { return Responses.problem(Self.unknownUser(id)) }
        let sessions = await mock.sessionSummaries(userId: id)
        let outbox = await mock.sentMessages(userId: id)
        return Responses.json(AdminUserDetail(user: user, sessions: sessions, smsOutbox: outbox))
    }

    struct MetadataBody: Decodable {
        var value: String
    }

    /// Sets one metadata entry (plain text; the v2 API serves it base64-encoded).
    @Sendable func setMetadata(_ request: Request, context: Context) async throws -> Response {
        let id = context.parameters.get("id") ?? ""
        let key = context.parameters.get("key") ?? ""
        do throws(AdminProblem) {
            let body = try await decodeRequiredBody(MetadataBody.self, from: request)
            guard await mock.adminSetMetadata(userId: id, key: key, value: body.value) else { throw Self.unknownUser(id) }
            return Responses.json(await mock.user(id: id)?.metadata ?? [:])
        } catch {
            return Responses.problem(error)
        }
    }

    @Sendable func deleteMetadata(_ request: Request, context: Context) async throws -> Response {
        let id = context.parameters.get("id") ?? ""
        guard await mock.adminSetMetadata(userId: id, key: context.parameters.get("key") ?? "", value: nil) else {
            return Responses.problem(Self.unknownUser(id))
        }
        return Responses.empty(status: .noContent)
    }

    /// Replaces a user's factor state (the seed's `mfa` object).
    @Sendable func replaceMFA(_ request: Request, context: Context) async throws -> Response {
        let id = context.parameters.get("id") ?? ""
        do throws(AdminProblem) {
            let mfa = try await decodeRequiredBody(Seed.MFA.self, from: request)
            guard await mock.adminUpdateUser(id, { $0.mfa = mfa }) else { throw Self.unknownUser(id) }
            return Responses.json(mfa)
        } catch {
            return Responses.problem(error)
        }
    }

    /// Sets a user's phone (`{number, verified}`), normalised as `SetPhone` does.
    @Sendable func replacePhone(_ request: Request, context: Context) async throws -> Response {
        let id = context.parameters.get("id") ?? ""
        do throws(AdminProblem) {
            var phone = try await decodeRequiredBody(Seed.User.Phone.self, from: request)
            do {
                phone.number = try PhoneNumber.normalise(phone.number)
            } catch {
                throw AdminProblem(status: 400, code: "invalid_phone", title: "Invalid phone", detail: error.statusMessage)
            }
            let normalised = phone
            guard await mock.adminUpdateUser(id, { $0.phone = normalised }) else { throw Self.unknownUser(id) }
            return Responses.json(normalised)
        } catch {
            return Responses.problem(error)
        }
    }

    @Sendable func deletePhone(_ request: Request, context: Context) async throws -> Response {
        let id = context.parameters.get("id") ?? ""
        guard await mock.adminUpdateUser(id, { $0.phone = nil }) else { return Responses.problem(Self.unknownUser(id)) }
        return Responses.empty(status: .noContent)
    }

    struct SeedBody: Decodable {
        var file: String
    }

    /// Replaces the seed, from a file in `Mocks/` (`{"file":"seed.json"}`) or a complete seed document, and resets.
    @Sendable func loadSeed(_ request: Request, context: Context) async throws -> Response {
        do {
            let buffer = try await request.collectedBody()
            let data = Data(buffer.readableBytesView)
            let seed: Seed
            if let body = try? MockJSON.decode(SeedBody.self, from: data) {
                let name = body.file
                guard name.hasSuffix(".json"), !name.contains("/"), !name.contains("\\"), !name.hasPrefix(".") else {
                    throw AdminProblem(
                        status: 400, code: "invalid_seed_file", title: "Invalid seed file", detail: "Name a .json file in Mocks/.")
                }
                let path = URL(fileURLWithPath: mock.configuration.mocksDirectory()).appendingPathComponent(name).path
                seed = try Seed.load(from: path)
            } else {
                seed = try MockJSON.decode(Seed.self, from: data)
            }
            try await mock.replaceSeed(seed)
            return Responses.json(JSONValue.object(["users": .int(Int64(seed.users.count)), "reset": true]))
        } catch let problem as AdminProblem {
            return Responses.problem(problem)
        } catch {
            return Responses.problem(
                AdminProblem(status: 400, code: "invalid_seed", title: "Invalid seed", detail: "\(error)"))
        }
    }

    @Sendable func listSessions(_ request: Request, context: Context) async throws -> Response {
        Responses.json(await mock.sessionSummaries(userId: request.uri.queryParameters.get("userId")))
    }

    struct SessionBody: Decodable {
        var userId: String
        var factors: [SessionFactor]?
    }

    /// Starts a session for a user with chosen factors (default: password); tokens can then be minted in it.
    @Sendable func createSession(_ request: Request, context: Context) async throws -> Response {
        do {
            let body = try await decodeRequiredBody(SessionBody.self, from: request)
            let summary = try await mock.adminCreateSession(userId: body.userId, factors: body.factors ?? [.password])
            return Responses.json(summary, status: .created)
        } catch {
            return Responses.problem(error)
        }
    }

    /// Ends a session (as an administrator would): its tokens introspect inactive from now on.
    @Sendable func deleteSession(_ request: Request, context: Context) async throws -> Response {
        let id = context.parameters.get("id") ?? ""
        guard await mock.adminTerminateSession(id: id) else {
            return Responses.problem(
                AdminProblem(status: 404, code: "session_not_found", title: "Session not found", detail: "No session has id \(id)."))
        }
        return Responses.empty(status: .noContent)
    }

    /// The codes the mock "sent" by SMS: `[{userId, maskedPhone, code, at, kind}]`, filtered by `userId`, `phone`, `kind`.
    @Sendable func smsOutbox(_ request: Request, context: Context) async throws -> Response {
        let query = request.uri.queryParameters
        let kind = query.get("kind").flatMap(SMSMessage.Kind.init(rawValue:))
        return Responses.json(await mock.sentMessages(userId: query.get("userId"), phone: query.get("phone"), kind: kind))
    }

    @Sendable func clearOutbox(_ request: Request, context: Context) async throws -> Response {
        await mock.clearOutbox()
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

    private static func unknownUser(_ id: String) -> AdminProblem {
        AdminProblem(status: 404, code: "user_not_found", title: "User not found", detail: "No human user has id \(id).")
    }

    private static func unknownKey(_ kid: String) -> AdminProblem {
        AdminProblem(status: 404, code: "key_not_found", title: "Key not found", detail: "No signing key has kid \(kid).")
    }

    private static func validate(_ spec: FaultSpec) throws(AdminProblem) {
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
