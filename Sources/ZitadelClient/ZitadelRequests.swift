// Zitadel v2 request shapes (protojson field names), encoded with `JSONEncoder`: the wire bodies are what
// Zitadel's Connect handlers read (`proto/zitadel/user/v2/user_service.proto`, `session/v2/session_service.proto`).

/// A request naming one user: `GetUserByID`, `ListAuthenticationMethodTypes`, `ListAuthenticationFactors`,
/// `ListPasskeys`, `AddOTPSMS`, `RemovePhone`.
struct UserRequest: Encodable, Sendable {
    var userId: String
}

/// A request naming one session: `GetSession`, `DeleteSession`.
struct SessionRequest: Encodable, Sendable {
    var sessionId: String
}

/// `sendCode: {}`: Zitadel sends the verification code by SMS itself.
struct SendCode: Encodable, Sendable {}

/// `UserService/SetPhone`.
struct SetPhoneRequest: Encodable, Sendable {
    var userId: String
    var phone: String
    var sendCode = SendCode()
}

/// `UserService/ResendPhoneCode`.
struct ResendPhoneCodeRequest: Encodable, Sendable {
    var userId: String
    var sendCode = SendCode()
}

/// `UserService/VerifyPhone`.
struct VerifyPhoneRequest: Encodable, Sendable {
    var userId: String
    var verificationCode: String
}

/// `UserService/ListUserMetadata` (Zitadel v4) filtered to one key.
struct ListUserMetadataRequest: Encodable, Sendable {
    struct Filter: Encodable, Sendable {
        struct KeyFilter: Encodable, Sendable {
            var key: String
            var method = "TEXT_FILTER_METHOD_EQUALS"
        }
        var keyFilter: KeyFilter
    }
    var userId: String
    var filters: [Filter]

    init(userId: String, key: String) {
        self.userId = userId
        self.filters = [Filter(keyFilter: .init(key: key))]
    }
}

/// `SessionService/ListSessions` for one user, newest first.
struct ListSessionsRequest: Encodable, Sendable {
    struct Query: Encodable, Sendable {
        struct UserIDQuery: Encodable, Sendable { var id: String }
        var userIdQuery: UserIDQuery
    }
    struct ListQuery: Encodable, Sendable {
        var limit: Int
        var asc: Bool
    }
    var queries: [Query]
    var sortingColumn = "SESSION_FIELD_NAME_CREATION_DATE"
    var query: ListQuery

    init(userId: String, limit: Int) {
        self.queries = [Query(userIdQuery: .init(id: userId))]
        self.query = ListQuery(limit: max(1, limit), asc: false)
    }
}
