import Crypto
import Foundation
import _CryptoExtras

/// JWS algorithms the mock can sign with; Zitadel's web keys offer these (and more RSA/EC sizes).
public enum SigningAlgorithm: String, Codable, Sendable, CaseIterable {
    case rs256 = "RS256"
    case es256 = "ES256"
    case edDSA = "EdDSA"
}

/// One signing key: private material held in memory only, plus its place in the JWKS.
struct SigningKey: Sendable {
    enum Material: Sendable {
        case rsa(_RSA.Signing.PrivateKey)
        case p256(P256.Signing.PrivateKey)
        case ed25519(Curve25519.Signing.PrivateKey)
    }

    let kid: String
    let algorithm: SigningAlgorithm
    let material: Material
    /// Whether the public half appears in `/oauth/v2/keys`.
    var published: Bool
    let createdAt: Date

    /// Generates a fresh key: RSA 2048 for RS256, P-256 for ES256, Ed25519 for EdDSA.
    static func generate(_ algorithm: SigningAlgorithm, published: Bool = true) throws -> SigningKey {
        let material: Material
        do {
            switch algorithm {
            case .rs256: material = .rsa(try _RSA.Signing.PrivateKey(keySize: .bits2048))
            case .es256: material = .p256(P256.Signing.PrivateKey())
            case .edDSA: material = .ed25519(Curve25519.Signing.PrivateKey())
            }
        } catch {
            throw MockZitadelError.keyGeneration("\(algorithm.rawValue): \(error)")
        }
        return SigningKey(kid: RandomID.zitadelID(), algorithm: algorithm, material: material, published: published, createdAt: Date())
    }

    /// Signs a JWS signing input (`base64url(header).base64url(payload)`).
    func sign(_ input: Data) throws -> Data {
        switch material {
        case .rsa(let key):
            return try key.signature(for: SHA256.hash(data: input), padding: .insecurePKCS1v1_5).rawRepresentation
        case .p256(let key):
            return try key.signature(for: input).rawRepresentation
        case .ed25519(let key):
            return try key.signature(for: input)
        }
    }

    /// Verifies a signature made by this key over a JWS signing input.
    func isValidSignature(_ signature: Data, for input: Data) -> Bool {
        switch material {
        case .rsa(let key):
            return key.publicKey.isValidSignature(
                _RSA.Signing.RSASignature(rawRepresentation: signature),
                for: SHA256.hash(data: input),
                padding: .insecurePKCS1v1_5
            )
        case .p256(let key):
            guard let parsed = try? P256.Signing.ECDSASignature(rawRepresentation: signature) else { return false }
            return key.publicKey.isValidSignature(parsed, for: input)
        case .ed25519(let key):
            return key.publicKey.isValidSignature(signature, for: input)
        }
    }

    /// The public key as an RFC 7517 JWK, in the shape Zitadel serves.
    func jwk() throws -> [String: JSONValue] {
        var jwk: [String: JSONValue] = ["use": "sig", "kid": .string(kid), "alg": .string(algorithm.rawValue)]
        switch material {
        case .rsa(let key):
            let primitives = try key.publicKey.getKeyPrimitives()
            jwk["kty"] = "RSA"
            jwk["n"] = .string(Base64URL.encode(primitives.modulus))
            jwk["e"] = .string(Base64URL.encode(primitives.publicExponent))
        case .p256(let key):
            let raw = key.publicKey.rawRepresentation  // X || Y, 32 bytes each
            jwk["kty"] = "EC"
            jwk["crv"] = "P-256"
            jwk["x"] = .string(Base64URL.encode(raw.prefix(32)))
            jwk["y"] = .string(Base64URL.encode(raw.suffix(32)))
        case .ed25519(let key):
            jwk["kty"] = "OKP"
            jwk["crv"] = "Ed25519"
            jwk["x"] = .string(Base64URL.encode(key.publicKey.rawRepresentation))
        }
        return jwk
    }
}

/// Unpadded base64url (RFC 7515 §2), strict on input.
enum Base64URL {
    static func encode(_ data: some DataProtocol) -> String {
        Data(data).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// Decodes unpadded base64url; `nil` for padding, other alphabets or impossible lengths.
    static func decode(_ string: some StringProtocol) -> Data? {
        guard string.utf8.count % 4 != 1 else { return nil }
        for byte in string.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"):
                continue
            default:
                return nil
            }
        }
        var base64 = string.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.utf8.count % 4) % 4)
        return Data(base64Encoded: base64)
    }
}

/// A compact JWS split into its parts, before any trust decision.
struct CompactJWS {
    let header: [String: JSONValue]
    let payload: [String: JSONValue]
    let signingInput: Data
    let signature: Data

    /// Parses `header.payload.signature`; `nil` for anything that is not three base64url JSON-object parts.
    init?(_ token: String) {
        guard token.utf8.count <= 64 * 1024 else { return nil }
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3,
            let headerData = Base64URL.decode(parts[0]),
            let payloadData = Base64URL.decode(parts[1]),
            let signature = Base64URL.decode(parts[2]),
            let header = try? MockJSON.decode([String: JSONValue].self, from: headerData),
            let payload = try? MockJSON.decode([String: JSONValue].self, from: payloadData)
        else { return nil }
        self.header = header
        self.payload = payload
        self.signingInput = Data("\(parts[0]).\(parts[1])".utf8)
        self.signature = signature
    }

    /// Serialises and signs a header and payload with `key`.
    static func sign(header: [String: JSONValue], payload: [String: JSONValue], key: SigningKey) throws -> String {
        let headerPart = Base64URL.encode(try MockJSON.encode(header))
        let payloadPart = Base64URL.encode(try MockJSON.encode(payload))
        let input = "\(headerPart).\(payloadPart)"
        let signature = try key.sign(Data(input.utf8))
        return "\(input).\(Base64URL.encode(signature))"
    }
}
