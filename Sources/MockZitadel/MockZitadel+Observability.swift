import Foundation

/// What tests and developers observe and break: the call journal, injected faults and the SMS outbox.
extension MockZitadel {
    // MARK: Journal

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

    // MARK: Faults

    /// Installs a fault and returns it with its id.
    public func addFault(_ spec: FaultSpec) -> Fault {
        faultSequence += 1
        let fault = Fault(id: "fault-\(faultSequence)", spec: spec, remaining: spec.times, hits: 0)
        faults.append(fault)
        return fault
    }

    /// Installed faults, including exhausted ones.
    public func listFaults() -> [Fault] {
        faults
    }

    /// Removes one fault; returns whether it existed.
    public func removeFault(id: String) -> Bool {
        guard let index = faults.firstIndex(where: { $0.id == id }) else { return false }
        faults.remove(at: index)
        return true
    }

    /// Removes every fault.
    public func removeAllFaults() {
        faults = []
    }

    /// Claims the first fault matching a request, counting the hit.
    func takeFault(method: String, path: String, rpc: String?) -> Fault? {
        guard let index = faults.firstIndex(where: { $0.matches(method: method, path: path, rpc: rpc) }) else { return nil }
        faults[index].hits += 1
        if let remaining = faults[index].remaining { faults[index].remaining = remaining - 1 }
        return faults[index]
    }

    // MARK: SMS outbox

    func recordSMS(userId: String, number: String, code: String, kind: SMSMessage.Kind, at date: Date = Date()) {
        var message = SMSMessage(
            userId: userId, maskedPhone: PhoneNumber.masked(number), code: code, at: Timestamp.format(date), kind: kind)
        message.phone = number
        smsOutbox.append(message)
    }

    /// Messages the mock "sent", oldest first, optionally for one user, one number (any format Zitadel accepts)
    /// or one kind.
    public func sentMessages(userId: String? = nil, phone: String? = nil, kind: SMSMessage.Kind? = nil) -> [SMSMessage] {
        let number = phone.flatMap { try? PhoneNumber.normalise($0) }
        return smsOutbox.filter { message in
            (userId == nil || message.userId == userId)
                && (phone == nil || message.phone == number || message.maskedPhone == phone)
                && (kind == nil || message.kind == kind)
        }
    }

    /// Empties the SMS outbox.
    public func clearOutbox() {
        smsOutbox = []
    }
}
