/// The RFC 7519 NumericDates (`exp`, `nbf`, `iat`, `auth_time`) the gateway accepts: 1970-01-01T00:00:00Z up to
/// the end of 9999-12-31, the range an RFC 3339 timestamp can render. A signed token claiming a date outside it
/// is malformed, however genuine its signature.
public enum NumericDate {
    public static let earliest: Double = 0
    /// 10000-01-01T00:00:00Z, the first second past the window.
    public static let end: Double = 253_402_300_800

    /// False for NaN, infinities and every date outside the window.
    public static func isValid(_ seconds: Double) -> Bool {
        seconds >= earliest && seconds < end
    }

    /// `seconds` brought into the window (NaN to its start): renderers stay total whatever they are given.
    public static func clamped(_ seconds: Double) -> Double {
        guard !seconds.isNaN else { return earliest }
        return min(max(seconds, earliest), end - 1)
    }
}

extension Int {
    /// `Int(value)` without the trap: NaN is 0 and values beyond `Int`'s range saturate. For durations and
    /// retry hints computed from stored or provider-supplied times.
    public init(saturating value: Double) {
        if value.isNaN {
            self = 0
        } else if value >= 0x1p63 {
            self = .max
        } else if value < -0x1p63 {
            self = .min
        } else {
            self = Int(value)
        }
    }
}
