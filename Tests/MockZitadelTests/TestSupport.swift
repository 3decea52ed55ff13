import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import MockZitadel
import NIOCore
import Testing

/// Tests never bootstrap logging: the mock gets a logger that discards everything.
let testLogger = Logger(label: "MockZitadelTests", factory: { _ in SwiftLogNoOpLogHandler() })

enum Seeded {
    static let projectId = "300000000000000001"
    static let portalClientId = "300000000000000002@aidial"
    static let apiClientId = "300000000000000003@aidial"
    static let apiClientSecret = "mock-gateway-introspection-secret"
    static let apiKeyId = "300000000000000023"
    static let machineUserName = "aidial-gateway"
    static let machineUserId = "300000000000000301"
    static let machineSecret = "mock-gateway-service-secret"
    static let acacia = "300000000000000101"
    static let banksia = "300000000000000102"
    static let coral = "300000000000000201"
    static let alice = "300000000000001001"  // client_admin, Acacia
    static let priya = "300000000000001005"  // partner_admin in Acacia and Banksia
    static let nora = "300000000000001007"  // no portal role
    /// The issuer the live test client's `Host: localhost` yields.
    static let liveIssuer = "http://localhost"
}

/// Runs `test` against the mock served on an ephemeral port through Hummingbird's live test client.
func withMock<T: Sendable>(
    configuration: MockZitadelConfiguration = MockZitadelConfiguration(port: 0),
    _ test: @escaping @Sendable (any TestClientProtocol, MockZitadel) async throws -> T
) async throws -> T {
    let (app, mock) = try await MockZitadelApp.build(configuration: configuration, logger: testLogger)
    return try await app.test(.live) { client in try await test(client, mock) }
}

extension TestResponse {
    /// The body as a JSON value; throws when it is not JSON.
    func json() throws -> JSONValue {
        try JSONDecoder().decode(JSONValue.self, from: Data(body.readableBytesView))
    }

    var text: String { String(buffer: body) }
}

extension JSONValue {
    /// Object keys, for shape checks.
    var keys: Set<String> { Set(objectValue?.keys.map { $0 } ?? []) }
}

/// Builds JSON request bodies from `JSONValue` literals.
func jsonBody(_ value: JSONValue) throws -> ByteBuffer {
    ByteBuffer(bytes: try JSONEncoder().encode(value))
}

let jsonHeaders: HTTPFields = [.contentType: "application/json"]
let formHeaders: HTTPFields = [.contentType: "application/x-www-form-urlencoded"]

/// `application/x-www-form-urlencoded` encoding.
func formBody(_ fields: [(String, String)]) -> ByteBuffer {
    ByteBuffer(string: fields.map { "\(formEncode($0.0))=\(formEncode($0.1))" }.joined(separator: "&"))
}

func formEncode(_ string: String) -> String {
    var allowed = CharacterSet.alphanumerics
    allowed.insert(charactersIn: "-._~")
    return string.addingPercentEncoding(withAllowedCharacters: allowed) ?? string
}

/// `Authorization: Basic base64(urlenc(id):urlenc(secret))`, as RFC 6749 §2.3.1 specifies.
func basicAuthorization(_ id: String, _ secret: String) -> HTTPFields {
    let credentials = Data("\(formEncode(id)):\(formEncode(secret))".utf8).base64EncodedString()
    return [.authorization: "Basic \(credentials)", .contentType: "application/x-www-form-urlencoded"]
}

/// The gateway's introspection credentials from the seed.
let gatewayAuthorization = basicAuthorization(Seeded.apiClientId, Seeded.apiClientSecret)

/// Mints a token through the admin API and returns the access token.
func mint(_ client: some TestClientProtocol, _ body: JSONValue) async throws -> String {
    let response = try await client.execute(uri: "/mock/admin/tokens", method: .post, headers: jsonHeaders, body: try jsonBody(body))
    #expect(response.status == .ok, "mint failed: \(response.text)")
    return try #require(try response.json()["accessToken"]?.stringValue)
}

/// Introspects a token as the gateway's API app.
func introspect(_ client: some TestClientProtocol, _ token: String) async throws -> JSONValue {
    let response = try await client.execute(
        uri: "/oauth/v2/introspect",
        method: .post,
        headers: gatewayAuthorization,
        body: formBody([("token", token)])
    )
    #expect(response.status == .ok)
    return try response.json()
}

/// Decodes a base64url JWT segment into JSON.
func jwtSegment(_ token: String, _ index: Int) throws -> JSONValue {
    let parts = token.split(separator: ".", omittingEmptySubsequences: false)
    try #require(parts.count == 3)
    var base64 = parts[index].replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
    base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
    let data = try #require(Data(base64Encoded: base64))
    return try JSONDecoder().decode(JSONValue.self, from: data)
}
