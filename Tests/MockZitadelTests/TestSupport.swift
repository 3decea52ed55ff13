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
    static let alice = "300000000000001001"  // client_admin, Acacia: TOTP, SMS, recovery codes
    static let marcus = "300000000000001002"  // client_manager, Acacia: passkey, unverified phone, policy metadata
    static let sam = "300000000000001003"  // client_staff, Acacia: nothing enrolled, email unverified, no phone
    static let beth = "300000000000001004"  // client_admin, Banksia: TOTP, U2F, email OTP
    static let priya = "300000000000001005"  // partner_admin in Acacia and Banksia: TOTP, two passkeys, recovery codes
    static let tom = "300000000000001006"  // partner_user: TOTP not ready, verified phone
    static let nora = "300000000000001007"  // no portal role
    static let harriet = "300000000000001008"  // client_manager, Banksia: policy metadata, nothing enrolled
    static let oscar = "300000000000001009"  // client_staff, Banksia: SMS, TOTP not ready, recovery codes used up
    static let reportingUserId = "300000000000000302"
    /// The gateway machine user's PAT (IAM_OWNER).
    static let servicePAT = "mock-pat-aidial-gateway-300000000000000301"
    /// A machine user's PAT without manager roles.
    static let reportingPAT = "mock-pat-aidial-reporting-300000000000000302"
    static let aliceRecoveryCode = "ALIC01-07919"
    /// A number from the range reserved for fiction that no seeded user has.
    static let sparePhone = "+61491571266"
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

/// Builds JSON request bodies from `JSONValue` literals (keys sorted, so the bytes are predictable).
func jsonBody(_ value: JSONValue) throws -> ByteBuffer {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    return ByteBuffer(bytes: try encoder.encode(value))
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

/// The two wire forms of the v2 APIs.
enum Wire: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case connect
    case rest

    var testDescription: String { rawValue }
}

/// One v2 call, expressed for both wire forms: the Connect body, and the REST method, path and query.
struct V2Call: Sendable {
    var service = "zitadel.user.v2.UserService"
    let method: String
    var fields: JSONValue
    let restMethod: HTTPRequest.Method
    let restPath: String
    /// Fields that travel in the REST path (left out of the REST body).
    var pathFields: [String] = ["userId"]
    /// REST query string (for mappings without a body).
    var restQuery: String? = nil

    static func user(
        _ method: String, _ userId: String, _ extra: [String: JSONValue] = [:], _ restMethod: HTTPRequest.Method, _ restSuffix: String,
        query: String? = nil
    ) -> V2Call {
        var fields: [String: JSONValue] = ["userId": .string(userId)]
        fields.merge(extra) { _, new in new }
        return V2Call(
            method: method, fields: .object(fields), restMethod: restMethod, restPath: "/v2/users/\(userId)\(restSuffix)", restQuery: query)
    }

    static func session(_ method: String, _ fields: [String: JSONValue], _ restMethod: HTTPRequest.Method, _ restPath: String) -> V2Call {
        V2Call(
            service: "zitadel.session.v2.SessionService", method: method, fields: .object(fields), restMethod: restMethod,
            restPath: restPath, pathFields: ["sessionId"])
    }
}

/// Calls a v2 RPC in one wire form with a bearer token.
func call(_ client: some TestClientProtocol, _ wire: Wire, _ rpc: V2Call, token: String? = Seeded.servicePAT) async throws -> TestResponse {
    var headers: HTTPFields = [:]
    if let token { headers[.authorization] = "Bearer \(token)" }
    switch wire {
    case .connect:
        headers[.contentType] = "application/json"
        return try await client.execute(
            uri: "/\(rpc.service)/\(rpc.method)", method: .post, headers: headers, body: try jsonBody(rpc.fields))
    case .rest:
        var body = rpc.fields.objectValue ?? [:]
        for name in rpc.pathFields { body[name] = nil }
        let uri = rpc.restPath + (rpc.restQuery.map { "?\($0)" } ?? "")
        let sendsBody = rpc.restMethod != .get && rpc.restQuery == nil
        if sendsBody { headers[.contentType] = "application/json" }
        return try await client.execute(
            uri: uri, method: rpc.restMethod, headers: headers, body: sendsBody ? try jsonBody(.object(body)) : nil)
    }
}

