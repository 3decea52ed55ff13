import Foundation

/// One row of `GET /mock/admin/keys`.
public struct KeyInfo: Codable, Sendable {
    public var kid: String
    public var alg: SigningAlgorithm
    public var published: Bool
    public var active: Bool
}
