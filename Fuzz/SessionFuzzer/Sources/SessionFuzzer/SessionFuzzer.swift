// libFuzzer target that reaches past the signature check. Each input is a JWS protected header and a claims
// document (`header NUL claims`; without a NUL byte, the whole input is the claims under a default ES256 header).
// Both are signed in-process with a P-256 key that the gateway trusts (served as the issuer's JWKS on loopback),
// and the token is driven through `SessionValidator` and through every route that renders claims, on the real
// application (`buildApplication`, its responder called directly, no sockets) with an in-process mock Zitadel.
//
// Properties checked on every input, besides "no crash, no sanitizer report":
// - no route answers 500; every answer other than 2xx is `application/problem+json` with a string `code`;
// - a token the validator accepts carries only NumericDates inside 1970...9999, and `/v1/session` renders its
//   times as RFC 3339 timestamps.
// Built and run by scripts/fuzz.sh; seeds in Fuzz/corpus/session.
import AsyncHTTPClient
import Crypto
import Foundation
import GatewayApp
import HTTPTypes
import Hummingbird
import Logging
import MockZitadel
import NIOCore
import NIOEmbedded
import SessionValidation

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSession(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let input = Array(UnsafeBufferPointer(start: start, count: count))
    let rig = Rig.shared
    let token = rig.token(for: input)
    blocking { await rig.check(token) }
    return 0
}

/// Runs `body` to completion on the concurrency pool while the fuzzer's thread waits.
func blocking<T: Sendable>(_ body: @escaping @Sendable () async -> T) -> T {
    let done = DispatchSemaphore(value: 0)
    let result = ResultBox<T>()
    Task {
        result.value = await body()
        done.signal()
    }
    done.wait()
    return result.value!
}

/// Written by one task before the semaphore is signalled, read after the wait: no concurrent access.
final class ResultBox<T>: @unchecked Sendable {
    var value: T?
}

/// Reports a violated property the way libFuzzer expects: the process dies and the input is kept.
func violation(_ message: String) -> Never {
    fatalError("property violated: \(message)")
}

/// The gateway under test and the parts that stand in for Zitadel, set up once per process.
final class Rig: Sendable {
    static let shared: Rig = blocking {
        do { return try await Rig.start() } catch { fatalError("fuzz rig did not start: \(error)") }
    }

