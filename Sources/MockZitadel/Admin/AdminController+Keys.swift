import Foundation
import Hummingbird

/// Signing keys: list, rotate, publish, delete.
extension AdminController {
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
}
