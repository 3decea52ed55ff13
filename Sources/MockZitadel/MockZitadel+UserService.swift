import Foundation

/// The User service (`zitadel.user.v2.UserService`): the user, its phone, second factors and metadata, with
/// Zitadel's preconditions and error ids.
extension MockZitadel {
    /// How long a phone verification code stays valid (Zitadel's default: 1 h).
    static let phoneCodeLifetime: TimeInterval = 3600

    // MARK: Reading

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

    // MARK: Phone

    /// `SetPhone` with `sendCode` (or none: an SMS is sent), `returnCode` or `isVerified` (which needs `user.write`,
    /// also on one's own user). Any change clears the verified flag; OTP SMS stays.
    func setPhone(_ request: RPCRequest, caller: APICaller) throws(ZitadelError) -> JSONValue {
        let userId = try request.id("userId")
        let verification = ["sendCode", "returnCode", "isVerified"].filter(request.isSet)
        guard verification.count <= 1 else {
            throw .malformedBody("oneof zitadel.user.v2.SetPhoneRequest.verification is already set")
        }
        let phone = try request.string("phone") ?? ""
        // proto/zitadel/user/v2/user_service.proto: `phone` min_len 1, max_len 200 (a validator error, no id).
        guard (1...200).contains(phone.count) else {
            throw .validation(request.message, field: "Phone", rule: "value length must be between 1 and 200 runes, inclusive")
        }
        let markVerified = try request.bool("isVerified")
        let user = try authorizedHuman(caller, userId: userId, allowSelf: !markVerified, missing: .phoneUserNotFound())
        let normalised = try PhoneNumber.normalise(phone)
        guard user.phone?.number != normalised else {
            throw ZitadelError(.failedPrecondition, "COMMAND-Uch5e", "Phone not changed")
        }
        var details = modifyUser(userId) { $0.phone = .init(number: normalised, verified: markVerified) }
        if markVerified { phoneVerifiedOnce.insert(userId) }
        phoneCodes[userId] = nil
        guard !markVerified else { return ["details": details] }
        let code = issuePhoneCode(userId: userId, number: normalised, send: !request.isSet("returnCode"))
        details = self.details(for: userId)
        var body: [String: JSONValue] = ["details": details]
        if request.isSet("returnCode") { body["verificationCode"] = .string(code) }
        return .object(body)
    }

    /// A new verification code for the user's phone: into the SMS outbox, or back to the caller.
    private func issuePhoneCode(userId: String, number: String, send: Bool) -> String {
        let now = Date()
        let code = OneTimeCode.phoneVerification(phoneCodeGenerator)
        phoneCodes[userId] = PendingCode(code: code, createdAt: now, expiresAt: now.addingTimeInterval(Self.phoneCodeLifetime))
        if send {
            recordSMS(userId: userId, number: number, code: code, kind: .phoneVerification, at: now)
        }
        return code
    }

    /// `VerifyPhone`: Zitadel checks no permission here, the code is the proof.
    func verifyPhone(_ request: RPCRequest, caller: APICaller) throws(ZitadelError) -> JSONValue {
        let userId = try request.id("userId")
        let code = try request.string("verificationCode") ?? ""
        guard (1...20).contains(code.count) else {
            throw .validation(request.message, field: "VerificationCode", rule: "value length must be between 1 and 20 runes, inclusive")
        }
        guard user(id: userId) != nil else { throw .phoneUserNotFound() }
        // Exactly as generated, case included and nothing trimmed (internal/command/user_v2_phone.go `VerifyCode`,
        // internal/crypto/code.go `verifyEncryptedCode`).
        guard let pending = phoneCodes[userId], pending.expiresAt > Date(), constantTimeEquals(pending.code, code) else {
            throw ZitadelError(.invalidArgument, "COMMAND-eis9R", "Code is invalid")
        }
        phoneCodes[userId] = nil
        phoneVerifiedOnce.insert(userId)
        let details = modifyUser(userId) { $0.phone?.verified = true }
        return ["details": details]
    }

    /// `ResendPhoneCode`: only while a code is pending.
    func resendPhoneCode(_ request: RPCRequest, caller: APICaller) throws(ZitadelError) -> JSONValue {
        let userId = try request.id("userId")
        guard ["sendCode", "returnCode"].filter(request.isSet).count <= 1 else {
            throw .malformedBody("oneof zitadel.user.v2.ResendPhoneCodeRequest.verification is already set")
        }
        let user = try authorizedHuman(caller, userId: userId, missing: .phoneUserNotFound())
        guard phoneCodes[userId] != nil, let number = user.phone?.number else {
            throw ZitadelError(.failedPrecondition, "PHONE-5xrra88eq8", "Code is empty")
        }
        let code = issuePhoneCode(userId: userId, number: number, send: !request.isSet("returnCode"))
        var body: [String: JSONValue] = ["details": touch(userId)]
        if request.isSet("returnCode") { body["verificationCode"] = .string(code) }
        return .object(body)
    }