    /// The issuer seeds name (a fixed string: the mock's port changes from run to run).
    static let issuer = "https://fuzz.zitadel.test"
    static let kid = "fuzz-es256"
    static let defaultHeader = Array(#"{"alg":"ES256","kid":"fuzz-es256","typ":"JWT"}"#.utf8)
    static let routes = ["/v1/session", "/v1/sessions", "/v1/portal-mfa-lifecycle"]

    let key: P256.Signing.PrivateKey
    let respond: @Sendable (Request) async throws -> Response
    let validator: SessionValidator

    private init(
        key: P256.Signing.PrivateKey, respond: @escaping @Sendable (Request) async throws -> Response, validator: SessionValidator
    ) {
        self.key = key
        self.respond = respond
        self.validator = validator
    }

    static func start() async throws -> Rig {
        let quiet = Logger(label: "fuzz", factory: { _ in SwiftLogNoOpLogHandler() })
        let key = P256.Signing.PrivateKey()
        let jwks = Self.jwks(for: key.publicKey)
        let mockBase = try await Self.startMock(logger: quiet)
        let keysURL = try await Self.serveKeys(jwks, logger: quiet)

        // Built through the gateway's configuration reading, as `serve` builds it. A small verified-token cache:
        // every input is a new token, and the cache is not what is under test.
        let configuration = try await GatewayConfiguration.testing([
            "http.port": 0, "store.url": "sqlite::memory:", "mfa.userPolicyMetadataKey": "",
            "issuers.names": .init(.stringArray(["fuzz"]), isSecret: false),
            "issuers.fuzz.url": .init(.string(Self.issuer), isSecret: false),
            "issuers.fuzz.audiences": .init(.stringArray([MockZitadelDefaults.projectId]), isSecret: false),
            "issuers.fuzz.projectId": .init(.string(MockZitadelDefaults.projectId), isSecret: false),
            "issuers.fuzz.clientIds": .init(.stringArray([MockZitadelDefaults.portalClientId]), isSecret: false),
            "issuers.fuzz.algorithms": .init(.stringArray(["ES256"]), isSecret: false),
            "issuers.fuzz.jwksUrl": .init(.string(keysURL), isSecret: false),
            "issuers.fuzz.introspectionUrl": .init(.string(mockBase + "/oauth/v2/introspect"), isSecret: false),
            "issuers.fuzz.introspection.clientId": .init(.string(MockZitadelDefaults.introspectionClientId), isSecret: false),
            "issuers.fuzz.introspection.clientSecret": .init(.string(MockZitadelDefaults.introspectionSecret), isSecret: true),
            "issuers.fuzz.jwks.fetchTimeoutMs": 2000, "validation.cacheCapacity": 1024,
            "zitadel.url": .init(.string(mockBase), isSecret: false),
            "zitadel.pat": .init(.string(try await Self.servicePAT()), isSecret: true), "zitadel.timeoutMs": 2000,
            "zitadel.retries": 0, "zitadel.cacheSeconds": 600,
        ])
        guard let issuer = configuration.issuers.first else { throw RigError("the configuration has no issuer") }
        let app = try await buildApplication(configuration: configuration, logger: quiet)
        let respond = try await Self.responder(of: app, logger: quiet)

        // The validator on its own, with the key installed rather than fetched and no introspection.
        var bare = issuer
        bare.introspection = nil
        bare.introspectionURL = nil
        let validator = try SessionValidator(
            issuers: [bare], settings: ValidationSettings(cacheCapacity: 1024), httpClient: .shared, logger: quiet)
        try await validator.installKeys(issuer: Self.issuer, jwks: jwks)
        return Rig(key: key, respond: respond, validator: validator)
    }

    /// The application's responder, called the way the server calls it (one request context per request).
    static func responder<App: ApplicationProtocol>(
        of app: App, logger: Logger
    ) async throws -> @Sendable (Request) async throws -> Response {
        let responder = try await app.responder
        let channel = NIOAsyncTestingChannel()
        return { request in
            let context = App.Context(source: ApplicationRequestContextSource(channel: channel, logger: logger))
            return try await responder.respond(to: request, context: context)
        }
    }

    /// Runs the mock Zitadel on a free loopback port for the life of the process; returns its base URL.
    static func startMock(logger: Logger) async throws -> String {
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let (app, _) = try await MockZitadelApp.build(
            configuration: MockZitadelConfiguration(port: 0), logger: logger
        ) { port in
            continuation.yield(port)
            continuation.finish()
        }
        Task { try await app.run() }
        guard let port = await ports.first(where: { _ in true }) else { throw RigError("the mock did not start") }
        return "http://127.0.0.1:\(port)"
    }

    /// Serves the fuzzer's public key as a JWKS on a free loopback port; returns the document's URL.
    static func serveKeys(_ jwks: [UInt8], logger: Logger) async throws -> String {
        let router = Router()
        router.get("/keys") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: jwks)))
        }
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in
                continuation.yield(channel.localAddress?.port ?? 0)
                continuation.finish()
            }, logger: logger)
        Task { try await app.run() }
        guard let port = await ports.first(where: { _ in true }), port != 0 else { throw RigError("the key server did not start") }
        return "http://127.0.0.1:\(port)/keys"
    }

    /// The mock gateway machine user's PAT from the seed the mock loaded.
    static func servicePAT() async throws -> String {
        let seed = URL(fileURLWithPath: MockZitadelConfiguration.repositoryMocksDirectory).appendingPathComponent("seed.json").path
        guard let pat = MockZitadelConfiguration(seedFile: seed).serviceUserPAT() else {
            throw RigError("the seed has no PAT for the gateway machine user")
        }
        return pat
    }

    static func jwks(for key: P256.Signing.PublicKey) -> [UInt8] {
        let raw = key.rawRepresentation
        let x = base64URL(Array(raw.prefix(32)))
        let y = base64URL(Array(raw.suffix(32)))
        return Array(
            #"{"keys":[{"kty":"EC","crv":"P-256","use":"sig","alg":"ES256","kid":"\#(kid)","x":"\#(x)","y":"\#(y)"}]}"#.utf8)
    }

    // MARK: Each input

    /// Splits the input into header and claims and signs them: `base64url(header).base64url(claims).signature`.
    func token(for input: [UInt8]) -> String {
        let header: ArraySlice<UInt8>
        let claims: ArraySlice<UInt8>
        if let separator = input.firstIndex(of: 0) {
            header = input[..<separator]
            claims = input[(separator + 1)...]
        } else {
            header = Self.defaultHeader[...]
            claims = input[...]
        }
        let signingInput = Self.base64URL(Array(header)) + "." + Self.base64URL(Array(claims))
        guard let signature = try? key.signature(for: Array(signingInput.utf8)) else {
            fatalError("P-256 signing failed")
        }
        return signingInput + "." + Self.base64URL(Array(signature.rawRepresentation))
    }

    func check(_ token: String) async {
        if let verified = try? await validator.validate(token) {
            let claims = verified.claims
            for (name, value) in [
                ("exp", claims.expiresAt), ("nbf", claims.notBefore), ("iat", claims.issuedAt), ("auth_time", claims.authTime),
            ] {
                // 1970-01-01T00:00:00Z up to 10000-01-01T00:00:00Z (excluded), written out rather than taken from the
                // code under test.
                if let value, !(value >= 0 && value < 253_402_300_800) { violation("accepted \(name) \(value)") }
            }
        }
        for path in Self.routes {
            let (status, headers, body) = await call(path, token: token)
            if status == .internalServerError { violation("\(path) answered 500") }
            if (200..<300).contains(status.code) {
                if path == "/v1/session" { checkSession(body) }
                continue
            }
            guard headers[.contentType]?.hasPrefix("application/problem+json") == true else {
                violation("\(path) answered \(status.code) without a problem body")
            }
            guard let problem = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any],
                problem["code"] is String
            else { violation("\(path) answered \(status.code) with a problem that has no code") }
        }
    }

    /// A rendered session names its times as RFC 3339 timestamps in years 1970 to 9999.
    func checkSession(_ body: [UInt8]) {
        guard let session = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] else {
            violation("/v1/session answered a body that is not a JSON object")
        }
        for name in ["expiresAt", "authTime"] {
            guard let value = session[name] else { continue }
            guard let text = value as? String, Self.isTimestamp(text) else {
                violation("/v1/session rendered \(name) as \(value)")
            }
        }
    }

    static func isTimestamp(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard bytes.count == 20 else { return false }
        let pattern = Array("dddd-dd-ddTdd:dd:ddZ".utf8)
        return zip(bytes, pattern).allSatisfy { byte, expected in
            expected == UInt8(ascii: "d") ? (0x30...0x39).contains(byte) : byte == expected
        }
    }

    func call(_ path: String, token: String) async -> (HTTPResponse.Status, HTTPFields, [UInt8]) {
        let request = Request(
            head: HTTPRequest(
                method: .get, scheme: "http", authority: "localhost", path: path,
                headerFields: [.authorization: "Bearer \(token)"]),
            body: RequestBody(buffer: ByteBuffer()))
        do {
            let response = try await respond(request)
            let collector = BodyCollector()
            try await response.body.write(collector)
            return (response.status, response.headers, collector.bytes)
        } catch {
            // The server would answer an escaped error with a bare 500.
            violation("\(path) threw \(error)")
        }
    }

    static func base64URL(_ bytes: [UInt8]) -> String {
        var text = Data(bytes).base64EncodedString()
        while text.hasSuffix("=") { text.removeLast() }
        return String(text.map { $0 == "+" ? "-" : $0 == "/" ? "_" : $0 })
    }
}

/// Collects a response body (the router test framework's writer does the same).
struct BodyCollector: ResponseBodyWriter {
    final class Storage: @unchecked Sendable {
        var bytes: [UInt8] = []
    }

    let storage = Storage()
    var bytes: [UInt8] { storage.bytes }

    func write(_ buffer: ByteBuffer) async throws {
        storage.bytes.append(contentsOf: buffer.readableBytesView)
    }

    consuming func finish(_ trailingHeaders: HTTPFields?) async throws {}
}

struct RigError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
