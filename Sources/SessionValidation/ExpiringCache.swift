import Crypto
import DequeModule
import Synchronization

/// A cache key derived from a token: its SHA-256 digest. Tokens themselves are never stored.
public struct TokenKey: Hashable, Sendable {
    let a: UInt64, b: UInt64, c: UInt64, d: UInt64

    public init(token: String) {
        var hasher = SHA256()
        var token = token
        token.withUTF8 { hasher.update(bufferPointer: UnsafeRawBufferPointer($0)) }
        let digest = hasher.finalize()
        var words: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        digest.withUnsafeBytes { raw in
            words = (
                raw.loadUnaligned(fromByteOffset: 0, as: UInt64.self),
                raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self),
                raw.loadUnaligned(fromByteOffset: 16, as: UInt64.self),
                raw.loadUnaligned(fromByteOffset: 24, as: UInt64.self)
            )
        }
        (a, b, c, d) = words
    }

    var shard: Int { Int(truncatingIfNeeded: a & 0xF) }
}

/// A bounded, sharded map from token digests to values that expire at a given wall-clock time.
///
/// Each entry also keeps when its value was fetched, so that a reader with a shorter bound than the one the
/// entry was stored for (the revocation check reading an introspection result the MFA lookup stored) refuses
/// it rather than inheriting the longer lifetime. When a shard is full the oldest insertion is evicted (FIFO);
/// expired entries are dropped on access.
final class ExpiringCache<Value: Sendable>: Sendable {
    /// Boxed so that the dictionaries hold one pointer per entry: their spare capacity then costs
    /// pointers, not whole verified tokens.
    private final class Entry: @unchecked Sendable {
        let value: Value
        let expiresAt: Double
        let fetchedAt: Double

        init(value: Value, expiresAt: Double, fetchedAt: Double) {
            self.value = value
            self.expiresAt = expiresAt
            self.fetchedAt = fetchedAt
        }
    }

    private struct Shard {
        var entries: [TokenKey: Entry] = [:]
        var order: Deque<TokenKey> = []
    }

    private final class LockedShard: Sendable {
        let mutex = Mutex(Shard())
        func withLock<R>(_ body: (inout sending Shard) -> sending R) -> R { mutex.withLock(body) }
    }

    private static var shardCount: Int { 16 }
    private let shards: [LockedShard]
    private let capacityPerShard: Int

    init(capacity: Int) {
        // Keys spread unevenly over the shards: an eighth of slack keeps a cache sized for N live tokens from
        // evicting while it holds fewer than N (the total stays within capacity * 9 / 8).
        let share = max(1, capacity / Self.shardCount)
        self.capacityPerShard = share + max(1, share / 8)
        self.shards = (0..<Self.shardCount).map { _ in LockedShard() }
    }

    /// The unexpired value for `key`; nil also when it was fetched before `fetchedSince` (too old for this
    /// reader, though it may still serve readers with a longer bound).
    func value(for key: TokenKey, now: Double, fetchedSince: Double = -.infinity) -> Value? {
        shards[key.shard].withLock { shard in
            guard let entry = shard.entries[key] else { return nil }
            if entry.expiresAt <= now {
                shard.entries[key] = nil
                return nil
            }
            return entry.fetchedAt >= fetchedSince ? entry.value : nil
        }
    }

    /// Stores `value`, learnt at `fetchedAt` (for a provider answer: when the question was sent), until `expiresAt`.
    /// An unexpired entry learnt later is kept: a slow answer to an older question never replaces a newer one.
    func insert(_ value: Value, for key: TokenKey, expiresAt: Double, fetchedAt: Double) {
        let capacity = capacityPerShard
        let entry = Entry(value: value, expiresAt: expiresAt, fetchedAt: fetchedAt)
        shards[key.shard].withLock { shard in
            if let current = shard.entries[key], current.fetchedAt > fetchedAt, current.expiresAt > fetchedAt { return }
            if shard.entries.updateValue(entry, forKey: key) == nil {
                shard.order.append(key)
            }
            while shard.entries.count > capacity, let oldest = shard.order.popFirst() {
                shard.entries[oldest] = nil
            }
            // Keys removed on expiry linger in `order`; keep it from growing past the live set.
            if shard.order.count > capacity * 2 {
                shard.order = Deque(shard.order.filter { shard.entries[$0] != nil })
            }
        }
    }

    func remove(_ key: TokenKey) {
        _ = shards[key.shard].withLock { $0.entries.removeValue(forKey: key) }
    }

    var count: Int { shards.reduce(0) { total, shard in total + shard.withLock { $0.entries.count } } }
}
