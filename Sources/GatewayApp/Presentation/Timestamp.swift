import Foundation
import GatewayCore

/// A time as every response renders it: RFC 3339 in UTC with whole seconds (`2026-11-23T16:08:26Z`), the one
/// format `openapi.yaml` documents. DTOs hold their times as `Timestamp` (the response encoder renders `Date`
/// the same way), and provider times are parsed and rendered again rather than passed through.
///
/// Written without Foundation's formatter, which allocates and showed up in `/v1/session` profiles. Same output
/// as `Date.formatted(.iso8601)`.
struct Timestamp: Encodable, Sendable, Equatable {
    /// Seconds since 1970-01-01T00:00:00Z.
    var seconds: Double

    init(_ seconds: Double) {
        self.seconds = seconds
    }

    init(_ date: Date) {
        self.seconds = date.timeIntervalSince1970
    }

    /// Parses an RFC 3339 `date-time` (section 5.6: any fraction, `Z` or a numeric offset; `T`/`Z` in either
    /// case), as Zitadel's protojson times are written. Nil for anything else, or a date outside the years
    /// 1970 to 9999.
    init?(rfc3339 text: String) {
        var text = text
        guard let seconds = text.withUTF8({ Self.parse($0) }), NumericDate.isValid(seconds) else { return nil }
        self.seconds = seconds
    }

    var rfc3339: String { Self.rfc3339(seconds) }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rfc3339)
    }

    /// Total: a time outside 1970-01-01...9999-12-31 (which validation and the stores never let through) renders
    /// as the nearest end of that window instead of trapping on a conversion.
    static func rfc3339(_ seconds: Double) -> String {
        let total = Int64(NumericDate.clamped(seconds).rounded(.down))
        var days = total / 86_400
        var secondOfDay = total % 86_400
        if secondOfDay < 0 {
            secondOfDay += 86_400
            days -= 1
        }
        // Civil date from days since 1970-01-01 (H. Hinnant, "chrono-compatible low-level date algorithms").
        let shifted = days + 719_468
        let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(20)
        func append(_ value: Int64, digits: Int) {
            var divisor: Int64 = 1
            for _ in 1..<digits { divisor *= 10 }
            var remaining = value
            while divisor > 0 {
                bytes.append(UInt8(ascii: "0") + UInt8(remaining / divisor))
                remaining %= divisor
                divisor /= 10
            }
        }
        append(year, digits: 4)
        bytes.append(UInt8(ascii: "-"))
        append(month, digits: 2)
        bytes.append(UInt8(ascii: "-"))
        append(day, digits: 2)
        bytes.append(UInt8(ascii: "T"))
        append(secondOfDay / 3600, digits: 2)
        bytes.append(UInt8(ascii: ":"))
        append(secondOfDay / 60 % 60, digits: 2)
        bytes.append(UInt8(ascii: ":"))
        append(secondOfDay % 60, digits: 2)
        bytes.append(UInt8(ascii: "Z"))
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func parse(_ bytes: UnsafeBufferPointer<UInt8>) -> Double? {
        var index = 0
        func number(_ digits: Int) -> Int64? {
            guard index + digits <= bytes.count else { return nil }
            var value: Int64 = 0
            for _ in 0..<digits {
                let byte = bytes[index]
                guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
                value = value * 10 + Int64(byte - UInt8(ascii: "0"))
                index += 1
            }
            return value
        }
        /// `character` next; a letter in either case.
        func expect(_ character: Unicode.Scalar) -> Bool {
            let expected = UInt8(ascii: character)
            let isLetter = expected >= UInt8(ascii: "a") && expected <= UInt8(ascii: "z")
            guard index < bytes.count, bytes[index] | (isLetter ? 0x20 : 0) == expected else { return false }
            index += 1
            return true
        }
        guard let year = number(4), expect("-"), let month = number(2), expect("-"), let day = number(2), expect("t"),
            let hour = number(2), expect(":"), let minute = number(2), expect(":"), let second = number(2)
        else { return nil }
        var fraction = 0.0
        if expect(".") {
            var scale = 0.1
            let start = index
            while index < bytes.count, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9") {
                fraction += Double(bytes[index] - UInt8(ascii: "0")) * scale
                scale /= 10
                index += 1
            }
            guard index > start else { return nil }
        }
        var offset: Int64 = 0
        if !expect("z") {
            guard index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") else { return nil }
            let sign: Int64 = bytes[index] == UInt8(ascii: "-") ? -1 : 1
            index += 1
            guard let hours = number(2), expect(":"), let minutes = number(2), hours <= 23, minutes <= 59 else { return nil }
            offset = sign * (hours * 3600 + minutes * 60)
        }
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
        let monthDays: [Int64] = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        guard index == bytes.count, (1...12).contains(month), day >= 1, day <= monthDays[Int(month - 1)], hour <= 23,
            minute <= 59, second <= 60
        else { return nil }
        // Days since 1970-01-01 from a civil date (the inverse of the algorithm in `rfc3339`).
        let shiftedYear = month <= 2 ? year - 1 : year
        let era = shiftedYear / 400
        let yearOfEra = shiftedYear - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        let days = era * 146_097 + dayOfEra - 719_468
        // A leap second (:60) reads as the last second of its minute.
        let total = days * 86_400 + hour * 3600 + minute * 60 + min(second, 59) - offset
        return Double(total) + fraction
    }
}
