import Foundation
import Hummingbird

/// Login v2's MFA set-up pages (`/ui/v2/login/mfa/set`).
extension PagesController {
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
