import GatewayCore

/// A strict, single-pass JSON reader for JOSE headers, token claims and introspection responses.
///
/// Validation decodes one claims object per uncached token, and Foundation's `JSONDecoder` cost more than the
/// RSA signature check itself; this reads RFC 8259 JSON straight into `TokenClaims` (and `JOSEHeader`). It is
/// strict where a lenient parser would open a differential: duplicate members of a claim the gateway reads are
/// refused (of a header, every duplicate: RFC 7515 §4), as are members of the wrong type, NumericDates outside
/// `NumericDate`'s window, trailing bytes, unescaped control characters, invalid escapes, lone surrogates and
/// depth > 32.
struct ClaimsParser {
    struct Malformed: Error {}

    private let bytes: [UInt8]
    private var index = 0
    private static let maxDepth = 32

    private init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// Parses a JSON object into claims; throws `Malformed` for anything that is not one.
    static func parse(_ bytes: [UInt8]) throws(Malformed) -> TokenClaims {
        var parser = ClaimsParser(bytes)
        var claims = TokenClaims()
        try parser.readClaims(into: &claims)
        parser.skipWhitespace()
        guard parser.index == bytes.count else { throw Malformed() }
        return claims
    }

    /// Parses a JWS protected header: a JSON object whose member names are unique, whose registered members
    /// (RFC 7515 §4.1) have their registered types, and which names its algorithm.
    static func parseHeader(_ bytes: [UInt8]) throws(Malformed) -> JOSEHeader {
        var parser = ClaimsParser(bytes)
        let header = try parser.readHeader()
        parser.skipWhitespace()
        guard parser.index == bytes.count else { throw Malformed() }
        return header
    }

    // MARK: JOSE header

    private mutating func readHeader() throws(Malformed) -> JOSEHeader {
        skipWhitespace()
        var names = Set<String>()
        var alg: String?
        var kid: String?
        var typ: String?
        var critical = false
        try readObject(depth: 1) { parser, name throws(Malformed) in
            guard names.insert(name).inserted else { throw Malformed() }
            switch name {
            case "alg": alg = try parser.readString()
            case "kid": kid = try parser.readString()
            case "typ": typ = try parser.readString()
            case "cty", "jku", "x5u", "x5t", "x5t#S256": _ = try parser.readString()
            case "crit":
                // RFC 7515 §4.1.11: a non-empty list of names. The gateway understands no extension, so any is
                // refused later as unsupported; a malformed one is refused here.
                guard try parser.readOptionalStringArray()?.isEmpty == false else { throw Malformed() }
                critical = true
            case "x5c":
                guard try parser.readOptionalStringArray()?.isEmpty == false else { throw Malformed() }
            case "jwk":
                guard parser.peek() == UInt8(ascii: "{") else { throw Malformed() }
                try parser.skipValue(depth: 1)
            case "b64":
                guard parser.matchLiteral("true") || parser.matchLiteral("false") else { throw Malformed() }
            default:
                try parser.skipValue(depth: 1)
            }
        }
        guard let alg else { throw Malformed() }
        return JOSEHeader(alg: alg, kid: kid, typ: typ, hasCritical: critical)
    }

    // MARK: Claims

    private enum Known: Equatable {
        case iss, sub, aud, exp, nbf, iat, authTime, jti, clientId, amr, sid, username
        case ownerId, ownerName, ownerDomain, active
        case azp, atHash, cHash, nonce, events
        /// A roles claim, with the project it names ("" for the generic claim).
        case roles(String)

        /// One bit per fixed claim, for the duplicate check; nil for role claims, whose names vary.
        var bit: UInt32? {
            switch self {
            case .iss: 1 << 0
            case .sub: 1 << 1
            case .aud: 1 << 2
            case .exp: 1 << 3
            case .nbf: 1 << 4
            case .iat: 1 << 5
            case .authTime: 1 << 6
            case .jti: 1 << 7
            case .clientId: 1 << 8
            case .amr: 1 << 9
            case .sid: 1 << 10
            case .username: 1 << 11
            case .ownerId: 1 << 12
            case .ownerName: 1 << 13
            case .ownerDomain: 1 << 14
            case .active: 1 << 15
            case .azp: 1 << 16
            case .atHash: 1 << 17
            case .cHash: 1 << 18
            case .nonce: 1 << 19
            case .events: 1 << 20
            case .roles: nil
            }
        }
    }

