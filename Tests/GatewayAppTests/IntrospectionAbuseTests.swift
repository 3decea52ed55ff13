import Foundation
import GatewayApp
import HTTPTypes
import HummingbirdTesting
import Logging
import Testing

@testable import SessionValidation

/// A fresh string shaped like a Zitadel opaque token (64 hex digits are canonical base64url) that no issuer knows.
func junkOpaqueToken() -> String {
    (UUID().uuidString + UUID().uuidString).replacingOccurrences(of: "-", with: "").lowercased()
}

/// A validator of the mock's issuers, as the gateway builds it, with no logging.
func mockValidator(_ issuers: [IssuerConfiguration], settings: ValidationSettings = ValidationSettings()) throws -> SessionValidator {
    try SessionValidator(
        issuers: issuers, settings: settings, httpClient: .shared, logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
    )
}

extension SessionValidator {
    /// Why `token` is refused; nil when it validates.
    func refusal(_ token: String) async -> ValidationFailure? {
        do throws(ValidationFailure) {
            _ = try await validate(token)
            return nil
        } catch {
            return error
        }
    }
}

/// Every read of the introspection cache applies its own caller's bound (issue 16, item 3).
@Suite struct IntrospectionBoundTests {
    /// The MFA lookup accepts answers up to `introspectionCacheSeconds` old and stores what it fetches; the
    /// revocation check that reads that entry afterwards must still refuse a revoked token within its own bound.
    @Test func theRevocationBoundHoldsAfterTheMFALookupRefilledTheCache() async throws {
        try await MockZitadelAppRunner.run { baseURL, admin in
            let bound = Duration.milliseconds(600)
            let issuer = Harness.issuer(baseURL) {
                $0.revocationCheck = true
                $0.revocationCacheTTL = bound
            }
            let validator = try mockValidator([issuer], settings: ValidationSettings(introspectionCacheTTL: .seconds(60)))
            // A JWT without amr (as Zitadel issues them): the MFA challenge comes from introspection.
            let token = try await admin.token(Seeded.aliceClientAdmin, ["omitClaims": ["amr"]])
            let verified = try await validator.validate(token)
            // Past the revocation bound, the MFA lookup reads (or, before this fix, refetched and stored for a minute).
            try await Task.sleep(for: bound + .milliseconds(100))
            #expect(await validator.mfaChallenge(for: verified, rawToken: token).state != .unknown)
            var revocation = HTTPClientRequestBuilder.revoke(baseURL: baseURL, token: token)
            revocation.method = .POST
            try #require(try await HTTPClientRequestBuilder.send(revocation) == 200)
            // Once the bound has passed since the revocation, no answer fetched before it may be used.
            try await Task.sleep(for: bound + .milliseconds(100))
            await #expect(throws: ValidationFailure.revoked) { try await validator.validate(token) }
        }
    }
}
