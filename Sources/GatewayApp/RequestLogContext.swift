import Logging

/// The request's log context (request id, authenticated subject) as task-local values, added to every log line
/// by `metadataProvider` when a line is actually written. Setting logger metadata instead made swift-log's
/// handlers re-render their metadata on every request, which showed up in `/v1/session` profiles.
public enum RequestLogContext {
    @TaskLocal public static var requestId: String?
    @TaskLocal public static var subject: String?

    /// Bootstrap logging with this provider (and pass it to handlers) so that log lines carry the context.
    public static let metadataProvider = Logger.MetadataProvider {
        var metadata: Logger.Metadata = [:]
        if let requestId { metadata["request_id"] = .string(requestId) }
        if let subject { metadata["subject"] = .string(subject) }
        return metadata
    }
}
