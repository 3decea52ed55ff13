import Foundation

/// What a relying party needs to trust the mock loaded with the repository's seed (`Mocks/seed.json`): the
/// portal's project and application, the gateway's API application and its machine user. The one place these
/// development values live outside the seed; the mock's secrets are public, so never use them against a real
/// Zitadel.
public enum MockZitadelDefaults {
    /// The AiDial portal project: Zitadel puts its id in every access token's `aud`.
    public static let projectId = "300000000000000001"
    /// The AiDial portal application: the client of every portal token.
    public static let portalClientId = "300000000000000002@aidial"
    /// The gateway's API application, which authenticates introspection and revocation with a client secret.
    public static let introspectionClientId = "300000000000000003@aidial"
    public static let introspectionSecret = "mock-gateway-introspection-secret"
    /// The gateway's machine user, whose personal access token calls the v2 User and Session services.
    public static let serviceUserId = "300000000000000301"
}

extension MockZitadelConfiguration {
    /// The issuer a client on this machine reaches the mock at (`http://127.0.0.1:8081` by default).
    public var issuerURL: String { "http://\(MockZitadelApp.urlHost(host)):\(port)" }

    /// The gateway machine user's first personal access token in the seed this configuration loads, if any.
    public func serviceUserPAT() -> String? {
        guard let path = try? resolvedSeedPath(), let seed = try? Seed.load(from: path) else { return nil }
        return seed.machineUsers.first { $0.id == MockZitadelDefaults.serviceUserId }?.personalAccessTokens?.first?.token
    }
}
