import Foundation

/// The SMS outbox: the texts the mock "sent".
extension MockZitadel {
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
