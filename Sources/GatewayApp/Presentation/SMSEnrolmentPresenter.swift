import Foundation
import GatewayCore
import GatewayStore
import HTTPTypes
import Hummingbird
import NIOCore

/// Turns SMS enrolment outcomes into answers: the enrolment's JSON (201 with `Location` when the request started
/// it), or a replayed answer as it was recorded. The workflow records the answers an Idempotency-Key replays
/// through the same presenter, so a replay is the original answer byte for byte. Bodies are encoded by the API's
/// one encoder (`APIResponseEncoder`) and problems by `ProblemRenderer`.
struct SMSEnrolmentPresenter: Sendable {
    let limits: SMSEnrolmentLimits

    /// The answer for an outcome: status and JSON body.
    func answer(_ outcome: SMSEnrolmentOutcome) throws -> EnrolmentAnswer {
        switch outcome {
        case .enrolment(let enrolment, let now, let created):
            let body = try APIResponseEncoder.text(EnrolmentDTO(enrolment, limits: limits, now: now))
            return EnrolmentAnswer(
                status: created ? 201 : 200, body: body,
                location: created ? "\(SMSEnrolmentController.basePath)/\(enrolment.id)" : nil)
        case .replayed(let stored):
            return EnrolmentAnswer(status: stored.status, body: stored.body, replayed: true)
        }
    }

    /// What the Idempotency-Key replays for this outcome.
    func recorded(_ outcome: SMSEnrolmentOutcome) throws -> StoredResponse {
        let answer = try answer(outcome)
        return StoredResponse(status: answer.status, body: answer.body)
    }

    /// What the Idempotency-Key replays for a refusal: the problem document.
    func recorded(_ problem: GatewayProblem, requestId: String?) -> StoredResponse {
        StoredResponse(status: problem.status, body: ProblemRenderer.body(problem, requestId: requestId))
    }

    func response(_ outcome: SMSEnrolmentOutcome) throws -> Response {
        let answer = try answer(outcome)
        var response = ProblemRenderer.stored(status: answer.status, body: answer.body)
        if answer.replayed { response.headers[.idempotentReplayed] = "true" }
        if let location = answer.location { response.headers[.location] = location }
        return response
    }
}

/// A rendered enrolment answer: status and JSON body (the enrolment, or a replayed problem document).
struct EnrolmentAnswer: Sendable {
    var status: Int
    var body: String
    /// The body replays an earlier request with the same Idempotency-Key.
    var replayed = false
    var location: String?
}

/// An enrolment as the portal reads it: masked number only.
struct EnrolmentDTO: Encodable {
    var id: String
    var status: String
    var phone: String
    var createdAt: String
    var expiresAt: String?
    var verification: Verification
    var resend: Resend

    struct Verification: Encodable {
        var attemptsRemaining: Int
    }

    struct Resend: Encodable {
        var remaining: Int
        var availableAt: String?
    }

    init(_ enrolment: SMSEnrolment, limits: SMSEnrolmentLimits, now: Double) {
        id = enrolment.id
        status = enrolment.state.rawValue
        phone = enrolment.maskedPhone
        createdAt = Self.timestamp(enrolment.createdAt)
        expiresAt = enrolment.state == .codeSent ? Self.timestamp(enrolment.expiresAt) : nil
        verification = Verification(attemptsRemaining: max(0, limits.maxVerificationAttempts - enrolment.verificationAttempts))
        let remaining = enrolment.state == .codeSent ? max(0, limits.maxResends - enrolment.resends) : 0
        resend = Resend(
            remaining: remaining,
            availableAt: remaining > 0 ? Self.timestamp(max(now, (enrolment.lastSentAt ?? now) + limits.resendIntervalSeconds)) : nil)
    }

    static func timestamp(_ seconds: Double) -> String {
        Timestamp.rfc3339(seconds)
    }
}
