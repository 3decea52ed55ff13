import GatewayCore
import Testing

@Suite struct CallerAddressTests {
    @Test(arguments: [
        ("203.0.113.5", "203.0.113.5"),
        ("0.0.0.0", "0.0.0.0"),
        ("2001:db8::1", "2001:db8:0:0::/64"),
        ("2001:DB8:0:0:ffff:1:2:3", "2001:db8:0:0::/64"),
        ("2001:0db8:0000:0001:0000:0000:0000:0001", "2001:db8:0:1::/64"),
        ("::1", "0:0:0:0::/64"),
        ("fe80::", "fe80:0:0:0::/64"),
        ("::ffff:198.51.100.20", "198.51.100.20"),
        ("::FFFF:c633:6414", "198.51.100.20"),
        ("0:0:0:0:0:ffff:198.51.100.20", "198.51.100.20"),
        ("64:ff9b::198.51.100.20", "64:ff9b:0:0::/64"),
    ])
    func parsesAndNormalises(_ text: String, _ key: String) {
        #expect(CallerAddress(parsing: text)?.key == key)
    }

    @Test(arguments: [
        "", "unknown", "203.0.113", "203.0.113.5.6", "203.0.113.256", "203.0.113.1234", "203.0.113.-1", " 203.0.113.5",
        "203.0.113.5:443", "[2001:db8::1]", "2001:db8::1%eth0", "2001:db8::1::2", "2001:db8:::1", ":2001:db8::1",
        "2001:db8:0:0:0:0:0:0:1", "2001:db8:0:0:0:0:1", "12345::1", "g::1", "::ffff:198.51.100", "1.2.3.4::",
        String(repeating: "1", count: 46),
    ])
    func refusesAnythingElse(_ text: String) {
        #expect(CallerAddress(parsing: text) == nil)
    }
}
