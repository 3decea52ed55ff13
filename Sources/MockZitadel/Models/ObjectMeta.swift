import Foundation

/// Creation and change of a directory object, for Zitadel's `details`.
struct ObjectMeta: Sendable {
    var creationDate: Date
    var changeDate: Date
    var sequence: Int64
}
