import Foundation
import Hummingbird
import NIOCore
import Synchronization

/// Request context of the mock: Hummingbird's core storage plus the issuer, the connection and per-request notes.
struct MockRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    /// The connection, so a fault can close it without answering.
    let channel: any Channel
    /// `http://<Host>` or the configured override; set by ``IssuerMiddleware``.
    var issuer: String = ""
    /// What handlers tell the journal and fault middleware.
    let notes = RequestNotes()

    init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.channel = source.channel
    }
}

/// Facts a handler learns that the outer middleware records (the user a call was about, a connection reset).
final class RequestNotes: Sendable {
    private struct Values {
        var userId: String?
        var callerId: String?
        var faultId: String?
        var connectionReset = false
    }

    private let values = Mutex(Values())

    var userId: String? {
        get { values.withLock { $0.userId } }
        set { values.withLock { $0.userId = newValue } }
    }

    var callerId: String? {
        get { values.withLock { $0.callerId } }
        set { values.withLock { $0.callerId = newValue } }
    }

    var faultId: String? {
        get { values.withLock { $0.faultId } }
        set { values.withLock { $0.faultId = newValue } }
    }

    var connectionReset: Bool {
        get { values.withLock { $0.connectionReset } }
        set { values.withLock { $0.connectionReset = newValue } }
    }
}