    /// `RemovePhone`: also removes OTP SMS.
    func removePhone(_ request: RPCRequest, caller: APICaller) throws(ZitadelError) -> JSONValue {
        let userId = try request.id("userId")
        let user = try authorizedHuman(caller, userId: userId, missing: .phoneUserNotFound())
        guard user.phone != nil else { throw ZitadelError(.failedPrecondition, "COMMAND-ieJ2e", "Phone not found") }
        phoneCodes[userId] = nil
        phoneVerifiedOnce.remove(userId)
        let details = modifyUser(userId) { user in
            user.phone = nil
            user.mfa.otpSms = false
        }
        return ["details": details]
    }

    // MARK: OTP SMS and email

    /// `AddOTPSMS`: needs a verified phone (`COMMAND-Q54j2`); a second add is `COMMAND-Ad3g2`. Zitadel's write model
    /// (`internal/command/user_human_otp_model.go` HumanOTPSMSWriteModel) reduces phone verified and removed events
    /// but not phone changed ones: once a number was verified, a changed, unverified number still passes.
    func addOTPSMS(_ request: RPCRequest, caller: APICaller) throws(ZitadelError) -> JSONValue {
        let userId = try request.id("userId")
        let user = try authorizedHuman(caller, userId: userId, permission: .credential, missing: .commandUserNotFound())
        guard !user.mfa.otpSms else { throw ZitadelError(.alreadyExists, "COMMAND-Ad3g2", ZitadelError.otpAlreadyReady) }
        guard user.phone?.verified == true || phoneVerifiedOnce.contains(userId) else {
            throw ZitadelError(.failedPrecondition, "COMMAND-Q54j2", ZitadelError.otpNotReady)
        }
        return ["details": modifyUser(userId) { $0.mfa.otpSms = true }]
    }

    func removeOTPSMS(_ request: RPCRequest, caller: APICaller) throws(ZitadelError) -> JSONValue {
        let userId = try request.id("userId")
        let user = try authorizedHuman(caller, userId: userId, permission: .credential, missing: .commandUserNotFound())
        guard user.mfa.otpSms else { throw ZitadelError(.notFound, "COMMAND-Sr3h3", ZitadelError.otpNotExisting) }
        return ["details": modifyUser(userId) { $0.mfa.otpSms = false }]
    }

    /// `AddOTPEmail`: needs a verified email (`COMMAND-KLJ2d`); a second add is `COMMAND-MKL2s`.
    func addOTPEmail(_ request: RPCRequest, caller: APICaller) throws(ZitadelError) -> JSONValue {
        let userId = try request.id("userId")
        let user = try authorizedHuman(caller, userId: userId, permission: .credential, missing: .commandUserNotFound())
        guard !user.mfa.otpEmail else { throw ZitadelError(.alreadyExists, "COMMAND-MKL2s", ZitadelError.otpAlreadyReady) }
        guard user.email.verified else { throw ZitadelError(.failedPrecondition, "COMMAND-KLJ2d", ZitadelError.otpNotReady) }
        return ["details": modifyUser(userId) { $0.mfa.otpEmail = true }]
    }

    func removeOTPEmail(_ request: RPCRequest, caller: APICaller) throws(ZitadelError) -> JSONValue {
        let userId = try request.id("userId")
        let user = try authorizedHuman(caller, userId: userId, permission: .credential, missing: .commandUserNotFound())
        guard user.mfa.otpEmail else { throw ZitadelError(.notFound, "COMMAND-b312D", ZitadelError.otpNotExisting) }
        return ["details": modifyUser(userId) { $0.mfa.otpEmail = false }]
    }

    // MARK: TOTP

    /// `RegisterTOTP`: a new secret (NOT_READY until verified); `COMMAND-do9se` once one is READY.
    func registerTOTP(_ request: RPCRequest, caller: APICaller, issuer: String) throws(ZitadelError) -> JSONValue {
        let userId = try request.id("userId")
        let user = try authorizedHuman(
            caller, userId: userId, permission: .credential,
            missing: ZitadelError(.failedPrecondition, "COMMAND-SqyJz", "User could not be found"))
        let registration = try startTOTPRegistration(for: user, issuer: issuer)
        return ["details": details(for: userId), "uri": .string(registration.uri), "secret": .string(registration.secret)]
    }

