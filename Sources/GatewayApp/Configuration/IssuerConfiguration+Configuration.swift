import Configuration
import Foundation
import GatewayCore
import SessionValidation

extension IssuerConfiguration {
    /// Reads one trusted issuer from `reader`, scoped to `issuers.<name>`, and checks it (`validate()`).
    ///
    /// Keys:
    /// - `url` (required): the issuer, exactly as in the tokens' `iss`
    /// - `audiences` (required), `projectId` (required: the portal's Zitadel project; roles come from its claim
    ///   only), `clientIds` (required: the portal application's client ids)
    /// - `algorithms` (`RS256`), `leewaySeconds` (60), `jwksUrl` and `introspectionUrl` (from discovery)
    /// - `introspection.clientId` with `introspection.clientSecret` (secret) or `introspection.keyFile` (a Zitadel
    ///   application key JSON, read and its key parsed here, so a broken file stops the load)
    /// - `revocationCheck.enabled` (false), `revocationCheck.cacheSeconds` (10)
    /// - `jwks.minRefreshSeconds` (60), `jwks.maxRefreshSeconds` (3600), `jwks.forcedRefetchSeconds` (30),
    ///   `jwks.unknownKidSeconds` (60), `jwks.maxStalenessSeconds` (86400), `jwks.fetchTimeoutMs` (5000)
    /// - `opaqueTokens.*`: which opaque strings are ever sent to this issuer (`OpaqueTokenPolicy(issuer:reader:)`)
    public init(name: String, reader: ConfigReader) throws(ConfigurationError) {
        guard let url = reader.string(forKey: "url"), !url.isEmpty else {
            throw ConfigurationError("issuers.\(name).url is required")
        }
        let audiences = reader.stringArray(forKey: "audiences", default: [])
        guard !audiences.isEmpty else { throw ConfigurationError("issuers.\(name).audiences is required") }
        guard let projectId = reader.string(forKey: "projectId"), !projectId.isEmpty else {
            throw ConfigurationError("issuers.\(name).projectId (the portal's Zitadel project id) is required")
        }
        let clientIds = reader.stringArray(forKey: "clientIds", default: [])
        guard !clientIds.isEmpty else {
            throw ConfigurationError("issuers.\(name).clientIds (the portal application's client ids) is required")
        }
        var algorithms = Set<JWSAlgorithm>()
        for value in reader.stringArray(forKey: "algorithms", default: ["RS256"]) {
            guard let algorithm = JWSAlgorithm(rawValue: value) else {
                throw ConfigurationError(
                    "issuers.\(name).algorithms: \(value) is not supported (allowed: \(JWSAlgorithm.allCases.map(\.rawValue).joined(separator: ", ")))"
                )
            }
            algorithms.insert(algorithm)
        }
        var authentication: ClientAuthentication?
        if let clientId = reader.string(forKey: "introspection.clientId") {
            if let secret = reader.string(forKey: "introspection.clientSecret", isSecret: true) {
                authentication = .clientSecretBasic(clientId: clientId, clientSecret: secret)
            } else if let keyFile = reader.string(forKey: "introspection.keyFile") {
                authentication = try Self.readKeyFile(keyFile, clientId: clientId, issuer: name)
            } else {
                throw ConfigurationError("issuers.\(name).introspection needs clientSecret or keyFile")
            }
        }
        let seconds = { (key: String, fallback: Int) -> Duration in .seconds(reader.int(forKey: ConfigKey(key), default: fallback)) }
        self.init(
            name: name, issuer: url, audiences: audiences, projectId: projectId, clientIds: clientIds,
            algorithms: algorithms,
            leeway: seconds("leewaySeconds", 60), jwksURL: reader.string(forKey: "jwksUrl"),
            introspectionURL: reader.string(forKey: "introspectionUrl"), introspection: authentication,
            revocationCheck: reader.bool(forKey: "revocationCheck.enabled", default: false),
            revocationCacheTTL: seconds("revocationCheck.cacheSeconds", 10),
            jwks: JWKSPolicy(
                minRefreshInterval: seconds("jwks.minRefreshSeconds", 60),
                maxRefreshInterval: seconds("jwks.maxRefreshSeconds", 3600),
                forcedRefetchInterval: seconds("jwks.forcedRefetchSeconds", 30),
                unknownKidTTL: seconds("jwks.unknownKidSeconds", 60),
                maxStaleness: seconds("jwks.maxStalenessSeconds", 86400),
                fetchTimeout: .milliseconds(reader.int(forKey: "jwks.fetchTimeoutMs", default: 5000))),
            opaqueTokens: try OpaqueTokenPolicy(issuer: name, reader: reader.scoped(to: "opaqueTokens")))
        try validate()
    }

    /// Reads a Zitadel application key file (`{type, keyId, key (PEM), clientId, appId}`) and parses its key as
    /// the introspection client will, so that a broken file is a load error naming the key.
    private static func readKeyFile(
        _ path: String, clientId: String, issuer: String
    ) throws(ConfigurationError)
        -> ClientAuthentication
    {
        struct KeyFile: Decodable {
            var keyId: String
            var key: String
            var clientId: String?
        }
        let key = "issuers.\(issuer).introspection.keyFile"
        guard let data = FileManager.default.contents(atPath: path),
            let file = try? JSONDecoder().decode(KeyFile.self, from: data)
        else { throw ConfigurationError("\(key): cannot read a Zitadel key file at \(path)") }
        let clientId = file.clientId ?? clientId
        guard (try? ClientAssertionSigner(clientId: clientId, keyId: file.keyId, privateKeyPEM: file.key)) != nil else {
            throw ConfigurationError("\(key): \(path) holds no usable RSA private key")
        }
        return .privateKeyJWT(clientId: clientId, keyId: file.keyId, privateKeyPEM: file.key)
    }
}