    /// A `switch` rather than a dictionary: most claim names are small strings, compared as two machine words
    /// without hashing.
    private static func classify(_ key: String) -> Known? {
        switch key {
        case "iss": return .iss
        case "sub": return .sub
        case "aud": return .aud
        case "exp": return .exp
        case "nbf": return .nbf
        case "iat": return .iat
        case "auth_time": return .authTime
        case "jti": return .jti
        case "client_id": return .clientId
        case "amr": return .amr
        case "sid": return .sid
        case "username": return .username
        case "active": return .active
        case "azp": return .azp
        case "at_hash": return .atHash
        case "c_hash": return .cHash
        case "nonce": return .nonce
        case "events": return .events
        case "urn:zitadel:iam:user:resourceowner:id": return .ownerId
        case "urn:zitadel:iam:user:resourceowner:name": return .ownerName
        case "urn:zitadel:iam:user:resourceowner:primary_domain": return .ownerDomain
        default: break
        }
        return TokenClaims.roleClaimProject(key).map(Known.roles)
    }

    private mutating func readClaims(into claims: inout TokenClaims) throws(Malformed) {
        skipWhitespace()
        // Fixed claims are tracked in a bit set; only role claims (rare, and named by project) need a set.
        var seen: UInt32 = 0
        var seenRoles = Set<String>()
        try readObject(depth: 1) { parser, key throws(Malformed) in
            if let known = Self.classify(key) {
                if let bit = known.bit {
                    guard seen & bit == 0 else { throw Malformed() }
                    seen |= bit
                } else {
                    guard seenRoles.insert(key).inserted else { throw Malformed() }
                }
                try parser.readValue(for: known, into: &claims)
            } else {
                try parser.skipValue(depth: 1)
            }
        }
    }

    /// Reads a known claim. Type mismatches mirror the tolerant decoding: strings and lists that are not
    /// what Zitadel sends read as absent; time claims that are present but not numbers are malformed.
    private mutating func readValue(for known: Known, into claims: inout TokenClaims) throws(Malformed) {
        switch known {
        case .iss: claims.issuer = try readOptionalString()
        case .sub: claims.subject = try readOptionalString()
        case .jti: claims.tokenId = try readOptionalString()
        case .clientId: claims.clientId = try readOptionalString()
        case .sid: claims.sessionId = try readOptionalString()
        case .username: claims.username = try readOptionalString()
        case .ownerId: claims.resourceOwnerId = try readOptionalString()
        case .ownerName: claims.resourceOwnerName = try readOptionalString()
        case .ownerDomain: claims.resourceOwnerDomain = try readOptionalString()
        case .exp: claims.expiresAt = try readTime()
        case .nbf: claims.notBefore = try readTime()
        case .iat: claims.issuedAt = try readTime()
        case .authTime:
            // Read when it is a number (then it must be a valid date); any other value reads as absent.
            if peek() == UInt8(ascii: "-") || isDigit(peek()) { claims.authTime = try readTime() } else { try skipValue(depth: 1) }
        case .aud:
            if peek() == UInt8(ascii: "\"") {
                claims.audience = [try readString()]
            } else {
                claims.audience = try readOptionalStringArray() ?? []
            }
        case .amr: claims.amr = try readOptionalStringArray()
        case .active:
            if matchLiteral("true") {
                claims.active = true
            } else if matchLiteral("false") {
                claims.active = false
            } else {
                try skipValue(depth: 1)
            }
        case .azp: claims.authorizedParty = try readOptionalString()
        case .atHash:
            claims.noteParsed { $0.hasIDTokenMember = true }
            claims.accessTokenHash = try readOptionalString()
        case .nonce:
            claims.noteParsed { $0.hasIDTokenMember = true }
            claims.nonce = try readOptionalString()
        case .cHash:
            claims.noteParsed { $0.hasIDTokenMember = true }
            try skipValue(depth: 1)
        case .events:
            if try readEvents() { claims.noteParsed { $0.hasBackChannelLogoutEvent = true } }
        case .roles(let project):
            if let grants = try readRoleGrants() { claims.noteRoles(grants, project: project) }
        }
    }

    /// A NumericDate inside `NumericDate`'s window, or null.
    private mutating func readTime() throws(Malformed) -> Double? {
        if matchLiteral("null") { return nil }
        let seconds = try readNumber()
        guard NumericDate.isValid(seconds) else { throw Malformed() }
        return seconds
    }

    private mutating func readOptionalString() throws(Malformed) -> String? {
        if peek() == UInt8(ascii: "\"") { return try readString() }
        try skipValue(depth: 1)
        return nil
    }

