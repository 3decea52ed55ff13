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

    /// Decodes into an array written in place: one allocation, no per-byte capacity or bounds checks (this runs
    /// on every uncached token's payload and signature).
    private static func decode(contiguous input: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        let count = input.count
        if count % 4 == 1 { return nil }
        var valid = true
        // Read once: a lazy static read inside the loop paid its once-check per byte (seen in profiles).
        let output = decodeTable.withUnsafeBufferPointer { table in
            [UInt8](unsafeUninitializedCapacity: count * 3 / 4) { output, written in
                var buffer: UInt32 = 0
                var bits = 0
                var length = 0
                for byte in input {
                    let value = table[Int(byte)]
                    if value == 0xFF {
                        valid = false
                        break
                    }
                    buffer = (buffer << 6) | UInt32(value)
                    bits += 6
                    if bits >= 8 {
                        bits -= 8
                        output[length] = UInt8(truncatingIfNeeded: buffer >> UInt32(bits))
                        length += 1
                    }
                }
                // Leftover bits must be zero: otherwise two encodings decode alike (non-canonical).
                if valid, bits > 0, buffer & ((1 << UInt32(bits)) - 1) != 0 { valid = false }
                written = valid ? length : 0
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
