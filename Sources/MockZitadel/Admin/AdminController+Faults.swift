import Foundation
import Hummingbird

/// Injected faults.
extension AdminController {
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
}
