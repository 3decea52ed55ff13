/// The end user's network address as a rate-limit key: an IPv4 address, or the /64 network of an IPv6 address
/// (one subscriber's allocation, whose interface bits the user chooses freely).
///
/// Parsed, not compared as text: `2001:DB8::1` and `2001:0db8:0:0::2` are one /64, and an IPv4-mapped IPv6
/// address (`::ffff:203.0.113.5`) is the IPv4 address it carries.
public struct CallerAddress: Sendable, Hashable, CustomStringConvertible {
    /// `203.0.113.5`, or `2001:db8:0:1::/64`: canonical, so that every spelling of an address gets one budget.
    public let key: String

    /// nil when `text` is not an IPv4 or IPv6 address literal (zone ids, ports and brackets are not accepted).
    public init?(parsing text: some StringProtocol) {
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty, bytes.count <= 45 else { return nil }
        if let v4 = Self.ipv4(bytes[...]) {
            key = Self.format(v4)
            return
        }
        guard let v6 = Self.ipv6(bytes) else { return nil }
        if v6[0..<10].allSatisfy({ $0 == 0 }) && v6[10] == 0xFF && v6[11] == 0xFF {
            key = Self.format(Array(v6[12..<16]))
            return
        }
        let groups = stride(from: 0, to: 8, by: 2).map { String(UInt16(v6[$0]) << 8 | UInt16(v6[$0 + 1]), radix: 16) }
        key = groups.joined(separator: ":") + "::/64"
    }

    public var description: String { key }

    static func format(_ v4: [UInt8]) -> String {
        v4.map(String.init).joined(separator: ".")
    }

    /// Four decimal octets, 0–255, one to three digits each.
    static func ipv4(_ bytes: ArraySlice<UInt8>) -> [UInt8]? {
        let parts = bytes.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var octets: [UInt8] = []
        for part in parts {
            guard (1...3).contains(part.count), part.allSatisfy({ (0x30...0x39).contains($0) }) else { return nil }
            let value = part.reduce(0) { $0 * 10 + Int($1 - 0x30) }
            guard value <= 255 else { return nil }
            octets.append(UInt8(value))
        }
        return octets
    }

    /// RFC 4291 §2.2 text forms: eight groups of one to four hex digits, at most one `::`, and an optional
    /// dotted IPv4 tail in place of the last two groups.
    static func ipv6(_ bytes: [UInt8]) -> [UInt8]? {
        let colon = UInt8(ascii: ":")
        let gap = bytes.indices.dropLast().first { bytes[$0] == colon && bytes[$0 + 1] == colon }
        func groups(_ half: ArraySlice<UInt8>, allowTail: Bool) -> [UInt8]? {
            guard !half.isEmpty else { return [] }
            let pieces = half.split(separator: colon, omittingEmptySubsequences: false)
            var output: [UInt8] = []
            for (index, piece) in pieces.enumerated() {
                if allowTail, index == pieces.count - 1, piece.contains(UInt8(ascii: ".")) {
                    guard let v4 = ipv4(piece) else { return nil }
                    output += v4
                    continue
                }
                guard (1...4).contains(piece.count), piece.allSatisfy(isHex) else { return nil }
                let value = piece.reduce(UInt16(0)) { $0 << 4 | UInt16(hexValue($1)) }
                output += [UInt8(value >> 8), UInt8(value & 0xFF)]
            }
            return output
        }
        guard let gap else {
            guard let all = groups(bytes[...], allowTail: true), all.count == 16 else { return nil }
            return all
        }
        guard let head = groups(bytes[..<gap], allowTail: false), let tail = groups(bytes[(gap + 2)...], allowTail: true),
            head.count + tail.count <= 14
        else { return nil }
        return head + [UInt8](repeating: 0, count: 16 - head.count - tail.count) + tail
    }

    static func isHex(_ byte: UInt8) -> Bool {
        (0x30...0x39).contains(byte) || (0x41...0x46).contains(byte) || (0x61...0x66).contains(byte)
    }

    static func hexValue(_ byte: UInt8) -> UInt8 {
        switch byte {
        case 0x30...0x39: byte - 0x30
        case 0x41...0x46: byte - 0x41 + 10
        default: byte - 0x61 + 10
        }
    }
}
