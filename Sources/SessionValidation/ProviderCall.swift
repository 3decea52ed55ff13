import NIOHTTP1
import ProviderTransport

/// Which OIDC endpoint a provider call went to: the `call` label of the provider call metrics.
enum ProviderCall: String, Sendable {
    case discovery, jwks, introspect, revoke
}

/// Calls to one issuer's OIDC endpoints, counted in `gateway_provider_calls_total{issuer,call,outcome}` and timed
/// in `gateway_provider_call_duration_seconds{issuer,call}`.
extension ProviderHTTP {
    func get(
        _ url: String, timeout: Duration, issuer: String, call: ProviderCall
    ) async throws(ProviderFetchError) -> ProviderResponse {
        try await get(url, timeout: timeout, metrics: .oidc(issuer: issuer, call: call.rawValue))
    }

    func postForm(
        _ url: String, form: [(String, String)], headers: HTTPHeaders, timeout: Duration, issuer: String,
        call: ProviderCall
    ) async throws(ProviderFetchError) -> ProviderResponse {
        try await postForm(
            url, form: form, headers: headers, timeout: timeout, metrics: .oidc(issuer: issuer, call: call.rawValue))
    }
}
