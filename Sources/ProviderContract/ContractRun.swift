import AsyncHTTPClient
import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import SessionValidation
import ZitadelClient

/// A Zitadel application key file (`{"type":"application","keyId","key","clientId","appId"}`), for introspection
/// with `private_key_jwt`.
public struct ApplicationKey: Sendable, Decodable {
    public var keyId: String
    public var key: String
    public var clientId: String

    public static func load(path: String) throws -> ApplicationKey {
        guard let data = FileManager.default.contents(atPath: path),
            let key = try? JSONDecoder().decode(ApplicationKey.self, from: data)
        else { throw ContractSetupError("\(path) is not a Zitadel application key file") }
        return key
    }
}

public struct ContractSetupError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Where and as whom the read-only calls run.
public struct ContractTarget: Sendable {
    public var issuer: String
    public var credential: ZitadelCredential
    /// The user to read; default the service account's own user (JWT profile).
    public var userId: String?
    /// An API application's key, to check introspection; skipped without one.
    public var applicationKey: ApplicationKey?
    public var timeout: Duration

    public init(
        issuer: String, credential: ZitadelCredential, userId: String? = nil, applicationKey: ApplicationKey? = nil,
        timeout: Duration = .seconds(10)
    ) {
        var issuer = issuer
        while issuer.hasSuffix("/") { issuer.removeLast() }
        self.issuer = issuer
        self.credential = credential
        self.userId = userId
        self.applicationKey = applicationKey
        self.timeout = timeout
    }

    /// A credential file: a service-account key JSON, or a personal access token as text.
    public static func credential(path: String) throws -> ZitadelCredential {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ContractSetupError("cannot read the credential file \(path)")
        }
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        if text.hasPrefix("{") {
            do { return .jwtProfile(try ServiceAccountKey.load(path: path)) } catch {
                throw ContractSetupError("\(path) is JSON but not a Zitadel service-account key")
            }
        }
        guard !text.isEmpty, !text.contains(where: \.isWhitespace) else {
            throw ContractSetupError("\(path) holds neither a personal access token nor a service-account key")
        }
        return .pat(text)
    }
}

/// The verdict on one call.
public struct CallReport: Sendable {
    public enum Outcome: String, Sendable {
        case ok = "OK"
        case warn = "WARN"
        case breaks = "BREAK"
        case skipped = "SKIP"
        case failed = "FAIL"
    }

    public var call: String
    public var outcome: Outcome
    public var notes: [String]

    init(_ call: String, _ outcome: Outcome, _ notes: [String] = []) {
        self.call = call
        self.outcome = outcome
        self.notes = notes
    }

    /// From shape differences and the client's decoding.
    init(_ call: String, differences: [ShapeDifference], decodeFailure: String? = nil) {
        var notes = differences.filter(\.isBreak).map(\.description) + differences.filter { !$0.isBreak }.map(\.description)
        if let decodeFailure { notes.insert(decodeFailure, at: 0) }
        let outcome: Outcome =
            decodeFailure != nil || differences.contains(where: \.isBreak) ? .breaks : differences.isEmpty ? .ok : .warn
        self.init(call, outcome, notes)
    }

    /// `OK    UserService/GetUserByID`, then one indented line per note.
    public var lines: [String] {
        let head = outcome.rawValue.padding(toLength: 6, withPad: " ", startingAt: 0) + call
        return [head] + notes.map { "      " + $0 }
    }
}

public struct ContractReport: Sendable {
    public var calls: [CallReport]

    /// No break and no failed call.
    public var passed: Bool { !calls.contains { $0.outcome == .breaks || $0.outcome == .failed } }

    public func count(_ outcome: CallReport.Outcome) -> Int { calls.filter { $0.outcome == outcome }.count }

