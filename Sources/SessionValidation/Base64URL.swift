/// Strict base64url (RFC 4648 §5) without padding, as JWS compact serialisation requires.
///
/// Rejects `=`, `+`, `/`, whitespace and impossible lengths rather than guessing.
enum Base64URL {
    private static let decodeTable: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
        for (index, byte) in alphabet.enumerated() { table[Int(byte)] = UInt8(index) }
        return table
    }()

    private static let encodeTable = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    static func decode(_ input: some Collection<UInt8>) -> [UInt8]? {
        if let decoded = input.withContiguousStorageIfAvailable({ decode(contiguous: $0) }) { return decoded }
        return Array(input).withUnsafeBufferPointer { decode(contiguous: $0) }
    }

    /// Decodes into an array written in place, four characters to three bytes at a time: one allocation, no
    /// per-byte capacity or bounds checks, and one validity test per group (this runs on every uncached
    /// token's payload and signature).
    private static func decode(contiguous input: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        let count = input.count
        let remainder = count % 4
        if remainder == 1 { return nil }
        var valid = true
        // Read once: a lazy static read inside the loop paid its once-check per byte (seen in profiles).
        let output = decodeTable.withUnsafeBufferPointer { table in
            [UInt8](unsafeUninitializedCapacity: count * 3 / 4) { output, written in
                // Alphabet values are below 64; the table marks every other byte 0xFF, so any bit above the
                // sixth in the OR of a group's values means a foreign byte.
                var foreign: UInt8 = 0
                var inputIndex = 0
                var outputIndex = 0
                let groupsEnd = count - remainder
                while inputIndex < groupsEnd {
                    let a = table[Int(input[inputIndex])]
                    let b = table[Int(input[inputIndex + 1])]
                    let c = table[Int(input[inputIndex + 2])]
                    let d = table[Int(input[inputIndex + 3])]
                    foreign |= a | b | c | d
                    let group = UInt32(a) << 18 | UInt32(b) << 12 | UInt32(c) << 6 | UInt32(d)
                    output[outputIndex] = UInt8(truncatingIfNeeded: group >> 16)
                    output[outputIndex + 1] = UInt8(truncatingIfNeeded: group >> 8)
                    output[outputIndex + 2] = UInt8(truncatingIfNeeded: group)
                    inputIndex += 4
                    outputIndex += 3
                }
                // A final group of two or three characters carries one or two bytes. Its leftover bits must be
                // zero: otherwise two encodings decode alike (non-canonical).
                if remainder >= 2 {
                    let a = table[Int(input[inputIndex])]
                    let b = table[Int(input[inputIndex + 1])]
                    foreign |= a | b
                    output[outputIndex] = a << 2 | b >> 4
                    outputIndex += 1
                    if remainder == 3 {
                        let c = table[Int(input[inputIndex + 2])]
                        foreign |= c
                        output[outputIndex] = b << 4 | c >> 2
                        outputIndex += 1
                        if c & 0x03 != 0 { foreign |= 0xC0 }
                    } else if b & 0x0F != 0 {
                        foreign |= 0xC0
                    }
                }
                valid = foreign & 0xC0 == 0
                written = valid ? outputIndex : 0
            }
        }
        return valid ? output : nil
    }

    /// True when `input` would decode: the alphabet, the length and canonical trailing bits. Allocates nothing.
    static func isValid(_ input: some Collection<UInt8>) -> Bool {
        if input.count % 4 == 1 { return false }
        var last: UInt8 = 0
        let table = decodeTable
        for byte in input {
            last = table[Int(byte)]
            if last == 0xFF { return false }
        }
        switch input.count % 4 {
        case 2: return last & 0x0F == 0
        case 3: return last & 0x03 == 0
        default: return true
        }
    }

    static func decode(_ string: String) -> [UInt8]? {
        decode(Array(string.utf8))
    }

    static func encode(_ bytes: some Collection<UInt8>) -> String {
        var output = [UInt8]()
        output.reserveCapacity((bytes.count * 4 + 2) / 3)
        var buffer: UInt32 = 0
        var bits = 0
        for byte in bytes {
            buffer = (buffer << 8) | UInt32(byte)
            bits += 8
            while bits >= 6 {
                bits -= 6
                output.append(encodeTable[Int((buffer >> UInt32(bits)) & 0x3F)])
            }
        }
        if bits > 0 {
            output.append(encodeTable[Int((buffer << UInt32(6 - bits)) & 0x3F)])
        }
        return String(decoding: output, as: UTF8.self)
    }
}
