import GatewayCore
import SessionValidation

/// The session's MFA challenge: validation supplies what it verified (the token's and the companion's claims,
/// introspection's answer through its cache), the domain (`MFAChallenge.local`/`resolved`) decides.
extension SessionValidator {
    /// The `amr` evidence validation holds for the token without asking the issuer.
    public func amrEvidence(for token: VerifiedToken, companion: IDTokenCompanion? = nil) -> AMREvidence {
        AMREvidence(
            companion: companion?.amr, token: token.claims.amr,
            tokenSource: token.format == .jwt ? .tokenAMR : .introspection,
            introspectionCanTell: token.format == .jwt && canIntrospect(token))
    }

    /// The challenge when it is known without suspending; nil when introspection must be asked.
    public func localMFAChallenge(for token: VerifiedToken, companion: IDTokenCompanion? = nil) -> MFAChallenge? {
        MFAChallenge.local(amrEvidence(for: token, companion: companion))
    }

    /// The challenge from the companion's or the token's `amr` when present, else from introspection (cached).
    public func mfaChallenge(
        for token: VerifiedToken, rawToken: String, companion: IDTokenCompanion? = nil
    ) async -> MFAChallenge {
        let evidence = amrEvidence(for: token, companion: companion)
        if let local = MFAChallenge.local(evidence) { return local }
        return .resolved(evidence, introspected: await introspectedClaims(for: token, rawToken: rawToken)?.amr)
    }
}
