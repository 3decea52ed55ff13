@testable import ProviderContract

/// RFC 6749 §5.2 error bodies, the form in which Zitadel's OIDC endpoints (token, introspection, revocation) refuse.
///
/// The gateway has no typed reader for them: its token source reports `credentialUnavailable`, the introspector
/// "introspection unavailable" and revocation "failed", from the status alone. So the suite checks that each body
/// is an RFC 6749 error and reads it as a typed reader would: `code` is the `error` member, there is no error id.
enum OAuthErrorBody {
    /// RFC 6749 §5.2's members; zitadel/oidc's `oidc.Error` adds `state` on authorization errors.
    static let members: Set<String> = ["error", "error_description", "error_uri", "state"]

    /// What keeps `body` (answered with `status`) from being an RFC 6749 error; empty when it is one. `vocabulary` is
    /// the `OAuthError` list of `enums.json`.
    static func problems(status: Int, body: ContractJSON, vocabulary: Set<String>) -> [String] {
        guard let object = body.objectValue else { return ["not a JSON object: \(body.rendered)"] }
        var problems: [String] = []
        if let error = object["error"]?.stringValue {
            if !vocabulary.contains(error) { problems.append("error \(error) is not in the RFC's vocabulary") }
            if !allowedStatuses(for: error).contains(status) { problems.append("error \(error) answered with status \(status)") }
        } else {
            problems.append("no error string")
        }
        for member in ["error_description", "error_uri"] {
            if let value = object[member], value.stringValue == nil { problems.append("\(member) is not a string") }
        }
        let unknown = Set(object.keys).subtracting(members).sorted()
        if !unknown.isEmpty { problems.append("members outside RFC 6749: \(unknown)") }
        return problems
    }

    /// 400 unless RFC 6749 §5.2 says otherwise: 401 for `invalid_client` after client authentication through the
    /// Authorization header; a 5xx for the server's own failures.
    static func allowedStatuses(for error: String) -> ClosedRange<Int> {
        switch error {
        case "invalid_client": 400...401
        case "server_error", "temporarily_unavailable": 500...599
        default: 400...400
        }
    }

    /// The typed error a reader of this body reports: the `error` member as the code, no Zitadel id.
    static func apiError(status: Int, body: ContractJSON) -> ProviderFixture.Expectation.APIError? {
        guard let error = body["error"]?.stringValue else { return nil }
        return ProviderFixture.Expectation.APIError(code: error, id: nil, httpStatus: status)
    }
}
