import Foundation

/// Phone numbers as Zitadel normalises them (E.164; no `+` means Switzerland, libphonenumber's default region
/// in Zitadel), and the masked form the mock shows.
enum PhoneNumber {
    /// Country calling codes libphonenumber knows (`CountryCodeToRegionCodeMap`): Parse takes the longest of the
    /// first one to three digits that is one.
    static let countryCodes: Set<Int> = {
        var codes: Set<Int> = [
            1, 7, 20, 27, 30, 31, 32, 33, 34, 36, 39, 40, 41, 43, 44, 45, 46, 47, 48, 49, 51, 52, 53, 54, 55, 56, 57, 58,
            60, 61, 62, 63, 64, 65, 66, 81, 82, 84, 86, 90, 91, 92, 93, 94, 95, 98, 211, 212, 213, 216, 218, 290, 291,
            297, 298, 299, 350, 351, 352, 353, 354, 355, 356, 357, 358, 359, 370, 371, 372, 373, 374, 375, 376, 377, 378,
            380, 381, 382, 383, 385, 386, 387, 389, 420, 421, 423, 670, 800, 808, 850, 852, 853, 855, 856, 870, 878, 880,
            881, 882, 883, 886, 888, 979, 998,
        ]
        codes.formUnion(220...258)
        codes.formUnion(260...269)
        codes.formUnion(500...509)
        codes.formUnion(590...599)
        codes.formUnion(672...683)
        codes.formUnion(685...692)
        codes.formUnion(960...968)
        codes.formUnion(970...977)
        codes.formUnion(992...996)
        return codes
    }()

    /// E.164 or the Zitadel error for the input, as Zitadel's `domain.PhoneNumber.Normalize` does it
    /// (`internal/domain/human_phone.go`): libphonenumber's `Parse` with default region CH, then E.164. `Parse`
    /// checks the form, not validity: a known country code and 2-17 national digits (`+6112` parses).
    static func normalise(_ input: String) throws(ZitadelError) -> String {
        let trimmed = input.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { throw ZitadelError(.invalidArgument, "PHONE-Zt0NV", "Phone is empty") }
        let invalid = ZitadelError(.invalidArgument, "PHONE-so0wa", "Phone is invalid")
        var rest = Substring(trimmed)
        let international = rest.hasPrefix("+")
        if international { rest = rest.dropFirst() }
        var digits = ""
        for character in rest {
            if character.isASCII, character.isNumber {
                digits.append(character)
            } else if !" -().\u{00A0}/".contains(character) {
                throw invalid
            }
        }
        var national: Substring
        var countryCode: Int
        if international || digits.hasPrefix("00") {
            // International form: `+` or Switzerland's international prefix 00, then a country code.
            let number = international ? Substring(digits) : digits.dropFirst(2)
            guard
                let length = (1...3).first(where: { length in
                    number.count > length && number.first != "0" && Int(number.prefix(length)).map(countryCodes.contains) == true
                })
            else { throw invalid }
            countryCode = Int(number.prefix(length)) ?? 0
            national = number.dropFirst(length)
        } else {
            // National form in the default region CH: its national prefix 0 is stripped.
            countryCode = 41
            national = Substring(digits)
            if national.hasPrefix("0") { national = national.dropFirst() }
        }
        guard (2...17).contains(national.count) else { throw invalid }
        return "+\(countryCode)\(national)"
    }

    /// `+61 4•• ••• 678` for Australian mobiles; otherwise the country code and last three digits.
    static func masked(_ e164: String) -> String {
        let digits = Array(e164.dropFirst())
        guard digits.count > 5 else { return e164 }
        if e164.hasPrefix("+614"), digits.count == 11 {
            return "+61 4•• ••• " + String(digits.suffix(3))
        }
        let countryLength = e164.hasPrefix("+1") || e164.hasPrefix("+7") ? 1 : 2
        let hidden = String(repeating: "•", count: digits.count - countryLength - 3)
        return "+" + String(digits.prefix(countryLength)) + " " + hidden + " " + String(digits.suffix(3))
    }
}
