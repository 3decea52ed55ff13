import AsyncHTTPClient
import Foundation
import Metrics
import NIOCore
import NIOHTTP1

/// A response from the identity provider, read in full up to a size bound.
public struct ProviderResponse: Sendable {
    public var status: Int
    public var headers: HTTPHeaders
    public var body: [UInt8]

    public init(status: Int, headers: HTTPHeaders, body: [UInt8]) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    public var isSuccess: Bool { (200..<300).contains(status) }
}

/// A failure to get a usable response: the kind is a metrics label and log reason.
public struct ProviderFetchError: Error, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        case timeout, transport, status
        case tooLarge = "too_large"
        case malformed
    }
    public var kind: Kind
    public var message: String
    /// For `transport`: the underlying error's type, a label that carries no data.
    public var errorType: String?

    public init(kind: Kind, message: String, errorType: String? = nil) {
        self.kind = kind
        self.message = message
        self.errorType = errorType
    }

    public var description: String { "\(kind.rawValue): \(message)" }
}

/// One family of provider call metrics: a counter of calls by outcome and a timer, both with the same dimensions
/// (the counter adds `outcome`). Names and labels are part of the operations contract (README).
public struct ProviderCallMetrics: Sendable {
    public var counter: String
    public var timer: String
    public var dimensions: [(String, String)]

    /// Calls to an issuer's OIDC endpoints: `gateway_provider_calls_total{issuer,call,outcome}` and
    /// `gateway_provider_call_duration_seconds{issuer,call}`.
    public static func oidc(issuer: String, call: String) -> ProviderCallMetrics {
        ProviderCallMetrics(
            counter: "gateway_provider_calls_total", timer: "gateway_provider_call_duration_seconds",
            dimensions: [("issuer", issuer), ("call", call)])
    }

    /// Calls to Zitadel's APIs: `gateway_zitadel_calls_total{rpc,outcome}` and
    /// `gateway_zitadel_call_duration_seconds{rpc}`.
    public static func zitadelAPI(rpc: String) -> ProviderCallMetrics {
        ProviderCallMetrics(
            counter: "gateway_zitadel_calls_total", timer: "gateway_zitadel_call_duration_seconds",
            dimensions: [("rpc", rpc)])
    }

    public func record(outcome: String, since started: ContinuousClock.Instant) {
        Metrics.Timer(label: timer, dimensions: dimensions).record(duration: ContinuousClock.now - started)
        Counter(label: counter, dimensions: dimensions + [("outcome", outcome)]).increment()
    }
}

/// The one HTTP layer for calls to the identity provider (OIDC endpoints and Zitadel's APIs): the whole exchange,
/// body included, within a deadline; the body read up to a size bound; failures classified by `ProviderFetchError`.
public struct ProviderHTTP: Sendable {
    public let client: HTTPClient
    public var maxBodyBytes: Int

    public init(client: HTTPClient, maxBodyBytes: Int = 1 << 20) {
        self.client = client
        self.maxBodyBytes = maxBodyBytes
    }

    /// A GET with `Accept: application/json`, counted in `metrics` (`ok` for a 2xx answer, `status` for another
    /// status, else the failure kind).
    public func get(
        _ url: String, timeout: Duration, metrics: ProviderCallMetrics
    ) async throws(ProviderFetchError) -> ProviderResponse {
        var request = HTTPClientRequest(url: url)
        request.method = .GET
        request.headers.add(name: "Accept", value: "application/json")
        return try await measured(metrics) { () async throws(ProviderFetchError) in
            try await execute(request, timeout: timeout)
        }
    }

    /// A POST of an `application/x-www-form-urlencoded` body, counted in `metrics` as `get` is; nil metrics leave
    /// the counting to the caller.
    public func postForm(
        _ url: String, form: [(String, String)], headers: HTTPHeaders = [:], timeout: Duration,
        metrics: ProviderCallMetrics?
    ) async throws(ProviderFetchError) -> ProviderResponse {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers = headers
        request.headers.replaceOrAdd(name: "Content-Type", value: "application/x-www-form-urlencoded")
        request.headers.replaceOrAdd(name: "Accept", value: "application/json")
        request.body = .bytes(ByteBuffer(string: FormEncoding.encode(form)))
        guard let metrics else { return try await execute(request, timeout: timeout) }
        return try await measured(metrics) { () async throws(ProviderFetchError) in
            try await execute(request, timeout: timeout)
        }
    }

    private func measured(
        _ metrics: ProviderCallMetrics, _ body: () async throws(ProviderFetchError) -> ProviderResponse
    ) async throws(ProviderFetchError) -> ProviderResponse {
        let started = ContinuousClock.now
        do throws(ProviderFetchError) {
            let response = try await body()
            metrics.record(outcome: response.isSuccess ? "ok" : "status", since: started)
            return response
        } catch {
            metrics.record(outcome: error.kind.rawValue, since: started)
            throw error
        }
    }

    /// Sends the request; the whole exchange, body included, is bounded by `timeout`.
    public func execute(
        _ request: HTTPClientRequest, timeout: Duration
    ) async throws(ProviderFetchError) -> ProviderResponse {
        guard timeout > .zero else { throw ProviderFetchError(kind: .timeout, message: "no time left") }
        let client = self.client
        let maxBodyBytes = self.maxBodyBytes
        do {
            return try await withThrowingTaskGroup(of: ProviderResponse.self) { group in
                group.addTask {
                    let response = try await client.execute(request, timeout: .nanoseconds(Self.nanoseconds(timeout)))
                    let body = try await response.body.collect(upTo: maxBodyBytes)
                    return ProviderResponse(
                        status: Int(response.status.code), headers: response.headers, body: Array(buffer: body))
                }
                group.addTask {
                    try await Task.sleep(for: timeout)
                    throw HTTPClientError.deadlineExceeded
                }
                defer { group.cancelAll() }
                guard let first = try await group.next() else { throw HTTPClientError.deadlineExceeded }
                return first
            }
        } catch let error as HTTPClientError
            where error == .deadlineExceeded || error == .readTimeout || error == .connectTimeout
            || error == .cancelled
        {
            throw ProviderFetchError(kind: .timeout, message: "no answer within \(timeout)")
        } catch is CancellationError {
            throw ProviderFetchError(kind: .timeout, message: "no answer within \(timeout)")
        } catch is NIOTooManyBytesError {
            throw ProviderFetchError(kind: .tooLarge, message: "response larger than \(maxBodyBytes) bytes")
        } catch {
            throw ProviderFetchError(
                kind: .transport, message: String(describing: error), errorType: String(describing: type(of: error)))
        }
    }

    /// A duration in whole nanoseconds (what AsyncHTTPClient's `TimeAmount` takes).
    public static func nanoseconds(_ duration: Duration) -> Int64 {
        duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000
    }
}

/// `application/x-www-form-urlencoded` as RFC 6749 appendix B requires (also for Basic credentials).
public enum FormEncoding {
    private static let unreserved = CharacterSet(
        charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")

    public static func escape(_ value: String) -> String {
        value.addingPercentEncoding(withAllowedCharacters: unreserved) ?? ""
    }

    public static func encode(_ pairs: [(String, String)]) -> String {
        pairs.map { "\(escape($0.0))=\(escape($0.1))" }.joined(separator: "&")
    }
}

/// Reads `Cache-Control: max-age`.
public enum CacheControl {
    public static func maxAge(_ headers: HTTPHeaders) -> Int? {
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
