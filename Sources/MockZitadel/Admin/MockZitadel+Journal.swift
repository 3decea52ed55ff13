import Foundation

/// The call journal: every non-admin request, with its status and the user it was about.
extension MockZitadel {
    /// Appends a journal entry and returns its sequence number.
    func record(method: String, path: String, rpc: String?, bodyDigest: String? = nil, at: Date = Date()) -> Int {
        journalSequence += 1
        var entry = JournalEntry(sequence: journalSequence, method: method, path: path, rpc: rpc, userId: nil, at: at)
        entry.bodyDigest = bodyDigest
        journal.append(entry)
        return journalSequence
    }

    /// Completes a journal entry once the response is known.
    func complete(sequence: Int, status: Int?, userId: String?, callerId: String? = nil, faultId: String?) {
        guard let index = journal.lastIndex(where: { $0.sequence == sequence }) else { return }
        journal[index].status = status
        if let userId { journal[index].userId = userId }
        if let callerId { journal[index].callerId = callerId }
        if let faultId { journal[index].faultId = faultId }
    }

    /// Journal entries, optionally filtered by path, method (case-insensitive), time, RPC and user.
    public func journalEntries(
        path: String? = nil, method: String? = nil, since: Date? = nil, rpc: String? = nil, userId: String? = nil
    ) -> [JournalEntry] {
        journal.filter { entry in
            (path == nil || entry.path == path)
                && (method.map { entry.method.caseInsensitiveCompare($0) == .orderedSame } ?? true)
                && (since.map { entry.at >= $0 } ?? true)
                && (rpc == nil || entry.rpc == rpc)
                && (userId == nil || entry.userId == userId || entry.callerId == userId)
        }
    }

    /// Empties the journal.
    public func clearJournal() {
        journal = []
    }
}
