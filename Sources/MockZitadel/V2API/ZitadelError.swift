import Foundation

/// An error of Zitadel's v2 APIs: a gRPC code, Zitadel's error id and the translated message.
///
/// Both wire forms are rendered from it: Connect (`{"code":"failed_precondition",…}`) and gRPC-gateway REST
/// (`{"code":9,…}`), with the HTTP status both map the code to.
struct ZitadelError: Error, Sendable, Equatable {
    /// gRPC status codes.
    enum Code: Int, Sendable {
        case canceled = 1
        case unknown = 2
        case invalidArgument = 3
        case deadlineExceeded = 4
        case notFound = 5
        case alreadyExists = 6
        case permissionDenied = 7
        case resourceExhausted = 8
        case failedPrecondition = 9
        case aborted = 10
        case outOfRange = 11
        case unimplemented = 12
        case `internal` = 13
        case unavailable = 14
        case dataLoss = 15
        case unauthenticated = 16

        /// Connect's snake_case name.
        var connectName: String {
            switch self {
            case .canceled: "canceled"
            case .unknown: "unknown"
            case .invalidArgument: "invalid_argument"
            case .deadlineExceeded: "deadline_exceeded"
            case .notFound: "not_found"
            case .alreadyExists: "already_exists"
            case .permissionDenied: "permission_denied"
            case .resourceExhausted: "resource_exhausted"
            case .failedPrecondition: "failed_precondition"
            case .aborted: "aborted"
            case .outOfRange: "out_of_range"
            case .unimplemented: "unimplemented"
            case .internal: "internal"
            case .unavailable: "unavailable"
            case .dataLoss: "data_loss"
            case .unauthenticated: "unauthenticated"
            }
        }

        /// The HTTP status gRPC-gateway and Connect both use (FailedPrecondition is 400, not 412).
        var httpStatus: Int {
            switch self {
            case .invalidArgument, .failedPrecondition, .outOfRange: 400
            case .unauthenticated: 401
            case .permissionDenied: 403
            case .notFound: 404
            case .alreadyExists, .aborted: 409
            case .resourceExhausted: 429
            case .canceled: 499
            case .unknown, .internal, .dataLoss: 500
            case .unimplemented: 501
            case .unavailable: 503
            case .deadlineExceeded: 504
            }
        }

        /// The code an HTTP status stands for, for injected status faults.
        init(httpStatus: Int) {
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
            case 500..<600: self = .internal
            default: self = .unknown
            }
        }
    }

    let code: Code
    /// Zitadel's error id, e.g. `COMMAND-Q54j2`; `nil` for transport and validation errors, which carry no detail.
    let id: String?
    /// The translated message, without the id.
    let message: String

    init(_ code: Code, _ id: String?, _ message: String) {
        self.code = code
        self.id = id
        self.message = message
    }

    /// The status message: `"<message> (<id>)"`, as Zitadel formats it.
    var statusMessage: String {
        id.map { "\(message) (\($0))" } ?? message
    }

    /// Connect's error body: snake_case code, and the `zitadel.v1.ErrorDetail` as base64 protobuf plus `debug`.
    var connectBody: JSONValue {
        var body: [String: JSONValue] = ["code": .string(code.connectName), "message": .string(statusMessage)]
        if let id {
            body["details"] = [
                [
                    "type": "zitadel.v1.ErrorDetail",
                    "value": .string(Self.encodedErrorDetail(id: id, message: message)),
                    "debug": ["id": .string(id), "message": .string(message)],
                ]
            ]
        }
        return .object(body)
    }

    /// gRPC-gateway's error body: numeric code and the `ErrorDetail` as JSON with `@type`; protojson leaves an
    /// empty `details` out (grpc-gateway `runtime/errors.go` DefaultHTTPErrorHandler marshals the status message).
    var restBody: JSONValue {
        var body: [String: JSONValue] = ["code": .int(Int64(code.rawValue)), "message": .string(statusMessage)]
        if let id {
            body["details"] = [
                ["@type": "type.googleapis.com/zitadel.v1.ErrorDetail", "id": .string(id), "message": .string(message)]
            ]
        }
        return .object(body)
    }

    /// `zitadel.v1.ErrorDetail{id = 1; message = 2}` in protobuf binary, base64 without padding (connect-go's form).
    static func encodedErrorDetail(id: String, message: String) -> String {
        var bytes: [UInt8] = []
        for (tag, value) in [(UInt8(0x0A), id), (UInt8(0x12), message)] where !value.isEmpty {
            let utf8 = Array(value.utf8)
            bytes.append(tag)
            var length = utf8.count
            while length >= 0x80 {
                bytes.append(UInt8(length & 0x7F) | 0x80)
                length >>= 7
            }
            bytes.append(UInt8(length))
            bytes.append(contentsOf: utf8)
        }
        return Data(bytes).base64EncodedString().replacingOccurrences(of: "=", with: "")
    }
}

/// Zitadel's errors for the RPCs the mock serves, with the ids of Zitadel's sources and English messages.
extension ZitadelError {
    static func unauthenticated() -> ZitadelError {
        .init(.unauthenticated, "AUTH-7fs1e", "Token is invalid")
    }

    /// A membership without the needed permission (`internal/api/authz/authorization.go` checkUserPermissions).
    static func permissionDenied() -> ZitadelError {
        .init(.permissionDenied, "AUTH-AWfge", "No matching permissions found")
    }

    /// No membership covering the target organisation or instance (`internal/api/authz/permissions.go`).
    static func membershipNotFound() -> ZitadelError {
        .init(.notFound, "AUTHZ-cdgFk", "membership not found")
    }

    static func userNotFound() -> ZitadelError {
        .init(.notFound, "QUERY-Dfbg2", "User could not be found")
    }

    static func commandUserNotFound() -> ZitadelError {
        .init(.notFound, "COMMAND-4g3xq", "User could not be found")
    }

    static func phoneUserNotFound() -> ZitadelError {
        .init(.notFound, "COMMAND-ieJ2e", "User could not be found")
    }

    static func sessionNotFound() -> ZitadelError {
        .init(.notFound, "QUERY-SFeaa", "Session does not exist")
    }

    static func sessionTokenInvalid() -> ZitadelError {
        .init(.permissionDenied, "COMMAND-sGr42", "The session token is invalid")
    }

    /// GetSession with a wrong session token (`internal/query/session.go`).
    static func sessionTokenInvalidQuery() -> ZitadelError {
        .init(.permissionDenied, "QUERY-dsfr3", "The session token is invalid")
    }

    static let otpNotReady = "Multifactor OTP (OneTimePassword) isn't ready"
    static let otpAlreadyReady = "Multifactor OTP (OneTimePassword) is already set up"
    static let otpNotExisting = "Multifactor OTP (OneTimePassword) doesn't exist"

    /// A protoc-gen-validate failure: InvalidArgument without a Zitadel error detail.
    static func validation(_ message: String, field: String, rule: String) -> ZitadelError {
        .init(.invalidArgument, nil, "invalid \(message).\(field): \(rule)")
    }

    /// A body that is not the request message in protojson.
    static func malformedBody(_ reason: String) -> ZitadelError {
        .init(.invalidArgument, nil, "proto: syntax error: \(reason)")
    }

    static func unimplemented(_ procedure: String) -> ZitadelError {
        .init(.unimplemented, nil, "\(procedure) is not implemented")
    }
}
