import Foundation
import HTTPTypes
import Testing

@testable import GatewayApp

@Suite struct HotPathTests {
    @Test(arguments: [
        ("Bearer abc.def.ghi", "abc.def.ghi"), ("bearer   tok", "tok"), ("  BEARER x", "x"), ("BeArEr a-b_c~+/=", "a-b_c~+/="),
    ])
    func bearerTokenAcceptsTheScheme(header: String, token: String) {
        #expect(AuthenticationMiddleware.bearerToken(header) == token)
    }

    @Test(arguments: ["Basic abc", "Bearer", "Bearer ", "Bearerabc", "Bearer a b", "Token abc", "", "Béarer abc"])
    func bearerTokenRefusesEverythingElse(header: String) {
        #expect(AuthenticationMiddleware.bearerToken(header) == nil)
    }

    @Test func generatedRequestIdsAreDistinctLowercaseHex() {
        let ids = (0..<1000).map { _ in RequestIdGenerator.next() }
        #expect(Set(ids).count == ids.count)
        for id in ids {
            #expect(id.utf8.count == 32)
            #expect(id.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) })
            #expect(RequestIdMiddleware.isAcceptable(id))
        }
        // One process-wide prefix; the counter part differs.
        #expect(Set(ids.map { $0.prefix(16) }).count == 1)
    }

    @Test func credentialFieldsKeepEveryValueOfEachHeader() {
        let headers: HTTPFields = [
            .authorization: "Bearer a", .init("x-api-key")!: "k", .authorization: "Bearer b", .accept: "*/*",
            .init("X-AiDial-Tenant")!: "t1",
        ]
        let fields = AuthenticationMiddleware.credentialFields(headers)
        #expect(fields.authorization == ["Bearer a", "Bearer b"])
        #expect(fields.apiKey == ["k"])
        #expect(fields.tenant == ["t1"])
    }

    @Test func jsonWriterEscapesAndNests() throws {
        var json = JSONWriter()
        json.object { json in
            json.key("text")
            json.string("quote \" backslash \\ newline \n tab \t bell \u{07} é")
            json.key("list")
            json.array(["a", "b"]) { json, value in json.string(value) }
            json.key("nothing")
            json.string(nil as String?)
            json.key("flag")
            json.bool(true)
            json.key("empty")
            json.object { _ in }
            json.field("omitted", nil)
            json.field("present", "plain")
        }
        let decoded = try #require(try JSONSerialization.jsonObject(with: Data(json.bytes)) as? [String: Any])
        #expect(decoded["text"] as? String == "quote \" backslash \\ newline \n tab \t bell \u{07} é")
        #expect(decoded["list"] as? [String] == ["a", "b"])
        #expect(decoded["nothing"] is NSNull)
        #expect(decoded["flag"] as? Bool == true)
        #expect((decoded["empty"] as? [String: Any])?.isEmpty == true)
        #expect(decoded["omitted"] == nil)
        #expect(decoded["present"] as? String == "plain")
    }
}

@Suite struct TimestampTests {
    /// Rendering never traps: times past either end of 1970...9999 (which validation refuses) render as that end.
    @Test func isTotal() {
        for seconds in [1e300, 253_402_300_800, 9.3e18, .infinity, .greatestFiniteMagnitude] {
            #expect(Timestamp.rfc3339(seconds) == "9999-12-31T23:59:59Z", "\(seconds)")
        }
        for seconds in [-1e300, -1, -0.5, -9.3e18, -Double.infinity, .nan] {
            #expect(Timestamp.rfc3339(seconds) == "1970-01-01T00:00:00Z", "\(seconds)")
        }
    }

    @Test func matchesFoundationsISO8601() {
        var generator = SystemRandomNumberGenerator()
        var samples: [Double] = [0, 59, 86_399, 86_400, 951_782_400, 951_868_799, 4_107_542_400, 1_790_000_000.9, 253_402_300_799]
        for _ in 0..<2000 { samples.append(Double(generator.next(upperBound: UInt64(253_402_300_799)))) }
        for seconds in samples {
            #expect(Timestamp.rfc3339(seconds) == Date(timeIntervalSince1970: seconds.rounded(.down)).formatted(.iso8601), "\(seconds)")
        }
    }

    @Test func parsesRFC3339AsRendered() throws {
        for seconds in [0.0, 59, 951_782_400, 1_790_000_000, 253_402_300_799] {
            let text = Timestamp.rfc3339(seconds)
            #expect(Timestamp(rfc3339: text)?.seconds == seconds, "\(text)")
        }
        // Zitadel's protojson fractions, offsets and lower-case separators: the same instant, rendered in UTC.
        #expect(Timestamp(rfc3339: "2025-08-20T09:15:02.123456789Z")?.rfc3339 == "2025-08-20T09:15:02Z")
        #expect(Timestamp(rfc3339: "2025-08-20T19:15:02+10:00")?.rfc3339 == "2025-08-20T09:15:02Z")
        #expect(Timestamp(rfc3339: "2025-08-20t09:15:02.5z")?.rfc3339 == "2025-08-20T09:15:02Z")
        #expect(Timestamp(rfc3339: "2024-02-29T00:00:00-01:30")?.rfc3339 == "2024-02-29T01:30:00Z")
        #expect(Timestamp(rfc3339: "2016-12-31T23:59:60Z")?.rfc3339 == "2016-12-31T23:59:59Z")
        for text in [
            "", "2025-08-20", "2025-08-20T09:15:02", "2025-02-29T00:00:00Z", "2025-13-01T00:00:00Z", "2025-08-20T24:00:00Z",
            "2025-08-20T09:15:02.Z", "2025-08-20T09:15:02Z ", "1969-12-31T23:59:59Z", "2025-08-20T09:15:02+1000",
            "+2025-08-20T09:15:02Z", "2025-08-20 09:15:02Z",
        ] {
            #expect(Timestamp(rfc3339: text) == nil, "\(text)")
        }
    }

    /// Every rendered time, whatever its source, goes through the one encoder in the one format.
    @Test func theEncoderRendersEveryTimeAlike() throws {
        struct Times: Encodable {
            var timestamp = Timestamp(1_790_000_000.75)
            var date = Date(timeIntervalSince1970: 1_790_000_000.75)
        }
        let text = try APIResponseEncoder.text(Times())
        #expect(text == #"{"date":"2026-09-21T14:13:20Z","timestamp":"2026-09-21T14:13:20Z"}"#)
    }
}

/// The API's one time format: RFC 3339, UTC, whole seconds.
enum APITime {
    static func isWellFormed(_ value: Any?) -> Bool {
        guard let text = value as? String else { return false }
        return text.wholeMatch(of: /[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z/) != nil
    }
}
