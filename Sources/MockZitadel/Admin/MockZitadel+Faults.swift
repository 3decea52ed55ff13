import Foundation

/// Injected faults.
extension MockZitadel {
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
}
