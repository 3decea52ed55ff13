import Foundation

/// One recorded provider answer: which Zitadel it follows, the call, the request, the response, and what the
/// gateway's client must make of it. Files live under `Mocks/zitadel/<Service>/<Call>/<variant>.json`.
public struct ProviderFixture: Sendable, Decodable {
    /// `faithful`: what Zitadel really answers (the fixtures the shapes are learned from); `tolerance`: a
    /// deliberate departure (unknown enum values, extra fields) the client must survive.
    public enum Kind: String, Sendable, Decodable {
        case faithful, tolerance
    }

    /// Where the call goes: a v2 RPC in its two wire forms, or a plain HTTP endpoint (OIDC).
    public struct Call: Sendable, Decodable {
        public struct Route: Sendable, Decodable {
            public var method: String
            public var path: String
            /// REST only: whether the request fields travel as the JSON body (`body: "*"` in the proto mapping).
            public var body: Bool?
        }

        /// `/zitadel.user.v2.UserService/GetUserByID`.
        public var connect: String?
        /// gRPC-gateway route, e.g. `GET /v2/users/{userId}`.
        public var rest: Route?
        /// OIDC / OAuth endpoint; requests are form-encoded.
        public var http: Route?
    }

    public struct Response: Sendable, Decodable {
        public var status: Int
        /// Error bodies: `connect`, `rest` (gRPC-gateway) or `oauth`.
        public var wire: String?
        /// `null` for an empty body.
        public var body: ContractJSON
    }

    /// What the client makes of the response: a value of a typed model, or a typed error.
    public struct Expectation: Sendable, Decodable {
        public struct APIError: Sendable, Decodable, Equatable {
            public var code: String
            public var id: String?
            public var httpStatus: Int
        }

        /// The model type, e.g. `GetUserByIDResponse`; the value is what it holds (see ``ContractJSON/init(reflecting:)``).
        public var type: String?
        public var value: ContractJSON?
        public var error: APIError?
        /// Why no client model reads this response yet (the call arrives with another issue).
        public var pending: String?
        /// Why the client's model must refuse this body (a tolerance fixture the client deliberately does not survive).
        public var rejected: String?
    }

    /// How the mock is asked the same question.
    public struct MockCheck: Sendable, Decodable {
        public struct Step: Sendable, Decodable {
            /// A v2 RPC (Connect path) or an admin path (`/mock/admin/...`).
            public var call: String
            /// Admin paths only; default POST.
            public var method: String?
            public var request: ContractJSON?
            /// Placeholder name → member of the step's response to remember (`{{name}}` in later requests).
            public var capture: [String: String]?
        }

        /// Why the mock cannot be asked (a fault only a real instance has); the fixture is then not compared.
        public var skip: String?
        /// The request for the mock when the fixture's own ids are not seeded.
        public var request: ContractJSON?
        /// Calls to make first (after a reset of the mock).
        public var setup: [Step]?
        /// Wire forms to ask in (default: every form the fixture's call has, or the error's own form).
        public var wires: [String]?
        /// HTTP Basic credentials (`id:secret`) for OIDC calls.
        public var basic: String?
        /// The bearer for v2 calls instead of the seeded service PAT.
        public var bearer: String?
    }

    /// Relative path under the fixtures root, set when loaded.
    public var file = ""
    /// The Zitadel release whose API definitions the shape follows.
    public var zitadel: String
    public var kind: Kind
    public var description: String?
    public var call: Call
    public var request: ContractJSON?
    public var response: Response
    public var expect: Expectation?
    public var mock: MockCheck?

    enum CodingKeys: String, CodingKey {
        case zitadel, kind, description, call, request, response, expect, mock
    }

    /// The folder the fixture belongs to, e.g. `UserService/GetUserByID`.
    public var folder: String {
        file.split(separator: "/").dropLast().joined(separator: "/")
    }

