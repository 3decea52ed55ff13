import Foundation
import GatewayCore
import Logging
import SessionValidation
import Synchronization
import ZitadelClient

/// The user's own organisation when the token lacks the resource-owner claim (Zitadel sends
/// `urn:zitadel:iam:user:resourceowner:id` only for the `urn:zitadel:iam:user:resourceowner` scope,
/// `internal/api/oidc/userinfo.go` `setUserInfoOrgClaims`), learnt from Zitadel's GetUserByID
/// (`details.resourceOwner`) and cached per user. An opaque token's claims are introspection's, which carry the
/// claim under the same scope; a JWT's introspection would too, so GetUserByID is the answer when the scope was
/// not granted. Never the `X-AiDial-Tenant` header.
final class HomeOrganisationResolver: Sendable {
    let directory: (any ZitadelUserDirectory)?
    let logger: Logger
    /// A user never changes organisation in Zitadel: positive answers are kept for an hour, bounded in count.
    private let cache = Mutex<[String: (orgId: String, expiresAt: ContinuousClock.Instant)]>([:])
    static let ttl: Duration = .seconds(3600)
    static let capacity = 100_000

    init(directory: (any ZitadelUserDirectory)?, logger: Logger) {
        self.directory = directory
        self.logger = logger
    }

    /// The home organisation of the token's user, from memory when learnt before; nil when the token itself
    /// carries it (the claim wins) or it must be looked up (`lookUp`).
    func cached(for token: VerifiedToken) -> String? {
        guard token.claims.resourceOwnerId == nil, let subject = token.claims.subject else { return nil }
        return cache.withLock { entries in
            guard let entry = entries[subject], entry.expiresAt > .now else { return nil }
            return entry.orgId
        }
    }

    /// Learns the home organisation of a token without the claim; refuses with a documented problem when
    /// Zitadel cannot say.
    func lookUp(for token: VerifiedToken) async throws(GatewayProblem) -> String {
        let subject = token.claims.subject ?? ""
        if let known = cached(for: token) { return known }
        guard let directory else {
            throw GatewayProblem(
                .homeOrganisationUnknown,
                "The token does not name the user's organisation (scope urn:zitadel:iam:user:resourceowner) and no "
                    + "Zitadel service credential is configured to look it up.", retryAfter: nil)
        }
        let response: GetUserByIDResponse
        do {
            response = try await directory.getUserByID(subject)
        } catch .api(let error) where error.code == .notFound {
            throw GatewayProblem(.invalidToken, "The token's user does not exist.")
        } catch {
            logger.warning("Home organisation lookup failed", metadata: ["error_type": "\(type(of: error))"])
            throw GatewayProblem(
                .homeOrganisationUnknown, "The user's organisation could not be learnt from the identity provider; retry.",
                retryAfter: 5)
        }
        guard let orgId = response.details?.resourceOwner ?? response.user?.details?.resourceOwner, !orgId.isEmpty else {
            throw GatewayProblem(
                .homeOrganisationUnknown, "The identity provider did not report the user's organisation.", retryAfter: 5)
        }
        cache.withLock { entries in
            if entries.count >= Self.capacity { entries.removeAll() }
            entries[subject] = (orgId, .now + Self.ttl)
        }
        return orgId
    }
}
