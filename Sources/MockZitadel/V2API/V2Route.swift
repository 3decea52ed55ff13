import Foundation
import Hummingbird

/// The v2 services the mock serves and the methods it implements.
enum V2Service: String, CaseIterable, Sendable {
    case user = "zitadel.user.v2.UserService"
    case session = "zitadel.session.v2.SessionService"

    /// `UserService`, as the journal names it.
    var shortName: String { String(rawValue.split(separator: ".").last ?? "") }

    var methods: Set<String> {
        switch self {
        case .user:
            [
                "GetUserByID", "ListAuthenticationMethodTypes", "ListAuthenticationFactors", "ListPasskeys", "SetPhone",
                "VerifyPhone", "ResendPhoneCode", "RemovePhone", "AddOTPSMS", "RemoveOTPSMS", "AddOTPEmail", "RemoveOTPEmail",
                "RegisterTOTP", "VerifyTOTPRegistration", "RemoveTOTP", "GenerateRecoveryCodes", "RemoveRecoveryCodes",
                "HumanMFAInitSkipped", "ListUserMetadata", "SetUserMetadata", "DeleteUserMetadata",
            ]
        case .session: ["GetSession", "ListSessions", "DeleteSession"]
        }
    }

    /// Zitadel methods the mock knows but does not implement (WebAuthn ceremonies, session creation, …): 501.
    var unimplemented: Set<String> {
        switch self {
        case .user:
            [
                "AddHumanUser", "CreateUser", "UpdateHumanUser", "UpdateUser", "ListUsers", "DeleteUser", "SetEmail",
                "ResendEmailCode", "VerifyEmail", "RegisterPasskey", "VerifyPasskeyRegistration", "RemovePasskey",
                "CreatePasskeyRegistrationLink", "RegisterU2F", "VerifyU2FRegistration", "RemoveU2F", "SetPassword",
                "PasswordReset", "LockUser", "UnlockUser", "DeactivateUser", "ReactivateUser",
            ]
        case .session: ["CreateSession", "SetSession"]
        }
    }
}

/// A gRPC-gateway route: method, path template and whether the JSON body maps onto the request (`body: "*"`).
struct V2Route: Sendable {
    let method: HTTPRequest.Method
    let template: [Substring]
    let service: V2Service
    let rpc: String
    let bodyMapped: Bool

    init(_ method: HTTPRequest.Method, _ path: String, _ service: V2Service, _ rpc: String, body: Bool = true) {
        self.method = method
        self.template = path.split(separator: "/")
        self.service = service
        self.rpc = rpc
        self.bodyMapped = body
    }

    /// The path parameters (`{userId}` → `userId`) when the path fits the template.
    func match(_ path: String) -> [String: String]? {
        let components = path.split(separator: "/")
        guard components.count == template.count else { return nil }
        var parameters: [String: String] = [:]
        for (component, pattern) in zip(components, template) {
            if pattern.hasPrefix("{") {
                parameters[String(pattern.dropFirst().dropLast())] = String(component).removingPercentEncoding ?? String(component)
            } else if component != pattern {
                return nil
            }
        }
        return parameters
    }

    static let routes: [V2Route] = [
        V2Route(.get, "/v2/users/{userId}", .user, "GetUserByID", body: false),
        V2Route(.get, "/v2/users/{userId}/authentication_methods", .user, "ListAuthenticationMethodTypes", body: false),
        // The REST mapping of ListAuthenticationFactors has no `body: "*"`: filters come as query parameters.
        V2Route(.post, "/v2/users/{userId}/authentication_factors/_search", .user, "ListAuthenticationFactors", body: false),
        V2Route(.post, "/v2/users/{userId}/passkeys/_search", .user, "ListPasskeys"),
        V2Route(.post, "/v2/users/{userId}/passkeys", .user, "RegisterPasskey"),
        V2Route(.post, "/v2/users/{userId}/passkeys/registration_link", .user, "CreatePasskeyRegistrationLink"),
        V2Route(.delete, "/v2/users/{userId}/passkeys/{passkeyId}", .user, "RemovePasskey"),
        V2Route(.post, "/v2/users/{userId}/phone", .user, "SetPhone"),
        V2Route(.delete, "/v2/users/{userId}/phone", .user, "RemovePhone"),
        V2Route(.post, "/v2/users/{userId}/phone/verify", .user, "VerifyPhone"),
        V2Route(.post, "/v2/users/{userId}/phone/resend", .user, "ResendPhoneCode"),
        V2Route(.post, "/v2/users/{userId}/otp_sms", .user, "AddOTPSMS"),
        V2Route(.delete, "/v2/users/{userId}/otp_sms", .user, "RemoveOTPSMS"),
        V2Route(.post, "/v2/users/{userId}/otp_email", .user, "AddOTPEmail"),
        V2Route(.delete, "/v2/users/{userId}/otp_email", .user, "RemoveOTPEmail"),
        V2Route(.post, "/v2/users/{userId}/totp", .user, "RegisterTOTP"),
        V2Route(.post, "/v2/users/{userId}/totp/verify", .user, "VerifyTOTPRegistration"),
        V2Route(.delete, "/v2/users/{userId}/totp", .user, "RemoveTOTP"),
        V2Route(.post, "/v2/users/{userId}/u2f", .user, "RegisterU2F"),
        V2Route(.delete, "/v2/users/{userId}/u2f/{u2fId}", .user, "RemoveU2F"),
        V2Route(.post, "/v2/users/{userId}/recovery_codes", .user, "GenerateRecoveryCodes"),
        V2Route(.delete, "/v2/users/{userId}/recovery_codes", .user, "RemoveRecoveryCodes"),
        V2Route(.post, "/v2/users/{userId}/mfa_init_skipped", .user, "HumanMFAInitSkipped"),
        V2Route(.post, "/v2/users/{userId}/metadata/search", .user, "ListUserMetadata"),
        V2Route(.post, "/v2/users/{userId}/metadata", .user, "SetUserMetadata"),
        // proto/zitadel/user/v2/user_service.proto: `delete: "/v2/users/{user_id}/metadata"` without a body
        // mapping, so the keys come from the query (`?keys=a&keys=b`).
        V2Route(.delete, "/v2/users/{userId}/metadata", .user, "DeleteUserMetadata", body: false),
        V2Route(.post, "/v2/sessions/search", .session, "ListSessions"),
        V2Route(.post, "/v2/sessions", .session, "CreateSession"),
        V2Route(.get, "/v2/sessions/{sessionId}", .session, "GetSession", body: false),
        V2Route(.patch, "/v2/sessions/{sessionId}", .session, "SetSession"),
        V2Route(.delete, "/v2/sessions/{sessionId}", .session, "DeleteSession"),
    ]

    /// `UserService/SetPhone` for either wire form; `nil` for other paths.
    static func rpcName(method: HTTPRequest.Method, path: String) -> String? {
        let parts = path.split(separator: "/", omittingEmptySubsequences: true)
        if parts.count == 2, parts[0].hasPrefix("zitadel."), let service = parts[0].split(separator: ".").last {
            return "\(service)/\(parts[1])"
        }
        guard path.hasPrefix("/v2/") else { return nil }
        return routes.first { $0.method == method && $0.match(path) != nil }.map { "\($0.service.shortName)/\($0.rpc)" }
    }
}