    private mutating func readOptionalStringArray() throws(Malformed) -> [String]? {
        guard peek() == UInt8(ascii: "[") else {
            try skipValue(depth: 1)
            return nil
        }
        index += 1
        var values: [String] = []
        var allStrings = true
        skipWhitespace()
        if peek() == UInt8(ascii: "]") {
            index += 1
            return values
        }
        while true {
            skipWhitespace()
            if peek() == UInt8(ascii: "\"") {
                values.append(try readString())
            } else {
                allStrings = false
                try skipValue(depth: 2)
            }
            skipWhitespace()
            guard let next = next() else { throw Malformed() }
            if next == UInt8(ascii: "]") { break }
            guard next == UInt8(ascii: ",") else { throw Malformed() }
        }
        return allStrings ? values : nil
    }

    /// `events`: true when it is an object naming the back-channel logout event with an object value.
    private mutating func readEvents() throws(Malformed) -> Bool {
        guard peek() == UInt8(ascii: "{") else {
            try skipValue(depth: 1)
            return false
        }
        var found = false
        try readObject(depth: 2) { parser, name throws(Malformed) in
            if name == TokenClaims.backChannelLogoutEvent, parser.peek() == UInt8(ascii: "{") { found = true }
            try parser.skipValue(depth: 2)
        }
        return found
    }

    /// `{"role": {"orgId": "domain"}}`; anything else reads as no grants.
    private mutating func readRoleGrants() throws(Malformed) -> [String: [String: String]]? {
        guard peek() == UInt8(ascii: "{") else {
            try skipValue(depth: 1)
            return nil
        }
        var result: [String: [String: String]] = [:]
        var wellFormed = true
        try readObject(depth: 2) { parser, role throws(Malformed) in
            guard parser.peek() == UInt8(ascii: "{") else {
                wellFormed = false
                try parser.skipValue(depth: 3)
                return
            }
            var orgs: [String: String] = [:]
            try parser.readObject(depth: 3) { parser, orgId throws(Malformed) in
                if parser.peek() == UInt8(ascii: "\"") {
                    orgs[orgId] = try parser.readString()
                } else {
                    wellFormed = false
                    try parser.skipValue(depth: 4)
                }
            }
            result[role] = orgs
        }
        return wellFormed ? result : nil
    }

    private mutating func readObject(
        depth: Int, _ member: (inout ClaimsParser, String) throws(Malformed) -> Void
    ) throws(Malformed) {
        guard depth <= Self.maxDepth else { throw Malformed() }
        try expect(UInt8(ascii: "{"))
        skipWhitespace()
        if peek() == UInt8(ascii: "}") {
            index += 1
            return
        }
        while true {
            skipWhitespace()
            let key = try readString()
            skipWhitespace()
            try expect(UInt8(ascii: ":"))
            skipWhitespace()
            try member(&self, key)
            skipWhitespace()
            guard let next = next() else { throw Malformed() }
            if next == UInt8(ascii: "}") { return }
            guard next == UInt8(ascii: ",") else { throw Malformed() }
        }
    }

    // MARK: JSON grammar

    private mutating func skipValue(depth: Int) throws(Malformed) {
        guard depth <= Self.maxDepth else { throw Malformed() }
        skipWhitespace()
        guard let byte = peek() else { throw Malformed() }
        switch byte {
        case UInt8(ascii: "\""):
            _ = try readString()
        case UInt8(ascii: "{"):
            try readObject(depth: depth + 1) { parser, _ throws(Malformed) in try parser.skipValue(depth: depth + 1) }
        case UInt8(ascii: "["):
            index += 1
            skipWhitespace()
            if peek() == UInt8(ascii: "]") {
                index += 1
                return
            }
            while true {
                try skipValue(depth: depth + 1)
                skipWhitespace()
                guard let next = next() else { throw Malformed() }
                if next == UInt8(ascii: "]") { return }
                guard next == UInt8(ascii: ",") else { throw Malformed() }
            }
        case UInt8(ascii: "t"):
            guard matchLiteral("true") else { throw Malformed() }
        case UInt8(ascii: "f"):
            guard matchLiteral("false") else { throw Malformed() }
        case UInt8(ascii: "n"):
            guard matchLiteral("null") else { throw Malformed() }
        default:
            _ = try readNumber()
        }
    }

