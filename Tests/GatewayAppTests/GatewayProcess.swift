import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A real `zitadel-gateway` process on loopback, for crash and multi-instance tests: started from a YAML
/// configuration, its output captured to a file, stopped by signal.
final class GatewayProcess: @unchecked Sendable {
    let process: Process
    let port: Int
    let outputURL: URL
    private let exited: Task<Int32, Never>

    var baseURL: String { "http://127.0.0.1:\(port)" }

    /// The repository root (the package directory), from this file's path.
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// The built executable: next to the test bundle (`swift build --build-tests` builds it), else `.build/debug`.
    static func executable() throws -> URL {
        var candidates: [URL] = []
        if let bundle = Bundle.main.executableURL?.deletingLastPathComponent() {
            candidates.append(bundle.appendingPathComponent("zitadel-gateway"))
            candidates.append(bundle.deletingLastPathComponent().appendingPathComponent("zitadel-gateway"))
        }
        candidates.append(packageRoot.appendingPathComponent(".build/debug/zitadel-gateway"))
        guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0.path) }) else {
            throw GatewayProcessError("zitadel-gateway executable not found (run swift build --build-tests)")
        }
        return found
    }

    /// A port nothing listens on right now (bound and released by the kernel's choice).
    static func freePort() throws -> Int {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { throw GatewayProcessError("socket failed") }
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(socket, $0, length) == 0 && getsockname(socket, $0, &length) == 0
            }
        }
        guard bound else { throw GatewayProcessError("bind failed") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Starts `zitadel-gateway serve --config FILE --port PORT` in the package directory and waits for `/readyz`.
    static func start(yaml: String, directory: URL, name: String = "gateway") async throws -> GatewayProcess {
        let port = try freePort()
        let configURL = directory.appendingPathComponent("\(name)-\(port).yaml")
        try yaml.write(to: configURL, atomically: true, encoding: .utf8)
        let outputURL = directory.appendingPathComponent("\(name)-\(port).log")
        FileManager.default.createFile(atPath: outputURL.path, contents: nil)
        let output = try FileHandle(forWritingTo: outputURL)
        let process = Process()
        process.executableURL = try executable()
        process.arguments = ["serve", "--config", configURL.path, "--port", String(port)]
        process.currentDirectoryURL = packageRoot
        process.standardOutput = output
        process.standardError = output
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("ZITADEL_GATEWAY_") }
        environment["NO_COLOR"] = "1"
        process.environment = environment
        let exited = AsyncStream<Int32>.makeStream()
        process.terminationHandler = { finished in
            exited.continuation.yield(finished.terminationStatus)
            exited.continuation.finish()
        }
        try process.run()
        let waiter = Task { await exited.stream.first { _ in true } ?? -1 }
        let gateway = GatewayProcess(process: process, port: port, outputURL: outputURL, exited: waiter)
        try await gateway.waitUntilReady()
        return gateway
    }

    private init(process: Process, port: Int, outputURL: URL, exited: Task<Int32, Never>) {
        self.process = process
        self.port = port
        self.outputURL = outputURL
        self.exited = exited
    }

    func waitUntilReady(timeout: Duration = .seconds(30)) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            guard process.isRunning else { throw GatewayProcessError("gateway exited early:\n\(output)") }
            if let response = try? await HTTPClient.shared.execute(HTTPClientRequest(url: baseURL + "/readyz"), timeout: .seconds(1)),
                response.status == .ok
            {
                return
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw GatewayProcessError("gateway not ready within \(timeout):\n\(output)")
    }

    /// Sends `signal` (SIGKILL: no clean-up at all) and waits for the process to end.
    @discardableResult
    func stop(signal: Int32 = SIGTERM) async -> Int32 {
        if process.isRunning { kill(process.processIdentifier, signal) }
        return await exited.value
    }

    var output: String {
        (try? String(contentsOf: outputURL, encoding: .utf8)) ?? ""
    }
}

struct GatewayProcessError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Plain HTTP calls to a gateway process.
enum GatewayHTTP {
    static func send(
        _ method: HTTPMethod, _ url: String, headers: [String: String] = [:], json: [String: Any]? = nil,
        timeout: Duration = .seconds(30)
    ) async throws -> (status: Int, json: [String: Any], headers: HTTPHeaders) {
        var request = HTTPClientRequest(url: url)
        request.method = method
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let json {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: json)))
        }
        let response = try await HTTPClient.shared.execute(
            request, timeout: .nanoseconds(Int64(timeout.components.seconds) * 1_000_000_000))
        let body = try await response.body.collect(upTo: 1 << 20)
        let object = (try? JSONSerialization.jsonObject(with: Data(buffer: body))) as? [String: Any] ?? [:]
        return (Int(response.status.code), object, response.headers)
    }

    /// The gateway configuration for the mock at `mockURL`, as a YAML document.
    static func yaml(mockURL: String, pat: String, storeURL: String, extra: String = "") -> String {
        """
        log:
          level: debug
          format: json
        issuers:
          names: [mock]
          mock:
            url: \(mockURL)
            audiences: ["300000000000000001"]
            projectId: "300000000000000001"
            clientIds: ["300000000000000002@aidial"]
            algorithms: [RS256, ES256, EdDSA]
            introspection:
              clientId: "300000000000000003@aidial"
              clientSecret: mock-gateway-introspection-secret
        zitadel:
          url: \(mockURL)
          pat: \(pat)
          timeoutMs: 1500
          cacheSeconds: 0
        store:
          url: "\(storeURL)"
        \(extra)
        """
    }
}
