import Foundation
import GatewayCore
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

@testable import GatewayApp

/// `openapi.yaml` (served at `/openapi.yaml`, fuzzed by schemathesis) kept in step with the server: schemathesis
/// only exercises what the spec declares, so these catch a route or problem code the spec forgot.
@Suite struct OpenAPISpecTests {
    static let spec = String(buffer: OpsController.loadOpenAPI())

    /// Every path of the spec with the methods it declares, read from the `paths:` section's indentation.
    static let operations: [String: Set<String>] = {
        var result: [String: Set<String>] = [:]
        var inPaths = false
        var current: String?
        for line in spec.split(separator: "\n", omittingEmptySubsequences: false) {
            if line == "paths:" {
                inPaths = true
                continue
            }
            guard inPaths else { continue }
            if let first = line.first, !first.isWhitespace { break }
            if line.hasPrefix("  /"), line.hasSuffix(":") {
                current = String(line.dropFirst(2).dropLast())
                result[current ?? ""] = []
            } else if let path = current, line.hasPrefix("    "), !line.hasPrefix("     "), line.hasSuffix(":") {
                let key = line.trimmingCharacters(in: .whitespaces).dropLast()
                if ["get", "post", "put", "patch", "delete"].contains(key) { result[path, default: []].insert(key.uppercased()) }
            }
        }
        return result
    }()

    /// The values of the `ProblemCode` schema's enum.
    static let problemCodes: Set<String> = {
        guard let schema = spec.range(of: "\n    ProblemCode:\n"), let list = spec[schema.upperBound...].range(of: "      enum:\n")
        else { return [] }
        var codes: Set<String> = []
        for line in spec[list.upperBound...].split(separator: "\n") {
            guard line.hasPrefix("        - ") else { break }
            codes.insert(String(line.dropFirst(10)))
        }
        return codes
    }()

    static func template(_ template: String, matches path: String) -> Bool {
        let parts = template.split(separator: "/")
        let segments = path.split(separator: "/")
        return parts.count == segments.count && zip(parts, segments).allSatisfy { $0.hasPrefix("{") || $0 == $1 }
    }

    @Test func everyProblemCodeIsInTheSpec() {
        #expect(Set(ProblemCode.allCases.map(\.rawValue)) == Self.problemCodes)
    }

    @Test func everySpecPathServesExactlyTheMethodsItDeclares() async throws {
        #expect(Self.operations.count >= 16, "\(Self.operations.keys.sorted())")
        try await Harness.withGateway { client, _ in
            for (path, methods) in Self.operations {
                #expect(!methods.isEmpty, "\(path)")
                // A method no route serves: 405 with the path's own methods in Allow (404 if the path is unknown).
                let uri = path.replacingOccurrences(of: "{id}", with: "sme_0").replacingOccurrences(of: "{orgId}", with: "1")
                    .replacingOccurrences(of: "{userId}", with: "2")
                let answer = try await client.execute(uri: uri, method: HTTPRequest.Method("TRACE")!)
                #expect(answer.status == .methodNotAllowed, "\(path) is in the spec but not served")
                let allowed = Set((answer.headers[.allow] ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
                // Templates overlap (`/v1/sessions/revoke-all` is also `/v1/sessions/{id}`): every declared template
                // that matches the URI contributes its methods.
                let declared = Self.operations.filter { Self.template($0.key, matches: uri) }.values.reduce(into: Set()) {
                    $0.formUnion($1)
                }
                #expect(allowed.subtracting(["HEAD"]) == declared, "\(path): served \(allowed), declared \(declared)")
            }
        }
    }
}