    /// Starts (or restarts) a TOTP registration; shared with the set-up pages.
    func startTOTPRegistration(for user: Seed.User, issuer: String) throws(ZitadelError) -> (secret: String, uri: String) {
        guard user.mfa.totp?.state != "READY" else {
            throw ZitadelError(.alreadyExists, "COMMAND-do9se", ZitadelError.otpAlreadyReady)
        }
        let secret = TOTP.generateSecret()
        modifyUser(user.id) { $0.mfa.totp = .init(state: "NOT_READY", secret: secret) }
        let host = URLComponents(string: issuer)?.host ?? issuer
        return (secret, TOTP.uri(secret: secret, issuer: host, accountName: user.loginName))
    }

    /// `VerifyTOTPRegistration`: the code must match the pending secret.
    func verifyTOTPRegistration(_ request: RPCRequest, caller: APICaller) throws(ZitadelError) -> JSONValue {
        let userId = try request.id("userId")
        let code = try request.string("code") ?? ""
        guard (1...200).contains(code.count) else {
            throw .validation(request.message, field: "Code", rule: "value length must be between 1 and 200 runes, inclusive")
        }
        let user = try authorizedHuman(
            caller, userId: userId, permission: .credential,
            missing: ZitadelError(.notFound, "COMMAND-3Mif9s", ZitadelError.otpNotExisting))
        return ["details": try completeTOTPRegistration(for: user, code: code)]
    }

    /// Verifies a pending TOTP registration; shared with the set-up pages.
    func completeTOTPRegistration(for user: Seed.User, code: String) throws(ZitadelError) -> JSONValue {
        guard let totp = user.mfa.totp else { throw ZitadelError(.notFound, "COMMAND-3Mif9s", ZitadelError.otpNotExisting) }
        guard totp.state != "READY" else {
            throw ZitadelError(.failedPrecondition, "COMMAND-qx4ls", ZitadelError.otpAlreadyReady)
        }
        guard let secret = totp.secret, TOTP.verify(code, secret: secret) else {
            throw ZitadelError(.invalidArgument, "EVENT-8isk2", "Invalid code")
        }
        return modifyUser(user.id) { $0.mfa.totp?.state = "READY" }
    }

    func removeTOTP(_ request: RPCRequest, caller: APICaller) throws(ZitadelError) -> JSONValue {
        let userId = try request.id("userId")
        let user = try authorizedHuman(
            caller, userId: userId, permission: .credential,
            missing: ZitadelError(.notFound, "COMMAND-Hd9sd", ZitadelError.otpNotExisting))
        guard user.mfa.totp != nil else { throw ZitadelError(.notFound, "COMMAND-Hd9sd", ZitadelError.otpNotExisting) }
        return ["details": modifyUser(userId) { $0.mfa.totp = nil }]
    }

    // MARK: Recovery codes

    /// Zitadel's default `Multifactors.RecoveryCodes.MaxCount`: at most this many unused codes per user.
    static let recoveryCodesMaxCount = 10

    /// `GenerateRecoveryCodes` (`internal/command/user_human_recovery_codes.go`): `count` is required (proto
    /// validation 1-50); the user must exist, then `user.credential.write` (or the own user); more than the
    /// configured maximum is `COMMAND-7c0nx`; the new codes are added to the unused ones, and more than the
    /// maximum in all is AlreadyExists `COMMAND-8f2k9`. Only the new codes are returned.
    func generateRecoveryCodes(_ request: RPCRequest, caller: APICaller) throws(ZitadelError) -> JSONValue {
        let userId = try request.id("userId")
        let count = Int(try request.int("count") ?? 0)
        guard (1...50).contains(count) else {
            throw .validation(request.message, field: "Count", rule: "value must be inside range [1, 50]")
        }
        let user = try authorizedHuman(caller, userId: userId, permission: .credential, missing: .commandUserNotFound())
        guard count <= Self.recoveryCodesMaxCount else {
            throw ZitadelError(.invalidArgument, "COMMAND-7c0nx", "The number of recovery codes is invalid")
        }
        let remaining = user.mfa.recoveryCodes?.remaining ?? []
        guard remaining.count + count <= Self.recoveryCodesMaxCount else {
            throw ZitadelError(.alreadyExists, "COMMAND-8f2k9", "The maximum number of recovery codes is exceeded")
        }
        let result = addRecoveryCodes(userId: userId, count: count)
        return ["details": result.details, "recoveryCodes": .strings(result.codes)]
    }

