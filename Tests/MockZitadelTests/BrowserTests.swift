import Foundation
import Hummingbird
import MockZitadel
import Testing

/// The pages in a real headless Chromium, driven through chromedriver. Skipped (with this message) where the
/// browser is not installed, except on CI, where `.ci/run` installs it and its absence fails the suite.
@Suite(
    "Pages in a headless browser",
    .serialized,
    .enabled(
        if: BrowserTools.installed || BrowserTools.required,
        "chromium and chromedriver are not installed: apt-get install chromium chromium-driver"),
    .timeLimit(.minutes(2))
)
struct BrowserTests {
    @Test("a developer signs in at the login page and the code flow completes with the chosen factors")
    func codeFlowInBrowser() async throws {
        try #require(BrowserTools.installed, "chromium and chromedriver are required on CI")
        try await MockZitadelApp.withRunningMock(logger: testLogger) { baseURL, _ in
            try await WebDriver.withBrowser { browser in
                let redirect = baseURL + "/mock/callback"
                let verifier = "browser-test-verifier-0123456789-abcdefghijklmnopqrstuvwxyz"
                let challenge = Digest.base64URL(Digest.sha256(Array(verifier.utf8)))
                let authorize =
                    baseURL + "/oauth/v2/authorize?client_id=\(formEncode(Seeded.portalClientId))&redirect_uri=\(formEncode(redirect))"
                    + "&response_type=code&scope=openid%20profile&state=xyz&code_challenge=\(challenge)&code_challenge_method=S256"
                try await browser.navigate(authorize)
                try await browser.click("#user-\(Seeded.priya)")
                try await browser.click("#factor-totp")
                try await browser.click("#sign-in")
                let landed = try await browser.waitForURL { $0.contains("/mock/callback") }
                #expect(landed.contains("state=xyz"))
                let code = try await browser.text("#callback-code")
                #expect(!code.isEmpty)

                let port = try HTTP.port(of: baseURL)
                let (status, tokens) = try await HTTP.request(
                    .post, port: port, "/oauth/v2/token", headers: [.contentType: "application/x-www-form-urlencoded"],
                    body: HTTP.form([
                        ("grant_type", "authorization_code"), ("code", code), ("redirect_uri", redirect),
                        ("client_id", Seeded.portalClientId), ("code_verifier", verifier),
                    ]))
                #expect(status == 200)
                let idToken = try #require(tokens["id_token"]?.stringValue)
                #expect(try jwtSegment(idToken, 1)["amr"] == ["pwd", "otp", "mfa"])
                let sid = try #require(try jwtSegment(idToken, 1)["sid"]?.stringValue)
                let (_, session) = try await HTTP.request(
                    .get, port: port, "/v2/sessions/\(sid)", headers: [.authorization: "Bearer \(Seeded.servicePAT)"])
                #expect(session["session"]?["factors"]?["totp"]?["verifiedAt"] != nil)
            }
        }
    }

    @Test("Console and Login v2 pages enrol TOTP, a passkey and recovery codes; a recovery code signs in")
    func enrolmentInBrowser() async throws {
        try #require(BrowserTools.installed, "chromium and chromedriver are required on CI")
        try await MockZitadelApp.withRunningMock(logger: testLogger) { baseURL, mock in
            try await WebDriver.withBrowser { browser in
                let loginName = "sam.staff@acacia-freight.aidial.example"
                // The trusted console URL the gateway hands out; without a session it leads to the login page.
                try await browser.navigate(
                    baseURL + "/ui/console/users/me?id=security&login_hint=\(formEncode(loginName))&org=\(Seeded.acacia)")
                _ = try await browser.waitForURL { $0.contains("/ui/v2/login/login") }
                try await browser.click("#sign-in")
                _ = try await browser.waitForURL { $0.contains("/ui/console/users/me") }
                #expect(try await browser.text("#totp-state") == "not set up")

                // TOTP: a real secret, verified with an authenticator's code.
                try await browser.click("#totp-setup")
                let secret = try await browser.text("#totp-secret")
                #expect(try await browser.text("#totp-uri").hasPrefix("otpauth://totp/"))
                try await browser.type("#totp-code", try #require(Authenticator.code(secret: secret)))
                try await browser.click("#totp-verify")
                #expect(try await browser.text("#result") == "Authenticator app set up.")
                try await browser.click("#back-to-console")

                // A passkey record with a device label.
                try await browser.type("#passkey-name", "Test Laptop")
                try await browser.click("#passkey-add")
                #expect(try await browser.text("#notice").contains("Test Laptop"))
                #expect(try await browser.text("#passkeys").contains("Test Laptop"))

                // A security key through Login v2's set-up pages.
                try await browser.navigate(baseURL + "/ui/v2/login/mfa/set?loginName=\(formEncode(loginName))")
                try await browser.click("#choose-u2f")
                try await browser.type("#authenticator-name", "YubiKey Bio")
                try await browser.click("#authenticator-add")
                #expect(try await browser.text("#result") == "YubiKey Bio registered.")
                try await browser.click("#back-to-console")

                // Recovery codes, shown once.
                try await browser.click("#recovery-generate")
                let codes = try await browser.text("#recovery-codes").split(separator: "\n").map(String.init)
                #expect(codes.count == 10)
                try await browser.click("#continue")
                let state = try await browser.text("#gateway-state")
                for expected in [
                    "AUTHENTICATION_METHOD_TYPE_TOTP", "AUTHENTICATION_METHOD_TYPE_PASSKEY", "AUTHENTICATION_METHOD_TYPE_U2F",
                    "AUTHENTICATION_METHOD_TYPE_RECOVERY_CODE", "Test Laptop", "YubiKey Bio",
                ] {
                    #expect(state.contains(expected), "gateway state lacks \(expected)")
                }

                // What the gateway reads over the API agrees.
                let (_, types) = try await HTTP.request(
                    .get, port: try HTTP.port(of: baseURL), "/v2/users/\(Seeded.sam)/authentication_methods",
                    headers: [.authorization: "Bearer \(Seeded.servicePAT)"])
                #expect(types["authMethodTypes"]?.arrayValue?.count == 5)

                // Sign out, then sign in with a recovery code.
                try await browser.click("#sign-out")
                #expect(try await browser.text("#signed-out") == "You are signed out.")
                try await browser.navigate(baseURL + "/ui/v2/login/login?loginName=\(formEncode(loginName))")
                try await browser.click("#factor-recoveryCode")
                try await browser.type("#recovery-code", try #require(codes.first))
                try await browser.click("#sign-in")
                _ = try await browser.waitForURL { $0.contains("/ui/console/users/me") }
                let after = try await browser.text("#gateway-state")
                #expect(after.contains("recoveryCode"))
                #expect(try await browser.text("#recovery-state") == "9 of 10 unused")
                #expect(await mock.user(id: Seeded.sam)?.mfa.recoveryCodes?.used == 1)
            }
        }
    }
}
