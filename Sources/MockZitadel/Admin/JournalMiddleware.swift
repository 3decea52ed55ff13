import Crypto
import Foundation
import Hummingbird
import NIOCore

/// Paths under this prefix are the mock's own admin API: never journaled, never faulted.
let adminPathPrefix = "/mock/admin"

/// Records every non-admin request in the journal, with the status and user the handlers reported.
struct JournalMiddleware: RouterMiddleware {
    typealias Context = MockRequestContext
    let mock: MockZitadel

    /// Bodies above this size are not collected (nor digested); handlers reject them anyway.
    static let bodyLimit = 1 << 20

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let path = request.uri.path
        guard !path.hasPrefix(adminPathPrefix) else { return try await next(request, context) }
        var request = request
        let rpc = V2Route.rpcName(method: request.method, path: path)
        // Collecting keeps the body readable for the handler; the digest lets tests tell calls apart without bodies.
        let body: ByteBuffer
        do {
            body = try await request.collectBody(upTo: Self.bodyLimit)
        } catch {
            // Too large, or cut off by a client that gave up: the stream is spent and no handler could read it
            // again (a second read traps), so the call is answered here.
            let sequence = await mock.record(method: request.method.rawValue, path: path, rpc: rpc, bodyDigest: nil)
            await mock.complete(sequence: sequence, status: 413, userId: nil, callerId: nil, faultId: nil)
            return Response(status: .contentTooLarge)
        }
        let digest = body.readableBytes > 0 ? SHA256.hash(data: Data(body.readableBytesView)).hexString : nil
        let sequence = await mock.record(method: request.method.rawValue, path: path, rpc: rpc, bodyDigest: digest)
        let notes = context.notes
        do {
            let response = try await next(request, context)
            let status = notes.connectionReset ? nil : response.status.code
            await mock.complete(
                sequence: sequence, status: status, userId: notes.userId, callerId: notes.callerId, faultId: notes.faultId)
            return response
        } catch {
            let status = (error as? any HTTPResponseError)?.status.code ?? 500
            await mock.complete(
                sequence: sequence, status: status, userId: notes.userId, callerId: notes.callerId, faultId: notes.faultId)
            throw error
        }
    }
}

extension SHA256.Digest {
    /// Lower-case hex.
    var hexString: String {
        map { String(format: "%02x", $0) }.joined()
    }
}
