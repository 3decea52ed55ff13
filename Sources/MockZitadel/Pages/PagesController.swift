import Foundation
import Hummingbird

/// The browser pages: the login page of the code flow, Console's security page and Login v2's MFA set-up pages,
/// and a callback page for trying the code flow by hand.
///
/// A sign-in sets a session cookie on the mock's origin (as Zitadel's login does); the console and set-up pages
/// need it. Every form on those pages carries the session's CSRF token. Changes go through the same code as the
/// User service, acting as the signed-in user on their own id.
struct PagesController {
    typealias Context = MockRequestContext
    let mock: MockZitadel

    static let cookieName = "zitadel_mock_session"
    static let loginPath = "/ui/v2/login/login"
    static let consolePath = "/ui/console/users/me"
    static let consoleActionPath = "/ui/console/users/me/security"

    func addRoutes(to router: Router<Context>) {
        router.get(RouterPath(Self.loginPath), use: loginPage)
        router.post(RouterPath(Self.loginPath), use: login)
        router.get(RouterPath(Self.consolePath), use: console)
        router.post(RouterPath(Self.consoleActionPath), use: consoleAction)
        router.get("/ui/v2/login/mfa/set", use: chooseFactor)
        for page in SetUpPage.allCases {
            router.get(RouterPath(page.path), use: { request, context in try await self.setUpPage(page, request, context) })
            router.post(RouterPath(page.path), use: { request, context in try await self.setUp(page, request, context) })
        }
        router.get("/mock/callback", use: callback)
    }

    // MARK: Callback

    /// A stand-in client callback (`/mock/callback`, registered for the portal app on loopback): shows the code.
    @Sendable func callback(_ request: Request, context: Context) async throws -> Response {
        let query = request.uri.queryParameters
        if let error = query.get("error") {
            let description = query.get("error_description") ?? ""
            return HTML.page(
                "Callback", #"<p class="error" id="callback-error">\#(HTML.escape(error)): \#(HTML.escape(description))</p>"#,
                status: .badRequest)
        }
        let body = """
            <p>Code: <code id="callback-code">\(HTML.escape(query.get("code") ?? ""))</code></p>
            <p>State: <code id="callback-state">\(HTML.escape(query.get("state") ?? ""))</code></p>
            <p>Exchange it at <code>POST /oauth/v2/token</code> with <code>grant_type=authorization_code</code>, the
            <code>redirect_uri</code>, <code>client_id</code> and your <code>code_verifier</code>.</p>
            """
        return HTML.page("Callback", body)
    }

    // MARK: Helpers

    /// The signed-in session and user from the cookie.
    func signedIn(_ request: Request) async -> (SessionRecord, Seed.User)? {
        guard let id = request.cookies[Self.cookieName]?.value, let session = await mock.activeSession(id),
            let user = await mock.user(id: session.userId)
        else { return nil }
        return (session, user)
    }

    /// Login v2 needs its session cookie, and a `loginName` (when given) must be that session's user.
    func loginContext(_ request: Request) async throws -> (SessionRecord, Seed.User)? {
        guard let (session, user) = await signedIn(request) else { return nil }
        if let loginName = request.uri.queryParameters.get("loginName"), loginName.caseInsensitiveCompare(user.loginName) != .orderedSame {
            return nil
        }
        return (session, user)
    }

    /// Login v2's answer without a session: it cannot tell who is setting up a factor.
    static func unknownContext(_ request: Request) async -> Response {
        let loginName = request.uri.queryParameters.get("loginName")
        var link = "\(loginPath)?returnTo=\(encode(request.uri.description))"
        if let loginName { link += "&loginName=\(encode(loginName))" }
        return HTML.page(
            "Session expired",
            """
            <p class="error" id="context-error">Could not get the context of the user. Sign in first (the session for \
            \(HTML.escape(loginName ?? "this user")) was not found or has expired).</p>
            <p><a id="sign-in-link" href="\(HTML.escape(link))">Sign in</a></p>
            """,
            status: .unauthorized)
    }

    /// `loginName=…&organization=…` for links between set-up pages.
    static func setUpQuery(_ user: Seed.User) -> String {
        "loginName=\(encode(user.loginName))&organization=\(encode(user.orgId))"
    }

    static func sessionCookie(_ sessionId: String) -> String {
        "\(cookieName)=\(sessionId); Path=/; HttpOnly; SameSite=Lax"
    }

    /// Login v2 names OIDC requests `oidc_V2_…`.
    static func authRequestId(_ value: String) -> String {
        value.hasPrefix("oidc_") ? String(value.dropFirst(5)) : value
    }

    static func encode(_ value: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return value.addingPercentEncoding(withAllowedCharacters: allowed) ?? value
    }

    static func enrolledSummary(_ user: Seed.User) -> String {
        let mfa = user.mfa
        var parts: [String] = []
        if mfa.totp?.state == "READY" { parts.append("TOTP") }
        if !mfa.passkeys.isEmpty { parts.append("passkey") }
        if !mfa.u2f.isEmpty { parts.append("U2F") }
        if mfa.otpSms { parts.append("SMS") }
        if mfa.otpEmail { parts.append("email OTP") }
        if let codes = mfa.recoveryCodes, !codes.remaining.isEmpty { parts.append("recovery codes") }
        return parts.isEmpty ? "no second factor" : parts.joined(separator: ", ")
    }

    static func pretty(_ value: JSONValue) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return (try? String(decoding: encoder.encode(value), as: UTF8.self)) ?? ""
    }
}
