import AsyncHTTPClient
import Foundation
import Metrics
import NIOCore
import NIOHTTP1

/// A response from the identity provider, read in full up to a size bound.
struct ProviderResponse: Sendable {
    var status: Int
    var headers: HTTPHeaders
    var body: [UInt8]
}

/// A failure to get a usable response: the kind is a metrics label and log reason.
struct ProviderFetchError: Error, Sendable, CustomStringConvertible {
    enum Kind: String, Sendable {
        case timeout, transport, status
        case tooLarge = "too_large"
        case malformed
    }
    var kind: Kind
    var message: String
    var description: String { "\(kind.rawValue): \(message)" }
}

/// Which OIDC endpoint a provider call went to: the `call` label of the provider call metrics.
enum ProviderCall: String, Sendable {
    case discovery, jwks, introspect, revoke
}

/// Bounded, deadline-carrying calls to the issuer's OIDC endpoints.
///
/// Every call is counted in `gateway_provider_calls_total{issuer,call,outcome}` (`ok` for a 2xx answer,
/// `status` for another status, else the failure kind: `timeout`, `transport`, `too_large`) and timed in
/// `gateway_provider_call_duration_seconds{issuer,call}`.
struct ProviderHTTP: Sendable {
    let client: HTTPClient
    var maxBodyBytes: Int = 1 << 20

    func get(
        _ url: String, timeout: Duration, issuer: String, call: ProviderCall
    ) async throws(ProviderFetchError) -> ProviderResponse {
        var request = HTTPClientRequest(url: url)
        request.method = .GET
        request.headers.add(name: "Accept", value: "application/json")
        return try await measured(issuer: issuer, call: call) { () async throws(ProviderFetchError) in
            try await execute(request, timeout: timeout)
        }
    }

    func postForm(
        _ url: String, form: [(String, String)], headers: HTTPHeaders, timeout: Duration, issuer: String,
        call: ProviderCall
    )
        async throws(ProviderFetchError) -> ProviderResponse
    {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers = headers
        request.headers.replaceOrAdd(name: "Content-Type", value: "application/x-www-form-urlencoded")
        request.headers.replaceOrAdd(name: "Accept", value: "application/json")
        request.body = .bytes(ByteBuffer(string: FormEncoding.encode(form)))
        return try await measured(issuer: issuer, call: call) { () async throws(ProviderFetchError) in
            try await execute(request, timeout: timeout)
        }
    }

    private func measured(
        issuer: String, call: ProviderCall, _ body: () async throws(ProviderFetchError) -> ProviderResponse
    ) async throws(ProviderFetchError) -> ProviderResponse {
        let started = ContinuousClock.now
        let result: Result<ProviderResponse, ProviderFetchError>
        do throws(ProviderFetchError) {
            result = .success(try await body())
        } catch {
            result = .failure(error)
        }
        let outcome =
            switch result {
            case .success(let response): (200..<300).contains(response.status) ? "ok" : "status"
            case .failure(let error): error.kind.rawValue
            }
        let dimensions = [("issuer", issuer), ("call", call.rawValue)]
        Metrics.Timer(label: "gateway_provider_call_duration_seconds", dimensions: dimensions)
            .record(duration: ContinuousClock.now - started)
        Counter(label: "gateway_provider_calls_total", dimensions: dimensions + [("outcome", outcome)]).increment()
        return try result.get()
    }

    private func execute(
        _ request: HTTPClientRequest, timeout: Duration
    ) async throws(ProviderFetchError)
        -> ProviderResponse
    {
        let nanos = timeout.components.seconds * 1_000_000_000 + timeout.components.attoseconds / 1_000_000_000
        do {
            let response = try await client.execute(request, timeout: .nanoseconds(nanos))
            let body = try await response.body.collect(upTo: maxBodyBytes)
            return ProviderResponse(status: Int(response.status.code), headers: response.headers, body: Array(buffer: body))
        } catch let error as HTTPClientError
            where error == .deadlineExceeded || error == .readTimeout
            || error == .connectTimeout
        {
            throw ProviderFetchError(kind: .timeout, message: "no answer within \(timeout)")
        } catch is NIOTooManyBytesError {
            throw ProviderFetchError(kind: .tooLarge, message: "response larger than \(maxBodyBytes) bytes")
        } catch {
            throw ProviderFetchError(kind: .transport, message: String(describing: error))
        }
    }
}

/// `application/x-www-form-urlencoded` as RFC 6749 appendix B requires (also for Basic credentials).
enum FormEncoding {
    private static let unreserved = CharacterSet(
        charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")

    static func escape(_ value: String) -> String {
        value.addingPercentEncoding(withAllowedCharacters: unreserved) ?? ""
    }

    static func encode(_ pairs: [(String, String)]) -> String {
        pairs.map { "\(escape($0.0))=\(escape($0.1))" }.joined(separator: "&")
    }
}

/// Reads `Cache-Control: max-age`.
enum CacheControl {
    static func maxAge(_ headers: HTTPHeaders) -> Int? {
        for value in headers["Cache-Control"] {
            for directive in value.split(separator: ",") {
                let trimmed = directive.trimmingCharacters(in: .whitespaces).lowercased()
                if trimmed.hasPrefix("max-age="), let seconds = Int(trimmed.dropFirst(8)), seconds >= 0 {
                    return seconds
                }
            }
        }
        return nil
    }
}
