import Hummingbird
import Logging
import NIOCore

/// Builds and runs the mock Zitadel's HTTP application.
public enum MockZitadelApp {
    /// Builds the Hummingbird application serving the mock. `onServerRunning` receives the bound port (useful with port 0).
    public static func build(
        configuration: MockZitadelConfiguration,
        logger: Logger,
        onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) async throws -> (some ApplicationProtocol, MockZitadel) {
        let mock = try MockZitadel(configuration: configuration)
        let app = build(mock: mock, logger: logger, onServerRunning: onServerRunning)
        return (app, mock)
    }

    /// Builds the application around an existing mock state, listening where the mock's configuration says.
    public static func build(
        mock: MockZitadel,
        logger: Logger,
        onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        let configuration = mock.configuration
        return Application(
            router: router(mock: mock),
            configuration: ApplicationConfiguration(address: .hostname(configuration.host, port: configuration.port)),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? configuration.port
                await mock.setBoundPort(port)
                await onServerRunning(port)
            },
            logger: logger
        )
    }

    /// The router with its middleware: issuer first, then the journal (which must see faulted calls), then faults.
    static func router(mock: MockZitadel) -> Router<MockRequestContext> {
        let router = Router(context: MockRequestContext.self)
        router.add(middleware: IssuerMiddleware(mock: mock, issuerOverride: mock.configuration.issuerOverride))
        router.add(middleware: JournalMiddleware(mock: mock))
        router.add(middleware: FaultMiddleware(mock: mock))
        OIDCController(mock: mock).addRoutes(to: router)
        APIController(mock: mock).addRoutes(to: router)
        PagesController(mock: mock).addRoutes(to: router)
        AdminController(mock: mock).addRoutes(to: router)
        return router
    }

    /// Runs the mock on an ephemeral port for the duration of `body`, which receives its base URL
    /// (`http://127.0.0.1:<port>`) and its state; the server is shut down when `body` returns or throws.
    public static func withRunningMock<T>(
        configuration: MockZitadelConfiguration = MockZitadelConfiguration(port: 0),
        logger: Logger = Logger(label: "MockZitadel", factory: { _ in SwiftLogNoOpLogHandler() }),
        isolation: isolated (any Actor)? = #isolation,
        _ body: (_ baseURL: String, _ mock: MockZitadel) async throws -> T
    ) async throws -> T {
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let (app, mock) = try await build(configuration: configuration, logger: logger) { port in
            continuation.yield(port)
            continuation.finish()
        }
        return try await withThrowingTaskGroup(of: Void.self, returning: T.self) { group in
            group.addTask {
                defer { continuation.finish() }
                try await app.run()
            }
            var iterator = ports.makeAsyncIterator()
            guard let port = await iterator.next() else {
                // The server stopped before listening: surface its error.
                try await group.next()
                throw MockZitadelError.serverDidNotStart
            }
            defer { group.cancelAll() }
            return try await body("http://\(urlHost(configuration.host)):\(port)", mock)
        }
    }

    /// A host usable in a URL to reach a server bound to `host`.
    static func urlHost(_ host: String) -> String {
        switch host {
        case "0.0.0.0", "": "127.0.0.1"
        case "::": "[::1]"
        default: host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host
        }
    }
}
