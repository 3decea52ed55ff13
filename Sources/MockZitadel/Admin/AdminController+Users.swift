import Foundation
import Hummingbird

/// Users: list, detail, metadata, factor state and phone.
extension AdminController {
    /// `[{id, loginName, orgId, roles, ...}]`.
    @Sendable func users(_ request: Request, context: Context) async throws -> Response {
        Responses.json(await mock.adminUsers())
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
}
