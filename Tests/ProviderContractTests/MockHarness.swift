import AsyncHTTPClient
import Foundation
import MockZitadel
import NIOCore
import ProviderContract
import Testing

/// The fixtures of this checkout.
enum Catalog {
    static let root = FixtureCatalog.defaultRoot(near: #filePath)
    static func load() throws -> FixtureCatalog { try FixtureCatalog(root: root) }
    static let pat = "mock-pat-aidial-gateway-300000000000000301"
}

/// Asks the running mock the questions the fixtures record, in each wire form.
struct MockHarness {
    let baseURL: String

    struct Answer {
        var wire: String
        var status: Int
        var body: ContractJSON
    }

    enum HarnessError: Error, CustomStringConvertible {
        case failed(String)
        var description: String {
            switch self {
            case .failed(let reason): reason
            }
        }
    }

    /// Resets the mock, runs the fixture's set-up, then asks in every wire form it names.
    func answers(for fixture: ProviderFixture) async throws -> [Answer] {
        var answers: [Answer] = []
        for wire in wires(for: fixture) {
            try await post("/mock/admin/reset", body: "{}")
            var captured: [String: String] = [:]
            for step in fixture.mock?.setup ?? [] {
                let request = (step.request ?? .object([:])).substituting(captured)
                let (status, body) =
                    step.call.hasPrefix("/mock/admin")
                    ? try await send(step.method ?? "POST", step.call, body: request.rendered, contentType: "application/json")
                    : try await send("POST", step.call, body: request.rendered, contentType: "application/json", bearer: Catalog.pat)
                guard (200..<300).contains(status) else {
                    throw HarnessError.failed("\(fixture.file): set-up \(step.call) answered \(status)")
                }
                for (name, member) in step.capture ?? [:] {
                    guard let value = ContractJSON.parse(body)?[member]?.stringValue else {
                        throw HarnessError.failed("\(fixture.file): set-up \(step.call) has no \(member)")
                    }
                    captured[name] = value
                }
            }
            let request = (fixture.mock?.request ?? fixture.request ?? .object([:])).substituting(captured)
            answers.append(try await ask(fixture, wire: wire, request: request))
        }
        return answers
    }

    func wires(for fixture: ProviderFixture) -> [String] {
        if let wires = fixture.mock?.wires { return wires }
        if fixture.call.http != nil { return ["http"] }
        if let wire = fixture.response.wire { return [wire] }
        return (fixture.call.connect != nil ? ["connect"] : []) + (fixture.call.rest != nil ? ["rest"] : [])
    }

    private func ask(_ fixture: ProviderFixture, wire: String, request: ContractJSON) async throws -> Answer {
        let bearer = fixture.mock?.bearer ?? Catalog.pat
        let (status, bytes): (Int, [UInt8])
        switch wire {
        case "connect":
            guard let path = fixture.call.connect else { throw HarnessError.failed("\(fixture.file): no Connect path") }
            (status, bytes) = try await send("POST", path, body: request.rendered, contentType: "application/json", bearer: bearer)
        case "rest":
            guard let route = fixture.call.rest else { throw HarnessError.failed("\(fixture.file): no REST route") }
            var fields = request.objectValue ?? [:]
            var path = route.path
            for (name, value) in fields where path.contains("{\(name)}") {
                path = path.replacingOccurrences(of: "{\(name)}", with: value.stringValue ?? "")
                fields[name] = nil
            }
            let carriesBody = route.body != false && route.method != "GET" && route.method != "DELETE"
            var body: String?
            if carriesBody {
                body = ContractJSON.object(fields).rendered
            } else if !fields.isEmpty {
                let query = fields.compactMap { key, value in value.stringValue.map { "\(key)=\($0)" } }.sorted().joined(separator: "&")
                if !query.isEmpty { path += "?" + query }
            }
            (status, bytes) = try await send(route.method, path, body: body, contentType: "application/json", bearer: bearer)
        default:
            guard let route = fixture.call.http else { throw HarnessError.failed("\(fixture.file): no HTTP route") }
            let form = (request.objectValue ?? [:]).sorted { $0.key < $1.key }.compactMap { key, value in
                value.stringValue.map { "\(key)=\($0.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")" }
            }.joined(separator: "&")
            (status, bytes) = try await send(
                route.method, route.path, body: route.method == "GET" ? nil : form, contentType: "application/x-www-form-urlencoded",
                basic: fixture.mock?.basic)
        }
        let body = bytes.isEmpty ? ContractJSON.null : ContractJSON.parse(bytes)
        guard let body else {
            throw HarnessError.failed("\(fixture.file) [\(wire)]: the mock answered \(status) with a body that is not JSON")
        }
        return Answer(wire: wire, status: status, body: body)
    }

    func post(_ path: String, body: String) async throws {
        let (status, _) = try await send("POST", path, body: body, contentType: "application/json")
        guard (200..<300).contains(status) else { throw HarnessError.failed("\(path) answered \(status)") }
    }

    func send(
        _ method: String, _ path: String, body: String?, contentType: String, bearer: String? = nil, basic: String? = nil
    ) async throws -> (Int, [UInt8]) {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = .init(rawValue: method)
        if let body {
            request.headers.add(name: "Content-Type", value: contentType)
            request.body = .bytes(ByteBuffer(string: body))
        }
        if let bearer { request.headers.add(name: "Authorization", value: "Bearer \(bearer)") }
        if let basic {
            let parts = basic.split(separator: ":", maxSplits: 1).map(String.init)
            let encode = { (value: String) in value.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "" }
            let credential = Data("\(encode(parts[0])):\(encode(parts.count > 1 ? parts[1] : ""))".utf8).base64EncodedString()
            request.headers.add(name: "Authorization", value: "Basic \(credential)")
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        let collected = try await response.body.collect(upTo: 4 << 20)
        return (Int(response.status.code), Array(buffer: collected))
    }
}
