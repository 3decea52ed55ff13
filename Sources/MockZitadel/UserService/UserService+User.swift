import Foundation

/// The User service (`zitadel.user.v2.UserService`), the user itself: `GetUserByID`, `ListAuthenticationMethodTypes`,
/// `ListAuthenticationFactors`, `ListPasskeys`, `HumanMFAInitSkipped`, with Zitadel's preconditions and error ids.
extension MockZitadel {
    /// `GetUserByID`: humans and machine users.
    func getUserByID(_ request: RPCRequest, caller: APICaller) throws(ZitadelError) -> JSONValue {
        let userId = try request.id("userId")
        guard let subject = subject(id: userId) else { throw .userNotFound() }
        try authorize(caller, userId: userId)
        return ["details": details(for: userId), "user": userJSON(subject)]
    }

    /// The `User` message: `human` or `machine`, zero values left out.
    func userJSON(_ subject: Subject) -> JSONValue {
        let domain = state.organisation(subject.orgId)?.primaryDomain
        var user: [String: JSONValue] = [
            "userId": .string(subject.id),
            "details": details(for: subject.id, includeCreation: true),
            "state": "USER_STATE_ACTIVE",
        ]
        switch subject {
        case .human(let human):
            user["state"] = .string(human.state ?? "USER_STATE_ACTIVE")
            user["username"] = .string(human.userName)
            user["loginNames"] = [.string(human.loginName)]
            user["preferredLoginName"] = .string(human.loginName)
            // Zitadel sets the optional profile members always (empty nick name, `und` language, unspecified gender).
            let profile: [String: JSONValue] = [
                "givenName": .string(human.givenName), "familyName": .string(human.familyName), "nickName": "",
                "displayName": .string(human.displayName),
                "preferredLanguage": .string(human.preferredLanguage.isEmpty ? "und" : human.preferredLanguage),
                "gender": "GENDER_UNSPECIFIED",
            ]
            var email: [String: JSONValue] = ["email": .string(human.email.address)]
            if human.email.verified { email["isVerified"] = true }
            var phone: [String: JSONValue] = [:]
            if let number = human.phone {
                phone["phone"] = .string(number.number)
                if number.verified { phone["isVerified"] = true }
            }
            var body: [String: JSONValue] = [
                "profile": .object(profile), "email": .object(email), "phone": .object(phone),
                "passwordChanged": .timestamp(Self.seedDate),
            ]
            if human.mfa.mfaInitSkipped == true {
                let date = human.mfa.mfaInitSkippedAt.flatMap(Timestamp.parse) ?? Self.seedDate
                body["mfaInitSkipped"] = .timestamp(date)
            }
            user["human"] = .object(body)
        case .machine(let machine):
            let loginName = domain.map { "\(machine.userName)@\($0)" } ?? machine.userName
            user["username"] = .string(machine.userName)
            user["loginNames"] = [.string(loginName)]
            user["preferredLoginName"] = .string(loginName)
            var body: [String: JSONValue] = ["name": .string(machine.name)]
            if machine.clientSecret != nil { body["hasSecret"] = true }
            user["machine"] = .object(body)
        }
        return .object(user)
    }

    /// The method types Zitadel lists for a user: READY factors, then `PASSWORD` only when a password is set
    /// (`internal/query/user_auth_method.go` prepareUserAuthMethodTypesQuery appends it after the factor rows).
    func authMethodTypes(of user: Seed.User) -> [String] {
        var types: [String] = []
        if user.mfa.passkeys.contains(where: { $0.state == "READY" }) { types.append("AUTHENTICATION_METHOD_TYPE_PASSKEY") }
        if user.mfa.totp?.state == "READY" { types.append("AUTHENTICATION_METHOD_TYPE_TOTP") }
        if user.mfa.u2f.contains(where: { $0.state == "READY" }) { types.append("AUTHENTICATION_METHOD_TYPE_U2F") }
        if user.mfa.otpSms { types.append("AUTHENTICATION_METHOD_TYPE_OTP_SMS") }
        if user.mfa.otpEmail { types.append("AUTHENTICATION_METHOD_TYPE_OTP_EMAIL") }
        if let codes = user.mfa.recoveryCodes, !codes.remaining.isEmpty { types.append("AUTHENTICATION_METHOD_TYPE_RECOVERY_CODE") }
        if user.passwordSet ?? true { types.append("AUTHENTICATION_METHOD_TYPE_PASSWORD") }
        return types
    }

    /// `ListAuthenticationMethodTypes`, including `RECOVERY_CODE` while unused recovery codes remain.
    func listAuthenticationMethodTypes(_ request: RPCRequest, caller: APICaller) throws(ZitadelError) -> JSONValue {
        let userId = try request.id("userId")
        let user = try authorizedHuman(caller, userId: userId, missing: .userNotFound())
        let types = authMethodTypes(of: user)
        return ["details": listDetails(total: types.count), "authMethodTypes": .strings(types)]
    }

