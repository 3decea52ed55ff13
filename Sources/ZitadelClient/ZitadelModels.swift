import Foundation

// Zitadel v2 response shapes (protojson): every field optional, enums kept as strings so that values added by a
// newer Zitadel decode instead of failing; unknown fields are ignored by Decodable.

/// `UserService/GetUserByID`.
public struct GetUserByIDResponse: Sendable, Decodable, Equatable {
    public var details: ObjectDetails?
    public var user: ZitadelUser?
}

/// Zitadel's `ListDetails`.
public struct ListDetails: Sendable, Decodable, Equatable {
    public var totalResult: String?
    public var processedSequence: String?
    public var timestamp: String?
}

public struct ZitadelUser: Sendable, Decodable, Equatable {
    public var userId: String?
    public var details: ObjectDetails?
    /// `USER_STATE_ACTIVE`, `USER_STATE_LOCKED`, ...
    public var state: String?
    public var username: String?
    public var loginNames: [String]?
    public var preferredLoginName: String?
    public var human: Human?

    public struct Human: Sendable, Decodable, Equatable {
        public var profile: Profile?
        public var email: Email?
        public var phone: Phone?
        public var mfaInitSkipped: String?
    }

    public struct Profile: Sendable, Decodable, Equatable {
        public var givenName: String?
        public var familyName: String?
        public var nickName: String?
        public var displayName: String?
        public var preferredLanguage: String?
    }

    public struct Email: Sendable, Decodable, Equatable {
        public var email: String?
        /// Absent means false (protojson omits zero values).
        public var isVerified: Bool?
    }

    public struct Phone: Sendable, Decodable, Equatable {
        public var phone: String?
        public var isVerified: Bool?
    }

    public var isLocked: Bool { state == "USER_STATE_LOCKED" }
}

/// `UserService/ListAuthenticationMethodTypes`.
public struct ListAuthenticationMethodTypesResponse: Sendable, Decodable, Equatable {
    public var authMethodTypes: [String]?
}

/// `UserService/ListAuthenticationFactors`: one of `otp` (TOTP), `otpSms`, `otpEmail`, `u2f` per row.
public struct ListAuthenticationFactorsResponse: Sendable, Decodable, Equatable {
    public var result: [AuthFactor]?

    public struct AuthFactor: Sendable, Decodable, Equatable {
        public var state: String?
        public var otp: Empty?
        public var otpSms: Empty?
        public var otpEmail: Empty?
        public var u2f: U2F?
    }

    public struct U2F: Sendable, Decodable, Equatable {
        public var id: String?
        public var name: String?
    }

    public struct Empty: Sendable, Decodable, Equatable {}
}

/// `UserService/ListPasskeys` (READY passkeys only; Zitadel reports no timestamps).
public struct ListPasskeysResponse: Sendable, Decodable, Equatable {
    public var result: [Passkey]?

    public struct Passkey: Sendable, Decodable, Equatable {
        public var id: String?
        public var state: String?
        public var name: String?
    }
}

/// `UserService/ListUserMetadata`: values are base64 (protojson bytes).
public struct ListUserMetadataResponse: Sendable, Decodable, Equatable {
    public var metadata: [Metadata]?

    public struct Metadata: Sendable, Decodable, Equatable {
        public var key: String?
        public var value: String?

        /// The value decoded from base64 (standard or URL alphabet), as UTF-8.
        public var decodedValue: String? {
            guard var value else { return nil }
            value = value.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
            while value.count % 4 != 0 { value += "=" }
            return Data(base64Encoded: value).map { String(decoding: $0, as: UTF8.self) }
        }
    }
}

/// `SessionService/GetSession`.
public struct GetSessionResponse: Sendable, Decodable, Equatable {
    public var session: ZitadelSession?
}

/// `SessionService/ListSessions`: `sessions` is absent when none match.
public struct ListSessionsResponse: Sendable, Decodable, Equatable {
    public var details: ListDetails?
    public var sessions: [ZitadelSession]?
}

public struct ZitadelSession: Sendable, Decodable, Equatable {
    public var id: String?
    public var creationDate: String?
    public var changeDate: String?
    public var sequence: String?
    public var expirationDate: String?
    public var userAgent: UserAgent?
    public var factors: Factors?

    /// The browser or app that created the session, as Zitadel recorded it.
    public struct UserAgent: Sendable, Decodable, Equatable {
        public var fingerprintId: String?
        public var ip: String?
        public var description: String?
    }

    /// A factor that was never checked is absent.
    public struct Factors: Sendable, Decodable, Equatable {
        public var user: UserFactor?
        public var password: Check?
        public var webAuthN: WebAuthN?
        public var intent: Check?
        public var totp: Check?
        public var otpSms: Check?
        public var otpEmail: Check?
        public var recoveryCode: Check?
    }

    public struct UserFactor: Sendable, Decodable, Equatable {
        public var verifiedAt: String?
        public var id: String?
        public var loginName: String?
        public var organizationId: String?
    }

    public struct Check: Sendable, Decodable, Equatable {
        public var verifiedAt: String?
    }

    public struct WebAuthN: Sendable, Decodable, Equatable {
        public var verifiedAt: String?
        public var userVerified: Bool?
    }

    /// A second factor (or a passkey) was verified in this session; Zitadel has no `mfa` flag.
    public var hasSecondFactor: Bool {
        guard let factors else { return false }
        return [factors.totp, factors.otpSms, factors.otpEmail, factors.recoveryCode].contains { $0?.verifiedAt != nil }
            || factors.webAuthN?.verifiedAt != nil
    }

    public var usedRecoveryCode: Bool { factors?.recoveryCode?.verifiedAt != nil }
}

/// `details` on a change: the event sequence and when Zitadel applied it.
public struct ObjectDetails: Sendable, Decodable, Equatable {
    /// int64 as a string (protojson).
    public var sequence: String?
    public var changeDate: String?
    public var resourceOwner: String?
}

/// `UserService/SetPhone`, `ResendPhoneCode`: `verificationCode` only when `returnCode` was asked for.
public struct SetPhoneResponse: Sendable, Decodable, Equatable {
    public var details: ObjectDetails?
    public var verificationCode: String?
}

/// Responses that carry only `details`: VerifyPhone, AddOTPSMS, RemovePhone.
public struct DetailsResponse: Sendable, Decodable, Equatable {
    public var details: ObjectDetails?
}
