/// An Australian mobile number, normalised to E.164 (`+614XXXXXXXX`).
///
/// Accepted input: digits with spaces, dashes, dots and brackets in any grouping, in the national form
/// (`04XX XXX XXX`), the international form (`+61 4XX XXX XXX`, also written `+61 (0)4…` or `+61 04…`), or
/// dialled from abroad or from Australia (`0061 4…`, `0011 61 4…`). Mobile numbers are the `04` range of the
/// Australian numbering plan (ACMA: digital mobile services); everything else is refused with a reason.
public struct AustralianMobile: Sendable, Hashable, CustomStringConvertible {
    /// `+614` and eight digits.
    public let e164: String

    public init(parsing input: String) throws(PhoneNumberError) {
        e164 = try Self.normalise(input)
    }

    /// Never the full number: safe to print.
    public var description: String { masked }

    /// The tail only, for responses, logs and audit: `+61 4•• ••• 678`.
    public var masked: String {
        "+61 4•• ••• " + String(e164.suffix(3))
    }

    /// What the caller is told whenever a number is refused.
    public static let acceptedForms =
        "Enter an Australian mobile number: 04XX XXX XXX or +61 4XX XXX XXX (also 0061 4… or 0011 61 4…)."

    static func normalise(_ input: String) throws(PhoneNumberError) -> String {
        let trimmed = input.trimmingWhitespace
        guard !trimmed.isEmpty else { throw .empty }
        guard trimmed.utf8.count <= 40 else { throw .wrongLength }
        var digits: [UInt8] = []
        var plus = false
        for (index, byte) in trimmed.utf8.enumerated() {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digits.append(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "+") where index == 0: plus = true
            case UInt8(ascii: " "), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "("), UInt8(ascii: ")"),
                UInt8(ascii: "\t"):
                continue
            default: throw .invalidCharacters
            }
        }
        var national: ArraySlice<UInt8>
        var international = true
        if plus {
            guard digits.starts(with: [6, 1]) else { throw .notAustralian }
            national = digits.dropFirst(2)
        } else if digits.starts(with: [0, 0, 1, 1]) {
            // Dialled from Australia with the international access code.
            guard digits.dropFirst(4).starts(with: [6, 1]) else { throw .notAustralian }
            national = digits.dropFirst(6)
        } else if digits.starts(with: [0, 0]) {
            // Dialled from abroad with the common international prefix 00.
            guard digits.dropFirst(2).starts(with: [6, 1]) else { throw .notAustralian }
            national = digits.dropFirst(4)
        } else if digits.first == 0 {
            national = digits.dropFirst()
            international = false
        } else if digits.first == 1 {
            // 13, 1300, 1800 and 19xx numbers are dialled without a trunk zero.
            national = digits[...]
            international = false
        } else {
            throw .missingPrefix
        }
        // `+61 (0)4…` and `+61 04…`: the trunk zero written after the country code.
        if international, national.first == 0 {
            national = national.dropFirst()
        }
        try Self.checkMobile(Array(national))
        return "+61" + national.map { String($0) }.joined()
    }

    /// `national` is the number without the trunk zero or country code: 9 digits starting with 4 for a mobile.
    static func checkMobile(_ national: [UInt8]) throws(PhoneNumberError) {
        guard let first = national.first else { throw .wrongLength }
        switch first {
        case 4:
            guard national.count == 9 else { throw .wrongLength }
        case 2, 3, 7, 8: throw .landline
        case 1:
            if national.starts(with: [1, 3]) { throw .localRate }
            if national.starts(with: [1, 8]) { throw .freephone }
            if national.starts(with: [1, 9]) { throw .premium }
            throw .notMobile
        default: throw .notMobile
        }
    }
}

/// Why a number is not an Australian mobile; `message` is written for the person who typed it.
public enum PhoneNumberError: Error, Sendable, Equatable {
    case empty, invalidCharacters, wrongLength, notAustralian, missingPrefix, landline, localRate, freephone, premium
    case notMobile

    public var message: String {
        let reason =
            switch self {
            case .empty: "The phone number is empty."
            case .invalidCharacters: "A phone number may contain only digits, spaces, dashes, brackets and a leading +."
            case .wrongLength: "An Australian mobile number has 10 digits (04XX XXX XXX)."
            case .notAustralian: "Only Australian (+61) mobile numbers can receive sign-in codes."
            case .missingPrefix: "Start the number with 04, +61 4, 0061 4 or 0011 61 4."
            case .landline: "This is a landline number; sign-in codes need a mobile number."
            case .localRate: "13 and 1300 numbers cannot receive text messages."
            case .freephone: "1800 freephone numbers cannot receive text messages."
            case .premium: "19xx premium numbers cannot receive sign-in codes."
            case .notMobile: "This is not an Australian mobile number (pagers and special services are not accepted)."
            }
        return reason + " " + AustralianMobile.acceptedForms
    }
}

extension String {
    var trimmingWhitespace: Substring {
        var slice = Substring(self)
        while let first = slice.first, first.isWhitespace { slice.removeFirst() }
        while let last = slice.last, last.isWhitespace { slice.removeLast() }
        return slice
    }
}