    public var summary: String {
        let counts = [CallReport.Outcome.ok, .warn, .breaks, .failed, .skipped].map { "\(count($0)) \($0.rawValue)" }
        return "contract: \(calls.count) calls: " + counts.joined(separator: ", ") + (passed ? "; shapes hold" : "; BROKEN")
    }

    public var lines: [String] { calls.flatMap(\.lines) + [summary] }
}

/// Runs the read-only calls the gateway makes against a live Zitadel (or the mock) and compares every answer
/// with the fixtures' shapes. Never changes anything at the provider.
public struct ContractRunner: Sendable {
    let catalog: FixtureCatalog
    let target: ContractTarget
    let http: HTTPClient

    public init(catalog: FixtureCatalog, target: ContractTarget, http: HTTPClient) {
        self.catalog = catalog
        self.target = target
        self.http = http
    }

    /// The v2 reads, in the order the gateway makes them.
    static let reads: [(folder: String, connect: String)] = [
        ("UserService/GetUserByID", "/zitadel.user.v2.UserService/GetUserByID"),
        ("UserService/ListAuthenticationMethodTypes", "/zitadel.user.v2.UserService/ListAuthenticationMethodTypes"),
        ("UserService/ListAuthenticationFactors", "/zitadel.user.v2.UserService/ListAuthenticationFactors"),
        ("UserService/ListPasskeys", "/zitadel.user.v2.UserService/ListPasskeys"),
        ("UserService/ListUserMetadata", "/zitadel.user.v2.UserService/ListUserMetadata"),
        ("SessionService/ListSessions", "/zitadel.session.v2.SessionService/ListSessions"),
    ]

    public func run() async -> ContractReport {
        var reports: [CallReport] = []
        let discovery = await fetchJSON("OIDC/Discovery", method: "GET", url: target.issuer + "/.well-known/openid-configuration")
        reports.append(discovery.report)
        if let document = discovery.body, document["issuer"]?.stringValue != target.issuer {
            reports[reports.count - 1].outcome = .breaks
            reports[reports.count - 1].notes.insert("discovery names issuer \(document["issuer"]?.rendered ?? "none")", at: 0)
        }
        let jwksURL = discovery.body?["jwks_uri"]?.stringValue ?? target.issuer + "/oauth/v2/keys"
        reports.append(await fetchJSON("OIDC/Keys", method: "GET", url: jwksURL).report)

        let bearer: String?
        switch target.credential {
        case .pat(let token):
            bearer = token
            reports.append(CallReport("OIDC/Token", .skipped, ["a personal access token needs no token exchange"]))
        case .jwtProfile(let key):
            let (report, token) = await exchangeJWTProfile(key, tokenURL: discovery.body?["token_endpoint"]?.stringValue)
            reports.append(report)
            bearer = token
        }
        guard let bearer else {
            reports.append(CallReport("v2 services", .failed, ["no access token: the remaining calls cannot run"]))
            return ContractReport(calls: reports)
        }
        reports.append(await introspect(bearer, url: discovery.body?["introspection_endpoint"]?.stringValue))

        let userId: String
        switch (target.userId, target.credential) {
        case (let id?, _): userId = id
        case (nil, .jwtProfile(let key)): userId = key.userId
        case (nil, .pat):
            reports.append(CallReport("v2 services", .failed, ["--user is required with a personal access token"]))
            return ContractReport(calls: reports)
        }
        var sessionId: String?
        var machineUser = false
        for read in Self.reads {
            if machineUser, read.folder.hasPrefix("UserService/") {
                reports.append(CallReport(read.folder, .skipped, ["\(userId) is a machine user: give --user with a human user's id"]))
                continue
            }
            var request: ContractJSON = .object(["userId": .string(userId)])
            if read.folder == "SessionService/ListSessions" {
                // As `ZitadelClient.listSessions` asks: newest first, one page.
                request = .object([
                    "queries": .array([.object(["userIdQuery": .object(["id": .string(userId)])])]),
                    "sortingColumn": .string("SESSION_FIELD_NAME_CREATION_DATE"),
                    "query": .object(["limit": .number(20), "asc": .bool(false)]),
                ])
            }
            let (report, body) = await rpc(read.folder, path: read.connect, request: request, bearer: bearer)
            reports.append(report)
            if read.folder == "UserService/GetUserByID" { machineUser = body?["user"]?["machine"] != nil }
            if read.folder == "SessionService/ListSessions" {
                sessionId = body?["sessions"]?.arrayValue?.first?["id"]?.stringValue
            }
        }
        if let sessionId {
            let request: ContractJSON = .object(["sessionId": .string(sessionId)])
            reports.append(
                await rpc(
                    "SessionService/GetSession", path: "/zitadel.session.v2.SessionService/GetSession", request: request, bearer: bearer
                ).0)
        } else {
            reports.append(CallReport("SessionService/GetSession", .skipped, ["the user has no session to read"]))
        }
        reports.append(await errorForm(bearer: bearer))
        return ContractReport(calls: reports)
    }

