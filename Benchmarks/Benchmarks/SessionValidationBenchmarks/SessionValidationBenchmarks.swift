import AsyncHTTPClient
import Benchmark
import Crypto
import Foundation
import JWTKit
import Logging
import SessionValidation
import _CryptoExtras

/// RS256 tokens signed in-process with a fresh 2048-bit key, and the public JWKS that verifies them.
struct Fixture: Sendable {
    static let issuer = "https://issuer.bench.example"
    let tokens: [String]
    let jwks: [UInt8]
    let publicKey: _RSA.Signing.PublicKey
    let jwkModulusExponent: (String, String)

    struct Claims: JWTPayload {
        var iss: String
        var sub: String
        var aud: [String]
        var iat: Int
        var exp: Int
        /// Zitadel's access tokens always carry `jti` and `client_id`; without `jti` the gateway refuses an ID token.
        var jti: String
        var clientId: String
        var roles: [String: [String: String]]
        var owner: String

        enum CodingKeys: String, CodingKey {
            case iss, sub, aud, iat, exp, jti
            case clientId = "client_id"
            case roles = "urn:zitadel:iam:org:project:roles"
            case owner = "urn:zitadel:iam:user:resourceowner:id"
        }

        func verify(using algorithm: some JWTAlgorithm) async throws {}
    }

    static func make(count: Int) async throws -> Fixture {
        let privateKey = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        let keys = JWTKeyCollection()
        await keys.add(rsa: try Insecure.RSA.PrivateKey(backing: privateKey), digestAlgorithm: .sha256, kid: "k1")
        let now = Int(Date().timeIntervalSince1970)
        var tokens: [String] = []
        for index in 0..<count {
            let claims = Claims(
                iss: issuer, sub: "user-\(index)", aud: ["gateway"], iat: now, exp: now + 3600,
                jti: "\(400_000_000_000_100_000 + index)", clientId: "portal-client@bench", roles: ["client_staff": ["org-1": "org-1.example"]], owner: "org-1")
            tokens.append(try await keys.sign(claims, kid: "k1"))
        }
        let primitives = try Insecure.RSA.PublicKey(backing: privateKey.publicKey).getKeyPrimitives()
        let b64 = { (data: Data) in
            data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
                .replacingOccurrences(of: "=", with: "")
        }
        let jwks = """
            {"keys":[{"kty":"RSA","kid":"k1","use":"sig","alg":"RS256","n":"\(b64(primitives.modulus))","e":"\(b64(primitives.publicExponent))"}]}
            """
        // The verifying key as the validator builds it: from the JWK's modulus and exponent.
        let publicKey = try _RSA.Signing.PublicKey(n: primitives.modulus, e: primitives.publicExponent)
        return Fixture(
            tokens: tokens, jwks: Array(jwks.utf8), publicKey: publicKey,
            jwkModulusExponent: (b64(primitives.modulus), b64(primitives.publicExponent)))
    }
}

nonisolated(unsafe) var fixture: Fixture?

let benchmarks: @Sendable () -> Void = {
    // Each sample runs a thousand iterations, so per-sample setup (a new key's first use computes its
    // Montgomery context) does not dominate what is measured.
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, .mallocCountTotal], scalingFactor: .kilo, maxDuration: .seconds(5))

    let count = 2000

    // The raw check the validator calls: jwt-kit's RS256 verifier (SHA-256 of the signing input, then RSA
    // PKCS#1 v1.5 verification in BoringSSL), on pre-split, pre-decoded tokens.
    Benchmark("RS256 raw signature check") { benchmark in
        let fixture = try await loadFixture(count: count)
        let keys = JWTKeyCollection()
        let (n, e) = fixture.jwkModulusExponent
        await keys.add(rsa: try Insecure.RSA.PublicKey(modulus: n, exponent: e), digestAlgorithm: .sha256, kid: "k1")
        let verifier = try await keys.getKey(for: "k1")
        let parts = fixture.tokens.map { token -> ([UInt8], [UInt8]) in
            let pieces = token.split(separator: ".")
            return (Array("\(pieces[0]).\(pieces[1])".utf8), Array(Data(base64URL: String(pieces[2]))))
        }
        benchmark.startMeasurement()
        for index in benchmark.scaledIterations {
            let (input, signature) = parts[index % parts.count]
            blackHole(try verifier.verify(signature, signs: input))
        }
    }

    // The whole validation path for tokens not yet cached: parse, policy, key lookup, signature, claims.
    Benchmark("RS256 SessionValidator.validate, uncached") { benchmark in
        let fixture = try await loadFixture(count: count)
        let validator = try await makeValidator(fixture, cacheCapacity: 16)
        benchmark.startMeasurement()
        for index in benchmark.scaledIterations {
            blackHole(try await validator.validate(fixture.tokens[index % fixture.tokens.count]))
        }
    }

    // A repeated token: served from the verified-token cache.
    Benchmark("RS256 SessionValidator.validate, cached") { benchmark in
        let fixture = try await loadFixture(count: count)
        let validator = try await makeValidator(fixture, cacheCapacity: 100_000)
        _ = try await validator.validate(fixture.tokens[0])
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(try await validator.validate(fixture.tokens[0]))
        }
    }
}

func loadFixture(count: Int) async throws -> Fixture {
    if let fixture { return fixture }
    let made = try await Fixture.make(count: count)
    fixture = made
    return made
}

func makeValidator(_ fixture: Fixture, cacheCapacity: Int) async throws -> SessionValidator {
    let validator = try SessionValidator(
        issuers: [IssuerConfiguration(
                name: "bench", issuer: Fixture.issuer, audiences: ["gateway"], projectId: "gateway",
                clientIds: ["portal-client@bench"], algorithms: [.rs256])],
        settings: ValidationSettings(cacheCapacity: cacheCapacity), httpClient: .shared,
        logger: Logger(label: "bench", factory: { _ in SwiftLogNoOpLogHandler() }))
    try await validator.installKeys(issuer: Fixture.issuer, jwks: fixture.jwks)
    return validator
}

extension Data {
    init(base64URL: String) {
        var base64 = base64URL.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        self = Data(base64Encoded: base64) ?? Data()
    }
}
