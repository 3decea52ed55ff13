import Foundation

/// An error the admin API reports as `application/problem+json`.
public struct AdminProblem: Error, Sendable {
    public let status: Int
    public let code: String
    public let title: String
    public let detail: String
}