    /// Adds fresh codes to the user's unused ones and returns the new codes; shared with the set-up pages.
    func addRecoveryCodes(userId: String, count: Int = 10) -> (codes: [String], details: JSONValue) {
        let kept = user(id: userId)?.mfa.recoveryCodes?.remaining ?? []
        var codes: [String] = []
        while codes.count < count {
            let code = OneTimeCode.recoveryCode()
            if !codes.contains(code), !kept.contains(code) { codes.append(code) }
        }
        let acknowledged = user(id: userId)?.mfa.recoveryCodes?.acknowledged ?? false
        let details = modifyUser(userId) { $0.mfa.recoveryCodes = .init(codes: kept + codes, used: 0, acknowledged: acknowledged) }
        return (codes, details)
    }

    /// A fresh set of ten in place of the old one, as the pages' "regenerate" does (remove, then generate).
    func replaceRecoveryCodes(userId: String) -> (codes: [String], details: JSONValue) {
        modifyUser(userId) { $0.mfa.recoveryCodes = nil }
        return addRecoveryCodes(userId: userId, count: Self.recoveryCodesMaxCount)
    }

    /// `RemoveRecoveryCodes`: with no codes set, FailedPrecondition `COMMAND-84rgg`
    /// (`internal/command/user_human_recovery_codes.go` RemoveRecoveryCodes checks the write model's state).
    func removeRecoveryCodes(_ request: RPCRequest, caller: APICaller) throws(ZitadelError) -> JSONValue {
        let userId = try request.id("userId")
        let user = try authorizedHuman(caller, userId: userId, permission: .credential, missing: .commandUserNotFound())
        guard user.mfa.recoveryCodes != nil else {
            throw ZitadelError(.failedPrecondition, "COMMAND-84rgg", "Recovery codes are not set up")
        }
        return ["details": modifyUser(userId) { $0.mfa.recoveryCodes = nil }]
    }

