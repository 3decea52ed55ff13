import Foundation

/// The User service's metadata: `ListUserMetadata`, `SetUserMetadata`, `DeleteUserMetadata`.
extension MockZitadel {
    /// `ListUserMetadata` (v2, Zitadel v4): `{pagination, metadata:[{key, value(base64)}]}`; key filters with
    /// Zitadel's text methods. Readable by the user and by managers.
    func listUserMetadata(_ request: RPCRequest, caller: APICaller) throws(ZitadelError) -> JSONValue {
        let userId = try request.id("userId")
        let user = try authorizedHuman(caller, userId: userId, missing: .userNotFound())
        var entries = (user.metadata ?? [:]).sorted { $0.key < $1.key }
        for filter in try request.array("filters") {
            guard let keyFilter = filter["keyFilter"]?.objectValue else { continue }
            let key = keyFilter["key"]?.stringValue ?? ""
            let method = keyFilter["method"]?.stringValue ?? "TEXT_FILTER_METHOD_EQUALS"
            entries = entries.filter { Self.textMatches($0.key, key, method: method) }
        }
        let pagination = try request.object("pagination") ?? [:]
        let offset = Int(pagination["offset"].flatMap { $0.intValue ?? $0.stringValue.flatMap { Int64($0) } } ?? 0)
        let requestedLimit = Int(pagination["limit"]?.intValue ?? 0)
        let limit = requestedLimit > 0 ? min(requestedLimit, 1000) : 100
        if pagination["asc"]?.boolValue == false, pagination["asc"] != nil { entries.reverse() }
        let total = entries.count
        let page = entries.dropFirst(max(0, offset)).prefix(limit)
        var paginationResponse: [String: JSONValue] = ["appliedLimit": .int64String(Int64(limit))]
        if total > 0 { paginationResponse["totalResult"] = .int64String(Int64(total)) }
        var body: [String: JSONValue] = ["pagination": .object(paginationResponse)]
        if !page.isEmpty {
            body["metadata"] = .array(
                page.map {
                    [
                        "creationDate": .timestamp(Self.seedDate), "changeDate": .timestamp(Self.seedDate), "key": .string($0.key),
                        "value": .string(Data($0.value.utf8).base64EncodedString()),
                    ]
                })
        }
        return .object(body)
    }

    /// `SetUserMetadata`: `{metadata:[{key, value(base64)}]}`; needs `user.write` (not one's own).
    func setUserMetadata(_ request: RPCRequest, caller: APICaller) throws(ZitadelError) -> JSONValue {
        let userId = try request.id("userId")
        _ = try authorizedHuman(caller, userId: userId, allowSelf: false, missing: .commandUserNotFound())
        var updates: [String: String] = [:]
        for entry in try request.array("metadata") {
            guard let key = entry["key"]?.stringValue, (1...200).contains(key.count) else {
                throw .validation("Metadata", field: "Key", rule: "value length must be between 1 and 200 runes, inclusive")
            }
            guard let encoded = entry["value"]?.stringValue, let data = Data(base64Encoded: encoded), !data.isEmpty else {
                throw .validation("Metadata", field: "Value", rule: "value length must be between 1 and 500000 bytes, inclusive")
            }
            updates[key] = String(decoding: data, as: UTF8.self)
        }
        let now = Date()
        modifyUser(userId) { user in user.metadata = (user.metadata ?? [:]).merging(updates) { _, new in new } }
        return ["setDate": .timestamp(now)]
    }

    /// `DeleteUserMetadata`: `{keys:[…]}`.
    func deleteUserMetadata(_ request: RPCRequest, caller: APICaller) throws(ZitadelError) -> JSONValue {
        let userId = try request.id("userId")
        _ = try authorizedHuman(caller, userId: userId, allowSelf: false, missing: .commandUserNotFound())
        let keys = try request.array("keys").compactMap(\.stringValue)
        let now = Date()
        modifyUser(userId) { user in
            for key in keys {
                user.metadata?[key] = nil
            }
        }
        return ["deletionDate": .timestamp(now)]
    }

    /// Zitadel's `TEXT_FILTER_METHOD_*` comparisons.
    static func textMatches(_ value: String, _ wanted: String, method: String) -> Bool {
        let ignoreCase = method.hasSuffix("_IGNORE_CASE")
        let lhs = ignoreCase ? value.lowercased() : value
        let rhs = ignoreCase ? wanted.lowercased() : wanted
        switch method.replacingOccurrences(of: "_IGNORE_CASE", with: "") {
        case "TEXT_FILTER_METHOD_STARTS_WITH": return lhs.hasPrefix(rhs)
        case "TEXT_FILTER_METHOD_CONTAINS": return lhs.contains(rhs)
        case "TEXT_FILTER_METHOD_ENDS_WITH": return lhs.hasSuffix(rhs)
        default: return lhs == rhs
        }
    }

    /// Sets or removes one metadata entry through the admin API; `false` for an unknown user.
    public func adminSetMetadata(userId: String, key: String, value: String?) -> Bool {
        guard user(id: userId) != nil else { return false }
        modifyUser(userId) { user in
            var metadata = user.metadata ?? [:]
            metadata[key] = value
            user.metadata = metadata
        }
        return true
    }
}
