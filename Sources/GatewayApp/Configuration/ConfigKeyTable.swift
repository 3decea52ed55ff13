import Configuration
import Synchronization

/// Every key the configuration read, in first-read order, with its effective value (the provider's, else the
/// default). `config check` prints this table, so its summary lists exactly the keys the reading consults.
///
/// Attached to the `ConfigReader` as its access reporter; a value read as a secret is kept only as `<redacted>`.
public final class ConfigKeyTable: AccessReporter, Sendable {
    private struct Table {
        var order: [String] = []
        var seen: Set<String> = []
        var values: [String: String] = [:]

        mutating func note(_ key: String) {
            if seen.insert(key).inserted { order.append(key) }
        }
    }

    private let table = Mutex(Table())

    public init() {}

    public func report(_ event: AccessEvent) {
        let key = event.metadata.key.components.joined(separator: ".")
        var value: String?
        if case .success(let configValue?) = event.result {
            value = configValue.isSecret ? "<redacted>" : Self.render(configValue.content)
        }
        table.withLock { table in
            table.note(key)
            // A key read twice (for example an inline policy key, then the policy file's) shows its last value.
            if let value { table.values[key] = value }
        }
    }

    /// Shows `key` as `display`: for a secret whose non-secret parts operators need (a URL with its password
    /// redacted).
    func present(_ key: String, as display: String) {
        table.withLock { table in
            table.note(key)
            table.values[key] = display
        }
    }

    /// `key = value` lines in reading order; a key without a value or default shows `(none)`.
    public var lines: [String] {
        table.withLock { table in table.order.map { "\($0) = \(table.values[$0] ?? "(none)")" } }
    }

    private static func render(_ content: ConfigContent) -> String {
        switch content {
        case .string(let value): value
        case .int(let value): String(value)
        case .double(let value): String(value)
        case .bool(let value): String(value)
        case .stringArray(let values): values.joined(separator: ",")
        case .intArray(let values): values.map(String.init).joined(separator: ",")
        case .doubleArray(let values): values.map { String($0) }.joined(separator: ",")
        case .boolArray(let values): values.map(String.init).joined(separator: ",")
        case .bytes, .byteChunkArray: "(bytes)"
        }
    }
}
