import GatewayCore
import Testing

@Suite struct AustralianMobileTests {
    @Test(
        "Accepted forms normalise to +614 and eight digits",
        arguments: [
            "0491 570 156", "0491570156", "0491-570-156", "(0491) 570 156", "+61 491 570 156", "+61491570156",
            "+61 (0)491 570 156", "+61 0491 570 156", "0061 491 570 156", "0011 61 491 570 156", "  0491.570.156  ",
        ])
    func acceptedForms(input: String) throws {
        #expect(try AustralianMobile(parsing: input).e164 == "+61491570156")
    }

    @Test(
        "Everything that is not an Australian mobile is refused with its reason",
        arguments: [
            ("", PhoneNumberError.empty),
            ("02 9876 5432", .landline), ("(03) 9123 4567", .landline), ("+61 7 3123 4567", .landline),
            ("08 8123 4567", .landline),
            ("13 12 34", .localRate), ("1300 123 456", .localRate), ("1800 123 456", .freephone),
            ("1900 123 456", .premium), ("016 123 456", .notMobile), ("0550 123 456", .notMobile),
            ("+44 7700 900123", .notAustralian), ("+1 415 555 0100", .notAustralian), ("0044 7700 900123", .notAustralian),
            ("0011 44 7700 900123", .notAustralian),
            ("0491 570 15", .wrongLength), ("0491 570 1567", .wrongLength), ("+61 491 570", .wrongLength),
            ("0491 57O 156", .invalidCharacters), ("0491+570156", .invalidCharacters), ("call me", .invalidCharacters),
            ("491 570 156", .missingPrefix), ("61491570156", .missingPrefix),
            (String(repeating: "0", count: 41), .wrongLength),
        ])
    func refusals(input: String, expected: PhoneNumberError) {
        #expect(throws: expected) { try AustralianMobile(parsing: input) }
        #expect(expected.message.contains("04XX XXX XXX"))
    }

    @Test func maskingKeepsOnlyTheTail() throws {
        let number = try AustralianMobile(parsing: "0491 570 678")
        #expect(number.masked == "+61 4•• ••• 678")
        #expect("\(number)" == number.masked)
        #expect(!number.masked.contains("91570"))
    }
}

@Suite struct GCRATests {
    let rule = RateLimitRule(name: "user", limit: 3, periodSeconds: 60)

    @Test func allowsABurstOfLimitThenSpacesRequests() {
        var tat: Double?
        var remaining: [Int] = []
        for _ in 0..<3 {
            let outcome = GCRA.evaluate(tat: tat, now: 1000, rule: rule)
            #expect(outcome.allowed)
            remaining.append(outcome.remaining)
            tat = outcome.newTAT
        }
        #expect(remaining == [2, 1, 0])
        let refused = GCRA.evaluate(tat: tat, now: 1000, rule: rule)
        #expect(!refused.allowed)
        #expect(refused.retryAfter == 20)
        #expect(refused.newTAT == tat)
        // One emission interval later, exactly one more fits.
        #expect(GCRA.evaluate(tat: tat, now: 1020, rule: rule).allowed)
        // A full period later the bucket is empty again.
        #expect(GCRA.evaluate(tat: tat, now: 1060, rule: rule).remaining == 2)
    }
}
