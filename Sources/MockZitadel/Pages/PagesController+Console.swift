import Foundation
import Hummingbird

/// Console's security page (`/ui/console/users/me?id=security`) and its actions.
extension PagesController {
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
