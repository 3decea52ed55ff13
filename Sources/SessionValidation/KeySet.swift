import Crypto
import Foundation
import JWTKit
import _CryptoExtras

/// One published verification key, with a verifier prepared for every algorithm it may be used with.
struct VerificationKey: Sendable {
    enum Family: Sendable, Equatable {
        case rsa
        case ec(curve: String)
        case okp(curve: String)
    }

    var kid: String?
    var family: Family
    var verifiers: [JWSAlgorithm: any JWTAlgorithm]
}

/// An immutable snapshot of an issuer's JWKS, ready for lock-free lookups.
struct KeySet: Sendable {
    var keys: [VerificationKey]
    private var byKid: [String: Int]

    init(keys: [VerificationKey]) {
        self.keys = keys
        var index: [String: Int] = [:]
        for (position, key) in keys.enumerated() {
            if let kid = key.kid, index[kid] == nil { index[kid] = position }
        }
        self.byKid = index
    }

    func key(kid: String) -> VerificationKey? {
        byKid[kid].map { keys[$0] }
    }

    var kids: [String] { keys.compactMap(\.kid) }

    /// Why a published key was not loaded; reported in logs, never fatal to the whole set.
    struct Skipped: Sendable, CustomStringConvertible {
        var kid: String?
        var reason: String
        var description: String { "kid=\(kid ?? "-"): \(reason)" }
    }

    /// Parses an RFC 7517 key set, keeping only signature keys usable with the issuer's allowed algorithms.
    static func parse(_ body: [UInt8], allowed: Set<JWSAlgorithm>) async throws -> (KeySet, [Skipped]) {
        let document = try JSONDecoder().decode(JWKSDocument.self, from: Data(body))
        var keys: [VerificationKey] = []
        var skipped: [Skipped] = []
        for jwk in document.keys {
            do {
                if let key = try await makeKey(jwk, allowed: allowed) {
                    keys.append(key)
                } else {
                    skipped.append(Skipped(kid: jwk.kid, reason: "no allowed algorithm fits the key"))
                }
            } catch let error as KeyError {
                skipped.append(Skipped(kid: jwk.kid, reason: error.reason))
            } catch {
                skipped.append(Skipped(kid: jwk.kid, reason: "unusable key material"))
            }
        }
        return (KeySet(keys: keys), skipped)
    }

    struct KeyError: Error { var reason: String }

    private static func makeKey(_ jwk: JWKDocument.Key, allowed: Set<JWSAlgorithm>) async throws -> VerificationKey? {
        if let use = jwk.use, use != "sig" { throw KeyError(reason: "use is not sig") }
        let declared: JWSAlgorithm?
        if let alg = jwk.alg {
            guard let parsed = JWSAlgorithm(rawValue: alg) else { throw KeyError(reason: "unsupported alg \(alg)") }
            declared = parsed
        } else {
            declared = nil
        }
        let collection = JWTKeyCollection()
        let kid = JWKIdentifier(string: jwk.kid ?? "_")
        var verifiers: [JWSAlgorithm: any JWTAlgorithm] = [:]
        let family: VerificationKey.Family

        switch jwk.kty ?? "" {
        case "RSA":
            family = .rsa
            guard let n = jwk.n, let e = jwk.e, let modulus = Base64URL.decode(n), Base64URL.decode(e) != nil else {
                throw KeyError(reason: "RSA key without n/e")
            }
            guard Self.bitLength(modulus) >= 2048 else { throw KeyError(reason: "RSA key shorter than 2048 bits") }
            let key = try Insecure.RSA.PublicKey(modulus: n, exponent: e)
            let candidates: [JWSAlgorithm] = declared.map { [$0] } ?? JWSAlgorithm.allCases.filter(\.isRSA)
            for alg in candidates where allowed.contains(alg) {
                guard alg.isRSA else { throw KeyError(reason: "alg \(alg.rawValue) does not fit an RSA key") }
                let probe = JWTKeyCollection()
                switch alg {
                case .rs256: await probe.add(rsa: key, digestAlgorithm: .sha256, kid: kid)
                case .rs384: await probe.add(rsa: key, digestAlgorithm: .sha384, kid: kid)
                case .rs512: await probe.add(rsa: key, digestAlgorithm: .sha512, kid: kid)
                case .ps256: await probe.add(pss: key, digestAlgorithm: .sha256, kid: kid)
                case .ps384: await probe.add(pss: key, digestAlgorithm: .sha384, kid: kid)
                case .ps512: await probe.add(pss: key, digestAlgorithm: .sha512, kid: kid)
                default: continue
                }
                verifiers[alg] = try await probe.getKey(for: kid)
            }
        case "EC":
            guard let crv = jwk.crv, let x = jwk.x, let y = jwk.y else { throw KeyError(reason: "EC key without crv/x/y") }
            family = .ec(curve: crv)
            let alg: JWSAlgorithm
            switch crv {
            case "P-256":
                alg = .es256
                await collection.add(ecdsa: try ES256PublicKey(parameters: (x, y)), kid: kid)
            case "P-384":
                alg = .es384
                await collection.add(ecdsa: try ES384PublicKey(parameters: (x, y)), kid: kid)
            case "P-521":
                alg = .es512
                await collection.add(ecdsa: try ES512PublicKey(parameters: (x, y)), kid: kid)
            default:
                throw KeyError(reason: "unsupported curve \(crv)")
            }
            if let declared, declared != alg { throw KeyError(reason: "alg \(declared.rawValue) does not fit curve \(crv)") }
            if allowed.contains(alg) { verifiers[alg] = try await collection.getKey(for: kid) }
        case "OKP":
            guard let crv = jwk.crv, let x = jwk.x else { throw KeyError(reason: "OKP key without crv/x") }
            family = .okp(curve: crv)
            guard crv == "Ed25519" else { throw KeyError(reason: "unsupported curve \(crv)") }
            if let declared, declared != .edDSA { throw KeyError(reason: "alg \(declared.rawValue) does not fit Ed25519") }
            await collection.add(eddsa: try EdDSA.PublicKey(x: x, curve: .ed25519), kid: kid)
            if allowed.contains(.edDSA) { verifiers[.edDSA] = try await collection.getKey(for: kid) }
        default:
            throw KeyError(reason: "unsupported kty \(jwk.kty ?? "none")")
        }
        guard !verifiers.isEmpty else { return nil }
        return VerificationKey(kid: jwk.kid, family: family, verifiers: verifiers)
    }

    static func bitLength(_ bigEndian: [UInt8]) -> Int {
        guard let first = bigEndian.firstIndex(where: { $0 != 0 }) else { return 0 }
        let leading = bigEndian[first]
        return (bigEndian.count - first - 1) * 8 + (8 - leading.leadingZeroBitCount)
    }
}

/// The JSON shape of a JWKS; unknown members are ignored.
struct JWKDocument: Decodable {
    struct Key: Decodable {
        var kty: String?
        var kid: String?
        var alg: String?
        var use: String?
        var crv: String?
        var n: String?
        var e: String?
        var x: String?
        var y: String?
    }
}

struct JWKSDocument: Decodable {
    var keys: [JWKDocument.Key]
}
