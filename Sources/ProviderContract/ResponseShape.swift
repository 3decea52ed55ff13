import Foundation

/// What a call's fixtures say about its responses beyond what the JSON shows, taken from Zitadel's proto
/// (`contract.json` next to the fixtures).
public struct ShapeAnnotations: Sendable, Decodable {
    /// Paths of 64-bit integers, which protojson writes as strings of digits.
    public var int64: [String] = []
    /// Path → name of an enum vocabulary in `enums.json`.
    public var enums: [String: String] = [:]
    /// Paths of `map<string, …>` fields: their keys are data, only their values have a shape.
    public var maps: [String] = []
    /// Canonical key → regular expression, for member names that embed ids (`urn:zitadel:iam:org:project:{id}:roles`).
    public var keyPatterns: [String: String] = [:]
    /// Fields present in every recorded fixture that Zitadel may still leave out (zero values, configuration).
    public var optional: [String] = []
    /// Path → why the mock never returns this field; any other field of the fixtures the mock must return.
    public var mockOmits: [String: String] = [:]
    /// Path → why the mock returns a field Zitadel does not (a known, documented divergence).
    public var mockExtras: [String: String] = [:]

    public init() {}

    enum CodingKeys: String, CodingKey {
        case int64, enums, maps, keyPatterns, optional, mockOmits, mockExtras
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        int64 = try container.decodeIfPresent([String].self, forKey: .int64) ?? []
        enums = try container.decodeIfPresent([String: String].self, forKey: .enums) ?? [:]
        maps = try container.decodeIfPresent([String].self, forKey: .maps) ?? []
        keyPatterns = try container.decodeIfPresent([String: String].self, forKey: .keyPatterns) ?? [:]
        optional = try container.decodeIfPresent([String].self, forKey: .optional) ?? []
        mockOmits = try container.decodeIfPresent([String: String].self, forKey: .mockOmits) ?? [:]
        mockExtras = try container.decodeIfPresent([String: String].self, forKey: .mockExtras) ?? [:]
    }
}

/// The shape of one call's responses: every field path the faithful fixtures hold, its JSON kinds, whether it
/// is always there, and (from the proto) whether it is an int64 or an enum and which values the enum has.
///
/// Paths join member names with `.`; `[]` stands for array elements and `{}` for the values of a map
/// (`result[].state`, `session.metadata{}`); the root is the empty path.
public struct ResponseShape: Sendable {
    public struct Field: Sendable, Equatable {
        public var kinds: Set<ContractJSON.Kind>
        /// Present whenever its parent object is.
        public var required: Bool
        public var int64: Bool
        public var vocabulary: Set<String>?
        public var parent: String?
    }

    public var fields: [String: Field]
    let maps: Set<String>
    let keyPatterns: [(name: String, pattern: String)]

    /// Learns the shape from sample bodies (the faithful fixtures of one call).
    public init(samples: [ContractJSON], annotations: ShapeAnnotations, vocabularies: [String: [String]]) {
        maps = Set(annotations.maps)
        keyPatterns = annotations.keyPatterns.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        var walk = ShapeWalk(maps: maps, keyPatterns: keyPatterns)
        for sample in samples { walk.visit(sample, path: "", parent: nil) }
        var fields: [String: Field] = [:]
        for (path, seen) in walk.seen {
            let parentCount = seen.parent.map { walk.objectCount[$0] ?? 0 } ?? samples.count
            fields[path] = Field(
                kinds: seen.kinds,
                required: seen.count >= parentCount && !annotations.optional.contains(path),
                int64: annotations.int64.contains(path),
                vocabulary: annotations.enums[path].flatMap { vocabularies[$0] }.map(Set.init),
                parent: seen.parent)
        }
        self.fields = fields
    }

    /// Compares a response with this shape.
    public func compare(_ body: ContractJSON) -> [ShapeDifference] {
        var differences: [ShapeDifference] = []
        check(body, path: "", into: &differences)
        var unique: [ShapeDifference] = []
        for difference in differences where !unique.contains(difference) { unique.append(difference) }
        return unique
    }

