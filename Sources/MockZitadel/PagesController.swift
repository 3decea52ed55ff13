import Foundation
import Hummingbird
import NIOCore

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

    // MARK: Login

    /// The sign-in page: pick a seeded user and the factors used (so `amr` and the session's factors follow).
    @Sendable func loginPage(_ request: Request, context: Context) async throws -> Response {
        let query = request.uri.queryParameters
        let requestId = query.get("requestId").map(Self.authRequestId)
        var loginName = query.get("loginName")
        if let requestId {
            guard let authRequest = await mock.authRequest(requestId) else {
                return HTML.page("Sign in", #"<p class="error">This sign-in request is unknown or has expired.</p>"#, status: .notFound)
            }
            loginName = loginName ?? authRequest.loginHint
        }
        return await renderLogin(
            requestId: requestId, returnTo: Redirect.localPath(query.get("returnTo")), loginName: loginName, error: nil)
    }

    private func renderLogin(
        requestId: String?, returnTo: String?, loginName: String?, error: String?, selected: String? = nil
    ) async -> Response {
        let users = await mock.state.users
        let preselected =
            selected ?? loginName.flatMap { name in users.first { $0.loginName.caseInsensitiveCompare(name) == .orderedSame }?.id }
        var rows = ""
        for user in users {
            let roles = user.grants.map(\.role).joined(separator: ", ")
            let checked = user.id == preselected ? " checked" : ""
            rows += """
                <label><input type="radio" name="userId" id="user-\(user.id)" value="\(user.id)"\(checked)> \
                <strong>\(HTML.escape(user.displayName))</strong> · \(HTML.escape(user.loginName)) · \
                \(HTML.escape(roles.isEmpty ? "no portal role" : roles)) · enrolled: \(HTML.escape(Self.enrolledSummary(user)))</label>

                """
        }
        var factors = ""
        for factor in SessionFactor.allCases where factor != .intent {
            let checked = factor == .password ? " checked" : ""
            factors += """
                <label><input type="checkbox" name="factor" id="factor-\(factor.rawValue)" value="\(factor.rawValue)"\(checked)> \
                \(HTML.escape(factor.label))</label>

                """
        }
        let errorBox = error.map { #"<p class="error" id="login-error">\#(HTML.escape($0))</p>"# } ?? ""
        let body = """
            \(errorBox)
            <form method="post" action="\(Self.loginPath)">
            \(HTML.hidden("requestId", requestId))\(HTML.hidden("returnTo", returnTo))
            <section><h2>User</h2>
            \(rows)</section>
            <section><h2>Factors used</h2>
            <p>Only factors the user has enrolled can be used. They decide the token's <code>amr</code> and the session's factors.</p>
            \(factors)<label>Recovery code (with the recovery-code factor): <input type="text" name="recoveryCode" id="recovery-code" \
            autocomplete="off"></label>
            </section>
            <button type="submit" id="sign-in">Sign in</button>
            </form>
            """
        return HTML.page("Sign in", body, status: error == nil ? .ok : .badRequest)
    }

    /// Starts a session with the chosen user and factors; back to the client with a code, or to `returnTo`.
    @Sendable func login(_ request: Request, context: Context) async throws -> Response {
        let form = FormBody.parseAll(try await request.collectedBody())
        let requestId = form.first("requestId").map(Self.authRequestId)
        let returnTo = Redirect.localPath(form.first("returnTo"))
        let userId = form.first("userId") ?? ""
        let factors = form.all("factor").compactMap(SessionFactor.init(rawValue:))
        let userAgent = request.headers[.userAgent].map { String($0.prefix(200)) }
        let session: SessionRecord
        do {
            session = try await mock.signIn(
                userId: userId, factors: factors, recoveryCode: form.first("recoveryCode"), userAgent: userAgent)
        } catch {
            return await renderLogin(requestId: requestId, returnTo: returnTo, loginName: nil, error: error.message, selected: userId)
        }
        context.notes.userId = session.userId
        var headers: HTTPFields = [:]
        headers[.setCookie] = Self.sessionCookie(session.id)
        if let requestId {
            guard let target = await mock.completeAuthorization(requestId: requestId, sessionId: session.id) else {
                return HTML.page("Sign in", #"<p class="error">This sign-in request has expired.</p>"#, status: .gone, headers: headers)
            }
            return Redirect.to(target, headers: headers)
        }
        return Redirect.to(returnTo ?? "\(Self.consolePath)?id=security", status: .seeOther, headers: headers)
    }

    // MARK: Console

    /// `/ui/console/users/me?id=security`: the signed-in user's factors, actions, and what the gateway reads.
    @Sendable func console(_ request: Request, context: Context) async throws -> Response {
        let query = request.uri.queryParameters
        guard let (session, user) = await signedIn(request) else {
            // Console sends an unauthenticated visitor to sign in, with `login_hint` as the login name.
            var target = "\(Self.loginPath)?returnTo=\(Self.encode(request.uri.description))"
            if let hint = query.get("login_hint") { target += "&loginName=\(Self.encode(hint))" }
            return Redirect.to(target)
        }
        context.notes.userId = user.id
        let tab = query.get("id") ?? "general"
        let notice = query.get("notice").map { #"<p class="ok" id="notice">\#(HTML.escape($0))</p>"# } ?? ""
        let failure = query.get("error").map { #"<p class="error" id="error">\#(HTML.escape($0))</p>"# } ?? ""
        let tabs = ["general", "security", "metadata"].map { name in
            name == tab ? "<strong>\(name)</strong>" : #"<a href="\#(Self.consolePath)?id=\#(name)">\#(name)</a>"#
        }.joined(separator: " · ")
        var body =
            "<p>Signed in as <strong>\(HTML.escape(user.displayName))</strong> (\(HTML.escape(user.loginName))). \(tabs)</p>\(notice)\(failure)"
        switch tab {
        case "security": body += await securitySections(user: user, session: session)
        case "metadata": body += Self.metadataSection(user)
        default: body += Self.generalSection(user)
        }
        body += #"<p><a id="sign-out" href="/oidc/v1/end_session">Sign out</a></p>"#
        return HTML.page("Security", body)
    }

    private func securitySections(user: Seed.User, session: SessionRecord) async -> String {
        let csrf = session.csrf
        let path = Self.consoleActionPath
        let mfa = user.mfa
        let setUp = Self.setUpQuery(user)
        var html = "<section><h2>Authenticator app (TOTP)</h2>"
        switch mfa.totp?.state {
        case "READY"?:
            html += #"<p id="totp-state">READY</p>"# + HTML.actionButton("totp-remove", "Remove authenticator app", path: path, csrf: csrf)
        case let state?:
            html += #"<p id="totp-state">\#(HTML.escape(state)) (registration not verified)</p>"#
            html += #"<a id="totp-setup" href="/ui/v2/login/otp/time-based/set?\#(setUp)">Finish setting up</a>"#
        case nil:
            html += #"<p id="totp-state">not set up</p><a id="totp-setup" href="/ui/v2/login/otp/time-based/set?\#(setUp)">Set up</a>"#
        }
        html += "</section><section><h2>Passkeys</h2><ul id=\"passkeys\">"
        for key in mfa.passkeys {
            html += "<li>\(HTML.escape(key.name)) (\(HTML.escape(key.state))) "
            html += HTML.actionButton("authenticator-remove", "Remove", path: path, csrf: csrf, extra: ["id": key.id]) + "</li>"
        }
        html += """
            </ul><form method="post" action="\(path)">\(HTML.hidden("csrf", csrf))\(HTML.hidden("action", "passkey-add"))
            <label>Device label <input type="text" name="name" id="passkey-name" required maxlength="200"></label>
            <button type="submit" id="passkey-add">Add passkey</button></form></section>
            <section><h2>Security keys (U2F)</h2><ul id="u2f">
            """
        for key in mfa.u2f {
            html += "<li>\(HTML.escape(key.name)) (\(HTML.escape(key.state))) "
            html += HTML.actionButton("authenticator-remove", "Remove", path: path, csrf: csrf, extra: ["id": key.id]) + "</li>"
        }
        html += #"</ul><a id="u2f-setup" href="/ui/v2/login/u2f/set?\#(setUp)">Add security key</a></section>"#
        html += "<section><h2>SMS one-time codes</h2>"
        if let phone = user.phone {
            html += "<p>Phone \(HTML.escape(PhoneNumber.masked(phone.number))), \(phone.verified ? "verified" : "not verified").</p>"
        } else {
            html += "<p>No phone number.</p>"
        }
        html += #"<p id="otp-sms-state">\#(mfa.otpSms ? "enabled" : "not enabled")</p>"#
        html +=
            mfa.otpSms
            ? HTML.actionButton("otp-sms-remove", "Remove SMS codes", path: path, csrf: csrf)
            : HTML.actionButton("otp-sms-add", "Use SMS codes", path: path, csrf: csrf)
        html += "</section><section><h2>Email one-time codes</h2>"
        html += #"<p id="otp-email-state">\#(mfa.otpEmail ? "enabled" : "not enabled")</p>"#
        html +=
            mfa.otpEmail
            ? HTML.actionButton("otp-email-remove", "Remove email codes", path: path, csrf: csrf)
            : HTML.actionButton("otp-email-add", "Use email codes", path: path, csrf: csrf)
        html += "</section><section><h2>Recovery codes</h2>"
        if let codes = mfa.recoveryCodes {
            html += #"<p id="recovery-state">\#(codes.remaining.count) of \#(codes.codes.count) unused</p>"#
            html += HTML.actionButton("recovery-generate", "Generate a new set", path: path, csrf: csrf)
            html += HTML.actionButton("recovery-remove", "Remove recovery codes", path: path, csrf: csrf)
        } else {
            html +=
                #"<p id="recovery-state">none</p>"#
                + HTML.actionButton("recovery-generate", "Generate recovery codes", path: path, csrf: csrf)
        }
        html += "</section>"
        let state = await mock.gatewayView(userId: user.id, sessionId: session.id)
        html += """
            <section><h2>What the gateway reads</h2>
            <p>The answers of ListAuthenticationMethodTypes, ListAuthenticationFactors, ListPasskeys and GetSession for this \
            user and session.</p>
            <pre id="gateway-state">\(HTML.escape(Self.pretty(state)))</pre></section>
            """
        return html
    }

    private static func generalSection(_ user: Seed.User) -> String {
        """
        <section><h2>Profile</h2><p>\(HTML.escape(user.givenName)) \(HTML.escape(user.familyName)) · \
        \(HTML.escape(user.email.address)) (\(user.email.verified ? "verified" : "not verified"))</p></section>
        """
    }

    private static func metadataSection(_ user: Seed.User) -> String {
        let rows = (user.metadata ?? [:]).sorted { $0.key < $1.key }
            .map { "<li><code>\(HTML.escape($0.key))</code> = \(HTML.escape($0.value))</li>" }.joined()
        return #"<section><h2>Metadata</h2><ul id="metadata">\#(rows.isEmpty ? "<li>none</li>" : rows)</ul></section>"#
    }

    /// Console's security actions, each as the signed-in user acting on their own id.
    @Sendable func consoleAction(_ request: Request, context: Context) async throws -> Response {
        let form = FormBody.parseAll(try await request.collectedBody())
        guard let (session, user) = await signedIn(request) else { return Redirect.to("\(Self.consolePath)?id=security") }
        guard let csrf = form.first("csrf"), constantTimeEquals(csrf, session.csrf) else {
            return HTML.page("Security", #"<p class="error">The form expired; reload the page.</p>"#, status: .forbidden)
        }
        context.notes.userId = user.id
        let caller = APICaller(userId: user.id, managedOrgs: [], isManager: false, writesCredentials: false, sessionId: session.id)
        func rpc(_ method: String) async throws(ZitadelError) {
            _ = try await mock.callRPC(
                .user, method, RPCRequest(message: method + "Request", fields: ["userId": .string(user.id)]), caller: caller,
                issuer: context.issuer)
        }
        var notice = "Saved."
        do {
            switch form.first("action") ?? "" {
            case "totp-remove":
                try await rpc("RemoveTOTP")
                notice = "Authenticator app removed."
            case "passkey-add":
                let name = form.first("name")?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
                guard (1...200).contains(name.count) else { throw ZitadelError(.invalidArgument, nil, "Enter a device label.") }
                await mock.addAuthenticator(userId: user.id, name: name, passkey: true)
                notice = "Passkey \(name) added."
            case "authenticator-remove":
                await mock.removeAuthenticator(userId: user.id, id: form.first("id") ?? "")
                notice = "Removed."
            case "otp-sms-add":
                try await rpc("AddOTPSMS")
                notice = "SMS codes enabled."
            case "otp-sms-remove":
                try await rpc("RemoveOTPSMS")
                notice = "SMS codes removed."
            case "otp-email-add":
                try await rpc("AddOTPEmail")
                notice = "Email codes enabled."
            case "otp-email-remove":
                try await rpc("RemoveOTPEmail")
                notice = "Email codes removed."
            case "recovery-generate":
                let codes = await mock.replaceRecoveryCodes(userId: user.id).codes
                return Self.recoveryCodesPage(codes, continueTo: "\(Self.consolePath)?id=security")
            case "recovery-remove":
                try await rpc("RemoveRecoveryCodes")
                notice = "Recovery codes removed."
            default:
                throw ZitadelError(.invalidArgument, nil, "Unknown action.")
            }
        } catch {
            let message = (error as? ZitadelError)?.statusMessage ?? "The change failed."
            return Redirect.to("\(Self.consolePath)?id=security&error=\(Self.encode(message))", status: .seeOther)
        }
        return Redirect.to("\(Self.consolePath)?id=security&notice=\(Self.encode(notice))", status: .seeOther)
    }

    static func recoveryCodesPage(_ codes: [String], continueTo: String) -> Response {
        let items = codes.map { "<li><code>\(HTML.escape($0))</code></li>" }.joined()
        return HTML.page(
            "Recovery codes",
            """
            <p class="ok">Store these codes somewhere safe. Each works once at sign-in; they are not shown again.</p>
            <ol id="recovery-codes">\(items)</ol>
            <p><a id="continue" href="\(HTML.escape(continueTo))">Continue</a></p>
            """)
    }

    // MARK: Login v2 MFA set-up

    /// `/ui/v2/login/mfa/set`: choose a second factor to set up (SMS only with a verified phone, as Login v2 does).
    @Sendable func chooseFactor(_ request: Request, context: Context) async throws -> Response {
        guard let (_, user) = try await loginContext(request) else { return await Self.unknownContext(request) }
        context.notes.userId = user.id
        let query = Self.setUpQuery(user)
        var options = ""
        for page in SetUpPage.allCases where page != .sms || user.phone?.verified == true {
            options += #"<li><a id="choose-\#(page.rawValue)" href="\#(page.path)?\#(query)">\#(HTML.escape(page.title))</a></li>"#
        }
        let body = """
            <p>Set up a second factor for <strong>\(HTML.escape(user.loginName))</strong>.</p><ul>\(options)</ul>
            <p><a href="\(Self.consolePath)?id=security">Manage factors in Console</a></p>
            """
        return HTML.page("Set up a second factor", body)
    }

    @Sendable func setUpPage(_ page: SetUpPage, _ request: Request, _ context: Context) async throws -> Response {
        guard let (session, user) = try await loginContext(request) else { return await Self.unknownContext(request) }
        context.notes.userId = user.id
        let action = "\(page.path)?\(Self.setUpQuery(user))"
        let csrf = HTML.hidden("csrf", session.csrf)
        switch page {
        case .totp:
            if user.mfa.totp?.state == "READY" {
                return HTML.page(page.title, #"<p class="ok" id="result">An authenticator app is already set up.</p>"# + Self.backLinks)
            }
            let registration: (secret: String, uri: String)
            do {
                registration = try await mock.startTOTPRegistration(for: user, issuer: context.issuer)
            } catch {
                return HTML.page(page.title, #"<p class="error">\#(HTML.escape(error.statusMessage))</p>"#, status: .badRequest)
            }
            let body = """
                <p>Add this account to your authenticator app, then enter the code it shows.</p>
                <p>Secret: <code id="totp-secret">\(registration.secret)</code></p>
                <p><a id="totp-uri" href="\(HTML.escape(registration.uri))">\(HTML.escape(registration.uri))</a></p>
                <form method="post" action="\(HTML.escape(action))">\(csrf)
                <label>Code <input type="text" name="code" id="totp-code" inputmode="numeric" autocomplete="one-time-code" required></label>
                <button type="submit" id="totp-verify">Verify</button></form>
                """
            return HTML.page(page.title, body)
        case .passkey, .u2f:
            let body = """
                <p>The mock records the \(page == .passkey ? "passkey" : "security key") without a WebAuthn ceremony.</p>
                <form method="post" action="\(HTML.escape(action))">\(csrf)
                <label>Device label <input type="text" name="name" id="authenticator-name" required maxlength="200"></label>
                <button type="submit" id="authenticator-add">Register</button></form>
                """
            return HTML.page(page.title, body)
        case .sms, .email:
            let body = """
                <p>\(page == .sms ? "Use SMS one-time codes to your verified phone." : "Use one-time codes sent by email.")</p>
                <form method="post" action="\(HTML.escape(action))">\(csrf)<button type="submit" id="otp-add">Enable</button></form>
                """
            return HTML.page(page.title, body)
        case .recoveryCodes:
            let body = """
                <p>Generate a set of recovery codes (a new set replaces the old one).</p>
                <form method="post" action="\(HTML.escape(action))">\(csrf)<button type="submit" id="recovery-generate">Generate</button></form>
                """
            return HTML.page(page.title, body)
        }
    }

    @Sendable func setUp(_ page: SetUpPage, _ request: Request, _ context: Context) async throws -> Response {
        let form = FormBody.parseAll(try await request.collectedBody())
        guard let (session, user) = try await loginContext(request) else { return await Self.unknownContext(request) }
        guard let csrf = form.first("csrf"), constantTimeEquals(csrf, session.csrf) else {
            return HTML.page(page.title, #"<p class="error">The form expired; reload the page.</p>"#, status: .forbidden)
        }
        context.notes.userId = user.id
        let caller = APICaller(userId: user.id, managedOrgs: [], isManager: false, writesCredentials: false, sessionId: session.id)
        do {
            switch page {
            case .totp:
                _ = try await mock.completeTOTPRegistration(for: user, code: form.first("code") ?? "")
                // Login v2 checks the new factor on the session right after setting it up.
                await mock.verifyFactor(.totp, session: session.id)
                return HTML.page(page.title, #"<p class="ok" id="result">Authenticator app set up.</p>"# + Self.backLinks)
            case .passkey, .u2f:
                let name = form.first("name")?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
                guard (1...200).contains(name.count) else { throw ZitadelError(.invalidArgument, nil, "Enter a device label.") }
                await mock.addAuthenticator(userId: user.id, name: name, passkey: page == .passkey)
                await mock.verifyFactor(page == .passkey ? .passkey : .u2f, session: session.id)
                return HTML.page(page.title, #"<p class="ok" id="result">\#(HTML.escape(name)) registered.</p>"# + Self.backLinks)
            case .sms, .email:
                let method = page == .sms ? "AddOTPSMS" : "AddOTPEmail"
                _ = try await mock.callRPC(
                    .user, method, RPCRequest(message: method + "Request", fields: ["userId": .string(user.id)]), caller: caller,
                    issuer: context.issuer)
                return HTML.page(page.title, #"<p class="ok" id="result">\#(HTML.escape(page.title)) enabled.</p>"# + Self.backLinks)
            case .recoveryCodes:
                let codes = await mock.replaceRecoveryCodes(userId: user.id).codes
                return Self.recoveryCodesPage(codes, continueTo: "\(Self.consolePath)?id=security")
            }
        } catch {
            let message = (error as? ZitadelError)?.statusMessage ?? "The change failed."
            return HTML.page(page.title, #"<p class="error" id="error">\#(HTML.escape(message))</p>"# + Self.backLinks, status: .badRequest)
        }
    }

    static let backLinks =
        #"<p><a id="back-to-console" href="/ui/console/users/me?id=security">Back to Console</a> · <a href="/ui/v2/login/mfa/set">Set up another factor</a></p>"#

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
    private func signedIn(_ request: Request) async -> (SessionRecord, Seed.User)? {
        guard let id = request.cookies[Self.cookieName]?.value, let session = await mock.activeSession(id),
            let user = await mock.user(id: session.userId)
        else { return nil }
        return (session, user)
    }

    /// Login v2 needs its session cookie, and a `loginName` (when given) must be that session's user.
    private func loginContext(_ request: Request) async throws -> (SessionRecord, Seed.User)? {
        guard let (session, user) = await signedIn(request) else { return nil }
        if let loginName = request.uri.queryParameters.get("loginName"), loginName.caseInsensitiveCompare(user.loginName) != .orderedSame {
            return nil
        }
        return (session, user)
    }

    /// Login v2's answer without a session: it cannot tell who is setting up a factor.
    private static func unknownContext(_ request: Request) async -> Response {
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

/// Login v2's factor set-up pages (recovery codes: the mock's own page, as Login v2 has none yet).
enum SetUpPage: String, CaseIterable, Sendable {
    case totp
    case passkey
    case u2f
    case sms
    case email
    case recoveryCodes = "recovery-codes"

    var path: String {
        switch self {
        case .totp: "/ui/v2/login/otp/time-based/set"
        case .passkey: "/ui/v2/login/passkey/set"
        case .u2f: "/ui/v2/login/u2f/set"
        case .sms: "/ui/v2/login/otp/sms/set"
        case .email: "/ui/v2/login/otp/email/set"
        case .recoveryCodes: "/ui/v2/login/recovery-codes/set"
        }
    }

    var title: String {
        switch self {
        case .totp: "Authenticator app"
        case .passkey: "Passkey"
        case .u2f: "Security key"
        case .sms: "SMS one-time codes"
        case .email: "Email one-time codes"
        case .recoveryCodes: "Recovery codes"
        }
    }
}

extension MockZitadel {
    /// What the gateway would read for this user and session, through the same code as the v2 APIs.
    func gatewayView(userId: String, sessionId: String?) -> JSONValue {
        let caller = APICaller(userId: "mock-console", managedOrgs: nil, isManager: true, writesCredentials: true, sessionId: nil)
        let request = RPCRequest(message: "Request", fields: ["userId": .string(userId)])
        var view: [String: JSONValue] = [
            "authMethodTypes": (try? listAuthenticationMethodTypes(request, caller: caller))?["authMethodTypes"] ?? [],
            "authFactors": (try? listAuthenticationFactors(request, caller: caller))?["result"] ?? [],
            "passkeys": (try? listPasskeys(request, caller: caller))?["result"] ?? [],
        ]
        if let sessionId, let session = sessions[sessionId] {
            view["session"] = ["id": .string(session.id), "factors": sessionJSON(session)["factors"] ?? [:], "amr": .strings(session.amr)]
        }
        return .object(view)
    }
}
