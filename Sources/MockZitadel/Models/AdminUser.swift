import Foundation

/// One row of `GET /mock/admin/users`.
public struct AdminUser: Codable, Sendable {
    public var id: String
    public var loginName: String
    public var orgId: String
    public var roles: [String]
    public var displayName: String
    public var orgName: String?
    public var grants: [Seed.User.Grant]
}

/// `GET /mock/admin/users/{id}`: the user's current state, sessions and SMS messages.
public struct AdminUserDetail: Encodable, Sendable {
    public var user: Seed.User
    public var sessions: [SessionSummary]
    public var smsOutbox: [SMSMessage]
}