    /// Spends a recovery code at sign-in; returns whether it was valid and unused.
    func consumeRecoveryCode(userId: String, code: String) -> Bool {
        let wanted = code.trimmingCharacters(in: .whitespaces).uppercased()
        guard let codes = user(id: userId)?.mfa.recoveryCodes,
            let index = codes.codes.indices.dropFirst(codes.used).first(where: { constantTimeEquals(codes.codes[$0], wanted) })
        else { return false }
        modifyUser(userId) { user in
            guard var set = user.mfa.recoveryCodes else { return }
            set.codes.swapAt(index, set.used)
            set.used += 1
            user.mfa.recoveryCodes = set
        }
        return true
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

    // MARK: Passkeys and security keys (records only: the mock has no WebAuthn ceremony)

    /// Adds a READY passkey or security key with a device label, as the set-up pages do after a ceremony.
    @discardableResult
    func addAuthenticator(userId: String, name: String, passkey: Bool) -> String {
        let id = RandomID.zitadelID()
        let label = name.trimmingCharacters(in: .whitespacesAndNewlines)
        modifyUser(userId) { user in
            let key = Seed.MFA.Authenticator(id: id, name: label, state: "READY")
            if passkey { user.mfa.passkeys.append(key) } else { user.mfa.u2f.append(key) }
        }
        return id
    }

    /// Removes a passkey or security key; returns whether it existed.
    @discardableResult
    func removeAuthenticator(userId: String, id: String) -> Bool {
        guard let user = user(id: userId), (user.mfa.passkeys + user.mfa.u2f).contains(where: { $0.id == id }) else { return false }
        modifyUser(userId) { user in
            user.mfa.passkeys.removeAll { $0.id == id }
            user.mfa.u2f.removeAll { $0.id == id }
        }
        return true
    }

    // MARK: Metadata

    /// `ListUserMetadata` (v2, Zitadel v4): `{pagination, metadata:[{key, value(base64)}]}`; key filters with
    /// Zitadel's text methods. Readable by the user and by managers.
    func listUserMetadata(_ request: RPCRequest, caller: APICaller) throws(ZitadelError) -> JSONValue {
        let userId = try request.id("userId")
        let user = try authorizedHuman(caller, userId: userId, missing: .userNotFound())
        var entries = (user.metadata ?? [:]).sorted { $0.key < $1.key }
        for filter in try request.array("filters") {
            guard let keyFilter = filter["keyFilter"]?.objectValue else { continue }
            let key = keyFilter["key"]?.stringValue ?? ""
            let method = keyFilter["method"]?.stringValue ?? "TEXT_FILTER_METHOD_EQUALS"
            entries = entries.filter { Self.textMatches($0.key, key, method: method) }
        }
        let pagination = try request.object("pagination") ?? [:]
        let offset = Int(pagination["offset"].flatMap { $0.intValue ?? $0.stringValue.flatMap { Int64($0) } } ?? 0)
        let requestedLimit = Int(pagination["limit"]?.intValue ?? 0)
        let limit = requestedLimit > 0 ? min(requestedLimit, 1000) : 100
        if pagination["asc"]?.boolValue == false, pagination["asc"] != nil { entries.reverse() }
        let total = entries.count
        let page = entries.dropFirst(max(0, offset)).prefix(limit)
        var paginationResponse: [String: JSONValue] = ["appliedLimit": .int64String(Int64(limit))]
        if total > 0 { paginationResponse["totalResult"] = .int64String(Int64(total)) }
        var body: [String: JSONValue] = ["pagination": .object(paginationResponse)]
        if !page.isEmpty {
            body["metadata"] = .array(
                page.map {
                    [
                        "creationDate": .timestamp(Self.seedDate), "changeDate": .timestamp(Self.seedDate), "key": .string($0.key),
                        "value": .string(Data($0.value.utf8).base64EncodedString()),
                    ]
                })
        }
        return .object(body)
    }

    /// `SetUserMetadata`: `{metadata:[{key, value(base64)}]}`; needs `user.write` (not one's own).
    func setUserMetadata(_ request: RPCRequest, caller: APICaller) throws(ZitadelError) -> JSONValue {
        let userId = try request.id("userId")
        _ = try authorizedHuman(caller, userId: userId, allowSelf: false, missing: .commandUserNotFound())
        var updates: [String: String] = [:]
        for entry in try request.array("metadata") {
            guard let key = entry["key"]?.stringValue, (1...200).contains(key.count) else {
                throw .validation("Metadata", field: "Key", rule: "value length must be between 1 and 200 runes, inclusive")
            }
            guard let encoded = entry["value"]?.stringValue, let data = Data(base64Encoded: encoded), !data.isEmpty else {
                throw .validation("Metadata", field: "Value", rule: "value length must be between 1 and 500000 bytes, inclusive")
            }
            updates[key] = String(decoding: data, as: UTF8.self)
        }
        let now = Date()
        modifyUser(userId) { user in user.metadata = (user.metadata ?? [:]).merging(updates) { _, new in new } }
        return ["setDate": .timestamp(now)]
    }

    /// `DeleteUserMetadata`: `{keys:[…]}`.
    func deleteUserMetadata(_ request: RPCRequest, caller: APICaller) throws(ZitadelError) -> JSONValue {
        let userId = try request.id("userId")
        _ = try authorizedHuman(caller, userId: userId, allowSelf: false, missing: .commandUserNotFound())
        let keys = try request.array("keys").compactMap(\.stringValue)
        let now = Date()
        modifyUser(userId) { user in
            for key in keys {
                user.metadata?[key] = nil
            }
        }
        return ["deletionDate": .timestamp(now)]
    }

    /// Zitadel's `TEXT_FILTER_METHOD_*` comparisons.
    static func textMatches(_ value: String, _ wanted: String, method: String) -> Bool {
        let ignoreCase = method.hasSuffix("_IGNORE_CASE")
        let lhs = ignoreCase ? value.lowercased() : value
        let rhs = ignoreCase ? wanted.lowercased() : wanted
        switch method.replacingOccurrences(of: "_IGNORE_CASE", with: "") {
        case "TEXT_FILTER_METHOD_STARTS_WITH": return lhs.hasPrefix(rhs)
        case "TEXT_FILTER_METHOD_CONTAINS": return lhs.contains(rhs)
        case "TEXT_FILTER_METHOD_ENDS_WITH": return lhs.hasSuffix(rhs)
        default: return lhs == rhs
        }
    }

    /// Sets or removes one metadata entry through the admin API; `false` for an unknown user.
    public func adminSetMetadata(userId: String, key: String, value: String?) -> Bool {
        guard user(id: userId) != nil else { return false }
        modifyUser(userId) { user in
            var metadata = user.metadata ?? [:]
            metadata[key] = value
            user.metadata = metadata
        }
        return true
    }
}
