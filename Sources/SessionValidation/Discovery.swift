import Foundation
import Logging
import ProviderTransport
import Synchronization

/// The issuer endpoints the gateway uses, from configuration or OIDC discovery.
public struct IssuerEndpoints: Sendable, Equatable {
    public var jwksURL: String
    public var introspectionURL: String?
    public var revocationURL: String?
    public var endSessionURL: String?
}

/// Resolves an issuer's endpoints once (single flight), checking that discovery names the same issuer and
/// points at the issuer's own origin: a discovery document cannot redirect key fetches elsewhere.
final class IssuerDiscovery: Sendable {
    private let configuration: IssuerConfiguration
    private let http: ProviderHTTP
    private let state = Mutex<(endpoints: IssuerEndpoints?, inFlight: Task<IssuerEndpoints?, Never>?)>((nil, nil))
    private let logger: Logger

    init(configuration: IssuerConfiguration, http: ProviderHTTP, logger: Logger) {
        self.configuration = configuration
        self.http = http
        self.logger = logger
    }

    var issuerBase: String {
        configuration.issuer.hasSuffix("/") ? String(configuration.issuer.dropLast()) : configuration.issuer
    }

    func endpoints() async -> IssuerEndpoints? {
        if let jwks = configuration.jwksURL, configuration.introspection == nil || configuration.introspectionURL != nil {
            return IssuerEndpoints(
                jwksURL: jwks, introspectionURL: configuration.introspectionURL, revocationURL: nil, endSessionURL: nil)
        }
        let task: Task<IssuerEndpoints?, Never> = state.withLock { state in
            if let endpoints = state.endpoints { return Task { endpoints } }
            if let inFlight = state.inFlight { return inFlight }
            let task = Task { await self.discover() }
            state.inFlight = task
            return task
        }
        let result = await task.value
        state.withLock { state in
            if let result { state.endpoints = result }
            state.inFlight = nil
        }
        return result
    }

    private func discover() async -> IssuerEndpoints? {
        let url = issuerBase + "/.well-known/openid-configuration"
        do {
            let response = try await http.get(
                url, timeout: configuration.jwks.fetchTimeout, issuer: configuration.name, call: .discovery)
            guard response.status == 200 else {
                logger.warning("OIDC discovery failed", metadata: ["issuer": "\(configuration.name)", "status": "\(response.status)"])
                return nil
            }
            let document = try JSONDecoder().decode(DiscoveryDocument.self, from: Data(response.body))
            guard document.issuer == configuration.issuer else {
                logger.error("OIDC discovery names another issuer", metadata: ["issuer": "\(configuration.name)"])
                return nil
            }
            let sameOrigin = { (value: String?) -> String? in
                guard let value else { return nil }
                return Self.origin(of: value) == Self.origin(of: self.configuration.issuer) ? value : nil
            }
            guard let jwks = configuration.jwksURL ?? sameOrigin(document.jwks_uri) else {
                logger.error("OIDC discovery has no jwks_uri on the issuer's origin", metadata: ["issuer": "\(configuration.name)"])
                return nil
            }
            return IssuerEndpoints(
                jwksURL: jwks,
                introspectionURL: configuration.introspectionURL ?? sameOrigin(document.introspection_endpoint),
                revocationURL: sameOrigin(document.revocation_endpoint),
                endSessionURL: sameOrigin(document.end_session_endpoint))
        } catch let error as ProviderFetchError {
            logger.warning("OIDC discovery failed", metadata: ["issuer": "\(configuration.name)", "reason": "\(error)"])
            return nil
        } catch {
            logger.warning("OIDC discovery document malformed", metadata: ["issuer": "\(configuration.name)"])
            return nil
        }
    }

    static func origin(of url: String) -> String? {
        guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased(),
            let host = components.host?.lowercased()
        else { return nil }
        let port = components.port ?? (scheme == "https" ? 443 : 80)
        return "\(scheme)://\(host):\(port)"
    }
}

struct DiscoveryDocument: Decodable {
    var issuer: String
    var jwks_uri: String?
    var introspection_endpoint: String?
    var revocation_endpoint: String?
    var end_session_endpoint: String?
}
