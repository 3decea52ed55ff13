import Foundation

/// Body of `POST /mock/admin/faults`: what to break for requests matching `path` (and `method`, `rpc`).
public struct FaultSpec: Codable, Sendable {
    /// Exact request path, or a prefix when it ends with `*` (`*` alone matches every path).
    public var path: String
    /// HTTP method to match; any when `nil`.
    public var method: String?
    /// v2 RPC to match in either wire form, e.g. `UserService/SetPhone`; any when `nil`.
    public var rpc: String?
    /// Hold the request without answering, then close the connection: a client timeout. The hold lasts
    /// `latencyMs` (default 60 s). With `afterHandler`, the change is applied first.
    public var timeout: Bool?
    /// Status to answer with instead of the real handler's.
    public var status: Int?
    /// Delay before answering (or before running the handler).
    public var latencyMs: Int?
    /// Body to send instead of the real one.
    public var body: String?
    /// Send a truncated copy of the real JSON body.
    public var malformed: Bool?
    /// Close the connection without sending a response.
    public var reset: Bool?
    /// How many matching requests the fault applies to; unlimited when `nil`.
    public var times: Int?
    /// Run the real handler first (its state change commits), then apply the fault to the response.
    public var afterHandler: Bool?

    public init(
        path: String,
        method: String? = nil,
        status: Int? = nil,
        latencyMs: Int? = nil,
        body: String? = nil,
        malformed: Bool? = nil,
        reset: Bool? = nil,
        times: Int? = nil,
        afterHandler: Bool? = nil,
        rpc: String? = nil,
        timeout: Bool? = nil
    ) {
        self.path = path
        self.method = method
        self.rpc = rpc
        self.timeout = timeout
        self.status = status
        self.latencyMs = latencyMs
        self.body = body
        self.malformed = malformed
        self.reset = reset
        self.times = times
        self.afterHandler = afterHandler
    }
}

/// An installed fault, as `GET /mock/admin/faults` lists it.
public struct Fault: Codable, Sendable {
    public var id: String
    public var spec: FaultSpec
    /// Matching requests still to break; `nil` for unlimited.
    public var remaining: Int?
    /// Requests this fault has been applied to.
    public var hits: Int

    /// Whether this fault applies to a request.
    func matches(method: String, path: String, rpc: String?) -> Bool {
        if let remaining, remaining <= 0 { return false }
        if let wanted = spec.method, wanted.caseInsensitiveCompare(method) != .orderedSame { return false }
        if let wanted = spec.rpc, wanted != rpc { return false }
        if spec.path.hasSuffix("*") {
            return path.hasPrefix(spec.path.dropLast())
        }
        return path == spec.path
    }
}