    // MARK: Calls

    private func rpc(_ folder: String, path: String, request: ContractJSON, bearer: String) async -> (CallReport, ContractJSON?) {
        let answer: (status: Int, body: [UInt8])
        do {
            answer = try await send(
                "POST", target.issuer + path, body: Array(request.rendered.utf8), contentType: "application/json", bearer: bearer)
        } catch {
            return (CallReport(folder, .failed, ["\(error)"]), nil)
        }
        guard (200..<300).contains(answer.status) else {
            let error = ZitadelAPIError.decode(status: answer.status, body: answer.body)
            return (CallReport(folder, .failed, ["answered \(answer.status) \(error.code.rawValue) \(error.id ?? "")"]), nil)
        }
        guard let body = ContractJSON.parse(answer.body) else {
            return (CallReport(folder, .breaks, ["the body is not JSON"]), nil)
        }
        let failure = await decodeFailure(folder, body)
        return (CallReport(folder, differences: compare(folder, body), decodeFailure: failure), body)
    }

    /// An error answer in the Connect form: GetUserByID of a user that does not exist.
    private func errorForm(bearer: String) async -> CallReport {
        let name = "errors/connect (GetUserByID of an unknown user)"
        let request: ContractJSON = .object(["userId": .string("contract-check-no-such-user")])
        do {
            let answer = try await send(
                "POST", target.issuer + "/zitadel.user.v2.UserService/GetUserByID", body: Array(request.rendered.utf8),
                contentType: "application/json", bearer: bearer)
            guard !(200..<300).contains(answer.status), let body = ContractJSON.parse(answer.body) else {
                return CallReport(name, .breaks, ["answered \(answer.status) without a Connect error body"])
            }
            let typed = ClientDecoding.apiError(status: answer.status, body: body)
            let decodeFailure = typed.code == "unknown" ? "the client reads no status code from it" : nil
            return CallReport(name, differences: compare("errors/connect", body), decodeFailure: decodeFailure)
        } catch {
            return CallReport(name, .failed, ["\(error)"])
        }
    }

    private func exchangeJWTProfile(_ key: ServiceAccountKey, tokenURL: String?) async -> (CallReport, String?) {
        do {
            let signer = try ClientAssertionSigner(clientId: key.userId, keyId: key.keyId, privateKeyPEM: key.key)
            let assertion = try await signer.assertion(audience: target.issuer)
            let form = [
                ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"), ("assertion", assertion),
                ("scope", "openid urn:zitadel:iam:org:project:id:zitadel:aud"),
            ]
            let result = await fetchJSON(
                "OIDC/Token", method: "POST", url: tokenURL ?? target.issuer + "/oauth/v2/token", form: form)
            return (result.report, result.body?["access_token"]?.stringValue)
        } catch {
            return (CallReport("OIDC/Token", .failed, ["cannot sign the JWT-profile assertion"]), nil)
        }
    }