    /// `ListAuthenticationFactors`: second factors (`otp` means TOTP) filtered by type and state (default: all
    /// types, READY). No `details` in this response.
    func listAuthenticationFactors(_ request: RPCRequest, caller: APICaller) throws(ZitadelError) -> JSONValue {
        let userId = try request.id("userId")
        // A query filtered by user id and permission: an unknown user is an empty result, not an error.
        guard user(id: userId) != nil else { return [:] }
        let user = try authorizedHuman(caller, userId: userId, missing: .userNotFound())
        let typeNames = ["OTP", "OTP_SMS", "OTP_EMAIL", "U2F"]
        let stateNames = [
            "AUTH_FACTOR_STATE_UNSPECIFIED", "AUTH_FACTOR_STATE_NOT_READY", "AUTH_FACTOR_STATE_READY", "AUTH_FACTOR_STATE_REMOVED",
        ]
        func enumNames(_ field: String, _ names: [String]) throws(ZitadelError) -> Set<String> {
            var result = Set<String>()
            for value in try request.array(field) {
                if let name = value.stringValue, names.contains(name) {
                    result.insert(name)
                } else if let number = value.intValue ?? value.stringValue.flatMap({ Int64($0) }), names.indices.contains(Int(number)) {
                    result.insert(names[Int(number)])
                } else {
                    throw .malformedBody("invalid value for enum field \(field): \(value.compactDescription)")
                }
            }
            return result
        }
        let types = try enumNames("authFactors", typeNames)
        let states = try enumNames("states", stateNames)
        let wantedTypes = types.isEmpty ? Set(typeNames) : types
        let wantedStates = states.isEmpty ? ["AUTH_FACTOR_STATE_READY"] : states
        var result: [JSONValue] = []
        func add(_ state: String, _ key: String, _ value: JSONValue) {
            let stateName = "AUTH_FACTOR_STATE_\(state)"
            guard wantedStates.contains(stateName) else { return }
            result.append(["state": .string(stateName), key: value])
        }
        if wantedTypes.contains("OTP"), let totp = user.mfa.totp { add(totp.state, "otp", [:]) }
        if wantedTypes.contains("U2F") {
            for key in user.mfa.u2f {
                add(key.state, "u2f", ["id": .string(key.id), "name": .string(key.name)])
            }
        }
        if wantedTypes.contains("OTP_SMS"), user.mfa.otpSms { add("READY", "otpSms", [:]) }
        if wantedTypes.contains("OTP_EMAIL"), user.mfa.otpEmail { add("READY", "otpEmail", [:]) }
        return result.isEmpty ? [:] : ["result": .array(result)]
    }

    /// `ListPasskeys`: READY passkeys with their device labels; Zitadel reports no timestamps.
    func listPasskeys(_ request: RPCRequest, caller: APICaller) throws(ZitadelError) -> JSONValue {
        let userId = try request.id("userId")
        // As ListAuthenticationFactors: an unknown user lists nothing (`internal/query/user_auth_method.go`).
        guard user(id: userId) != nil else { return ["details": listDetails(total: 0)] }
        let user = try authorizedHuman(caller, userId: userId, missing: .userNotFound())
        let ready = user.mfa.passkeys.filter { $0.state == "READY" }
        var body: [String: JSONValue] = ["details": listDetails(total: ready.count)]
        if !ready.isEmpty {
            body["result"] = .array(
                ready.map { ["id": .string($0.id), "state": "AUTH_FACTOR_STATE_READY", "name": .string($0.name)] })
        }
        return .object(body)
    }

    /// `ListDetails`: `totalResult` (omitted when zero), `processedSequence`, `timestamp`.
    func listDetails(total: Int) -> JSONValue {
        var details: [String: JSONValue] = ["timestamp": .timestamp(Date())]
        if total > 0 { details["totalResult"] = .int64String(Int64(total)) }
        if eventSequence > 0 { details["processedSequence"] = .int64String(eventSequence) }
        return .object(details)
    }

    /// `HumanMFAInitSkipped`.
    func humanMFAInitSkipped(_ request: RPCRequest, caller: APICaller) throws(ZitadelError) -> JSONValue {
        let userId = try request.id("userId")
        _ = try authorizedHuman(caller, userId: userId, missing: .commandUserNotFound())
        let now = Date()
        return [
            "details": modifyUser(userId) { user in
                user.mfa.mfaInitSkipped = true
                user.mfa.mfaInitSkippedAt = Timestamp.format(now)
            }
        ]
    }
}
