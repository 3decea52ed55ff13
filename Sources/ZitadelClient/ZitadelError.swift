import Foundation

/// gRPC status codes as Zitadel reports them (Connect: snake_case names; REST: numbers).
public enum ZitadelStatusCode: String, Sendable, Equatable, CaseIterable {
    case canceled, unknown
    case invalidArgument = "invalid_argument"
    case deadlineExceeded = "deadline_exceeded"
    case notFound = "not_found"
    case alreadyExists = "already_exists"
    case permissionDenied = "permission_denied"
    case resourceExhausted = "resource_exhausted"
    case failedPrecondition = "failed_precondition"
    case aborted
    case outOfRange = "out_of_range"
    case unimplemented, `internal`, unavailable
    case dataLoss = "data_loss"
    case unauthenticated

    /// gRPC numeric codes 1...16.
    public init(grpcCode: Int) {
        let table: [Int: ZitadelStatusCode] = [
            1: .canceled, 2: .unknown, 3: .invalidArgument, 4: .deadlineExceeded, 5: .notFound, 6: .alreadyExists,
            7: .permissionDenied, 8: .resourceExhausted, 9: .failedPrecondition, 10: .aborted, 11: .outOfRange,
            12: .unimplemented, 13: .`internal`, 14: .unavailable, 15: .dataLoss, 16: .unauthenticated,
        ]
        self = table[grpcCode] ?? .unknown
    }

    /// The code implied by an HTTP status when the body says nothing usable.
    public init(httpStatus: Int) {
        switch httpStatus {
        case 400: self = .invalidArgument
        case 401: self = .unauthenticated
        case 403: self = .permissionDenied
        case 404: self = .notFound
        case 409: self = .aborted
        case 429: self = .resourceExhausted
        case 499: self = .canceled
        case 501: self = .unimplemented
        case 503: self = .unavailable
        case 504: self = .deadlineExceeded
        default: self = .unknown
        }
    }
}

/// An error answer from a Zitadel API, decoded from either wire form. Match on `id`, never on `message`.
public struct ZitadelAPIError: Error, Sendable, Equatable {
    public var code: ZitadelStatusCode
    public var httpStatus: Int
    /// Zitadel's error id, e.g. `COMMAND-Q54j2`.
    public var id: String?
    /// Translated message; for logs at debug level only.
    public var message: String?

    public init(code: ZitadelStatusCode, httpStatus: Int, id: String?, message: String?) {
        self.code = code
        self.httpStatus = httpStatus
        self.id = id
        self.message = message
    }

    /// Decodes a Connect (`{"code":"failed_precondition",...,"details":[{"debug":{"id":...}}]}`) or gRPC-gateway
    /// (`{"code":9,...,"details":[{"@type":...,"id":...}]}`) body; anything else falls back to the HTTP status.
    public static func decode(status: Int, body: [UInt8]) -> ZitadelAPIError {
        guard let object = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] else {
            return ZitadelAPIError(code: ZitadelStatusCode(httpStatus: status), httpStatus: status, id: nil, message: nil)
        }
        var code = ZitadelStatusCode(httpStatus: status)
        if let name = object["code"] as? String {
            code = ZitadelStatusCode(rawValue: name) ?? .unknown
        } else if let number = object["code"] as? Int {
            code = ZitadelStatusCode(grpcCode: number)
        }
        let message = object["message"] as? String
        var id: String?
        for detail in object["details"] as? [[String: Any]] ?? [] {
            if let debug = detail["debug"] as? [String: Any], let value = debug["id"] as? String {
                id = value
                break
            }
            if let value = detail["id"] as? String {
                id = value
                break
            }
        }
        if id == nil, let message { id = idFromMessage(message) }
        return ZitadelAPIError(code: code, httpStatus: status, id: id, message: message)
    }

    /// Zitadel appends ` (<ID>)` to every message: `PREFIX-xxxx` inside the final parentheses.
    static func idFromMessage(_ message: String) -> String? {
        guard message.hasSuffix(")"), let open = message.lastIndex(of: "(") else { return nil }
        let candidate = message[message.index(after: open)..<message.index(before: message.endIndex)]
        let parts = candidate.split(separator: "-")
        guard parts.count == 2, parts[0].allSatisfy({ $0.isUppercase || $0.isNumber }), !parts[1].isEmpty,
            parts[1].allSatisfy({ $0.isLetter || $0.isNumber })
        else { return nil }
        return String(candidate)
    }
}

