import Foundation
import GatewayCore
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Synchronization

/// The methods each route template serves, so that a known path with another method answers 405 with `Allow`
/// (the router itself only knows "no route": 404). Filled once from the router after every route is added.
final class RouteMethodTable: Sendable {
    private let entries = Mutex<[(segments: [Substring], methods: Set<String>)]>([])

    func load(_ routes: [(path: String, method: String)]) {
        var table: [String: Set<String>] = [:]
        for route in routes { table[route.path, default: []].insert(route.method) }
        entries.withLock { entries in
            entries = table.map { (Self.segments($0.key), $0.value) }
        }
    }

    /// The methods served at `path`, or nil when no route template matches it.
    func methods(for path: String) -> Set<String>? {
        let target = Self.segments(path)
        return entries.withLock { entries in
            let matching = entries.filter { entry in
                entry.segments.count == target.count
                    && zip(entry.segments, target).allSatisfy { template, value in
                        template.first == ":" || template.first == "{" || template == value
                    }
            }
            return matching.isEmpty ? nil : matching.reduce(into: Set<String>()) { $0.formUnion($1.methods) }
        }
    }

    static func segments(_ path: String) -> [Substring] {
        path.split(separator: "/", omittingEmptySubsequences: true)
    }
}
