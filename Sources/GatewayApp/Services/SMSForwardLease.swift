import GatewayCore
import GatewayStore
import Synchronization

/// A forward's hold on its enrolment: the row as last written (for compare-and-set) and when the ledger's lease
/// ends at the earliest (counted from before the store granted it, so never later than the store's).
struct ForwardLease {
    var enrolment: SMSEnrolment
    var expires: ContinuousClock.Instant

    init(_ enrolment: SMSEnrolment, grantedAfter asked: ContinuousClock.Instant, seconds: Double) {
        self.enrolment = enrolment
        expires = asked + .seconds(seconds)
    }

    var remaining: Duration { expires - .now }
}

/// Counts the requests of each user waiting for another request's forward in this process.
final class ClaimWaiters: Sendable {
    private let counts = Mutex<[String: Int]>([:])

    /// Takes a waiting place for `key` when fewer than `limit` are taken.
    func enter(_ key: String, limit: Int) -> Bool {
        counts.withLock { counts in
            guard counts[key, default: 0] < limit else { return false }
            counts[key, default: 0] += 1
            return true
        }
    }

    func leave(_ key: String) {
        counts.withLock { counts in
            let left = counts[key, default: 1] - 1
            counts[key] = left > 0 ? left : nil
        }
    }
}
