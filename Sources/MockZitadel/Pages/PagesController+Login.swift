import Foundation
import Hummingbird

/// The sign-in page of the authorization-code flow.
extension PagesController {
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
}
