import Logging
import Synchronization

/// The request's log context (request id, authenticated subject), added to every log line by `metadataProvider`
/// when a line is actually written. Setting logger metadata instead made swift-log's handlers re-render their
/// metadata on every request, which showed up in `/v1/session` profiles.
public enum RequestLogContext {
    /// One task-local per request, bound by `RequestIdMiddleware`; authentication fills in the subject. (A
    /// second task-local for the subject cost a binding and a closure frame on every authenticated request.)
    @TaskLocal public static var current: Fields?

    public final class Fields: Sendable {
        public let requestId: String
        private let storage = Mutex<(subject: String?, problemCode: String?)>((nil, nil))

        public init(requestId: String) {
            self.requestId = requestId
        }

        /// The authenticated subject, once authentication has resolved it.
        public var subject: String? {
            get { storage.withLock { $0.subject } }
            set { storage.withLock { $0.subject = newValue } }
        }

        /// The problem code the request was answered with, for the access log (set where problems are rendered).
        public var problemCode: String? {
            get { storage.withLock { $0.problemCode } }
            set { storage.withLock { $0.problemCode = newValue } }
        }
    }

    /// Bootstrap logging with this provider (and pass it to handlers) so that log lines carry the context.
    public static let metadataProvider = Logger.MetadataProvider {
        guard let current else { return [:] }
        var metadata: Logger.Metadata = ["request_id": .string(current.requestId)]
        if let subject = current.subject { metadata["subject"] = .string(subject) }
        return metadata
    }
}
