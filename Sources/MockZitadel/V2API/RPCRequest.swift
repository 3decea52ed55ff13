import Foundation

/// A decoded v2 request: the protojson body merged with the REST path and query parameters.
struct RPCRequest: Sendable {
    /// The request message name, e.g. `SetPhoneRequest`, for validation messages.
    let message: String
    var fields: [String: JSONValue]

    func isSet(_ name: String) -> Bool {
        guard let value = fields[name] else { return false }
        return value != .null
    }

    func string(_ name: String) throws(ZitadelError) -> String? {
        guard let value = fields[name], value != .null else { return nil }
        guard case .string(let string) = value else {
            throw .malformedBody("invalid value for string field \(name): \(value.compactDescription)")
        }
        return string
    }

    /// A required id field (`user_id`, `session_id`): 1–200 characters, as Zitadel's validation rules say.
    func id(_ name: String) throws(ZitadelError) -> String {
        let value = try string(name) ?? ""
        guard (1...200).contains(value.count) else {
            throw .validation(message, field: Self.goName(name), rule: "value length must be between 1 and 200 runes, inclusive")
        }
        return value
    }

    /// Booleans, also as the strings REST query parameters carry.
    func bool(_ name: String) throws(ZitadelError) -> Bool {
        switch fields[name] {
        case nil, .null: return false
        case .bool(let value): return value
        case .string("true"): return true
        case .string("false"): return false
        case let other?: throw .malformedBody("invalid value for bool field \(name): \(other.compactDescription)")
        }
    }

    /// Integers, also as strings (protojson writes 64-bit integers as strings).
    func int(_ name: String) throws(ZitadelError) -> Int64? {
        switch fields[name] {
        case nil, .null: return nil
        case .string(let string):
            guard let value = Int64(string) else { throw .malformedBody("invalid value for integer field \(name): \"\(string)\"") }
            return value
        case let other?:
            guard let value = other.intValue else {
                throw .malformedBody("invalid value for integer field \(name): \(other.compactDescription)")
            }
            return value
        }
    }

    func object(_ name: String) throws(ZitadelError) -> [String: JSONValue]? {
        guard let value = fields[name], value != .null else { return nil }
        guard let object = value.objectValue else {
            throw .malformedBody("invalid value for message field \(name): \(value.compactDescription)")
        }
        return object
    }

    /// A repeated field; a single value counts as one element (repeated REST query parameters).
    func array(_ name: String) throws(ZitadelError) -> [JSONValue] {
        switch fields[name] {
        case nil, .null: return []
        case .array(let values): return values
        case .string(let value): return [.string(value)]
        case let other?: throw .malformedBody("invalid value for repeated field \(name): \(other.compactDescription)")
        }
    }

    /// `userId` → `UserId`, as protoc-gen-validate names fields in its messages.
    static func goName(_ jsonName: String) -> String {
        guard let first = jsonName.first else { return jsonName }
        return first.uppercased() + jsonName.dropFirst()
    }
}

extension JSONValue {
    /// A short rendering for error messages.
    var compactDescription: String {
        (try? String(decoding: MockJSON.encode(self), as: UTF8.self)) ?? "?"
    }

    /// RFC 3339 with fractional seconds, as protojson writes `google.protobuf.Timestamp`.
    static func timestamp(_ date: Date) -> JSONValue {
        .string(Timestamp.format(date))
    }

    /// protojson writes 64-bit integers as strings.
    static func int64String(_ value: Int64) -> JSONValue {
        .string(String(value))
    }
}
