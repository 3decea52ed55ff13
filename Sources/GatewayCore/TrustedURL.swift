/// Which provider UI opens MFA setup.
public enum MFASetupURLStyle: String, Sendable, Codable {
    /// Console `/ui/console/users/me?id=security` with `login_hint` and `org`.
    case console
    /// Login v2 `/ui/v2/login/mfa/set` with `loginName` and `organization`.
    case loginV2
}

/// Builds provider URLs only from the configured issuer origin and fixed paths.
public struct TrustedURLBuilder: Sendable, Equatable {
    /// `scheme://host[:port]`, no path; nil when the issuer URL is unusable (every URL is then unavailable).
    public var origin: String?
    public var style: MFASetupURLStyle
    /// Paths a foreign URL may use (on the issuer origin only).
    public var allowedPaths: Set<String>

    public static let consoleSecurityPath = "/ui/console/users/me"
    public static let loginV2SetupPath = "/ui/v2/login/mfa/set"
    /// Zitadel's default end-session path.
    public static let endSessionPath = "/oidc/v1/end_session"

    public init(issuer: String, style: MFASetupURLStyle, extraAllowedPaths: Set<String> = []) {
        self.origin = Self.origin(of: issuer)
        self.style = style
        self.allowedPaths = extraAllowedPaths.union([Self.consoleSecurityPath, Self.loginV2SetupPath])
    }

    /// The setup URL in the configured style.
    public func setupURL(loginName: String?, orgId: String?) -> String? {
        switch style {
        case .console: consoleURL(loginName: loginName, orgId: orgId)
        case .loginV2:
            build(Self.loginV2SetupPath, [("loginName", loginName), ("organization", orgId)])
        }
    }

    /// Removing a factor happens in the console's security tab, whichever style sets up.
    public func managementURL(loginName: String?, orgId: String?) -> String? {
        consoleURL(loginName: loginName, orgId: orgId)
    }

    /// The end-session URL on the issuer origin: the discovered one when it is there on an allowlisted path, else
    /// Zitadel's default path; with `client_id` and a configured `post_logout_redirect_uri` when given.
    public func endSessionURL(discovered: String?, clientId: String?, postLogoutRedirectURI: String?) -> String? {
        guard let origin else { return nil }
        var path = Self.endSessionPath
        if let discovered, Self.origin(of: discovered) == origin {
            let candidate = String(discovered.dropFirst(origin.count).prefix { $0 != "?" && $0 != "#" })
            let setupPaths: Set = [Self.consoleSecurityPath, Self.loginV2SetupPath]
            if allowedPaths.contains(candidate), !setupPaths.contains(candidate), !candidate.contains("..") {
                path = candidate
            }
        }
        return build(path, [("client_id", clientId), ("post_logout_redirect_uri", postLogoutRedirectURI)])
    }

    private func consoleURL(loginName: String?, orgId: String?) -> String? {
        build(Self.consoleSecurityPath, [("id", "security"), ("login_hint", loginName), ("org", orgId)])
    }

    /// A URL from elsewhere (e.g. the provider) is used only on the issuer origin and an allowlisted path.
    public func trusted(_ candidate: String) -> String? {
        guard let origin, let candidateOrigin = Self.origin(of: candidate), candidateOrigin == origin else { return nil }
        let rest = candidate.dropFirst(origin.count)
        let path = String(rest.prefix { $0 != "?" && $0 != "#" })
        guard allowedPaths.contains(path), !path.contains("..") else { return nil }
        return candidate
    }

    private func build(_ path: String, _ query: [(String, String?)]) -> String? {
        guard let origin else { return nil }
        let items = query.compactMap { name, value in value.map { "\(name)=\(Self.percentEncode($0))" } }
        return origin + path + (items.isEmpty ? "" : "?" + items.joined(separator: "&"))
    }

    /// `scheme://host[:port]` of an http(s) URL, lowercased scheme and host; nil for anything else.
    public static func origin(of url: String) -> String? {
        guard let schemeEnd = url.firstRange(of: "://") else { return nil }
        let scheme = url[..<schemeEnd.lowerBound].lowercased()
        guard scheme == "https" || scheme == "http" else { return nil }
        let afterScheme = url[schemeEnd.upperBound...]
        let authority = afterScheme.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        guard !authority.isEmpty, !authority.contains("@"), !authority.contains("\\") else { return nil }
        return "\(scheme)://\(authority.lowercased())"
    }

    /// RFC 3986 unreserved characters pass; everything else is percent-encoded byte by byte.
    public static func percentEncode(_ value: String) -> String {
        var result = ""
        for byte in value.utf8 {
            switch byte {
            case 0x41...0x5A, 0x61...0x7A, 0x30...0x39, 0x2D, 0x2E, 0x5F, 0x7E:
                result.append(Character(Unicode.Scalar(byte)))
            default:
                let hex = Array("0123456789ABCDEF")
                result += "%\(hex[Int(byte >> 4)])\(hex[Int(byte & 0x0F)])"
            }
        }
        return result
    }
}