    private func introspect(_ token: String, url: String?) async -> CallReport {
        guard let key = target.applicationKey else {
            return CallReport("OIDC/Introspect", .skipped, ["no API application key given (--app-key)"])
        }
        do {
            let signer = try ClientAssertionSigner(clientId: key.clientId, keyId: key.keyId, privateKeyPEM: key.key)
            let form = [
                ("token", token), ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
                ("client_assertion", try await signer.assertion(audience: target.issuer)),
            ]
            return await fetchJSON("OIDC/Introspect", method: "POST", url: url ?? target.issuer + "/oauth/v2/introspect", form: form)
                .report
        } catch {
            return CallReport("OIDC/Introspect", .failed, ["cannot sign the client assertion"])
        }
    }

    /// An OIDC endpoint: 200 with JSON compared with the folder's shape.
    private func fetchJSON(
        _ folder: String, method: String, url: String, form: [(String, String)]? = nil
    ) async -> (report: CallReport, body: ContractJSON?) {
        do {
            let encoded = form.map { pairs in
                pairs.map { "\(Self.formEscape($0.0))=\(Self.formEscape($0.1))" }.joined(separator: "&")
            }
            let answer = try await send(
                method, url, body: encoded.map { Array($0.utf8) }, contentType: "application/x-www-form-urlencoded", bearer: nil)
            guard answer.status == 200 else {
                let error = ContractJSON.parse(answer.body)?["error"]?.stringValue ?? "no OAuth error"
                return (CallReport(folder, .failed, ["answered \(answer.status) (\(error))"]), nil)
            }
            guard let body = ContractJSON.parse(answer.body) else { return (CallReport(folder, .breaks, ["the body is not JSON"]), nil) }
            var report = CallReport(folder, differences: compare(folder, body), decodeFailure: await decodeFailure(folder, body))
            // Keys the validator cannot use: tokens signed with them would be refused.
            if folder == "OIDC/Keys", let skipped = try? await ProviderDocuments.keySet(answer.body).skipped, !skipped.isEmpty {
                report.notes += skipped.map { "key the gateway cannot use: \($0)" }
                if report.outcome == .ok { report.outcome = .warn }
            }
            return (report, body)
        } catch {
            return (CallReport(folder, .failed, ["\(error)"]), nil)
        }
    }

    /// Whether the gateway's own reader of this call (its fixtures name it) still accepts the body.
    private func decodeFailure(_ folder: String, _ body: ContractJSON) async -> String? {
        guard let type = catalog.fixtures(in: folder).compactMap(\.expect?.type).first else { return nil }
        do { _ = try await ClientDecoding.decode(type, body: body) } catch {
            return "the gateway's \(type) reader no longer accepts it"
        }
        return nil
    }

    private func compare(_ key: String, _ body: ContractJSON) -> [ShapeDifference] {
        guard let shape = catalog.shapes[key] else { return [ShapeDifference(.newField, "", "no fixture shape for \(key)")] }
        return shape.compare(body)
    }

    private func send(
        _ method: String, _ url: String, body: [UInt8]?, contentType: String, bearer: String?
    ) async throws -> (status: Int, body: [UInt8]) {
        var request = HTTPClientRequest(url: url)
        request.method = .init(rawValue: method)
        request.headers.add(name: "Accept", value: "application/json")
        if let body {
            request.headers.add(name: "Content-Type", value: contentType)
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        if let bearer { request.headers.add(name: "Authorization", value: "Bearer \(bearer)") }
        let seconds = target.timeout.components.seconds
        let response = try await http.execute(request, timeout: .seconds(max(1, seconds)))
        let collected = try await response.body.collect(upTo: 4 << 20)
        return (Int(response.status.code), Array(buffer: collected))
    }

    private static let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")

    static func formEscape(_ value: String) -> String {
        value.addingPercentEncoding(withAllowedCharacters: unreserved) ?? ""
    }
}
