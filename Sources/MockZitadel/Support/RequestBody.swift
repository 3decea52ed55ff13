import Foundation
import Hummingbird
import NIOCore

extension Request {
    /// Reads the whole body up to `limit` bytes.
    func collectedBody(limit: Int = 1 << 20) async throws -> ByteBuffer {
        var request = self
        return try await request.collectBody(upTo: limit)
    }

    /// The `Authorization: Bearer` token, if any.
    var bearerToken: String? {
        guard let value = headers[.authorization] else { return nil }
        let parts = value.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].caseInsensitiveCompare("Bearer") == .orderedSame else { return nil }
        let token = parts[1].trimmingCharacters(in: .whitespaces)
        return token.isEmpty ? nil : token
    }

    /// Client id and secret from `Authorization: Basic base64(urlenc(id):urlenc(secret))`; `nil` when absent.
    /// A malformed Basic header yields an empty pair so that it fails authentication rather than being ignored.
    var basicCredentials: (id: String, secret: String)? {
        guard let value = headers[.authorization] else { return nil }
        let parts = value.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].caseInsensitiveCompare("Basic") == .orderedSame else { return nil }
        guard let data = Data(base64Encoded: String(parts[1]).trimmingCharacters(in: .whitespaces)),
            let decoded = String(data: data, encoding: .utf8),
            let colon = decoded.firstIndex(of: ":")
        else { return ("", "") }
        let id = FormBody.percentDecode(String(decoded[..<colon])) ?? ""
        let secret = FormBody.percentDecode(String(decoded[decoded.index(after: colon)...])) ?? ""
        return (id, secret)
    }
}

/// `application/x-www-form-urlencoded` parsing for the OAuth endpoints.
enum FormBody {
    /// Decodes a form body; later duplicates are ignored, undecodable pairs skipped.
    static func parse(_ buffer: ByteBuffer) -> [String: String] {
        let string = String(buffer: buffer)
        var fields: [String: String] = [:]
        for pair in string.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = percentDecode(String(parts[0])), !name.isEmpty else { continue }
            let value = parts.count > 1 ? percentDecode(String(parts[1])) : ""
            if fields[name] == nil, let value { fields[name] = value }
        }
        return fields
    }

    /// Decodes a form body keeping every value of repeated fields (checkbox groups).
    static func parseAll(_ buffer: ByteBuffer) -> FormFields {
        var pairs: [(String, String)] = []
        for pair in String(buffer: buffer).split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = percentDecode(String(parts[0])), !name.isEmpty else { continue }
            guard let value = parts.count > 1 ? percentDecode(String(parts[1])) : "" else { continue }
            pairs.append((name, value))
        }
        return FormFields(pairs: pairs)
    }

    /// Percent-decoding with `+` as space.
    static func percentDecode(_ string: String) -> String? {
        string.replacingOccurrences(of: "+", with: " ").removingPercentEncoding
    }
}

/// A decoded form with repeated fields.
struct FormFields: Sendable {
    let pairs: [(String, String)]

    func first(_ name: String) -> String? {
        pairs.first { $0.0 == name }?.1
    }

    func all(_ name: String) -> [String] {
        pairs.filter { $0.0 == name }.map(\.1)
    }
}
