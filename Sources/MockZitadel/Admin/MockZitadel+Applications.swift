import Foundation

/// The seeded applications and their token settings, through the admin API.
extension MockZitadel {
    /// The applications with their token-shaping settings, for `GET /mock/admin/applications`.
    public func applications() -> [Seed.Application] {
        state.applications
    }

    /// Changes an application's token-shaping settings (a reset restores the seed); `nil` for an unknown client id.
    public func updateApplication(clientId: String, _ change: ApplicationSettingsChange) throws(AdminProblem) -> Seed.Application? {
        guard let index = state.applications.firstIndex(where: { $0.clientId == clientId }) else { return nil }
        if let claims = change.accessTokenActionClaims, !Set(claims).isSubset(of: Seed.actionClaimNames) {
            throw AdminProblem(
                status: 400, code: "invalid_body", title: "Invalid body", detail: "accessTokenActionClaims may name amr, auth_time and sid."
            )
        }
        if let uri = change.backChannelLogoutUri, !uri.isEmpty {
            guard let url = URLComponents(string: uri), ["http", "https"].contains(url.scheme ?? ""), url.host?.isEmpty == false else {
                throw AdminProblem(
                    status: 400, code: "invalid_body", title: "Invalid body", detail: "backChannelLogoutUri must be an http(s) URL.")
            }
        }
        var app = state.applications[index]
        if let value = change.accessTokenType {
            guard ["bearer", "jwt"].contains(value) else {
                throw AdminProblem(status: 400, code: "invalid_body", title: "Invalid body", detail: "accessTokenType is bearer or jwt.")
            }
            app.accessTokenType = value
        }
        if let value = change.accessTokenRoleAssertion { app.accessTokenRoleAssertion = value }
        if let value = change.idTokenRoleAssertion { app.idTokenRoleAssertion = value }
        if let value = change.idTokenUserinfoAssertion { app.idTokenUserinfoAssertion = value }
        if let value = change.backChannelLogoutUri { app.backChannelLogoutUri = value.isEmpty ? nil : value }
        if let value = change.accessTokenActionClaims { app.accessTokenActionClaims = value }
        state.applications[index] = app
        return app
    }
}

/// `PATCH /mock/admin/applications/{clientId}`: the settings to change; absent fields stay.
public struct ApplicationSettingsChange: Codable, Sendable {
    public var accessTokenType: String?
    public var accessTokenRoleAssertion: Bool?
    public var idTokenRoleAssertion: Bool?
    public var idTokenUserinfoAssertion: Bool?
    /// An empty string removes the URI.
    public var backChannelLogoutUri: String?
    public var accessTokenActionClaims: [String]?
}
