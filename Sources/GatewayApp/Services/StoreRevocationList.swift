import Foundation
import GatewayStore
import Logging
import Metrics
import SessionValidation
import Synchronization

/// The store's revocations, held in memory and brought up to date at most every `ttl`: validation answers from
/// memory, and one store query per `ttl` per instance (not per request) picks up revocations made by any
/// instance. When the list is older than `ttl` and the store cannot be read, tokens are refused (fail closed).
final class StoreRevocationList: SessionRevocationList {
    /// One user's revocations: not-before, and revoked session and token ids with their expiry.
    struct UserRevocations: Sendable {
        var notBefore: Double?
        var sessions: [String: Double] = [:]
        var tokens: [String: Double] = [:]

        mutating func apply(_ revocation: SessionRevocation, retention: Double) {
            let expiresAt = revocation.expiresAt ?? revocation.revokedAt + retention
            switch revocation.scope {
            case .allSessions: notBefore = max(notBefore ?? revocation.revokedAt, revocation.revokedAt)
            case .session:
                if let target = revocation.target { sessions[target] = max(sessions[target] ?? 0, expiresAt) }
            case .token:
                if let target = revocation.target { tokens[target] = max(tokens[target] ?? 0, expiresAt) }
            }
        }

        func refuses(_ query: RevocationQuery, now: Double) -> Bool {
            if let notBefore {
                // Fail closed: a token without iat/nbf cannot prove it is newer.
                guard let issuedAt = query.issuedAt, issuedAt >= notBefore else { return true }
            }
            if let session = query.sessionId, let until = sessions[session], until > now { return true }
            if let token = query.tokenId, let until = tokens[token], until > now { return true }
            return false
        }

        mutating func prune(now: Double) -> Bool {
            sessions = sessions.filter { $0.value > now }
            tokens = tokens.filter { $0.value > now }
            return notBefore == nil && sessions.isEmpty && tokens.isEmpty
        }
    }

    private struct State {
        var users: [String: UserRevocations] = [:]
        var cursor: String?
        var syncedAt: ContinuousClock.Instant?
        var refresh: Task<Bool, Never>?
    }

    /// Reads a page of revocations after a cursor: `GatewayStore.revocations(after:limit:)`.
    typealias PageReader = @Sendable (_ cursor: String?, _ limit: Int) async throws -> RevocationPage

    private let read: PageReader
    private let ttl: Duration
    private let retention: Double
    private let logger: Logger
    private let state = Mutex(State())
    private let refreshed = Counter(label: "gateway_revocation_list_refreshes_total", dimensions: [("outcome", "ok")])
    private let refreshFailed = Counter(
        label: "gateway_revocation_list_refreshes_total", dimensions: [("outcome", "failed")])
    static let pageSize = 1000
    static let maxPagesPerRefresh = 1000

    convenience init(store: any GatewayStore, ttl: Duration, retention: Duration, logger: Logger) {
        self.init(ttl: ttl, retention: retention, logger: logger) { try await store.revocations(after: $0, limit: $1) }
    }

    init(ttl: Duration, retention: Duration, logger: Logger, read: @escaping PageReader) {
        self.read = read
        self.ttl = ttl
        self.retention = Double(retention.components.seconds)
        self.logger = logger
    }

    /// Revocations of a session whose user was not named (a back-channel logout token with `sid` alone) are
    /// kept under this empty user id and apply to every user's token bound to that session.
    static let anyUser = ""

    func isRevoked(_ query: RevocationQuery) async throws(ValidationFailure) -> Bool {
        let now = Date().timeIntervalSince1970
        let fresh: Bool? = state.withLock { state in
            guard let synced = state.syncedAt, ContinuousClock.now - synced < ttl else { return nil }
            return Self.refuses(query, in: state, now: now)
        }
        if let fresh { return fresh }
        guard await refresh() else { throw .revocationListUnavailable }
        return state.withLock { Self.refuses(query, in: $0, now: now) }
    }

    private static func refuses(_ query: RevocationQuery, in state: State, now: Double) -> Bool {
        if state.users[query.userId]?.refuses(query, now: now) == true { return true }
        guard let session = query.sessionId, let until = state.users[anyUser]?.sessions[session] else { return false }
        return until > now
    }

    func isClear(userId: String) -> Bool {
        state.withLock { state in
            guard let synced = state.syncedAt, ContinuousClock.now - synced < ttl else { return false }
            return state.users[userId] == nil && state.users[Self.anyUser] == nil
        }
    }

    /// Applies a revocation this instance just recorded, so it bites here at once.
    func note(_ revocation: SessionRevocation) {
        state.withLock { $0.users[revocation.userId, default: UserRevocations()].apply(revocation, retention: retention) }
    }

    /// Reads what changed since the last sync (single flight); false when the store could not be read.
    func refresh() async -> Bool {
        let task: Task<Bool, Never> = state.withLock { state in
            if let running = state.refresh { return running }
            let task = Task { await self.sync() }
            state.refresh = task
            return task
        }
        let result = await task.value
        state.withLock { $0.refresh = nil }
        return result
    }

    private func sync() async -> Bool {
        let started = ContinuousClock.now
        var cursor = state.withLock { $0.cursor }
        var changes: [SessionRevocation] = []
        do {
            for _ in 0..<Self.maxPagesPerRefresh {
                let page = try await read(cursor, Self.pageSize)
                changes += page.revocations
                cursor = page.cursor ?? cursor
                if !page.hasMore { break }
            }
        } catch {
            refreshFailed.increment()
            logger.error("Revocation list refresh failed", metadata: ["error_type": "\(type(of: error))"])
            return false
        }
        let now = Date().timeIntervalSince1970
        state.withLock { state in
            for revocation in changes {
                state.users[revocation.userId, default: UserRevocations()].apply(revocation, retention: retention)
            }
            for (user, var revocations) in state.users where !revocations.sessions.isEmpty || !revocations.tokens.isEmpty {
                if revocations.prune(now: now) {
                    state.users[user] = nil
                } else {
                    state.users[user] = revocations
                }
            }
            state.cursor = cursor
            // Fresh from when the read began: a revocation committed after that is picked up next time.
            state.syncedAt = started
        }
        refreshed.increment()
        return true
    }
}
