import GatewayCore
import GatewayStore

/// What an SMS enrolment request came to, when it was not refused (refusals are thrown as `GatewayProblem`).
enum SMSEnrolmentOutcome: Sendable {
    /// The enrolment as it stands at `now` (the store's clock). `created`: this request, or the earlier one with
    /// its Idempotency-Key, started it.
    case enrolment(SMSEnrolment, now: Double, created: Bool)
    /// The answer recorded for an earlier request with the same Idempotency-Key, replayed as it was.
    case replayed(StoredResponse)
}