    /// RFC 8259 number grammar, converted with the C library's correctly rounded `strtod` via `Double(_:)`.
    private mutating func readNumber() throws(Malformed) -> Double {
        let start = index
        if peek() == UInt8(ascii: "-") { index += 1 }
        guard let first = peek(), isDigit(first) else { throw Malformed() }
        if first == UInt8(ascii: "0") {
            index += 1
        } else {
            while isDigit(peek()) { index += 1 }
        }
        if peek() == UInt8(ascii: ".") {
            index += 1
            guard isDigit(peek()) else { throw Malformed() }
            while isDigit(peek()) { index += 1 }
        }
        if peek() == UInt8(ascii: "e") || peek() == UInt8(ascii: "E") {
            index += 1
            if peek() == UInt8(ascii: "+") || peek() == UInt8(ascii: "-") { index += 1 }
            guard isDigit(peek()) else { throw Malformed() }
            while isDigit(peek()) { index += 1 }
        }
        guard index - start <= 64 else { throw Malformed() }
        // Integers of up to 15 digits (every JWT time) are exact in a Double: convert them without a String.
        let negative = bytes[start] == UInt8(ascii: "-")
        let digitsStart = negative ? start + 1 : start
        if index - digitsStart <= 15, bytes[digitsStart..<index].allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) {
            var integer: Int64 = 0
            for digit in bytes[digitsStart..<index] { integer = integer * 10 + Int64(digit - 0x30) }
            return negative ? -Double(integer) : Double(integer)
        }
        guard let value = Double(String(decoding: bytes[start..<index], as: UTF8.self)), value.isFinite else {
            throw Malformed()
        }
        return value
    }

    private mutating func readString() throws(Malformed) -> String {
        try expect(UInt8(ascii: "\""))
        let start = index
        // Fast path: no escapes.
        while let byte = peek(), byte != UInt8(ascii: "\""), byte != UInt8(ascii: "\\") {
            guard byte >= 0x20 else { throw Malformed() }
            index += 1
        }
        guard let stop = peek() else { throw Malformed() }
        if stop == UInt8(ascii: "\"") {
            let value = try validUTF8(bytes[start..<index])
            index += 1
            return value
        }
        var buffer = Array(bytes[start..<index])
        while true {
            guard let byte = next() else { throw Malformed() }
            switch byte {
            case UInt8(ascii: "\""):
                return try validUTF8(buffer[...])
            case UInt8(ascii: "\\"):
                guard let escape = next() else { throw Malformed() }
                switch escape {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): buffer.append(escape)
                case UInt8(ascii: "b"): buffer.append(0x08)
                case UInt8(ascii: "f"): buffer.append(0x0C)
                case UInt8(ascii: "n"): buffer.append(0x0A)
                case UInt8(ascii: "r"): buffer.append(0x0D)
                case UInt8(ascii: "t"): buffer.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try readHex4()
                    if (0xD800...0xDBFF).contains(scalar) {
                        guard next() == UInt8(ascii: "\\"), next() == UInt8(ascii: "u") else { throw Malformed() }
                        let low = try readHex4()
                        guard (0xDC00...0xDFFF).contains(low) else { throw Malformed() }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    } else if (0xDC00...0xDFFF).contains(scalar) {
                        throw Malformed()
                    }
                    guard let unicode = Unicode.Scalar(scalar) else { throw Malformed() }
                    buffer.append(contentsOf: String(Character(unicode)).utf8)
                default:
                    throw Malformed()
                }
            default:
                guard byte >= 0x20 else { throw Malformed() }
                buffer.append(byte)
            }
        }
    }

    private mutating func readHex4() throws(Malformed) -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<4 {
            guard let byte = next() else { throw Malformed() }
            let digit: UInt32
            switch byte {
            case 0x30...0x39: digit = UInt32(byte - 0x30)
            case 0x41...0x46: digit = UInt32(byte - 0x41 + 10)
            case 0x61...0x66: digit = UInt32(byte - 0x61 + 10)
            default: throw Malformed()
            }
            value = value << 4 | digit
        }
        return value
    }

    private func validUTF8(_ slice: ArraySlice<UInt8>) throws(Malformed) -> String {
        // Claims are nearly always ASCII, which is valid UTF-8 as it stands; only other text is validated.
        if slice.allSatisfy({ $0 < 0x80 }) { return String(decoding: slice, as: UTF8.self) }
        guard let string = String(validating: slice, as: UTF8.self) else { throw Malformed() }
        return string
    }

    // MARK: Bytes

    private func peek() -> UInt8? {
        index < bytes.count ? bytes[index] : nil
    }

    private mutating func next() -> UInt8? {
        guard index < bytes.count else { return nil }
        defer { index += 1 }
        return bytes[index]
    }

    private mutating func expect(_ byte: UInt8) throws(Malformed) {
        guard next() == byte else { throw Malformed() }
    }

    private func isDigit(_ byte: UInt8?) -> Bool {
        guard let byte else { return false }
        return byte >= 0x30 && byte <= 0x39
    }

    private mutating func matchLiteral(_ literal: StaticString) -> Bool {
        let count = literal.utf8CodeUnitCount
        guard index + count <= bytes.count else { return false }
        let matches = literal.withUTF8Buffer { expected in
            bytes[index..<(index + count)].elementsEqual(expected)
        }
        if matches { index += count }
        return matches
    }

    private mutating func skipWhitespace() {
        while let byte = peek(), byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 { index += 1 }
    }
}
