import AsyncHTTPClient
import Crypto
import Foundation
import Logging
import Testing

@testable import SessionValidation

/// Tokens with a genuine signature over hostile headers and claims: the validator refuses them as malformed
/// after the signature check has nothing to object to.
@Suite struct SignedTokenTests {
    static let issuer = "https://signed.zitadel.test"
    static let audience = "300000000000000001"
    static let key = P256.Signing.PrivateKey()

    static func validator() async throws -> SessionValidator {
        let validator = try SessionValidator(
            issuers: [
                IssuerConfiguration(
                    name: "signed", issuer: issuer, audiences: [audience], projectId: audience,
                    clientIds: ["300000000000000002@aidial"], algorithms: [.es256])
            ],
            settings: ValidationSettings(), httpClient: .shared,
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        let raw = key.publicKey.rawRepresentation
        let jwks = #"""
            {"keys":[{"kty":"EC","crv":"P-256","alg":"ES256","use":"sig","kid":"k1",
            "x":"\#(Base64URL.encode(Array(raw.prefix(32))))","y":"\#(Base64URL.encode(Array(raw.suffix(32))))"}]}
            """#
        try await validator.installKeys(issuer: issuer, jwks: Array(jwks.utf8))
        return validator
    }

    /// Signs exactly these header and claims bytes.
    static func sign(header: String, claims: String) throws -> String {
        let input = Base64URL.encode(Array(header.utf8)) + "." + Base64URL.encode(Array(claims.utf8))
        return input + "." + Base64URL.encode(Array(try key.signature(for: Array(input.utf8)).rawRepresentation))
    }

    static let header = #"{"alg":"ES256","kid":"k1","typ":"JWT"}"#

    static func claims(_ times: String = #""exp":4102444800,"iat":1790000000"#) -> String {
        #"{"iss":"\#(issuer)","sub":"300000000000001001","aud":["\#(audience)"],"jti":"at-1",\#(times)}"#
    }

    static func failure(_ token: String, _ validator: SessionValidator) async -> ValidationFailure? {
        do {
            _ = try await validator.validate(token)
            return nil
        } catch {
            return error
        }
    }

    @Test func acceptsTheWellFormedToken() async throws {
        let validator = try await Self.validator()
        let verified = try await validator.validate(try Self.sign(header: Self.header, claims: Self.claims()))
        #expect(verified.expiresAt == 4_102_444_800)
        let lastSecond = try Self.sign(header: Self.header, claims: Self.claims(#""exp":253402300799,"auth_time":0"#))
        #expect(try await validator.validate(lastSecond).claims.authTime == 0)
    }

    /// Before this check, `exp` 1e300 verified and the session answer trapped rendering it.
    @Test(arguments: ["exp", "nbf", "iat", "auth_time"], ["1e300", "-1", "253402300800", "-1e300", "9.3e18"])
    func refusesDatesOutsideTheWindow(claim: String, value: String) async throws {
        let validator = try await Self.validator()
        let times = claim == "exp" ? #""exp":\#(value)"# : #""exp":4102444800,"\#(claim)":\#(value)"#
        let token = try Self.sign(header: Self.header, claims: Self.claims(times))
        #expect(await Self.failure(token, validator) == .malformed)
    }

    @Test(arguments: JOSEHeaderTests.members.map(\.name))
    func refusesSignedHeadersWithADuplicate(name: String) async throws {
        let validator = try await Self.validator()
        let member = try #require(JOSEHeaderTests.members.first { $0.name == name })
        let base = [("alg", #""ES256""#), ("kid", #""k1""#), ("typ", #""JWT""#)]
        let present = base.first { $0.0 == name }?.1 ?? member.value
        let others = base.filter { $0.0 != name }.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",")
        for (first, second) in [(present, present), (present, member.other), (member.other, present)] {
            let header = "{\"\(name)\":\(first),\(others),\"\(name)\":\(second)}"
            let token = try Self.sign(header: header, claims: Self.claims())
            #expect(await Self.failure(token, validator) == .malformed, "\(header)")
        }
    }

    @Test(arguments: [
        #"{"alg":"ES256","kid":{"id":"k1"}}"#, #"{"alg":["ES256"],"kid":"k1"}"#, #"{"alg":"ES256","kid":"k1","crit":"exp"}"#,
        #"{"alg":"ES256","kid":"k1","typ":1}"#,
        #"{"alg":"ES256","kid":"k1","x":"# + String(repeating: "[", count: 40)
            + String(repeating: "]", count: 40) + "}",
    ])
    func refusesSignedHeadersOfTheWrongShape(header: String) async throws {
        let validator = try await Self.validator()
        #expect(await Self.failure(try Self.sign(header: header, claims: Self.claims()), validator) == .malformed)
    }
}
