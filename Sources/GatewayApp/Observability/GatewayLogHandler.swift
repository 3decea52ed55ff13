import Foundation
import Logging

/// The gateway's log lines on standard error: swift-log's text lines, or one JSON object per line (time, level,
/// label, message and metadata).
///
/// Metadata is rendered only when a line is written. swift-log's `StreamLogHandler` renders its metadata whenever
/// it is set, and Hummingbird sets the request id on every request's logger, so using it directly paid for a
/// rendering per request even with nothing logged (seen in `/v1/session` profiles).
///
/// Callers never put tokens, codes or full phone numbers in messages or metadata; this handler adds nothing.
public struct GatewayLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    public var logLevel: Logger.Level = .info
    private let label: String
    private let format: GatewayConfiguration.LogFormat

    public init(format: GatewayConfiguration.LogFormat, label: String, metadataProvider: Logger.MetadataProvider? = nil) {
        self.format = format
        self.label = label
        self.metadataProvider = metadataProvider
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        switch format {
        case .text:
            var handler = StreamLogHandler.standardError(label: label, metadataProvider: metadataProvider)
            handler.logLevel = logLevel
            handler.metadata = metadata
            handler.log(event: event)
        case .json:
            writeJSON(event)
        }
    }

    private func writeJSON(_ event: LogEvent) {
        var object: [String: String] = [
            "time": Date().formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true)),
            "level": event.level.rawValue,
            "label": label,
            "message": event.message.description,
        ]
        let provided = metadataProvider?.get() ?? [:]
        let merged = provided.merging(metadata) { _, new in new }.merging(event.metadata ?? [:]) { _, new in new }
        for (key, value) in merged where object[key] == nil { object[key] = value.description }
        guard var data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else { return }
        data.append(0x0A)
        FileHandle.standardError.write(data)
    }
}
