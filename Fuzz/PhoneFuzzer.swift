// libFuzzer target for the Australian mobile parser. Besides "no crash", it checks properties: an accepted
// number is `+614` and eight digits, parses again to itself, and its mask shows only the last three digits.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPhone(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    guard let input = String(validating: UnsafeRawBufferPointer(start: start, count: count), as: UTF8.self) else { return 0 }
    do {
        let number = try AustralianMobile(parsing: input)
        let digits = number.e164.utf8.dropFirst()
        guard number.e164.hasPrefix("+614"), number.e164.utf8.count == 12,
            digits.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) })
        else { fatalError("accepted a number that is not +614 and eight digits") }
        guard (try? AustralianMobile(parsing: number.e164)) == number else { fatalError("not idempotent") }
        guard number.masked.filter(\.isNumber).count == 6, number.masked.hasSuffix(String(number.e164.suffix(3))) else {
            fatalError("the mask shows more than the tail")
        }
    } catch {
        guard !error.message.isEmpty else { fatalError("a refusal without a message") }
    }
    return 0
}
