import Foundation
import Metrics
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Which opaque strings may be one issuer's access tokens: only those are ever sent to its introspection
/// endpoint (another issuer's token would be disclosed to it, and junk costs an authenticated call).
public struct OpaqueTokenPolicy: Sendable, Equatable {
    /// The shape an issuer's opaque tokens have.
    public enum Format: String, Sendable, CaseIterable {
        /// Zitadel's: `op.CreateBearerToken` encrypts `tokenID:userID` (PATs likewise, `createToken`). Since
        /// zitadel/oidc v3.47 (`pkg/op/crypto.go`, `aes256GCMCrypto`) that is a compact JWE: five base64url
        /// segments joined by dots. Before it (`aesCrypto`, still decrypted when legacy tokens are enabled, and
        /// PATs: `internal/command/user_personal_access_token.go`) it is one unpadded base64url string of a
        /// 16-byte IV and the AES-CFB ciphertext.
        case zitadel
        /// Any printable ASCII without whitespace (another provider's opaque tokens).
        case printable
    }

    /// False: this issuer's opaque tokens are never introspected (introspection is configured for the
    /// revocation check or MFA lookups of its JWTs only).
    public var enabled: Bool
    public var format: Format
    /// A literal prefix the issuer's tokens carry (checked, and kept: the token is sent whole).
    public var prefix: String?
    /// Length bounds in bytes, prefix included.
    public var minLength: Int
    public var maxLength: Int

    /// The shortest legacy Zitadel token: a 16-byte IV and `a:b` (19 bytes) are 26 base64url characters.
    public static let zitadelMinLength = 26

    public init(
        enabled: Bool = true, format: Format = .zitadel, prefix: String? = nil,
        minLength: Int = OpaqueTokenPolicy.zitadelMinLength, maxLength: Int = 4096
    ) {
        self.enabled = enabled
        self.format = format
        self.prefix = prefix
        self.minLength = minLength
        self.maxLength = maxLength
    }

    /// Whether `token` can be one of this issuer's opaque tokens: decided locally, before any call.
    public func admits(_ token: String) -> Bool {
        guard enabled else { return false }
        let bytes = Array(token.utf8)
        guard bytes.count >= minLength, bytes.count <= maxLength else { return false }
        var body = bytes[...]
        if let prefix, !prefix.isEmpty {
            guard bytes.starts(with: prefix.utf8) else { return false }
            body = bytes.dropFirst(prefix.utf8.count)
        }
        switch format {
        case .printable:
            return !body.isEmpty && body.allSatisfy { $0 > 0x20 && $0 < 0x7F }
        case .zitadel:
            return Self.isZitadelShaped(body)
        }
    }

    /// One unpadded base64url string (legacy tokens, PATs) or a compact JWE of five such segments whose
    /// protected header is a JSON object (it starts `eyJ`, the encoding of `{"`); the encrypted-key segment may
    /// be empty (direct encryption), the others may not.
    static func isZitadelShaped(_ body: ArraySlice<UInt8>) -> Bool {
        let segments = body.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        switch segments.count {
        case 1:
            return isUnpaddedBase64URL(segments[0], allowEmpty: false)
        case 5:
            guard segments[0].starts(with: "eyJ".utf8) else { return false }
            return segments.indices.allSatisfy { isUnpaddedBase64URL(segments[$0], allowEmpty: $0 == 1) }
        default:
            return false
        }
    }

    /// Canonical unpadded base64url (`Base64URL.isValid`); empty only where allowed.
    private static func isUnpaddedBase64URL(_ segment: ArraySlice<UInt8>, allowEmpty: Bool) -> Bool {
        segment.isEmpty ? allowEmpty : Base64URL.isValid(segment)
    }
}

/// Limits on introspecting opaque tokens the gateway has not seen (cache misses), shared by all issuers.
public struct OpaqueAdmissionSettings: Sendable, Equatable {
    /// Introspections of unknown opaque tokens running at once; more are refused (503).
    public var maxConcurrent: Int
    /// Cache misses per second over the whole instance, with a burst allowance; beyond them 503.
    public var globalRate: Double
    public var globalBurst: Double
    /// The trusted request header naming the caller's address (set by the proxy in front); nil: no
    /// per-address limit. A request without it is charged to one shared bucket.
    public var callerAddressHeader: String?
    /// Cache misses per second per caller address (IPv6 keyed by its /64), with a burst; beyond them 429.
    public var perAddressRate: Double
    public var perAddressBurst: Double

