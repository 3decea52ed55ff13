import GatewayCore
import Testing

@Suite struct NumericDateTests {
    @Test func windowRunsFrom1970ToTheEndOf9999() {
        for valid in [0, -0.0, 1_795_000_000.5, 253_402_300_799, 253_402_300_799.999] {
            #expect(NumericDate.isValid(valid), "\(valid)")
        }
        for invalid in [-1, -0.001, 253_402_300_800, 1e300, -1e300, .infinity, -Double.infinity, .nan] {
            #expect(!NumericDate.isValid(invalid), "\(invalid)")
        }
        #expect(NumericDate.clamped(1e300) == 253_402_300_799)
        #expect(NumericDate.clamped(-5) == 0)
        #expect(NumericDate.clamped(.nan) == 0)
        #expect(NumericDate.clamped(1_795_000_000.5) == 1_795_000_000.5)
    }

    /// `Int(Double)` traps past `Int`'s range and on NaN; retry hints computed from stored times must not.
    @Test func saturatingConversionNeverTraps() {
        #expect(Int(saturating: 1e300) == .max)
        #expect(Int(saturating: .infinity) == .max)
        #expect(Int(saturating: 0x1p63) == .max)
        #expect(Int(saturating: -0x1p63) == .min)
        #expect(Int(saturating: -1e300) == .min)
        #expect(Int(saturating: -Double.infinity) == .min)
        #expect(Int(saturating: .nan) == 0)
        #expect(Int(saturating: 12.9) == 12)
        #expect(Int(saturating: -12.9) == -12)
        #expect(Int(saturating: 0x1p62) == 1 << 62)
    }

    /// A limit as large as `Int` allows (a configuration value) counts its remaining requests without trapping.
    @Test func rateLimitRemainingSaturates() {
        let outcome = GCRA.evaluate(tat: nil, now: 1_795_000_000, rule: RateLimitRule(name: "global", limit: .max, periodSeconds: 1))
        #expect(outcome.allowed)
        #expect(outcome.remaining == .max)
    }
}