/// Everything a client call can fail with.
public enum ZitadelClientError: Error, Sendable, Equatable {
    /// Zitadel answered with an error.
    case api(ZitadelAPIError)
    /// No answer within the call's deadline.
    case timeout
    /// Connection refused, reset, TLS failure.
    case transport(String)
    /// A 2xx answer that is not the expected JSON.
    case malformedResponse(String)
    /// The service credential could not be obtained (token endpoint refused or unreachable).
    case credentialUnavailable(String)

    /// Retryable for reads: no answer, or an answer that says "try again".
    public var isRetryable: Bool {
        switch self {
        case .timeout, .transport: true
        case .api(let error):
            error.code == .unavailable || error.code == .deadlineExceeded || error.httpStatus == 502
                || error.httpStatus == 503 || error.httpStatus == 504
        case .malformedResponse, .credentialUnavailable: false
        }
    }

    /// The Zitadel error id, when Zitadel answered with one.
    public var errorId: String? {
        if case .api(let error) = self { return error.id }
        return nil
    }

    /// A label for metrics and logs (never carries data).
    public var kind: String {
        switch self {
        case .api(let error): "api_\(error.code.rawValue)"
        case .timeout: "timeout"
        case .transport: "transport"
        case .malformedResponse: "malformed"
        case .credentialUnavailable: "credential"
        }
    }
}

extension ZitadelClientError {
    /// What a failed call says about the change it asked for: a caller that must not repeat a change that
    /// happened (SetPhone sends a text message) switches on this.
    public enum Classification: Sendable, Equatable {
        /// Zitadel refused this request: nothing was applied, and the same request would be refused again.
        case rejected
        /// Nothing was applied, and not because of this request (the instance's quota, the caller's credential or
        /// permissions, a conflict): the same request may succeed later.
        case unavailable
        /// No definite answer (timeout, transport failure, 5xx, unreadable answer): it may have been applied.
        case outcomeUnknown
    }

    public var classification: Classification {
        switch self {
        case .api(let error):
            switch error.code {
            case .invalidArgument, .notFound, .alreadyExists, .failedPrecondition, .outOfRange: .rejected
            case .resourceExhausted, .unauthenticated, .permissionDenied, .aborted, .unimplemented: .unavailable
            case .unknown, .deadlineExceeded, .internal, .unavailable, .dataLoss, .canceled: .outcomeUnknown
            }
        // A missing service credential means the call never left the gateway.
        case .credentialUnavailable: .unavailable
        case .timeout, .transport, .malformedResponse: .outcomeUnknown
        }
    }
}

extension Result where Failure == ZitadelClientError {
    /// The metrics outcome label: `ok`, or the error's `kind`.
    public var kind: String {
        switch self {
        case .success: "ok"
        case .failure(let error): error.kind
        }
    }
}

/// Error ids the gateway acts on (zitadel-facts §5).
public enum ZitadelErrorId {
    public static let userNotFound = "QUERY-Dfbg2"
    public static let phoneNotVerified = "COMMAND-Q54j2"
    public static let otpSMSAlreadyAdded = "COMMAND-Ad3g2"
    public static let unknownUser = "COMMAND-4g3xq"
    /// SetPhone with the number the user already has.
    public static let phoneUnchanged = "COMMAND-Uch5e"
    /// SetPhone with a number libphonenumber rejects.
    public static let phoneInvalid = "PHONE-so0wa"
    /// VerifyPhone with a wrong code.
    public static let phoneCodeInvalid = "COMMAND-eis9R"
    /// ResendPhoneCode when no code is pending for the phone (command/user_v2_phone.go).
    public static let phoneCodeEmpty = "PHONE-5xrra88eq8"
    public static let invalidToken = "AUTH-7fs1e"
    public static let quotaExhausted = "QUOTA-vjAy8"
    public static let instanceBlocked = "LIMITS-molsj"
}
