import Foundation

/// Who an access token was issued to.
enum Subject {
    case human(Seed.User)
    case machine(Seed.MachineUser)

    var id: String {
        switch self {
        case .human(let user): user.id
        case .machine(let machine): machine.id
        }
    }

    var orgId: String {
        switch self {
        case .human(let user): user.orgId
        case .machine(let machine): machine.orgId
        }
    }

    var preferredUsername: String {
        switch self {
        case .human(let user): user.loginName
        case .machine(let machine): machine.userName
        }
    }

    var human: Seed.User? {
        if case .human(let user) = self { return user }
        return nil
    }
}
