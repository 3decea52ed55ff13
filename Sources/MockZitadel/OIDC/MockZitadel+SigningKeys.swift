import Foundation

/// The signing keys: the JWKS, rotation and publication, and verification of the mock's own tokens.
extension MockZitadel {
    /// The published keys as a JWKS document.
    func jwks() throws -> JSONValue {
        .object(["keys": .array(try keys.filter(\.published).map { .object(try $0.jwk()) })])
    }

    /// Every key with its publication and activation state.
    public func keyInfos() -> [KeyInfo] {
        keys.map { KeyInfo(kid: $0.kid, alg: $0.algorithm, published: $0.published, active: activeKids[$0.algorithm] == $0.kid) }
    }

    /// Creates a key for `algorithm` and makes it that algorithm's signer; older keys stay in the JWKS.
    public func rotateKey(algorithm: SigningAlgorithm = .rs256, publish: Bool = true) throws -> KeyInfo {
        let key = try SigningKey.generate(algorithm, published: publish)
        keys.append(key)
        activeKids[algorithm] = key.kid
        return KeyInfo(kid: key.kid, alg: algorithm, published: publish, active: true)
    }

    /// Adds an unpublished key to the JWKS; `nil` for an unknown kid.
    public func publishKey(kid: String) -> KeyInfo? {
        guard let index = keys.firstIndex(where: { $0.kid == kid }) else { return nil }
        keys[index].published = true
        let key = keys[index]
        return KeyInfo(kid: kid, alg: key.algorithm, published: true, active: activeKids[key.algorithm] == kid)
    }

    /// Deletes a key: it leaves the JWKS and tokens it signed stop verifying. The newest remaining key of its
    /// algorithm becomes active if it was. Returns whether the key existed.
    public func deleteKey(kid: String) -> Bool {
        guard let index = keys.firstIndex(where: { $0.kid == kid }) else { return false }
        let removed = keys.remove(at: index)
        if activeKids[removed.algorithm] == kid {
            activeKids[removed.algorithm] = keys.last { $0.algorithm == removed.algorithm }?.kid
        }
        return true
    }

    func signingKey(kid: String?, algorithm: SigningAlgorithm) throws(AdminProblem) -> SigningKey {
        if let kid {
            guard let key = keys.first(where: { $0.kid == kid }) else {
                throw AdminProblem(status: 400, code: "unknown_kid", title: "Unknown key", detail: "No signing key has kid \(kid).")
            }
            return key
        }
        guard let kid = activeKids[algorithm], let key = keys.first(where: { $0.kid == kid }) else {
            throw AdminProblem(
                status: 409,
                code: "no_signing_key",
                title: "No signing key",
                detail: "No active \(algorithm.rawValue) key; rotate one in with POST /mock/admin/keys/rotate."
            )
        }
        return key
    }

    /// Verifies a JWS signed by one of the mock's keys (published or not) and returns its payload.
    func verifiedPayload(_ token: String) -> [String: JSONValue]? {
        guard let jws = CompactJWS(token),
            let kid = jws.header["kid"]?.stringValue,
            let key = keys.first(where: { $0.kid == kid }),
            jws.header["alg"]?.stringValue == key.algorithm.rawValue,
            key.isValidSignature(jws.signature, for: jws.signingInput)
        else { return nil }
        return jws.payload
    }
}
