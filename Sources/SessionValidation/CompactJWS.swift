/// A JWS in compact serialisation, split strictly: three base64url segments, no padding, nothing else.
struct CompactJWS: Sendable {
    /// The raw header segment: identical headers are parsed once (see `HeaderCache`).
    var headerSegment: Substring.UTF8View
    var headerBytes: [UInt8]
    var payloadBytes: [UInt8]
    var signature: [UInt8]
    /// `header.payload` as sent: the bytes the signature covers.
    var signingInput: Substring.UTF8View

    /// Returns nil unless `token` has exactly the shape of a compact JWS.
    init?(_ token: String) {
        let utf8 = token.utf8
        guard let firstDot = utf8.firstIndex(of: UInt8(ascii: ".")) else { return nil }
        let afterFirst = utf8.index(after: firstDot)
        guard let secondDot = utf8[afterFirst...].firstIndex(of: UInt8(ascii: ".")) else { return nil }
        let afterSecond = utf8.index(after: secondDot)
        let header = utf8[utf8.startIndex..<firstDot]
        let payload = utf8[afterFirst..<secondDot]
        let signature = utf8[afterSecond...]
        guard !header.isEmpty, !payload.isEmpty, !signature.isEmpty,
            !signature.contains(UInt8(ascii: "."))
        else { return nil }
        guard let headerBytes = Base64URL.decode(header),
            let payloadBytes = Base64URL.decode(payload),
            let signatureBytes = Base64URL.decode(signature)
        else { return nil }
        let substring = Substring(token)
        self.headerSegment = substring[substring.startIndex..<firstDot].utf8
        self.headerBytes = headerBytes
        self.payloadBytes = payloadBytes
        self.signature = signatureBytes
        self.signingInput = substring[substring.startIndex..<secondDot].utf8
    }

    /// A cheap test whether a bearer value is shaped like a JWS (two dots) rather than an opaque token.
    static func looksLikeJWS(_ token: String) -> Bool {
        var dots = 0
        for byte in token.utf8 where byte == UInt8(ascii: ".") { dots += 1 }
        return dots == 2
    }
}