    public var isError: Bool { !(200..<300).contains(response.status) }

    /// The shape the response is compared with: the call's own, or the error form's.
    public var shapeKey: String {
        isError ? "errors/\(response.wire ?? "unknown")" : folder
    }
}

/// Every fixture under a root, the enum vocabularies and the shapes learned from the faithful fixtures.
public struct FixtureCatalog: Sendable {
    public var root: URL
    public var fixtures: [ProviderFixture]
    public var vocabularies: [String: [String]]
    public var annotations: [String: ShapeAnnotations]
    public var shapes: [String: ResponseShape]

    public enum LoadError: Error, CustomStringConvertible {
        case unreadable(String, String)
        public var description: String {
            switch self {
            case .unreadable(let file, let reason): "fixture \(file): \(reason)"
            }
        }
    }

    /// Loads `root` (normally `Mocks/zitadel`).
    public init(root: URL) throws {
        self.root = root
        let decoder = JSONDecoder()
        let vocabularyFile = root.appendingPathComponent("enums.json")
        struct Vocabulary: Decodable { var values: [String] }
        do {
            vocabularies = try decoder.decode([String: Vocabulary].self, from: Data(contentsOf: vocabularyFile)).mapValues(\.values)
        } catch {
            throw LoadError.unreadable("enums.json", "\(error)")
        }
        var fixtures: [ProviderFixture] = []
        var annotations: [String: ShapeAnnotations] = [:]
        let files = (FileManager.default.enumerator(atPath: root.path)?.compactMap { $0 as? String } ?? [])
            .filter { $0.hasSuffix(".json") && $0.contains("/") }.sorted()
        for file in files {
            let url = root.appendingPathComponent(file)
            let name = url.lastPathComponent
            do {
                let data = try Data(contentsOf: url)
                if name == "contract.json" {
                    annotations[file.split(separator: "/").dropLast().joined(separator: "/")] =
                        try decoder.decode(ShapeAnnotations.self, from: data)
                } else if name.hasPrefix("contract.") {
                    // `errors/contract.connect.json` annotates the `errors/connect` shape.
                    let wire = name.dropFirst("contract.".count).dropLast(".json".count)
                    annotations["errors/\(wire)"] = try decoder.decode(ShapeAnnotations.self, from: data)
                } else {
                    var fixture = try decoder.decode(ProviderFixture.self, from: data)
                    fixture.file = file
                    fixtures.append(fixture)
                }
            } catch {
                throw LoadError.unreadable(file, "\(error)")
            }
        }
        self.fixtures = fixtures
        self.annotations = annotations
        var samples: [String: [ContractJSON]] = [:]
        for fixture in fixtures where fixture.kind == .faithful && fixture.response.body != .null {
            samples[fixture.shapeKey, default: []].append(fixture.response.body)
        }
        var shapes: [String: ResponseShape] = [:]
        for (key, bodies) in samples {
            shapes[key] = ResponseShape(
                samples: bodies, annotations: annotations[key] ?? ShapeAnnotations(), vocabularies: vocabularies)
        }
        self.shapes = shapes
    }

    /// `Mocks/zitadel` found from the working directory or from a source file's location.
    public static func defaultRoot(near sourceFile: String? = nil) -> URL {
        let relative = "Mocks/zitadel"
        if let sourceFile {
            var url = URL(fileURLWithPath: sourceFile).deletingLastPathComponent()
            for _ in 0..<6 {
                let candidate = url.appendingPathComponent(relative)
                if FileManager.default.fileExists(atPath: candidate.appendingPathComponent("enums.json").path) { return candidate }
                url.deleteLastPathComponent()
            }
        }
        return URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent(relative)
    }

    public func fixtures(in folder: String) -> [ProviderFixture] {
        fixtures.filter { $0.folder == folder }
    }

    public func fixture(_ file: String) -> ProviderFixture? {
        fixtures.first { $0.file == file }
    }
}