    public init(
        maxConcurrent: Int = 64, globalRate: Double = 200, globalBurst: Double = 400, callerAddressHeader: String? = nil,
        perAddressRate: Double = 5, perAddressBurst: Double = 20
    ) {
        self.maxConcurrent = maxConcurrent
        self.globalRate = globalRate
        self.globalBurst = globalBurst
        self.callerAddressHeader = callerAddressHeader
        self.perAddressRate = perAddressRate
        self.perAddressBurst = perAddressBurst
    }

    public func validate() throws(ConfigurationError) {
        guard maxConcurrent >= 1 else { throw ConfigurationError("validation.opaqueTokens.maxConcurrent must be >= 1") }
        guard globalRate > 0, globalBurst >= 1, perAddressRate > 0, perAddressBurst >= 1 else {
            throw ConfigurationError("validation.opaqueTokens rates must be > 0 and bursts >= 1")
        }
    }
}

/// Admits introspections of unknown opaque tokens: a per-address and a global token bucket, then a cap on
/// calls in flight. Every refusal is counted (`gateway_opaque_token_admissions_total`).
final class OpaqueTokenAdmission: Sendable {
    private struct Bucket {
        var tokens: Double
        var updatedAt: Double

        /// Refills at `rate` up to `burst`, then takes one token if there is one.
        mutating func take(now: Double, rate: Double, burst: Double) -> Bool {
            tokens = min(burst, tokens + max(0, now - updatedAt) * rate)
            updatedAt = now
            guard tokens >= 1 else { return false }
            tokens -= 1
            return true
        }
    }

    private struct State {
        var global: Bucket
        var perAddress: [String: Bucket] = [:]
        var running = 0
    }

    private let settings: OpaqueAdmissionSettings
    private let state: Mutex<State>
    /// Addresses tracked at most; beyond it, refilled buckets are dropped (a full one is a fresh one).
    private let addressCapacity = 10_000
    private let counters: [String: Counter]

    init(settings: OpaqueAdmissionSettings) {
        self.settings = settings
        self.state = Mutex(State(global: Bucket(tokens: settings.globalBurst, updatedAt: Date().timeIntervalSince1970)))
        var counters: [String: Counter] = [:]
        for result in ["admitted", "rate_limited_address", "rate_limited_global", "overloaded"] {
            counters[result] = Counter(label: "gateway_opaque_token_admissions_total", dimensions: [("result", result)])
        }
        self.counters = counters
    }

    /// A slot for one unknown token's introspections, or the refusal. The caller must `release()` it.
    func admit(callerAddress: String?) throws(ValidationFailure) {
        let now = Date().timeIntervalSince1970
        let refusal: (ValidationFailure, String)? = state.withLock { state in
            if settings.callerAddressHeader != nil {
                let key = callerAddress.map(CallerAddress.limitKey) ?? "(none)"
                if state.perAddress.count >= addressCapacity, state.perAddress[key] == nil {
                    let full = settings.perAddressBurst
                    state.perAddress = state.perAddress.filter { _, bucket in
                        bucket.tokens + (now - bucket.updatedAt) * settings.perAddressRate < full
                    }
                    if state.perAddress.count >= addressCapacity { state.perAddress.removeAll() }
                }
                var bucket = state.perAddress[key] ?? Bucket(tokens: settings.perAddressBurst, updatedAt: now)
                let taken = bucket.take(now: now, rate: settings.perAddressRate, burst: settings.perAddressBurst)
                state.perAddress[key] = bucket
                guard taken else { return (.introspectionRateLimited, "rate_limited_address") }
            }
            guard state.global.take(now: now, rate: settings.globalRate, burst: settings.globalBurst) else {
                return (.introspectionOverloaded, "rate_limited_global")
            }
            guard state.running < settings.maxConcurrent else { return (.introspectionOverloaded, "overloaded") }
            state.running += 1
            return nil
        }
        if let (failure, label) = refusal {
            counters[label]?.increment()
            throw failure
        }
        counters["admitted"]?.increment()
    }

    func release() {
        state.withLock { $0.running = max(0, $0.running - 1) }
    }
}

/// The key a caller address is limited under: IPv4 as given, IPv6 by its /64 (one subscriber's prefix). Of a
/// list (`X-Forwarded-For`) the last element counts: the one the trusted proxy appended.
enum CallerAddress {
    static func limitKey(_ raw: String) -> String {
        let address = (raw.split(separator: ",").last.map(String.init) ?? raw).trimmingCharacters(in: .whitespaces)
        guard address.contains(":") else { return address }
        var storage = in6_addr()
        let parsed = address.withCString { inet_pton(AF_INET6, $0, &storage) } == 1
        guard parsed else { return address }
        let bytes = withUnsafeBytes(of: storage) { Array($0.prefix(8)) }
        return stride(from: 0, to: 8, by: 2).map { String(UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]), radix: 16) }
            .joined(separator: ":") + "::/64"
    }
}
