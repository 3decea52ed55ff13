import Foundation

/// A request the mock received, as `GET /mock/admin/journal` lists it.
public struct JournalEntry: Sendable {
    /// Position in the journal, increasing.
    public var sequence: Int
    public var method: String
    public var path: String
    /// `Service/Method` for both wire forms of the v2 APIs (`UserService/SetPhone`), `nil` for other routes.
    public var rpc: String?
    /// The user the call was about, when the mock knows it.
    public var userId: String?
    public var at: Date
    /// The status the mock answered with; `nil` while in flight or when the connection was reset.
    public var status: Int?
    /// The fault that was applied, if any.
    public var faultId: String?
    /// SHA-256 (hex) of the request body; `nil` for an empty body.
    public var bodyDigest: String?
    /// Who called (the token's or PAT's user) on the v2 APIs.
    public var callerId: String?
}

extension JournalEntry: Codable {
    enum CodingKeys: String, CodingKey {
        case sequence, method, path, rpc, userId, at, status, faultId, bodyDigest, callerId
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        sequence = try container.decode(Int.self, forKey: .sequence)
        method = try container.decode(String.self, forKey: .method)
        path = try container.decode(String.self, forKey: .path)
        rpc = try container.decodeIfPresent(String.self, forKey: .rpc)
        userId = try container.decodeIfPresent(String.self, forKey: .userId)
        let atString = try container.decode(String.self, forKey: .at)
        guard let at = Timestamp.parse(atString) else {
            throw DecodingError.dataCorruptedError(forKey: .at, in: container, debugDescription: "Not RFC 3339")
        }
        self.at = at
        status = try container.decodeIfPresent(Int.self, forKey: .status)
        faultId = try container.decodeIfPresent(String.self, forKey: .faultId)
        bodyDigest = try container.decodeIfPresent(String.self, forKey: .bodyDigest)
        callerId = try container.decodeIfPresent(String.self, forKey: .callerId)
    }

    /// `rpc` and `userId` are always present, `null` when unknown (fixed interface).
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(sequence, forKey: .sequence)
        try container.encode(method, forKey: .method)
        try container.encode(path, forKey: .path)
        try container.encode(rpc, forKey: .rpc)
        try container.encode(userId, forKey: .userId)
        try container.encode(Timestamp.format(at), forKey: .at)
        try container.encode(status, forKey: .status)
        try container.encodeIfPresent(faultId, forKey: .faultId)
        try container.encode(bodyDigest, forKey: .bodyDigest)
        try container.encodeIfPresent(callerId, forKey: .callerId)
    }
}
