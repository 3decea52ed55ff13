import Foundation

/// A JSON document as the contract suite sees it: only the kinds JSON itself distinguishes.
public enum ContractJSON: Sendable, Equatable, Decodable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([ContractJSON])
    case object([String: ContractJSON])

    /// The kinds a shape records for a field.
    public enum Kind: String, Sendable, Comparable, CaseIterable {
        case null, bool, number, string, array, object

        public static func < (lhs: Kind, rhs: Kind) -> Bool { lhs.rawValue < rhs.rawValue }
    }

    public var kind: Kind {
        switch self {
        case .null: .null
        case .bool: .bool
        case .number: .number
        case .string: .string
        case .array: .array
        case .object: .object
        }
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([ContractJSON].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: ContractJSON].self))
        }
    }

    /// Parses a document; `nil` when the bytes are not JSON.
    public static func parse(_ bytes: some Sequence<UInt8>) -> ContractJSON? {
        try? JSONDecoder().decode(ContractJSON.self, from: Data(bytes))
    }

    public subscript(key: String) -> ContractJSON? {
        if case .object(let members) = self { return members[key] }
        return nil
    }

    public var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    public var objectValue: [String: ContractJSON]? {
        if case .object(let members) = self { return members }
        return nil
    }

    public var arrayValue: [ContractJSON]? {
        if case .array(let elements) = self { return elements }
        return nil
    }

    /// Compact JSON with sorted keys, for messages and re-sending fixture bodies.
    public var rendered: String {
        switch self {
        case .null: return "null"
        case .bool(let value): return value ? "true" : "false"
        case .number(let value):
            return value.rounded() == value && abs(value) < 1e15 ? String(Int64(value)) : String(value)
        case .string(let value):
            let data = (try? JSONEncoder().encode(value)) ?? Data("\"\"".utf8)
            return String(decoding: data, as: UTF8.self)
        case .array(let elements): return "[" + elements.map(\.rendered).joined(separator: ",") + "]"
        case .object(let members):
            let body = members.sorted { $0.key < $1.key }.map { ContractJSON.string($0.key).rendered + ":" + $0.value.rendered }
            return "{" + body.joined(separator: ",") + "}"
        }
    }

    /// Replaces `{{name}}` placeholders in strings (values captured from earlier calls).
    public func substituting(_ values: [String: String]) -> ContractJSON {
        switch self {
        case .string(var text):
            for (name, value) in values { text = text.replacingOccurrences(of: "{{\(name)}}", with: value) }
            return .string(text)
        case .array(let elements): return .array(elements.map { $0.substituting(values) })
        case .object(let members): return .object(members.mapValues { $0.substituting(values) })
        default: return self
        }
    }

    /// What a decoded model holds, read by reflection: stored properties by name, `nil` optionals and empty
    /// messages left out. Lets a fixture state the value the client must decode without the models being Encodable.
    public init(reflecting value: Any) {
        let mirror = Mirror(reflecting: value)
        if mirror.displayStyle == .optional {
            self = mirror.children.first.map { ContractJSON(reflecting: $0.value) } ?? .null
            return
        }
        switch value {
        case let value as String: self = .string(value)
        case let value as Bool: self = .bool(value)
        case let value as Int: self = .number(Double(value))
        case let value as Int64: self = .number(Double(value))
        case let value as Double: self = .number(value)
        default:
            switch mirror.displayStyle {
            case .collection?, .set?:
                self = .array(mirror.children.map { ContractJSON(reflecting: $0.value) })
            case .enum?:
                self = .string(String(describing: value))
            case .dictionary?:
                var members: [String: ContractJSON] = [:]
                for entry in mirror.children {
                    let pair = Mirror(reflecting: entry.value).children.map(\.value)
                    guard pair.count == 2 else { continue }
                    members[String(describing: pair[0])] = ContractJSON(reflecting: pair[1])
                }
                self = .object(members)
            default:
                var members: [String: ContractJSON] = [:]
                for child in mirror.children {
                    guard let label = child.label else { continue }
                    let member = ContractJSON(reflecting: child.value)
                    if member != .null { members[label] = member }
                }
                self = .object(members)
            }
        }
    }
}
