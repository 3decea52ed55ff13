import GatewayCore
import Testing

/// The MFA challenge decided from the `amr` sources validation reports, in precedence order.
@Suite struct MFAChallengeEvidenceTests {
    typealias Row = (evidence: AMREvidence, introspected: [String]?, local: MFAChallenge?, resolved: MFAChallenge)

    static let rows: [Row] = [
        // The companion's amr wins over the token's.
        (
            AMREvidence(companion: ["pwd", "mfa"], token: ["pwd"], tokenSource: .tokenAMR, introspectionCanTell: true),
            nil, .fromAMR(["pwd", "mfa"], source: .idToken), .fromAMR(["pwd", "mfa"], source: .idToken)
        ),
        // A JWT's own amr.
        (
            AMREvidence(companion: nil, token: ["pwd"], tokenSource: .tokenAMR, introspectionCanTell: true),
            ["mfa"], .fromAMR(["pwd"], source: .tokenAMR), .fromAMR(["pwd"], source: .tokenAMR)
        ),
        // An opaque token's claims are introspection's.
        (
            AMREvidence(companion: nil, token: ["otp", "mfa"], tokenSource: .introspection, introspectionCanTell: false),
            nil, .fromAMR(["otp", "mfa"], source: .introspection), .fromAMR(["otp", "mfa"], source: .introspection)
        ),
        // A JWT without amr whose issuer can be introspected: introspection decides.
        (
            AMREvidence(companion: nil, token: nil, tokenSource: .tokenAMR, introspectionCanTell: true),
            ["pwd", "mfa"], nil, .fromAMR(["pwd", "mfa"], source: .introspection)
        ),
        // ...and when introspection names none (or failed), unknown.
        (AMREvidence(companion: nil, token: nil, tokenSource: .tokenAMR, introspectionCanTell: true), nil, nil, .unknown),
        // Nothing can tell.
        (AMREvidence(companion: nil, token: nil, tokenSource: .tokenAMR, introspectionCanTell: false), ["mfa"], .unknown, .unknown),
    ]

    @Test(arguments: rows.indices)
    func challengeFromEvidence(_ index: Int) {
        let row = Self.rows[index]
        #expect(MFAChallenge.local(row.evidence) == row.local)
        #expect(MFAChallenge.resolved(row.evidence, introspected: row.introspected) == row.resolved)
    }
}
