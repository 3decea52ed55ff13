import Foundation

/// The gateway's own readings of an issuer's OIDC documents (discovery, JWKS, introspection), exposed so that the
/// provider contract suite can check recorded and live answers with exactly the code that validates sessions.
public enum ProviderDocuments {
    /// What the gateway takes from a discovery document.
    public struct Discovery: Sendable, Equatable {
        public var issuer: String
        public var jwksURI: String?
        public var introspectionEndpoint: String?
        public var revocationEndpoint: String?
        public var endSessionEndpoint: String?
    }

    /// A key set as the gateway loads it: usable keys by `kid`, and why others were left out.
    public struct KeySetSummary: Sendable, Equatable {
        public var usable: [String]
        public var skipped: [String]
    }

    public static func discovery(_ body: [UInt8]) throws -> Discovery {
        let document = try JSONDecoder().decode(DiscoveryDocument.self, from: Data(body))
        return Discovery(
            issuer: document.issuer, jwksURI: document.jwks_uri, introspectionEndpoint: document.introspection_endpoint,
            revocationEndpoint: document.revocation_endpoint, endSessionEndpoint: document.end_session_endpoint)
    }

    /// Loads a JWKS with every algorithm Zitadel's web keys may use allowed.
    public static func keySet(_ body: [UInt8]) async throws -> KeySetSummary {
        let (keys, skipped) = try await KeySet.parse(body, allowed: Set(JWSAlgorithm.allCases))
        return KeySetSummary(usable: keys.kids, skipped: skipped.map(\.description))
    }

    /// An introspection answer through the validator's claims reader.
    /// An introspection response as the gateway keeps it: the portal project's roles only.
    public static func introspection(_ body: [UInt8], projectId: String, portalClients: [String]) throws -> TokenClaims {
        var claims = try ClaimsParser.parse(body)
        claims.resolvePortalRoles(projectId: projectId, portalClients: portalClients)
        return claims
    }
}