/// Calls and expects 200, returning the JSON body.
func ok(_ client: some TestClientProtocol, _ wire: Wire, _ rpc: V2Call, token: String? = Seeded.servicePAT) async throws -> JSONValue {
    let response = try await call(client, wire, rpc, token: token)
    #expect(response.status == .ok, "\(rpc.method) over \(wire): \(response.status) \(response.text)")
    return try response.json()
}

/// Checks a Zitadel error in the wire form's shape: HTTP status, gRPC code, Zitadel error id and detail.
func expectError(
    _ response: TestResponse, _ wire: Wire, status: HTTPResponse.Status, code: Int, id: String?,
    sourceLocation: SourceLocation = #_sourceLocation
) throws {
    #expect(response.status == status, "\(response.text)", sourceLocation: sourceLocation)
    #expect(response.headers[.contentType] == "application/json", sourceLocation: sourceLocation)
    let body = try response.json()
    let message = body["message"]?.stringValue ?? ""
    if let id { #expect(message.hasSuffix(" (\(id))"), "message: \(message)", sourceLocation: sourceLocation) }
    let details = body["details"]?.arrayValue ?? []
    switch wire {
    case .connect:
        #expect(body["code"] == .string(connectCodes[code]), "\(body)", sourceLocation: sourceLocation)
        guard let id else {
            #expect(details.isEmpty, sourceLocation: sourceLocation)
            return
        }
        let detail = try #require(details.first, sourceLocation: sourceLocation)
        #expect(detail["type"] == "zitadel.v1.ErrorDetail", sourceLocation: sourceLocation)
        #expect(detail["debug"]?["id"] == .string(id), sourceLocation: sourceLocation)
        // The value is the ErrorDetail in protobuf binary: field 1 (0x0A) holds the id.
        var value = detail["value"]?.stringValue ?? ""
        value += String(repeating: "=", count: (4 - value.count % 4) % 4)
        let bytes = [UInt8](Data(base64Encoded: value) ?? Data())
        #expect(
            bytes.first == 0x0A && bytes.count > 2 && Array(bytes[2..<(2 + Int(bytes[1]))]) == Array(id.utf8),
            sourceLocation: sourceLocation)
    case .rest:
        #expect(body["code"]?.intValue == Int64(code), "\(body)", sourceLocation: sourceLocation)
        guard let id else { return }
        let detail = try #require(details.first, sourceLocation: sourceLocation)
        #expect(detail["@type"] == "type.googleapis.com/zitadel.v1.ErrorDetail", sourceLocation: sourceLocation)
        #expect(detail["id"] == .string(id), sourceLocation: sourceLocation)
    }
}

/// gRPC code → Connect name, indexed by code.
let connectCodes = [
    "ok", "canceled", "unknown", "invalid_argument", "deadline_exceeded", "not_found", "already_exists", "permission_denied",
    "resource_exhausted", "failed_precondition", "aborted", "out_of_range", "unimplemented", "internal", "unavailable", "data_loss",
    "unauthenticated",
]

/// The Zitadel session a token was issued in: introspection names its `jti` (never its session, as in Zitadel),
/// the admin API's session list names the tokens of each session.
func sessionId(_ client: some TestClientProtocol, of token: String) async throws -> String {
    let result = try await introspect(client, token)
    #expect(result["sid"] == nil, "Zitadel's introspection has no sid")
    let jti = try #require(result["jti"]?.stringValue)
    let sub = try #require(result["sub"]?.stringValue)
    let sessions = try await client.execute(uri: "/mock/admin/sessions?userId=\(sub)", method: .get).json()
    let session = sessions.arrayValue?.first { $0["tokenIds"]?.arrayValue?.contains(.string(jti)) == true }
    return try #require(session?["id"]?.stringValue)
}

/// The SMS outbox through the admin API.
func outbox(_ client: some TestClientProtocol, query: String = "") async throws -> [JSONValue] {
    try await client.execute(uri: "/mock/admin/sms-outbox\(query)", method: .get).json().arrayValue ?? []
}