    private func check(_ value: ContractJSON, path: String, into differences: inout [ShapeDifference]) {
        guard let field = fields[path] else { return }
        guard field.kinds.contains(value.kind) else {
            let expected = field.kinds.sorted().map(\.rawValue).joined(separator: "|")
            differences.append(.init(.typeChanged, path, "\(expected) became \(value.kind.rawValue)"))
            return
        }
        switch value {
        case .string(let text):
            if field.int64, text.isEmpty || !text.allSatisfy(\.isASCIIDigit) {
                differences.append(.init(.typeChanged, path, "int64 string expected, got \(value.rendered)"))
            }
            if let vocabulary = field.vocabulary, !vocabulary.contains(text) {
                differences.append(.init(.newEnumValue, path, text))
            }
        case .number where field.int64:
            differences.append(.init(.typeChanged, path, "int64 as a number, protojson writes a string"))
        case .array(let elements):
            for element in elements { check(element, path: ShapeWalk.join(path, "[]"), into: &differences) }
        case .object(let members):
            if maps.contains(path) {
                for member in members.values { check(member, path: ShapeWalk.join(path, "{}"), into: &differences) }
                return
            }
            var present = Set<String>()
            for (key, member) in members {
                let childPath = ShapeWalk.join(path, ShapeWalk.canonical(key, keyPatterns))
                present.insert(childPath)
                if fields[childPath] == nil {
                    differences.append(.init(.newField, childPath, member.kind.rawValue))
                } else {
                    check(member, path: childPath, into: &differences)
                }
            }
            for (childPath, child) in fields where child.parent == path && child.required && !present.contains(childPath) {
                differences.append(.init(.missingField, childPath, ""))
            }
        default: break
        }
    }

    /// Every field path, for coverage checks.
    public var paths: Set<String> { Set(fields.keys.filter { !$0.isEmpty }) }
}

/// One way a response departs from the fixtures' shape.
public struct ShapeDifference: Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        /// A field no fixture has: clients must tolerate it (warning).
        case newField = "new field"
        /// A field every fixture has is absent (break).
        case missingField = "missing field"
        /// Another JSON kind, or an int64 no longer written as a string (break).
        case typeChanged = "type change"
        /// An enum value outside the proto's vocabulary: the client keeps enums as strings (warning).
        case newEnumValue = "new enum value"
    }

    public var kind: Kind
    public var path: String
    public var detail: String

    public init(_ kind: Kind, _ path: String, _ detail: String) {
        self.kind = kind
        self.path = path
        self.detail = detail
    }

    /// Whether the gateway's client can no longer rely on the response.
    public var isBreak: Bool { kind == .missingField || kind == .typeChanged }

    public var description: String {
        let shown = path.isEmpty ? "(body)" : path
        return detail.isEmpty ? "\(kind.rawValue) \(shown)" : "\(kind.rawValue) \(shown) (\(detail))"
    }
}

/// Collects what sample bodies hold, path by path.
struct ShapeWalk {
    struct Seen {
        var kinds: Set<ContractJSON.Kind> = []
        var count = 0
        var parent: String?
    }

    let maps: Set<String>
    let keyPatterns: [(name: String, pattern: String)]
    var seen: [String: Seen] = [:]
    var objectCount: [String: Int] = [:]

    init(maps: Set<String>, keyPatterns: [(name: String, pattern: String)]) {
        self.maps = maps
        self.keyPatterns = keyPatterns
    }

    mutating func visit(_ value: ContractJSON, path: String, parent: String?) {
        seen[path, default: Seen(parent: parent)].kinds.insert(value.kind)
        seen[path]?.count += 1
        switch value {
        case .array(let elements):
            for element in elements { visit(element, path: Self.join(path, "[]"), parent: nil) }
        case .object(let members):
            objectCount[path, default: 0] += 1
            if maps.contains(path) {
                for member in members.values { visit(member, path: Self.join(path, "{}"), parent: nil) }
                return
            }
            for (key, member) in members {
                visit(member, path: Self.join(path, Self.canonical(key, keyPatterns)), parent: path)
            }
        default: break
        }
    }

    static func join(_ path: String, _ component: String) -> String {
        if component == "[]" || component == "{}" { return path + component }
        return path.isEmpty ? component : path + "." + component
    }

    /// A member name, or the canonical name of the first key pattern it matches.
    static func canonical(_ key: String, _ patterns: [(name: String, pattern: String)]) -> String {
        for (name, pattern) in patterns where key.range(of: pattern, options: .regularExpression) != nil {
            return name
        }
        return key
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { isASCII && isNumber }
}
