import Foundation
import Hummingbird
import HummingbirdTesting
import MockZitadel
import NIOCore
import Testing

/// Debian's headless Chromium and its driver, if installed.
enum BrowserTools {
    static let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first(where: FileManager.default.isExecutableFile)
    static let chromedriver = ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"].first(where: FileManager.default.isExecutableFile)
    static var installed: Bool { chromium != nil && chromedriver != nil }
    /// `scripts/test.sh` installs them (or stops), so under it, as under CI, their absence is a failure, not a skip.
    static var required: Bool {
        let environment = ProcessInfo.processInfo.environment
        return environment["CI"] != nil || environment["ZITADEL_GATEWAY_TEST_REQUIRE_SERVICES"] != nil
    }
}

/// A minimal W3C WebDriver client: chromedriver on a loopback port, one headless Chromium session.
actor WebDriver {
    private let process: Process
    /// The W3C web element identifier key.
    static let elementKey = "element-6066-11e4-a52e-4f735466cecf"
    private let port: Int
    private var session = ""
    private let profile: URL

    private init(process: Process, port: Int, profile: URL) {
        self.process = process
        self.port = port
        self.profile = profile
    }

    /// Runs `body` with a fresh browser; the browser and driver are stopped afterwards.
    static func withBrowser<T: Sendable>(_ body: (WebDriver) async throws -> T) async throws -> T {
        let driver = try await start()
        do {
            let result = try await body(driver)
            await driver.quit()
            return result
        } catch {
            await driver.quit()
            throw error
        }
    }

    private static func start() async throws -> WebDriver {
        let chromedriver = try #require(BrowserTools.chromedriver, "chromedriver is not installed (apt-get install chromium-driver)")
        let chromium = try #require(BrowserTools.chromium, "chromium is not installed (apt-get install chromium)")
        for _ in 0..<5 {
            let port = Int.random(in: 20_000..<60_000)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: chromedriver)
            process.arguments = ["--port=\(port)"]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            let profile = FileManager.default.temporaryDirectory.appendingPathComponent("mock-zitadel-chromium-\(UUID().uuidString)")
            let driver = WebDriver(process: process, port: port, profile: profile)
            if await driver.waitUntilReady() {
                try await driver.newSession(binary: chromium)
                return driver
            }
            stop(process)
        }
        throw WebDriverError("chromedriver did not start")
    }

    private func waitUntilReady() async -> Bool {
        for _ in 0..<100 {
            guard process.isRunning else { return false }
            if let status = try? await send(.get, "/status", timeout: .seconds(2)), status["ready"] == true { return true }
            try? await Task.sleep(for: .milliseconds(100))
        }
        return false
    }

    private func newSession(binary: String) async throws {
        let arguments: [JSONValue] = [
            "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,1024",
            "--no-first-run", .string("--user-data-dir=\(profile.path)"),
        ]
        let capabilities: JSONValue = [
            "capabilities": [
                "alwaysMatch": [
                    "browserName": "chrome", "goog:chromeOptions": ["binary": .string(binary), "args": .array(arguments)],
                ]
            ]
        ]
        let value = try await send(.post, "/session", capabilities)
        session = try #require(value["sessionId"]?.stringValue)
    }

    func quit() async {
        if !session.isEmpty { _ = try? await send(.delete, "/session/\(session)") }
        Self.stop(process)
        try? FileManager.default.removeItem(at: profile)
    }

    // MARK: Commands

    func navigate(_ url: String) async throws {
        _ = try await send(.post, "/session/\(session)/url", ["url": .string(url)])
    }

    func currentURL() async throws -> String {
        try await send(.get, "/session/\(session)/url").stringValue ?? ""
    }

    /// Waits for an element to appear (pages load after form posts) and returns its id.
    func element(_ css: String, timeout: Duration = .seconds(10)) async throws -> String {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let value = try? await send(.post, "/session/\(session)/element", ["using": "css selector", "value": .string(css)]),
                let id = value[Self.elementKey]?.stringValue
            {
                return id
            }
            guard ContinuousClock.now < deadline else {
                throw WebDriverError("no element \(css) on \(try await currentURL()): \(try await pageSource().prefix(2000))")
            }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    func click(_ css: String) async throws {
        let id = try await element(css)
        _ = try await send(.post, "/session/\(session)/element/\(id)/click", [:])
    }

    func type(_ css: String, _ text: String) async throws {
        let id = try await element(css)
        _ = try await send(.post, "/session/\(session)/element/\(id)/clear", [:])
        _ = try await send(.post, "/session/\(session)/element/\(id)/value", ["text": .string(text)])
    }

    func text(_ css: String) async throws -> String {
        let id = try await element(css)
        return try await send(.get, "/session/\(session)/element/\(id)/text").stringValue ?? ""
    }

    func pageSource() async throws -> String {
        try await send(.get, "/session/\(session)/source").stringValue ?? ""
    }

    /// Waits until the current URL satisfies `predicate`.
    func waitForURL(timeout: Duration = .seconds(10), _ predicate: @Sendable (String) -> Bool) async throws -> String {
        let deadline = ContinuousClock.now + timeout
        while true {
            let url = try await currentURL()
            if predicate(url) { return url }
            guard ContinuousClock.now < deadline else { throw WebDriverError("the browser stayed on \(url)") }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    /// chromedriver ignores SIGTERM: stop it for good.
    private static func stop(_ process: Process) {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    /// One WebDriver command: JSON in, the `value` member out; WebDriver errors throw.
    private func send(
        _ method: HTTPRequest.Method, _ path: String, _ body: JSONValue? = nil, timeout: Duration = .seconds(60)
    )
        async throws -> JSONValue
    {
        let (status, json) = try await HTTP.request(
            method, port: port, path, headers: body == nil ? [:] : [.contentType: "application/json"],
            body: try body.map { try JSONEncoder().encode($0) }, timeout: timeout)
        let value = json["value"] ?? .null
        guard status == 200 else {
            throw WebDriverError("\(method) \(path): \(value["error"]?.stringValue ?? "?") \(value["message"]?.stringValue ?? "")")
        }
        return value
    }
}

struct WebDriverError: Error, CustomStringConvertible {
    let description: String

    init(_ description: String) {
        self.description = description
    }
}

/// Plain HTTP on a loopback port through HummingbirdTesting's client (FoundationNetworking's URLSession is unreliable
/// on Linux), for the driver and for calls to the mock from the browser tests.
enum HTTP {
    static func request(
        _ method: HTTPRequest.Method, port: Int, _ path: String, headers: HTTPFields = [:], body: Data? = nil,
        timeout: Duration = .seconds(10)
    ) async throws -> (status: Int, json: JSONValue) {
        let response = try await TestClient.withClient(host: "127.0.0.1", port: port, configuration: .init(timeout: timeout)) { client in
            try await client.execute(
                .init(path, method: method, authority: "127.0.0.1:\(port)", headers: headers, body: body.map { ByteBuffer(bytes: $0) }))
        }
        let bytes = response.body.map { Data($0.readableBytesView) } ?? Data()
        let json = (try? JSONDecoder().decode(JSONValue.self, from: bytes)) ?? .null
        return (Int(response.status.code), json)
    }

    static func form(_ fields: [(String, String)]) -> Data {
        Data(fields.map { "\(formEncode($0.0))=\(formEncode($0.1))" }.joined(separator: "&").utf8)
    }

    /// The port of a `http://127.0.0.1:<port>` base URL.
    static func port(of baseURL: String) throws -> Int {
        try #require(Int(baseURL.split(separator: ":").last ?? ""))
    }
}
