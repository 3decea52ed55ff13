import Foundation
import Hummingbird

/// Reset and seed replacement.
extension AdminController {
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
}
